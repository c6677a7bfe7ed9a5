"""Arbitration's pages in the shared navigation and its inbox count in every page's layout (registered
with core.registry by ArbitrationConfig)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.registry import Entry, NavItem, entries_for
from duty_lists import permissions
from duty_lists.models import Role
from duty_lists.navigation import AMENDMENT_ROLES

QUEUE_ROLES = frozenset({Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.LEADER})

ENTRIES = (
    Entry(
        _("Disputes"),
        "arbitration:dispute_list",
        _("Disputes between agencies, from negotiation up to leadership."),
        lambda user: permissions.has_any_role(user, AMENDMENT_ROLES),
    ),
    Entry(
        _("Work queue"),
        "arbitration:queue",
        _("Disputes waiting for you, the nearest deadline first."),
        lambda user: permissions.has_any_role(user, QUEUE_ROLES),
    ),
    Entry(  # public, as the API is
        _("Rulings"),
        "arbitration:ruling_list",
        _("Who was ruled responsible and why, with every correction on record."),
    ),
)


def entries(user: Any) -> list[NavItem]:
    return entries_for(ENTRIES, user)


def layout(request: HttpRequest) -> dict[str, Any]:
    from arbitration.selectors import unread_count  # arbitration keeps the inbox

    return {"unread_notifications": unread_count(request.user)}
