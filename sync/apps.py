from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Offline sync"

    def ready(self):
        from records import writes

        from .merge_base import device_own_edits

        # A sync mutation's merge base includes the device's own earlier edits, which the mutation log holds.
        writes.own_edits_source = device_own_edits
