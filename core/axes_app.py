from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _

# Its own module: a second AppConfig in core/apps.py would stop Django picking CoreConfig for "core".


class AxesConfig(AxesAppConfig):
    """django-axes with a name the admin index can show in Chinese (it has none of its own)."""

    verbose_name = _("Sign-in security")
