from django.contrib.auth import views as auth_views
from django.urls import path

from reports import pages as report_pages

from . import pages

urlpatterns = [
    path("login/", pages.LoginView.as_view(), name="supervisor-login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="supervisor-login"), name="supervisor-logout"),
    path("", pages.home, name="supervisor-home"),
    path("shifts/<uuid:shift_id>/", pages.shift_detail, name="supervisor-shift"),
    path("shifts/<uuid:shift_id>/<str:decision>", pages.shift_decide, name="supervisor-shift-decide"),
    path("conflicts/", pages.conflicts, name="supervisor-conflicts"),
    path("conflicts/<uuid:conflict_id>/resolve", pages.conflict_decide, name="supervisor-conflict-resolve"),
    path("quarantine/", pages.quarantine, name="supervisor-quarantine"),
    path("quarantine/<uuid:mutation_id>/<str:decision>", pages.quarantine_decide, name="supervisor-quarantine-decide"),
    path("amendments/", pages.amendments, name="supervisor-amendments"),
    path("amendments/<uuid:amendment_id>/<str:decision>", pages.amendment_decide, name="supervisor-amendment-decide"),
    path("follow-ups/overdue/", pages.overdue, name="supervisor-overdue"),
    # The reports moved to /reports/ (reports/pages.py), for analysts and coordinators too; old links still work.
    path("reports/", report_pages.old_address, name="supervisor-reports"),
]
