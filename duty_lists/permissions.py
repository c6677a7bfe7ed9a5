"""Who may do what. Views, API permission classes, admin and services all ask these helpers, so the answer
is the same wherever the question comes from.

A user's active memberships are read once per request object and kept on it (``_zhize_roles``).
"""

from __future__ import annotations

from typing import Any

from duty_lists.models import Agency, Membership, Role

# The editorial office keeps the registry in the admin too; legal reviewers read it there.
ADMIN_SITE_ROLES = frozenset(
    {Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR, Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER}
)


def _roles(user: Any) -> frozenset[tuple[int, str]]:
    """(agency_id, role) pairs of the user's active memberships in active agencies."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_zhize_roles", None)
    if cached is None:
        cached = frozenset(
            Membership.objects.filter(user=user, is_active=True, agency__is_active=True).values_list(
                "agency_id", "role"
            )
        )
        user._zhize_roles = cached
    return cached


def forget_roles(user: Any) -> None:
    """Drop the cached roles after a membership change, so the next question reads them afresh."""
    if hasattr(user, "_zhize_roles"):
        del user._zhize_roles


def roles_of(user: Any) -> set[str]:
    return {role for _agency, role in _roles(user)}


def has_role(user: Any, role: str, agency: Agency | int | None = None) -> bool:
    """Does the user hold ``role`` (in ``agency``, when given)?"""
    agency_id = agency.pk if isinstance(agency, Agency) else agency
    return any(r == role and (agency_id is None or a == agency_id) for a, r in _roles(user))


def has_any_role(user: Any, roles: set[str] | frozenset[str] | tuple[str, ...]) -> bool:
    return bool(roles_of(user) & set(roles))


def agencies_of(user: Any, role: str = Role.AGENCY_STAFF) -> set[int]:
    """Ids of the agencies the user acts for in ``role``."""
    return {a for a, r in _roles(user) if r == role}


def may_act_for_agency(user: Any, agency: Agency | int) -> bool:
    """Agency staff act only for their own agency (DESIGN.md §6)."""
    return has_role(user, Role.AGENCY_STAFF, agency)


def is_editorial_officer(user: Any) -> bool:
    return has_role(user, Role.EDITORIAL_OFFICER)


def acts_for_office(user: Any) -> bool:
    """An editorial officer, or a superuser (who may do whatever the office does)."""
    return bool(getattr(user, "is_superuser", False) or is_editorial_officer(user))


def is_leader(user: Any) -> bool:
    return has_role(user, Role.LEADER)


def is_legal_reviewer(user: Any) -> bool:
    return has_role(user, Role.LEGAL_REVIEWER)


def is_dispatcher(user: Any) -> bool:
    return has_role(user, Role.DISPATCHER)


def is_auditor(user: Any) -> bool:
    return has_role(user, Role.AUDITOR)


def is_system_admin(user: Any) -> bool:
    return has_role(user, Role.SYSTEM_ADMIN)


def is_security_admin(user: Any) -> bool:
    return has_role(user, Role.SECURITY_ADMIN)


def may_use_admin_site(user: Any) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or has_any_role(user, ADMIN_SITE_ROLES))
    )


# List health (duty_lists/health.py): the editorial office keeps the lists; leaders and auditors read how
# healthy they are. Recomputing is the office's (duty_lists.services.health.may_compute).
LIST_HEALTH_READERS = frozenset({Role.EDITORIAL_OFFICER, Role.LEADER, Role.AUDITOR})


def may_read_list_health(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or has_any_role(user, LIST_HEALTH_READERS)))
