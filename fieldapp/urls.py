from django.urls import path

from . import views

# Under /app/ (backend/urls.py).
page_urls = [
    path("", views.index, name="fieldapp"),
    path("sw.js", views.service_worker, name="fieldapp-sw"),
    path("manifest.webmanifest", views.manifest, name="fieldapp-manifest"),
]

# Under /api/v1/.
api_urls = [
    path("forms", views.FormsView.as_view(), name="forms"),
]
