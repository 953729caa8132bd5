from django.apps import AppConfig


class RespondersConfig(AppConfig):
    name = "responders"
    verbose_name = "Organisations, teams, responders and devices"

    def ready(self):
        from . import specs  # noqa: F401 - registers the record types with the sync engine
