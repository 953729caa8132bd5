from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from backend.metrics import metrics_view
from backend.readiness import readyz
from fieldapp.urls import api_urls as fieldapp_api_urls
from fieldapp.urls import page_urls as fieldapp_page_urls
from reports.views import public_stats_page
from responders.views import healthz

api_v1 = [
    path("", include("responders.urls")),
    path("", include("review.urls")),
    path("", include("incidents.urls")),
    path("sync/", include("sync.urls")),
    path("", include("notifications.urls")),
    path("", include("reports.urls")),
    path("", include(fieldapp_api_urls)),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="schema",
    ),
    path(
        "api/docs/",
        # The init script is served as a file (?script), not inline: the docs page keeps the strict CSP.
        SpectacularSwaggerSplitView.as_view(
            url_name="schema",
            template_name="review/swagger_ui.html",
            permission_classes=[AllowAny],
            authentication_classes=[],
        ),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", permission_classes=[AllowAny], authentication_classes=[]),
        name="api-redoc",
    ),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("supervisor/", include("review.page_urls")),
    path("account/", include("responders.page_urls")),
    path("reports/", include("reports.page_urls")),
    path("app/", include(fieldapp_page_urls)),
    path("public/stats", public_stats_page, name="public-stats-page"),
    path("admin/", admin.site.urls),
]

handler400 = "backend.errors.handler400"
handler403 = "backend.errors.handler403"
handler404 = "backend.errors.handler404"
handler500 = "backend.errors.handler500"
