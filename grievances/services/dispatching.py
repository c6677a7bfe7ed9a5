"""Routing a grievance to the agency the list makes responsible, and dispatching its work orders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, PermissionRefused
from duty_lists.models import Agency, Duty, DutyRevision
from grievances import routing
from grievances.deadlines import accept_deadline
from grievances.models import (
    ACTIVE_ORDER_STATES,
    Grievance,
    OrderRole,
    OrderState,
    WorkOrder,
)
from grievances.services.bounces import _bounce_check
from grievances.services.common import announce, event, is_dispatcher, locked
from grievances.services.loop import TRANSITIONS, G, _require


def _route(
    grievance: Grievance, actor: Any, *, named_duty: Duty | None = None, auto_dispatch: bool = True
) -> list[routing.Suggestion]:
    excluded = frozenset(
        grievance.orders.filter(state=OrderState.RETURNED).values_list("agency_id", flat=True)
    )
    suggestions = routing.route(
        grievance.title, grievance.details, street=grievance.street, exclude_agencies=excluded
    )
    if named_duty is not None:
        named = routing.suggestion_for_duty(named_duty.pk, street=grievance.street)
        if named is not None:
            suggestions = [named, *[s for s in suggestions if s.duty_id != named.duty_id]][: routing.TOP_K]
    grievance.suggestions = [s.as_dict() for s in suggestions]
    grievance.route_confidence = suggestions[0].confidence if suggestions else 0.0
    grievance.routed_at = timezone.now()
    grievance.save(update_fields=["suggestions", "route_confidence", "routed_at", "updated_at"])
    best = suggestions[0] if suggestions else None
    if (
        auto_dispatch
        and best is not None
        and best.agency_id is not None
        and best.confidence >= routing.auto_dispatch_threshold()
        and grievance.state in TRANSITIONS["dispatch"]
    ):
        from core.actors import SYSTEM

        _dispatch_locked(
            grievance,
            SYSTEM,
            agency=Agency.objects.get(pk=best.agency_id),
            duty=Duty.objects.get(pk=best.duty_id) if best.duty_id else None,
            cooperating=(),
            note=_("Dispatched automatically (confidence %(c).0f%%).") % {"c": best.confidence * 100},
        )
    elif best is None:
        # Nothing on the list matches: the matter may be a gap (counted by the cluster check).
        grievance.unlisted = True
        grievance.save(update_fields=["unlisted", "updated_at"])
    return suggestions


def grievance_route(*, actor: Any, grievance: Grievance) -> Grievance:
    """Fresh suggestions from the list in force, when a dispatcher asks (re-match). It never dispatches:
    the list may have moved the duty since, and the dispatcher confirms the new suggestion first."""
    if not is_dispatcher(actor):
        raise PermissionRefused(_("Only hotline dispatchers route grievances."))
    with transaction.atomic():
        grievance = locked(grievance)
        _route(grievance, actor, auto_dispatch=False)
        event(grievance, "route", actor, data={"confidence": grievance.route_confidence})
    return grievance


# --- Dispatch -------------------------------------------------------------------------------------------


def grievance_dispatch(
    *,
    actor: Any,
    grievance: Grievance,
    agency: Agency,
    duty: Duty | None = None,
    cooperating: Iterable[Agency] = (),
    note: str = "",
) -> Grievance:
    """Send the grievance to a lead agency (and cooperating agencies, each with its own sub-order). With no
    duty the dispatcher declares the matter not on the list: the agency asked first must then handle it
    provisionally (首问负责制) while the gap goes to arbitration."""
    if not is_dispatcher(actor):
        raise PermissionRefused(_("Only hotline dispatchers dispatch grievances."))
    if not agency.is_active:
        raise ApplicationError(
            _("That agency is no longer active."), code="invalid_dispatch", extra={"agency": [_("Inactive.")]}
        )
    with transaction.atomic():
        grievance = locked(grievance)
        current = grievance.orders.filter(role=OrderRole.LEAD, state__in=ACTIVE_ORDER_STATES).first()
        if current is not None and current.agency_id == agency.pk:
            return grievance  # already with that agency: a repeated click
        _require(grievance, "dispatch")
        _dispatch_locked(grievance, actor, agency=agency, duty=duty, cooperating=cooperating, note=note)
    return grievance


def _dispatch_locked(
    grievance: Grievance,
    actor: Any,
    *,
    agency: Agency,
    duty: Duty | None,
    cooperating: Iterable[Agency],
    note: str,
    action: str = "dispatch",
) -> None:
    now = timezone.now()
    before = grievance.state
    round_number = grievance.dispatch_count + 1
    accept_by = accept_deadline(now, grievance.kind, grievance.urgency, grievance.deadline_at)
    if accept_by < now:
        accept_by = now  # already past the citizen's deadline: accept at once
    WorkOrder.objects.create(
        grievance=grievance,
        agency=agency,
        role=OrderRole.LEAD,
        round=round_number,
        dispatched_at=now,
        accept_by=accept_by,
        deadline_at=grievance.deadline_at,
        note=note,
    )
    coop = [a for a in {a.pk: a for a in cooperating}.values() if a.pk != agency.pk]
    WorkOrder.objects.bulk_create(
        WorkOrder(
            grievance=grievance,
            agency=a,
            role=OrderRole.COOPERATING,
            round=round_number,
            dispatched_at=now,
            accept_by=accept_by,
            deadline_at=grievance.deadline_at,
        )
        for a in coop
    )
    grievance.state = G.DISPATCHED
    grievance.handling_agency = agency
    grievance.duty = duty
    grievance.duty_revision_id = _revision_id(duty)
    if not grievance.category and grievance.duty_revision_id:
        # The list's own category, so the figures per category need nobody to type one in.
        grievance.category = (
            DutyRevision.objects.filter(pk=grievance.duty_revision_id)
            .values_list("classification__category__name", flat=True)
            .first()
            or ""
        )
    grievance.unlisted = duty is None
    grievance.dispatch_count = round_number
    grievance.dispatched_at = now
    grievance.accept_by = accept_by
    if grievance.first_agency_id is None:
        grievance.first_agency = agency
    grievance.save()
    event(
        grievance,
        action,
        actor,
        from_state=before,
        agency=agency,
        reason=note,
        data={"duty": duty.pk if duty else None, "cooperating": [a.pk for a in coop], "round": round_number},
        public=True,
    )
    announce(
        grievance,
        f"dispatch:{round_number}",
        _("Grievance %(ref)s dispatched to you: %(title)s")
        % {"ref": grievance.reference, "title": grievance.title},
        agencies=[agency, *coop],
    )
    if action == "dispatch":  # a re-route by a new edition is the list's doing, not a bounce
        _bounce_check(grievance, actor)


def _revision_id(duty: Duty | None) -> int | None:
    if duty is None:
        return None
    from duty_lists.selectors import revisions_in_force

    return revisions_in_force(with_content=False).filter(duty=duty).values_list("pk", flat=True).first()
