"""The lead agency handles the grievance; the citizen's feedback closes it or sends it back."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict, PermissionRefused
from grievances.models import (
    ACTIVE_ORDER_STATES,
    Feedback,
    Grievance,
    OrderRole,
    OrderState,
)
from grievances.services.common import announce, event, is_dispatcher, is_staff_of, locked
from grievances.services.loop import UNSATISFIED_AT_OR_BELOW, G, _require


def _lead_staff(actor: Any, grievance: Grievance) -> None:
    if not is_staff_of(actor, grievance.handling_agency_id):
        raise PermissionRefused(_("Only the agency handling the grievance can do that."))


def grievance_progress(*, actor: Any, grievance: Grievance, note: str = "") -> Grievance:
    with transaction.atomic():
        grievance = locked(grievance)
        _lead_staff(actor, grievance)
        if grievance.state == G.IN_PROGRESS:
            return grievance
        _require(grievance, "progress")
        before = grievance.state
        grievance.state = G.IN_PROGRESS
        grievance.save(update_fields=["state", "updated_at"])
        event(
            grievance,
            "progress",
            actor,
            from_state=before,
            reason=note,
            agency=grievance.handling_agency,
            public=True,
        )
    return grievance


def grievance_resolve(*, actor: Any, grievance: Grievance, resolution: str) -> Grievance:
    if not resolution.strip():
        raise ApplicationError(
            _("Say how it was resolved."), code="invalid_resolution", extra={"resolution": [_("Required.")]}
        )
    with transaction.atomic():
        grievance = locked(grievance)
        _lead_staff(actor, grievance)
        if grievance.state == G.RESOLVED:
            return grievance
        _require(grievance, "resolve")
        waiting = grievance.orders.filter(
            round=grievance.dispatch_count, role=OrderRole.COOPERATING, state__in=ACTIVE_ORDER_STATES
        ).select_related("agency")
        if waiting:
            raise Conflict(
                _("The cooperating agencies have not all answered yet: %(names)s.")
                % {"names": "、".join(o.agency.name for o in waiting)},
                code="cooperators_pending",
            )
        now = timezone.now()
        grievance.orders.filter(
            round=grievance.dispatch_count, role=OrderRole.LEAD, state=OrderState.ACCEPTED
        ).update(state=OrderState.ANSWERED, answered_at=now, answer=resolution.strip())
        before = grievance.state
        grievance.state = G.RESOLVED
        grievance.resolved_at = now
        grievance.resolution = resolution.strip()
        grievance.save()
        event(
            grievance,
            "resolve",
            actor,
            from_state=before,
            reason=resolution.strip(),
            agency=grievance.handling_agency,
            public=True,
        )
        announce(
            grievance,
            f"resolve:{grievance.dispatch_count}",
            _("Grievance %(ref)s resolved: ask the citizen for feedback") % {"ref": grievance.reference},
            dispatchers=True,
        )
    return grievance


def grievance_feedback(
    *,
    actor: Any,
    grievance: Grievance,
    rating: int,
    comment: str = "",
    reopen: bool = False,
    via: str = "dispatcher",
) -> Feedback:
    """The citizen's rating of the outcome (through a dispatcher or the tokenised link). Satisfied closes
    the grievance; unsatisfied with a request to redo reopens it for the dispatchers (the redo rate)."""
    if via == "dispatcher" and not is_dispatcher(actor):
        raise PermissionRefused(_("Only dispatchers record feedback for a citizen."))
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ApplicationError(
            _("Rate from 1 to 5."), code="invalid_feedback", extra={"rating": [_("Rate from 1 to 5.")]}
        )
    satisfied = rating > UNSATISFIED_AT_OR_BELOW
    if reopen and satisfied:
        raise ApplicationError(
            _("Only an unsatisfied citizen's grievance is reopened."),
            code="invalid_feedback",
            extra={"reopen": [_("Rating too high to redo.")]},
        )
    with transaction.atomic():
        grievance = locked(grievance)
        round_number = grievance.reopen_count + 1
        existing = grievance.feedback.filter(round=round_number).first()
        if existing is not None:
            return existing
        _require(grievance, "feedback")
        now = timezone.now()
        feedback = Feedback.objects.create(
            grievance=grievance,
            round=round_number,
            rating=rating,
            satisfied=satisfied,
            comment=comment.strip(),
            reopened=reopen,
            via=via,
            at=now,
        )
        before = grievance.state
        grievance.rating = rating
        if reopen:
            grievance.state = G.REOPENED
            grievance.reopen_count += 1
            grievance.handling_agency = None
            grievance.resolved_at = None
        else:
            grievance.state = G.CLOSED
            grievance.closed_at = now
        grievance.save()
        event(
            grievance,
            "reopen" if reopen else "close",
            actor,
            from_state=before,
            reason=comment.strip(),
            data={"rating": rating},
            public=True,
        )
        if reopen:
            announce(
                grievance,
                f"reopen:{round_number}",
                _("Grievance %(ref)s reopened by the citizen") % {"ref": grievance.reference},
                dispatchers=True,
            )
    return feedback


def grievance_close(*, actor: Any, grievance: Grievance, reason: str) -> Grievance:
    """Close a resolved grievance whose citizen gave no feedback (they could not be reached)."""
    if not is_dispatcher(actor):
        raise PermissionRefused(_("Only dispatchers close grievances."))
    if not reason.strip():
        raise ApplicationError(
            _("Say why it is closed without feedback."),
            code="invalid_close",
            extra={"reason": [_("Required.")]},
        )
    with transaction.atomic():
        grievance = locked(grievance)
        if grievance.state == G.CLOSED:
            return grievance
        _require(grievance, "close")
        before = grievance.state
        grievance.state = G.CLOSED
        grievance.closed_at = timezone.now()
        grievance.save()
        event(grievance, "close", actor, from_state=before, reason=reason.strip(), public=True)
    return grievance


def grievance_cancel(*, actor: Any, grievance: Grievance, reason: str) -> Grievance:
    if not is_dispatcher(actor):
        raise PermissionRefused(_("Only dispatchers cancel grievances."))
    if not reason.strip():
        raise ApplicationError(
            _("Say why it is cancelled."), code="invalid_cancel", extra={"reason": [_("Required.")]}
        )
    with transaction.atomic():
        grievance = locked(grievance)
        if grievance.state == G.CANCELLED:
            return grievance
        _require(grievance, "cancel")
        grievance.orders.filter(state__in=ACTIVE_ORDER_STATES).update(state=OrderState.WITHDRAWN)
        before = grievance.state
        grievance.state = G.CANCELLED
        grievance.closed_at = timezone.now()
        grievance.save()
        event(grievance, "cancel", actor, from_state=before, reason=reason.strip(), public=True)
    return grievance
