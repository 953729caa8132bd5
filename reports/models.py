from django.db import models
from django.utils import timezone


class CadCall(models.Model):
    """A dispatched call from the city's CAD export, imported to reconcile against engagements."""

    program = models.ForeignKey("responders.Program", on_delete=models.PROTECT, related_name="+")
    cad_number = models.CharField(max_length=40)
    received_at = models.DateTimeField()
    call_type = models.CharField(max_length=60, blank=True)
    priority = models.CharField(max_length=2, blank=True)
    beat = models.CharField(max_length=10, blank=True)
    address = models.CharField(max_length=200, blank=True)
    disposition = models.CharField(max_length=60, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)
    imported_by = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "cad_number"], name="cad_number_once_per_program")]
        indexes = [models.Index(fields=["program", "received_at"])]

    def __str__(self):
        return self.cad_number


class PublishedMonth(models.Model):
    """One calendar month of public statistics, frozen when first published (docs/reports.md).

    A month is published only once it is closed and PUBLIC_STATS_DELAY_DAYS have passed, and its suppressed
    figures are stored then: later reads give the same figures, whatever is deleted or corrected afterwards,
    so no two readings (and no two published tables) differ by a few records.
    """

    month = models.DateField(unique=True, help_text="First day of the month.")
    cells = models.JSONField(help_text="{program:origin: count, or null when suppressed}.")
    total = models.PositiveIntegerField(null=True, blank=True, help_text="Null when suppressed.")
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["month"]
