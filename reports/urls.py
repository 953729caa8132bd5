from django.urls import path

from . import views

urlpatterns = [
    path("reports/engagements", views.EngagementReportView.as_view(), name="report-engagements"),
    path("reports/dvp", views.DvpReportView.as_view(), name="report-dvp"),
    path("reports/shifts", views.ShiftReportView.as_view(), name="report-shifts"),
    path("public/stats", views.PublicStatsView.as_view(), name="public-stats"),
]
