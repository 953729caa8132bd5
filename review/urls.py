from django.urls import path

from . import views

urlpatterns = [
    path("shifts/<uuid:shift_id>/submit", views.ShiftStepView.as_view(step="submit"), name="shift-submit"),
    path("shifts/<uuid:shift_id>/approve", views.ShiftStepView.as_view(step="approve"), name="shift-approve"),
    path("shifts/<uuid:shift_id>/return", views.ShiftStepView.as_view(step="return"), name="shift-return"),
    path("review/queue", views.ReviewQueueView.as_view(), name="review-queue"),
    path(
        "amendments/<uuid:amendment_id>/accept",
        views.AmendmentDecisionView.as_view(accept=True),
        name="amendment-accept",
    ),
    path(
        "amendments/<uuid:amendment_id>/decline",
        views.AmendmentDecisionView.as_view(accept=False),
        name="amendment-decline",
    ),
]
