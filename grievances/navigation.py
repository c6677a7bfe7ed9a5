"""The grievance pages in the shared navigation (registered with core.registry by GrievancesConfig).
Anonymous visitors cost no query (the page-query tests count on it); agency staff cost one, to know whether
they have whistles."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.registry import Entry, NavItem, entries_for
from duty_lists import permissions
from duty_lists.models import Agency, AgencyLevel, Role

GRIEVANCE_FIGURES_ROLES = frozenset({Role.DISPATCHER, Role.EDITORIAL_OFFICER, Role.LEADER, Role.AUDITOR})
DIGEST_ROLES = frozenset({Role.EDITORIAL_OFFICER, Role.LEADER})


def _staff_or_figures(user: Any) -> bool:
    return bool(permissions.agencies_of(user)) or permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES)


def _has_whistles(user: Any) -> bool:
    """A street (or community) blows whistles; a department has them once it has been summoned."""
    own = permissions.agencies_of(user)
    return bool(own) and (
        Agency.objects.filter(pk__in=own)
        .filter(Q(level__in=[AgencyLevel.STREET, AgencyLevel.COMMUNITY]) | Q(summonses__isnull=False))
        .exists()
    )


ENTRIES = (
    Entry(
        _("Grievance queue"),
        "grievances:queue",
        _("Grievances nobody handles yet, with the router's suggestions."),
        permissions.is_dispatcher,
    ),
    Entry(
        _("My grievances"),
        "grievances:inbox",
        _("Work orders sent to your agency: accept them, or return them citing the list."),
        lambda user: bool(permissions.agencies_of(user)),
    ),
    Entry(
        _("Whistles"),
        "grievances:whistle_list",
        _("A street summons departments to a matter; each must report within minutes."),
        _has_whistles,
    ),
    Entry(
        _("Handovers"),
        "grievances:handover_list",
        _("Matters streets and district agencies hand each other, against their deadlines."),
        _staff_or_figures,
    ),
    Entry(
        _("Dashboard"),
        "grievances:dashboard",
        _("Charts of grievances, the rates per agency and disputes, with tables and Excel."),
        _staff_or_figures,
    ),
    Entry(
        _("Daily digest"),
        "grievances:digest_list",
        _("Each morning: yesterday's new, overdue and returned grievances and the bounces."),
        lambda user: permissions.has_any_role(user, DIGEST_ROLES),
    ),
    Entry(
        _("Agency ranking"),
        "grievances:ranking",
        _("The month's ranking of agencies by the office's weights, as a page and in Excel."),
        _staff_or_figures,
    ),
    Entry(
        _("Mutual ratings"),
        "grievances:ratings",
        _("双向考评: each month streets rate departments and departments rate streets."),
        lambda user: bool(permissions.agencies_of(user)) or permissions.is_editorial_officer(user),
    ),
    Entry(
        _("List health"),
        "duty_lists:health",
        _("Overlaps, gaps, stale legal bases and splits by domain, computed nightly."),
        permissions.may_read_list_health,
    ),
    Entry(
        _("Gap finder"),
        "grievances:gaps",
        _("Groups of grievances the list serves badly, found before the agencies quarrel."),
        permissions.is_editorial_officer,
    ),
    Entry(
        _("Router"),
        "grievances:router",
        _("The learned version in force, what it measured, and automatic dispatch."),
        lambda user: permissions.is_editorial_officer(user) or permissions.is_dispatcher(user),
    ),
    Entry(
        _("Grievance figures"),
        "grievances:figures",
        _("Dispatch, returns, timeliness and satisfaction, per agency and period."),
        lambda user: permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES),
    ),
)


def entries(user: Any) -> list[NavItem]:
    return entries_for(ENTRIES, user)
