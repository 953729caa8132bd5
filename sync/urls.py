from django.urls import path

from . import views

urlpatterns = [
    path("push", views.PushView.as_view(), name="sync-push"),
    path("pull", views.PullView.as_view(), name="sync-pull"),
    path("conflicts", views.ConflictListView.as_view(), name="sync-conflicts"),
    path("conflicts/<uuid:conflict_id>/resolve", views.ConflictResolveView.as_view(), name="sync-conflict-resolve"),
    path("quarantine", views.QuarantineListView.as_view(), name="sync-quarantine"),
    path("quarantine/<uuid:mutation_id>/replay", views.QuarantineReplayView.as_view(), name="sync-replay"),
    path("quarantine/<uuid:mutation_id>/dismiss", views.QuarantineDismissView.as_view(), name="sync-dismiss"),
    path("watermelon/schema", views.WatermelonSchemaView.as_view(), name="sync-watermelon-schema"),
    path("watermelon/pull", views.WatermelonPullView.as_view(), name="sync-watermelon-pull"),
    path("watermelon/push", views.WatermelonPushView.as_view(), name="sync-watermelon-push"),
    path("amendments", views.AmendmentListView.as_view(), name="sync-amendments"),
]
