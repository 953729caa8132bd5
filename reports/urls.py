from django.urls import path

from . import views

urlpatterns = [
    path("reports/engagements", views.EngagementReportView.as_view(), name="report-engagements"),
    path("reports/dvp", views.DvpReportView.as_view(), name="report-dvp"),
    path("reports/shifts", views.ShiftReportView.as_view(), name="report-shifts"),
    path("reports/cad-calls", views.CadImportView.as_view(), name="cad-import"),
    path("reports/cad-reconciliation", views.CadReconciliationView.as_view(), name="cad-reconciliation"),
    path("public/stats", views.PublicStatsView.as_view(), name="public-stats"),
]
