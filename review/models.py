"""The review history of shift logs: each submission, approval and return, with the supervisor's comment.

The shift keeps only its latest review comment; this keeps every one, so a return comment stays readable
after the log is resubmitted and approved.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import pgettext_lazy


class ShiftReview(models.Model):
    class Step(models.TextChoices):
        SUBMIT = "submit", pgettext_lazy("shift review", "Submitted")
        APPROVE = "approve", pgettext_lazy("shift review", "Approved and locked")
        RETURN = "return", pgettext_lazy("shift review", "Returned to the crew")

    id = models.BigAutoField(primary_key=True)
    shift = models.ForeignKey("incidents.Shift", on_delete=models.CASCADE, related_name="reviews")
    step = models.CharField(max_length=8, choices=Step.choices)
    actor = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True, max_length=2000)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
