from __future__ import annotations

from typing import Any

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


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs: the navigation this person may use, and any calendar warning."""
    user = request.user
    nav: list[tuple[str, str]] = [
        (str(_("Home")), reverse("home")),
        (str(_("Duty lists")), reverse("duty_lists:index")),
        (str(_("Agencies")), reverse("agency_list")),
    ]
    if user.is_superuser or permissions.has_any_role(user, AMENDMENT_ROLES):
        nav.append((str(_("Amendments")), reverse("duty_lists:amendment_queue")))
    if user.is_superuser or permissions.is_editorial_officer(user):
        nav.append((str(_("Import")), reverse("duty_list_import:upload")))
    if user.is_superuser or permissions.has_any_role(user, AMENDMENT_ROLES):
        nav.append((str(_("Disputes")), reverse("arbitration:dispute_list")))
    if user.is_superuser or permissions.has_any_role(user, QUEUE_ROLES):
        nav.append((str(_("Work queue")), reverse("arbitration:queue")))
    nav.append((str(_("Rulings")), reverse("arbitration:ruling_list")))  # public, as the API is
    nav.extend(_grievance_nav(user))
    if permissions.is_auditor(user) or user.is_superuser:
        nav.append((str(_("Audit log")), reverse("admin:core_auditentry_changelist")))
    if permissions.may_use_admin_site(user):
        nav.append((str(_("Administration")), reverse("admin:index")))
    nav.append((str(_("API")), reverse("api_docs")))
    roles = sorted(permissions.roles_of(user))
    from arbitration.selectors import unread_count  # arbitration keeps the inbox

    return {
        "unread_notifications": unread_count(user),
        "nav_items": nav,
        "current_path": request.path,
        "my_roles": [Role(r).label for r in roles],
        "calendar_warning": calendar_warning() if user.is_authenticated else None,
    }


def _grievance_nav(user: Any) -> list[tuple[str, str]]:
    """The grievance pages this person works in. Anonymous visitors cost no query (the page-query tests
    count on it); agency staff cost one, to know whether they have whistles."""
    nav: list[tuple[str, str]] = []
    if user.is_superuser or permissions.is_dispatcher(user):
        nav.append((str(_("Grievance queue")), reverse("grievances:queue")))
    own = permissions.agencies_of(user)
    if user.is_superuser or own:
        nav.append((str(_("My grievances")), reverse("grievances:inbox")))
    if user.is_superuser or (own and _has_whistles(own)):
        nav.append((str(_("Whistles")), reverse("grievances:whistle_list")))
    if user.is_superuser or own or permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES):
        nav.append((str(_("Handovers")), reverse("grievances:handover_list")))
    if user.is_superuser or permissions.has_any_role(user, GRIEVANCE_FIGURES_ROLES):
        nav.append((str(_("Grievance figures")), reverse("grievances:figures")))
    return nav


def _has_whistles(agencies: set[int]) -> bool:
    """A street (or community) blows whistles; a department has them once it has been summoned."""
    return (
        Agency.objects.filter(pk__in=agencies)
        .filter(Q(level__in=[AgencyLevel.STREET, AgencyLevel.COMMUNITY]) | Q(summonses__isnull=False))
        .exists()
    )
