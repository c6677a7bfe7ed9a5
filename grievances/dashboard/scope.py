"""Who sees which figures on the dashboard.

- The editorial office, leaders and auditors (and superusers) see every agency's figures, grievances and
  disputes, and may narrow them to one agency.
- Hotline dispatchers see every agency's grievance figures; dispute figures only for an agency they are
  also staff of.
- Agency staff see only their own agency's figures: grievances it was asked first, disputes it is a party
  to, its follow-ups. Asking for another agency is refused, not silently narrowed.
- Anyone else is refused the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from duty_lists import permissions
from duty_lists.models import Agency, Role

OVERSIGHT_ROLES = frozenset({Role.EDITORIAL_OFFICER, Role.LEADER, Role.AUDITOR})


@dataclass(frozen=True)
class Scope:
    # None: every agency; else only these.
    grievance_agencies: frozenset[int] | None
    dispute_agencies: frozenset[int] | None
    disputes: bool
    may_rebuild: bool

    @property
    def limited(self) -> bool:
        return self.grievance_agencies is not None

    def agency_choices(self) -> QuerySet[Agency]:
        agencies = Agency.objects.filter(is_active=True)
        if self.grievance_agencies is not None:
            agencies = Agency.objects.filter(pk__in=self.grievance_agencies)
        return agencies.order_by("code")

    def allows(self, agency_id: int) -> bool:
        return self.grievance_agencies is None or agency_id in self.grievance_agencies


def scope_of(user: Any) -> Scope | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser or permissions.has_any_role(user, OVERSIGHT_ROLES):
        return Scope(
            grievance_agencies=None,
            dispute_agencies=None,
            disputes=True,
            may_rebuild=bool(user.is_superuser or permissions.is_editorial_officer(user)),
        )
    own = frozenset(permissions.agencies_of(user))
    if permissions.is_dispatcher(user):
        return Scope(grievance_agencies=None, dispute_agencies=own, disputes=bool(own), may_rebuild=False)
    if own:
        return Scope(grievance_agencies=own, dispute_agencies=own, disputes=True, may_rebuild=False)
    return None


@dataclass(frozen=True)
class Narrowed:
    """The agencies each part of the page counts (None: all)."""

    grievances: frozenset[int] | None
    disputes: frozenset[int] | None


def narrow(scope: Scope, agency_id: int | None) -> Narrowed:
    """The scope narrowed to the agency filter (the caller has checked ``scope.allows``)."""
    if agency_id is None:
        return Narrowed(scope.grievance_agencies, scope.dispute_agencies)
    disputes = frozenset({agency_id})
    if scope.dispute_agencies is not None:
        disputes &= scope.dispute_agencies
    return Narrowed(frozenset({agency_id}), disputes)


def agency_filter(agencies: frozenset[int] | None, field: str) -> Q:
    return Q() if agencies is None else Q(**{f"{field}__in": sorted(agencies)})
