from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Offline sync"

    def ready(self):
        from backend import metrics as backend_metrics
        from records import writes

        from . import metrics
        from .merge_base import device_own_edits

        # A sync mutation's merge base includes the device's own earlier edits, which the mutation log holds.
        writes.own_edits_source = device_own_edits
        # The scrape reads the quarantine, conflicts and pull horizon through this (backend imports no app above it).
        backend_metrics.database_state = metrics.database_state
