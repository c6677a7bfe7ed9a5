"""The grievance pages in the shared navigation (registered with core.registry by GrievancesConfig)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.registry import NavItem
from duty_lists import permissions
from duty_lists.models import Agency, AgencyLevel, Role

GRIEVANCE_FIGURES_ROLES = frozenset({Role.DISPATCHER, Role.EDITORIAL_OFFICER, Role.LEADER, Role.AUDITOR})
DIGEST_ROLES = frozenset({Role.EDITORIAL_OFFICER, Role.LEADER})


def entries(user: Any) -> list[NavItem]:
    """The grievance pages this person works in. Anonymous visitors cost no query (the page-query tests
    count on it); agency staff cost one, to know whether they have whistles."""
    nav: list[NavItem] = []
    if user.is_superuser or permissions.is_dispatcher(user):
        nav.append(
            NavItem(
                str(_("Grievance queue")),
                reverse("grievances:queue"),
                str(_("Grievances nobody handles yet, with the router's suggestions.")),
            )
        )
    own = permissions.agencies_of(user)
    if user.is_superuser or own:
        nav.append(
            NavItem(
                str(_("My grievances")),
                reverse("grievances:inbox"),
                str(_("Work orders sent to your agency: accept them, or return them citing the list.")),
            )
        )
    if user.is_superuser or (own and _has_whistles(own)):
        nav.append(
            NavItem(
                str(_("Whistles")),
                reverse("grievances:whistle_list"),
                str(_("A street summons departments to a matter; each must report within minutes.")),
            )
        )
    if user.is_superuser or own or permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES):
        nav.append(
            NavItem(
                str(_("Handovers")),
                reverse("grievances:handover_list"),
                str(_("Matters streets and district agencies hand each other, against their deadlines.")),
            )
        )
    if user.is_superuser or own or permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES):
        nav.append(
            NavItem(
                str(_("Dashboard")),
                reverse("grievances:dashboard"),
                str(_("Charts of grievances, the rates per agency and disputes, with tables and Excel.")),
            )
        )
    if user.is_superuser or permissions.has_any_role(user, DIGEST_ROLES):
        nav.append(
            NavItem(
                str(_("Daily digest")),
                reverse("grievances:digest_list"),
                str(_("Each morning: yesterday's new, overdue and returned grievances and the bounces.")),
            )
        )
    if user.is_superuser or own or permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES):
        nav.append(
            NavItem(
                str(_("Agency ranking")),
                reverse("grievances:ranking"),
                str(_("The month's ranking of agencies by the office's weights, as a page and in Excel.")),
            )
        )
    if user.is_superuser or own or permissions.is_editorial_officer(user):
        nav.append(
            NavItem(
                str(_("Mutual ratings")),
                reverse("grievances:ratings"),
                str(_("双向考评: each month streets rate departments and departments rate streets.")),
            )
        )
    if permissions.may_read_list_health(user):
        nav.append(
            NavItem(
                str(_("List health")),
                reverse("duty_lists:health"),
                str(_("Overlaps, gaps, stale legal bases and splits by domain, computed nightly.")),
            )
        )
    if user.is_superuser or permissions.is_editorial_officer(user):
        nav.append(
            NavItem(
                str(_("Gap finder")),
                reverse("grievances:gaps"),
                str(_("Groups of grievances the list serves badly, found before the agencies quarrel.")),
            )
        )
    if user.is_superuser or permissions.is_editorial_officer(user) or permissions.is_dispatcher(user):
        nav.append(
            NavItem(
                str(_("Router")),
                reverse("grievances:router"),
                str(_("The learned version in force, what it measured, and automatic dispatch.")),
            )
        )
    if user.is_superuser or permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES):
        nav.append(
            NavItem(
                str(_("Grievance figures")),
                reverse("grievances:figures"),
                str(_("Dispatch, returns, timeliness and satisfaction, per agency and period.")),
            )
        )
    return nav


def _has_whistles(agencies: set[int]) -> bool:
    """A street (or community) blows whistles; a department has them once it has been summoned."""
    return (
        Agency.objects.filter(pk__in=agencies)
        .filter(Q(level__in=[AgencyLevel.STREET, AgencyLevel.COMMUNITY]) | Q(summonses__isnull=False))
        .exists()
    )
