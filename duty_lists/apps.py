from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DutyListsConfig(AppConfig):
    name = "duty_lists"
    verbose_name = _("Duty lists")
