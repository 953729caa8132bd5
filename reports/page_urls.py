from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.report_page, name="reports-page"),
    path("<slug:table>.csv", pages.report_csv, name="reports-csv"),
]
