from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArbitrationConfig(AppConfig):
    name = "arbitration"
    verbose_name = _("Arbitration")

    def ready(self) -> None:
        from arbitration import navigation
        from core import registry

        registry.register_navigation(20, navigation.entries)
        registry.register_layout(navigation.layout)
