from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from core import signals  # noqa: F401  (connects the login/logout/lockout audit receivers)

        # Each app's labels.py registers its action labels and reference resolvers into core.actions and
        # core.references; found by name, like admin.py, so core never imports a domain app.
        autodiscover_modules("labels")
        # Every app's Celery tasks, in every process (the web's too): services queue them by name
        # (core.queue), so that no service imports the task module that imports it.
        autodiscover_modules("tasks")
