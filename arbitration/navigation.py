"""Arbitration's pages in the shared navigation and its inbox count in every page's layout (registered
with core.registry by ArbitrationConfig)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.registry import NavItem
from duty_lists import permissions
from duty_lists.models import Role
from duty_lists.navigation import AMENDMENT_ROLES

QUEUE_ROLES = frozenset({Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.LEADER})


def entries(user: Any) -> list[NavItem]:
    nav = []
    if user.is_superuser or permissions.has_any_role(user, AMENDMENT_ROLES):
        nav.append(
            NavItem(
                str(_("Disputes")),
                reverse("arbitration:dispute_list"),
                str(_("Disputes between agencies, from negotiation up to leadership.")),
            )
        )
    if user.is_superuser or permissions.has_any_role(user, QUEUE_ROLES):
        nav.append(
            NavItem(
                str(_("Work queue")),
                reverse("arbitration:queue"),
                str(_("Disputes waiting for you, the nearest deadline first.")),
            )
        )
    nav.append(  # public, as the API is
        NavItem(
            str(_("Rulings")),
            reverse("arbitration:ruling_list"),
            str(_("Who was ruled responsible and why, with every correction on record.")),
        )
    )
    return nav


def layout(request: HttpRequest) -> dict[str, Any]:
    from arbitration.selectors import unread_count  # arbitration keeps the inbox

    return {"unread_notifications": unread_count(request.user)}
