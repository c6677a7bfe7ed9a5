from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core import registry
from core.registry import AUDITOR, NavItem
from core.workdays import calendar_warning


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs: the navigation this person may use (each app's entries, from
    core.registry), and any calendar warning."""
    user = request.user
    access = registry.access()
    nav: list[NavItem] = [NavItem(str(_("Home")), reverse("home")), *registry.navigation(user)]
    if registry.has_any_role(user, {AUDITOR}) or user.is_superuser:
        nav.append(
            NavItem(
                str(_("Audit log")),
                reverse("admin:core_auditentry_changelist"),
                str(_("Who changed what, when and why.")),
            )
        )
    if access.may_use_admin_site(user):
        nav.append(
            NavItem(
                str(_("Administration")),
                reverse("admin:index"),
                str(_("Users, agencies, roles and settings.")),
            )
        )
    nav.append(
        NavItem(
            str(_("API")),
            reverse("api_docs"),
            str(_("The REST interface for hotline systems, portals and other cities.")),
        )
    )
    return {
        **registry.layout(request),
        "nav_items": nav,
        "current_path": request.path,
        "my_roles": [access.role_label(r) for r in sorted(access.roles_of(user))],
        "calendar_warning": calendar_warning() if user.is_authenticated else None,
    }
