from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RespondersConfig(AppConfig):
    name = "responders"
    verbose_name = _("Organisations, teams, responders and devices")

