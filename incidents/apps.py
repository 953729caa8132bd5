from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Field records"

    def ready(self):
        from . import specs  # noqa: F401, PLC0415 - registers the record types once the models are loaded
