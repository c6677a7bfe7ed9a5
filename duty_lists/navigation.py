"""The duty lists' pages in the shared navigation, and who holds which role (registered with
core.registry by DutyListsConfig)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.registry import Entry, NavItem, entries_for
from duty_lists import permissions
from duty_lists.models import Role

# Amendments and disputes are for the agencies' staff and the office that arbitrates (arbitration's entries
# use the same set).
AMENDMENT_ROLES = frozenset({Role.AGENCY_STAFF, Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.LEADER})


ENTRIES = (
    Entry(
        _("Duty lists"),
        "duty_lists:index",
        _("Who leads each duty, who cooperates, on what legal basis; as of any date."),
    ),
    Entry(
        _("Search duties"),
        "duty_lists:search",
        _("Find a duty in every list by the words citizens use: 噪声, 违建, 占道经营."),
    ),
    Entry(_("Agencies"), "agency_list", _("Every agency by level, kind and parent, with its code.")),
    Entry(
        _("Powers delegated to streets"),
        "duty_lists:delegations",
        _("Powers delegated to streets, with their legal basis and granting decision."),
    ),
    Entry(
        _("Amendments"),
        "duty_lists:amendment_queue",
        _("Propose changes to the list and take them through legal and joint review."),
        lambda user: permissions.has_any_role(user, AMENDMENT_ROLES),
    ),
    Entry(
        _("Import"),
        "duty_list_import:upload",
        _("Load a duty list from Excel, check it row by row, then confirm."),
        permissions.is_editorial_officer,
    ),
)


def entries(user: Any) -> list[NavItem]:
    return entries_for(ENTRIES, user)


def role_label(role: str) -> str:
    return str(Role(role).label)
