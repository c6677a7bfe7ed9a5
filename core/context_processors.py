from __future__ import annotations

from typing import Any, NamedTuple

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.workdays import calendar_warning
from duty_lists import permissions
from duty_lists.models import Agency, AgencyLevel, Role

AMENDMENT_ROLES = frozenset({Role.AGENCY_STAFF, Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.LEADER})
QUEUE_ROLES = frozenset({Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.LEADER})
GRIEVANCE_FIGURES_ROLES = frozenset({Role.DISPATCHER, Role.EDITORIAL_OFFICER, Role.LEADER, Role.AUDITOR})
DIGEST_ROLES = frozenset({Role.EDITORIAL_OFFICER, Role.LEADER})


class NavItem(NamedTuple):
    label: str
    url: str
    about: str = ""  # one line on the home page's card


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs: the navigation this person may use, and any calendar warning."""
    user = request.user
    nav: list[NavItem] = [
        NavItem(str(_("Home")), reverse("home")),
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
    nav.extend(_grievance_nav(user))
    if permissions.is_auditor(user) or user.is_superuser:
        nav.append(
            NavItem(
                str(_("Audit log")),
                reverse("admin:core_auditentry_changelist"),
                str(_("Who changed what, when and why.")),
            )
        )
    if permissions.may_use_admin_site(user):
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
    roles = sorted(permissions.roles_of(user))
    from arbitration.selectors import unread_count  # arbitration keeps the inbox

    return {
        "unread_notifications": unread_count(user),
        "nav_items": nav,
        "current_path": request.path,
        "my_roles": [Role(r).label for r in roles],
        "calendar_warning": calendar_warning() if user.is_authenticated else None,
    }


def _grievance_nav(user: Any) -> list[NavItem]:
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
