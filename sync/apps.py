from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Offline sync"

    def ready(self) -> None:
        # These load models (backend.metrics through DRF's settings): only once the app registry is ready.
        from backend import metrics as backend_metrics  # noqa: PLC0415
        from records import writes  # noqa: PLC0415

        from . import metrics  # noqa: PLC0415
        from .merge_base import device_own_edits  # noqa: PLC0415

        # A sync mutation's merge base includes the device's own earlier edits, which the mutation log holds.
        writes.own_edits_source = device_own_edits
        # The scrape reads the quarantine, conflicts and pull horizon through this (backend imports no app above it).
        backend_metrics.database_state = metrics.database_state
