"""The duty lists' pages in the shared navigation, and who holds which role (registered with
core.registry by DutyListsConfig)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.registry import NavItem
from duty_lists import permissions
from duty_lists.models import Role

# Amendments and disputes are for the agencies' staff and the office that arbitrates (arbitration's entries
# use the same set).
AMENDMENT_ROLES = frozenset({Role.AGENCY_STAFF, Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.LEADER})


def entries(user: Any) -> list[NavItem]:
    nav = [
        NavItem(
            str(_("Duty lists")),
            reverse("duty_lists:index"),
            str(_("Who leads each duty, who cooperates, on what legal basis; as of any date.")),
        ),
        NavItem(
            str(_("Search duties")),
            reverse("duty_lists:search"),
            str(_("Find a duty in every list by the words citizens use: 噪声, 违建, 占道经营.")),
        ),
        NavItem(
            str(_("Agencies")),
            reverse("agency_list"),
            str(_("Every agency by level, kind and parent, with its code.")),
        ),
        NavItem(
            str(_("Powers delegated to streets")),
            reverse("duty_lists:delegations"),
            str(_("Powers delegated to streets, with their legal basis and granting decision.")),
        ),
    ]
    if user.is_superuser or permissions.has_any_role(user, AMENDMENT_ROLES):
        nav.append(
            NavItem(
                str(_("Amendments")),
                reverse("duty_lists:amendment_queue"),
                str(_("Propose changes to the list and take them through legal and joint review.")),
            )
        )
    if user.is_superuser or permissions.is_editorial_officer(user):
        nav.append(
            NavItem(
                str(_("Import")),
                reverse("duty_list_import:upload"),
                str(_("Load a duty list from Excel, check it row by row, then confirm.")),
            )
        )
    return nav


def role_label(role: str) -> str:
    return str(Role(role).label)
