"""An agency's answer to a work order: it accepts, answers as a cooperating agency, or returns it citing the
list."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists.models import Agency, Duty
from grievances import routing
from grievances.models import (
    ACTIVE_ORDER_STATES,
    Grievance,
    OrderRole,
    OrderState,
    WorkOrder,
)
from grievances.services.bounces import _bounce_check, _file_dispute
from grievances.services.common import announce, event, is_staff_of, locked, locked_order
from grievances.services.loop import G, _require


def order_accept(*, actor: Any, order: WorkOrder, note: str = "") -> WorkOrder:
    """The agency takes the order. Taking the lead order of a matter the list does not cover is
    first-asked responsibility: handled provisionally, and the gap goes to arbitration."""
    if not is_staff_of(actor, order.agency_id):
        raise PermissionRefused(_("Only the agency it was sent to can accept it."))
    with transaction.atomic():
        grievance = locked(order.grievance_id)
        order = locked_order(order)
        if order.state == OrderState.ACCEPTED:
            return order
        if order.state != OrderState.PENDING:
            raise Conflict(_("This order is no longer waiting for acceptance."), code="invalid_state")
        now = timezone.now()
        order.state = OrderState.ACCEPTED
        order.accepted_at = now
        order.save(update_fields=["state", "accepted_at"])
        if order.role == OrderRole.LEAD:
            _require(grievance, "accept")
            before = grievance.state
            grievance.state = G.ACCEPTED
            grievance.accepted_at = now
            if grievance.first_dispatch_accepted is None:
                grievance.first_dispatch_accepted = order.round == 1
            if grievance.unlisted and grievance.first_agency_id == order.agency_id:
                grievance.provisional = True
            grievance.save()
            event(
                grievance, "accept", actor, from_state=before, agency=order.agency, reason=note, public=True
            )
            if grievance.provisional and grievance.dispute_id is None:
                _file_dispute(grievance, kind="gap", filing_agency=order.agency)
        else:
            event(grievance, "accept_cooperation", actor, agency=order.agency, reason=note)
    return order


def order_return(
    *,
    actor: Any,
    order: WorkOrder,
    reason: str,
    cited_duty: Duty | None = None,
    unlisted: bool = False,
) -> WorkOrder:
    """ "Not ours": the return must cite the duty that names another agency, or declare the matter not on
    the list. The agency asked first cannot return a matter the list does not cover (首问负责制)."""
    if not is_staff_of(actor, order.agency_id):
        raise PermissionRefused(_("Only the agency it was sent to can return it."))
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = [_("Say why it is not yours.")]
    if (cited_duty is None) == (not unlisted):
        errors["cited_duty"] = [
            _("Cite the duty that names the responsible agency, or declare it not on the list.")
        ]
    cited_agency = None
    if cited_duty is not None:
        suggestion = routing.suggestion_for_duty(cited_duty.pk, street=order.grievance.street)
        if suggestion is None:
            errors["cited_duty"] = [_("That duty is not on the list in force.")]
        elif suggestion.agency_id == order.agency_id:
            errors["cited_duty"] = [_("The duty you cite names your own agency as lead.")]
        else:
            cited_agency = Agency.objects.filter(pk=suggestion.agency_id or 0).first()
    if errors:
        raise ApplicationError(
            _("The return cannot be accepted as it is."), code="invalid_return", extra=errors
        )
    with transaction.atomic():
        grievance = locked(order.grievance_id)
        order = locked_order(order)
        if order.state == OrderState.RETURNED:
            return order
        if order.role != OrderRole.LEAD:
            raise Conflict(
                _("A cooperating agency answers its part; only the lead returns the grievance."),
                code="invalid_state",
            )
        if order.state != OrderState.PENDING:
            raise Conflict(_("An accepted grievance cannot be returned."), code="invalid_state")
        _require(grievance, "return")
        if unlisted and grievance.first_agency_id == order.agency_id and not grievance.duty_id:
            raise Conflict(
                _(
                    "First-asked responsibility: the list covers no duty here and your agency was asked "
                    "first, so it must handle the grievance provisionally; the gap goes to arbitration."
                ),
                code="first_asked_responsibility",
            )
        now = timezone.now()
        order.state = OrderState.RETURNED
        order.returned_at = now
        order.return_reason = reason.strip()
        order.cited_duty = cited_duty
        order.cited_agency = cited_agency
        order.declared_unlisted = unlisted
        order.save()
        grievance.orders.filter(
            round=order.round, role=OrderRole.COOPERATING, state__in=ACTIVE_ORDER_STATES
        ).update(state=OrderState.WITHDRAWN)
        before = grievance.state
        grievance.state = G.RETURNED
        grievance.handling_agency = None
        grievance.return_count += 1
        if grievance.first_dispatch_accepted is None:
            grievance.first_dispatch_accepted = False
        grievance.save()
        event(
            grievance,
            "return",
            actor,
            from_state=before,
            agency=order.agency,
            reason=reason.strip(),
            data={
                "cited_duty": cited_duty.pk if cited_duty else None,
                "cited_agency": cited_agency.pk if cited_agency else None,
                "unlisted": unlisted,
            },
        )
        _route_after_return(grievance, actor, order)
        announce(
            grievance,
            f"return:{order.round}",
            _("Grievance %(ref)s was returned by %(agency)s")
            % {"ref": grievance.reference, "agency": order.agency.name},
            dispatchers=True,
            body=reason.strip(),
        )
        _bounce_check(grievance, actor)
    return order


def _route_after_return(grievance: Grievance, actor: Any, order: WorkOrder) -> None:
    suggestions = suggestions_after_returns(grievance, cited_duty_id=order.cited_duty_id)
    grievance.suggestions = [s.as_dict() for s in suggestions]
    grievance.route_confidence = suggestions[0].confidence if suggestions else 0.0
    grievance.routed_at = timezone.now()
    grievance.save(update_fields=["suggestions", "route_confidence", "routed_at", "updated_at"])


def suggestions_after_returns(grievance: Grievance, *, cited_duty_id: int | None) -> list[routing.Suggestion]:
    """Fresh suggestions without the agencies that returned it; the duty the last return cites comes first
    (with its lead as the list in force names it)."""
    excluded = frozenset(
        grievance.orders.filter(state=OrderState.RETURNED).values_list("agency_id", flat=True)
    )
    suggestions = routing.route(
        grievance.title, grievance.details, street=grievance.street, exclude_agencies=excluded
    )
    if cited_duty_id:
        cited = routing.suggestion_for_duty(cited_duty_id, street=grievance.street)
        if cited is not None and cited.agency_id not in excluded:
            matched = next((s for s in suggestions if s.duty_id == cited.duty_id), None)
            if matched is not None:  # keep the list's own explanation beside the citation
                cited.matched_words, cited.learned_words = matched.matched_words, matched.learned_words
            cited.source = "cited"
            cited.confidence = max((s.confidence for s in suggestions), default=0.0)
            suggestions = [cited, *[s for s in suggestions if s.duty_id != cited.duty_id]][: routing.TOP_K]
    return suggestions


def order_answer(*, actor: Any, order: WorkOrder, answer: str) -> WorkOrder:
    """A cooperating agency reports its part done; the lead cannot resolve before every one has."""
    if not is_staff_of(actor, order.agency_id):
        raise PermissionRefused(_("Only the agency it was sent to can answer it."))
    if not answer.strip():
        raise ApplicationError(
            _("Say what your agency did."), code="invalid_answer", extra={"answer": [_("Required.")]}
        )
    with transaction.atomic():
        grievance = locked(order.grievance_id)
        order = locked_order(order)
        if order.state == OrderState.ANSWERED:
            return order
        if order.role != OrderRole.COOPERATING or order.state not in ACTIVE_ORDER_STATES:
            raise Conflict(_("Only an open cooperating order can be answered."), code="invalid_state")
        order.state = OrderState.ANSWERED
        order.answered_at = timezone.now()
        order.answer = answer.strip()
        order.save(update_fields=["state", "answered_at", "answer"])
        event(grievance, "answer", actor, agency=order.agency, reason=answer.strip())
        announce(
            grievance,
            f"answer:{order.pk}",
            _("%(agency)s answered its part of %(ref)s")
            % {"agency": order.agency.name, "ref": grievance.reference},
            agencies=[grievance.handling_agency_id] if grievance.handling_agency_id else [],
        )
    return order
