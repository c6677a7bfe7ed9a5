from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core import registry
from core.registry import AUDITOR, Entry, NavItem
from core.workdays import calendar_warning

# After every app's pages: the audit log, the admin site, the API's documentation.
CORE_AFTER = (
    Entry(
        _("Audit log"),
        "admin:core_auditentry_changelist",
        _("Who changed what, when and why."),
        lambda user: registry.has_any_role(user, {AUDITOR}),
    ),
    Entry(
        _("Administration"),
        "admin:index",
        _("Users, agencies, roles and settings."),
        lambda user: registry.access().may_use_admin_site(user),
    ),
    Entry(_("API"), "api_docs", _("The REST interface for hotline systems, portals and other cities.")),
)


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs: the navigation this person may use (each app's entries, from
    core.registry), and any calendar warning."""
    user = request.user
    access = registry.access()
    nav: list[NavItem] = [
        NavItem(str(_("Home")), reverse("home")),
        *registry.navigation(user),
        *registry.entries_for(CORE_AFTER, user),
    ]
    return {
        **registry.layout(request),
        "nav_items": nav,
        "current_path": request.path,
        "my_roles": [access.role_label(r) for r in sorted(access.roles_of(user))],
        "calendar_warning": calendar_warning() if user.is_authenticated else None,
    }
