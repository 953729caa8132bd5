from django.apps import AppConfig


class RespondersConfig(AppConfig):
    name = "responders"
    verbose_name = "Organisations, teams, responders and devices"

