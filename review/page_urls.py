from django.contrib.auth import views as auth_views
from django.urls import path

from reports import pages as report_pages

from . import pages, quarantine_pages, staff_pages

urlpatterns = [
    path("login/", pages.LoginView.as_view(), name="supervisor-login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="supervisor-login"), name="supervisor-logout"),
    path("", pages.home, name="supervisor-home"),
    path("shifts/<uuid:shift_id>/", pages.shift_detail, name="supervisor-shift"),
    path("shifts/<uuid:shift_id>/approve/confirm", pages.shift_approve_confirm, name="supervisor-shift-approve"),
    path("shifts/<uuid:shift_id>/<str:decision>", pages.shift_decide, name="supervisor-shift-decide"),
    path("records/<str:record_type>/<uuid:record_id>/", staff_pages.record_detail, name="supervisor-record"),
    path("conflicts/", pages.conflicts, name="supervisor-conflicts"),
    path("conflicts/<uuid:conflict_id>/resolve", pages.conflict_decide, name="supervisor-conflict-resolve"),
    path("quarantine/", quarantine_pages.quarantine, name="supervisor-quarantine"),
    path("quarantine/<uuid:mutation_id>/", quarantine_pages.quarantine_fix, name="supervisor-quarantine-fix"),
    path("quarantine/<uuid:mutation_id>/dismiss", pages.quarantine_dismiss, name="supervisor-quarantine-dismiss"),
    path("amendments/", pages.amendments, name="supervisor-amendments"),
    path("amendments/<uuid:amendment_id>/<str:decision>", pages.amendment_decide, name="supervisor-amendment-decide"),
    path("follow-ups/", staff_pages.follow_ups, name="supervisor-follow-ups"),
    path("follow-ups/overdue/", staff_pages.follow_ups, {"view": "overdue"}, name="supervisor-overdue"),
    path("follow-ups/<uuid:case_id>/", staff_pages.case_detail, name="supervisor-case"),
    path("follow-ups/<uuid:case_id>/<str:action>", staff_pages.case_action, name="supervisor-case-action"),
    path("incidents/", staff_pages.incidents, name="supervisor-incidents"),
    path("activity/", staff_pages.activity, name="supervisor-activity"),
    # The reports moved to /reports/ (reports/pages.py), for analysts and coordinators too; old links still work.
    path("reports/", report_pages.old_address, name="supervisor-reports"),
]
