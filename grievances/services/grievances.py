"""The grievance loop: intake, routing, dispatch, acceptance or a return that cites the list, handling,
the citizen's feedback — and the links to arbitration (bounces and gaps become disputes) and to the
registry (a new edition re-routes what its changed duties cover).

    RECEIVED ─dispatch─► DISPATCHED ─accept─► ACCEPTED ─progress─► IN_PROGRESS ─resolve─► RESOLVED
        ▲                   │ return (cites a duty, or "not on the list")                    │ feedback
        └── RETURNED ◄──────┘                                         CLOSED ◄── satisfied ──┤
        └── REOPENED ◄─────────────────────────────────────────────── unsatisfied, redo ◄────┘
    any open state ─cancel─► CANCELLED (a dispatcher, with a reason)

``TRANSITIONS`` is the whole state machine. Every service locks the grievance, re-checks its state,
writes a history row and an audit entry, notifies after commit, and does nothing when the step has
already happened (a double click, a retried request).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists.models import Agency, AgencyLevel, Duty, DutyRevision
from duty_lists.search import refresh_user_dictionary
from grievances import routing
from grievances.deadlines import accept_deadline, grievance_deadline
from grievances.models import (
    ACTIVE_ORDER_STATES,
    ApiClient,
    Channel,
    Feedback,
    Grievance,
    GrievanceKind,
    GrievanceState,
    GrievanceUrgency,
    OrderRole,
    OrderState,
    WorkOrder,
)
from grievances.services.common import announce, event, is_dispatcher, is_staff_of, locked, locked_order

G = GrievanceState

# action -> the states it may start from. Who may do it is checked by each service.
TRANSITIONS: dict[str, frozenset[str]] = {
    "dispatch": frozenset({G.RECEIVED, G.RETURNED, G.REOPENED}),
    "accept": frozenset({G.DISPATCHED}),
    "return": frozenset({G.DISPATCHED}),
    "progress": frozenset({G.ACCEPTED}),
    "resolve": frozenset({G.ACCEPTED, G.IN_PROGRESS}),
    "feedback": frozenset({G.RESOLVED}),
    "close": frozenset({G.RESOLVED}),
    "cancel": frozenset({G.RECEIVED, G.DISPATCHED, G.ACCEPTED, G.IN_PROGRESS, G.RETURNED, G.REOPENED}),
    "reroute": frozenset({G.DISPATCHED, G.ACCEPTED, G.IN_PROGRESS}),
}
UNSATISFIED_AT_OR_BELOW = 2


def _require(grievance: Grievance, action: str) -> None:
    if grievance.state not in TRANSITIONS[action]:
        raise Conflict(
            _("This grievance is %(state)s: it cannot be %(action)s now.")
            % {"state": grievance.get_state_display(), "action": _(action)},
            code="invalid_state",
        )


# --- Intake ---------------------------------------------------------------------------------------------


# A hotline record, a web form or an Open311 description: long ones run to a few thousand characters. More
# is a pasted document (or an attack on the router's time), refused with a message rather than cut.
MAX_DETAILS_CHARS = 20_000


def _validate_intake(
    *,
    title: str,
    details: str,
    channel: str,
    kind: str,
    urgency: str,
    street: Agency | None,
    district: Agency | None,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = [_("Required.")]
    if len(details) > MAX_DETAILS_CHARS:
        errors["details"] = [
            _("At most %(max)s characters; this has %(n)s.") % {"max": MAX_DETAILS_CHARS, "n": len(details)}
        ]
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if kind not in GrievanceKind.values:
        errors["kind"] = [_("Unknown kind.")]
    if urgency not in GrievanceUrgency.values:
        errors["urgency"] = [_("Unknown urgency.")]
    if street is not None and street.level != AgencyLevel.STREET:
        errors["street"] = [_("Choose a street office.")]
    if district is not None and district.level != AgencyLevel.DISTRICT:
        errors["district"] = [_("Choose a district.")]
    return errors


def grievance_receive(
    *,
    actor: Any,
    title: str,
    details: str = "",
    channel: str = Channel.HOTLINE,
    kind: str = GrievanceKind.COMPLAINT,
    urgency: str = GrievanceUrgency.NORMAL,
    category: str = "",
    district: Agency | None = None,
    street: Agency | None = None,
    address: str = "",
    latitude: Decimal | float | None = None,
    longitude: Decimal | float | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    received_at: datetime | None = None,
    duty: Duty | None = None,
    client: ApiClient | None = None,
    idempotency_key: str = "",
    external_id: str = "",
    route: bool = True,
) -> tuple[Grievance, bool]:
    """Record a grievance, route it, and dispatch it at once when the router is sure enough. Returns the
    grievance and whether it is new: the same ``idempotency_key`` from the same submitter returns the
    grievance the first request made."""
    if client is None and not is_dispatcher(actor):
        raise PermissionRefused(_("Only hotline dispatchers record grievances."))
    submitted_by = actor if getattr(actor, "is_authenticated", False) else None
    if idempotency_key:
        previous = _previous(submitted_by, client, idempotency_key)
        if previous is not None:
            _same_request(previous, title, details)
            return previous, False
    errors = _validate_intake(
        title=title,
        details=details,
        channel=channel,
        kind=kind,
        urgency=urgency,
        street=street,
        district=district,
    )
    for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if value is not None and not -bound <= float(value) <= bound:
            errors[name] = [_("Out of range.")]
    if errors:
        raise ApplicationError(
            _("The grievance cannot be recorded as it is."), code="invalid_grievance", extra=errors
        )
    if (
        street is not None
        and district is None
        and street.parent
        and street.parent.level == AgencyLevel.DISTRICT
    ):
        district = street.parent
    now = timezone.now()
    received = received_at or now
    try:
        with transaction.atomic():
            grievance = Grievance.objects.create(
                reference=f"tmp-{secrets.token_hex(8)}",  # replaced by the numbered one below
                channel=channel,
                received_at=received,
                title=title.strip()[:300],
                details=details,
                kind=kind,
                urgency=urgency,
                category=category,
                district=district,
                street=street,
                address=address,
                latitude=latitude,
                longitude=longitude,
                contact_name=contact_name,
                contact_phone=contact_phone,
                contact_email=contact_email,
                deadline_at=grievance_deadline(received, kind, urgency),
                submitted_by=submitted_by,
                client=client,
                idempotency_key=idempotency_key,
                external_id=external_id,
            )
            grievance.reference = (
                f"G{received.astimezone(timezone.get_default_timezone()):%Y%m%d}{grievance.pk:06d}"
            )
            grievance.save(update_fields=["reference"])
            event(grievance, "receive", actor, data={"channel": channel}, public=True)
            if route:
                _route(grievance, actor, named_duty=duty)
    except IntegrityError:
        if not idempotency_key:
            raise
        previous = _previous(submitted_by, client, idempotency_key)
        if previous is None:
            raise
        return previous, False  # a concurrent retry of the same request won the race
    return grievance, True


def _previous(submitted_by: Any, client: ApiClient | None, key: str) -> Grievance | None:
    if client is not None:
        return Grievance.objects.filter(client=client, idempotency_key=key).first()
    return Grievance.objects.filter(submitted_by=submitted_by, idempotency_key=key).first()


def _same_request(previous: Grievance, title: str, details: str) -> None:
    if previous.title != title.strip()[:300] or previous.details != details:
        raise Conflict(
            _("This Idempotency-Key was already used for a different grievance (%(ref)s).")
            % {"ref": previous.reference},
            code="idempotency_key_reused",
        )


# --- Routing --------------------------------------------------------------------------------------------


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


# --- Bounces and gaps become disputes -------------------------------------------------------------------


def _bounce_check(grievance: Grievance, actor: Any) -> None:
    """Returned N times, or passed through M agencies: the agencies disagree about whose it is, which is
    arbitration's business. Files one dispute per grievance."""
    if grievance.dispute_id is not None:
        return
    agencies = set(grievance.orders.filter(role=OrderRole.LEAD).values_list("agency_id", flat=True))
    if (
        grievance.return_count < settings.ZHIZE_BOUNCE_RETURNS
        and len(agencies) < settings.ZHIZE_BOUNCE_AGENCIES
    ):
        return
    returns = list(grievance.orders.filter(state=OrderState.RETURNED).order_by("returned_at"))
    kind = "gap" if returns and all(o.declared_unlisted for o in returns) else "pushback"
    filer = returns[0].agency if returns else grievance.first_agency
    if filer is None:
        return
    _file_dispute(grievance, kind=kind, filing_agency=filer, respondents=agencies - {filer.pk})


def _domain() -> Any:
    from arbitration.models import Domain

    domain = (
        Domain.objects.filter(is_active=True, code="grievances").first()
        or Domain.objects.filter(is_active=True).first()
    )
    if domain is None:
        domain = Domain.objects.create(code="grievances", name=_("Citizens' grievances"))
    return domain


def _editorial_office() -> Agency | None:
    from duty_lists.models import AgencyKind

    return (
        Agency.objects.filter(kind=AgencyKind.EDITORIAL_OFFICE, is_active=True)
        .order_by("level", "code")
        .first()
    )


def _file_dispute(
    grievance: Grievance, *, kind: str, filing_agency: Agency, respondents: Iterable[int] = ()
) -> Any:
    """File the dispute in the editorial office's name, with the grievance as evidence."""
    from arbitration.services import dispute_file
    from core.actors import SYSTEM

    respondent_ids = set(respondents) - {filing_agency.pk}
    if not respondent_ids:
        # A gap has no other party on the list: the router's other candidates, else the editorial office.
        respondent_ids = {
            s["agency_id"]
            for s in grievance.suggestions
            if s.get("agency_id") and s["agency_id"] != filing_agency.pk
        }
    if not respondent_ids:
        office = _editorial_office()
        if office is None or office.pk == filing_agency.pk:
            return None
        respondent_ids = {office.pk}
    duties = [] if kind == "gap" else list(Duty.objects.filter(pk__in=_cited_duties(grievance)))
    if kind != "gap" and not duties and grievance.duty_id:
        duties = [grievance.duty]  # type: ignore[list-item]
    title = (
        _("Gap in the duty list: %(title)s")
        if kind == "gap"
        else _("Grievance passed between agencies: %(title)s")
    ) % {"title": grievance.title[:150]}
    dispute = dispute_file(
        actor=SYSTEM,
        title=title[:200],
        description=_bounce_description(grievance),
        kind=kind,
        domain=_domain(),
        filing_agency=filing_agency,
        respondents=Agency.objects.filter(pk__in=respondent_ids),
        urgency="urgent" if grievance.urgency == GrievanceUrgency.URGENT else "normal",
        duties=duties,
        evidence_links=[f"/grievances/{grievance.pk}/"],
        source_ref=f"grievances.grievance:{grievance.pk}",
    )
    Grievance.objects.filter(pk=grievance.pk).update(dispute=dispute)
    grievance.dispute = dispute
    event(grievance, "dispute_filed", SYSTEM, data={"dispute": dispute.pk, "kind": kind})
    return dispute


def _cited_duties(grievance: Grievance) -> set[int]:
    return set(grievance.orders.filter(cited_duty__isnull=False).values_list("cited_duty_id", flat=True))


def _bounce_description(grievance: Grievance) -> str:
    lines = [
        _("Grievance %(ref)s, received %(at)s: %(title)s")
        % {
            "ref": grievance.reference,
            "at": f"{timezone.localtime(grievance.received_at):%Y-%m-%d %H:%M}",
            "title": grievance.title,
        },
        "",
    ]
    for order in grievance.orders.filter(role=OrderRole.LEAD).select_related(
        "agency", "cited_duty", "cited_agency"
    ):
        line = f"{order.round}. {order.agency.name}: {order.get_state_display()}"
        if order.state == OrderState.RETURNED:
            cited = (
                _("not on the list")
                if order.declared_unlisted
                else f"{getattr(order.cited_duty, 'code', '')} → {getattr(order.cited_agency, 'name', '')}"
            )
            line += f" — {order.return_reason} ({cited})"
        lines.append(line)
    return "\n".join(lines)


def unlisted_clusters_check(*, now: datetime | None = None) -> list[Any]:
    """A cluster of recent grievances that matched no duty, sharing a word, is a gap in the list: file one
    gap dispute for the cluster, with every grievance in it as evidence."""
    from datetime import timedelta

    now = now or timezone.now()
    since = now - timedelta(days=settings.ZHIZE_UNLISTED_CLUSTER_DAYS)
    candidates = list(
        Grievance.objects.filter(unlisted=True, dispute__isnull=True, received_at__gte=since)
        .exclude(state=G.CANCELLED)
        .order_by("received_at")
    )
    by_word: dict[str, list[Grievance]] = {}
    for grievance in candidates:
        for word in set(w for w in routing.tokens(grievance.title) if len(w) >= 2):
            by_word.setdefault(word, []).append(grievance)
    filed = []
    used: set[int] = set()
    for word, members in sorted(by_word.items(), key=lambda kv: -len(kv[1])):
        members = [g for g in members if g.pk not in used]
        if len(members) < settings.ZHIZE_UNLISTED_CLUSTER_SIZE:
            continue
        dispute = _file_cluster(word, members)
        if dispute is not None:
            filed.append(dispute)
            used |= {g.pk for g in members}
    return filed


def _file_cluster(word: str, members: list[Grievance]) -> Any:
    from arbitration.services import dispute_file
    from core.actors import SYSTEM

    office = _editorial_office()
    if office is None:
        return None
    with transaction.atomic():
        locked_members = list(
            Grievance.objects.select_for_update().filter(pk__in=[g.pk for g in members], dispute__isnull=True)
        )
        if len(locked_members) < settings.ZHIZE_UNLISTED_CLUSTER_SIZE:
            return None
        respondents = {g.handling_agency_id or g.first_agency_id for g in locked_members} - {None, office.pk}
        if not respondents:
            respondents = {
                s["agency_id"] for g in locked_members for s in g.suggestions[:1] if s.get("agency_id")
            } - {office.pk}
        if not respondents:
            return None
        dispute = dispute_file(
            actor=SYSTEM,
            title=(
                _("Gap in the duty list: %(n)d grievances about “%(word)s”")
                % {"n": len(locked_members), "word": word}
            )[:200],
            description="\n".join(f"{g.reference} {g.title}" for g in locked_members),
            kind="gap",
            domain=_domain(),
            filing_agency=office,
            respondents=Agency.objects.filter(pk__in=[r for r in respondents if r is not None]),
            evidence_links=[f"/grievances/{g.pk}/" for g in locked_members],
            source_ref=f"grievances.cluster:{word}",
        )
        Grievance.objects.filter(pk__in=[g.pk for g in locked_members]).update(dispute=dispute)
        for grievance in locked_members:
            event(
                grievance,
                "dispute_filed",
                SYSTEM,
                data={"dispute": dispute.pk, "kind": "gap", "cluster": word},
            )
    return dispute


# --- A new edition re-routes what it changed -----------------------------------------------------------


def grievances_reroute_for_edition(*, edition_id: int) -> int:
    """After an edition is published, every open grievance whose duty now has another lead goes to that
    lead; the citizen's status page says who handles it now. Returns how many moved. Grievances waiting in
    the queue are re-scored instead (services/rescoring.py): nobody has them, so nothing moves."""
    from core.actors import SYSTEM

    moved = 0
    open_ids = list(
        Grievance.objects.filter(
            state__in=TRANSITIONS["reroute"],
            duty__duty_list__editions__pk=edition_id,
        ).values_list("pk", flat=True)
    )
    # Route by this edition's vocabulary: requests may go on with the one it replaces while it loads.
    refresh_user_dictionary()
    routing.forget()
    for pk in open_ids:
        if grievance_reroute(actor=SYSTEM, grievance_id=pk, edition_id=edition_id):
            moved += 1
    return moved


def grievance_reroute(*, actor: Any, grievance_id: int, edition_id: int) -> bool:
    with transaction.atomic():
        grievance = locked(grievance_id)
        if grievance.duty_id is None:
            return False
        suggestion = routing.suggestion_for_duty(grievance.duty_id, street=grievance.street)
        if suggestion is None or suggestion.agency_id is None:
            return False  # the duty was removed: its grievances stay with whoever has them
        if grievance.state not in TRANSITIONS["reroute"]:
            # Back in the queue meanwhile (a return names the duty's lead as the one who sent it back):
            # putting that lead first again would offer a one-click resend to it. Re-scoring handles it.
            return False
        if grievance.handling_agency_id == suggestion.agency_id:
            return False
        new_lead = Agency.objects.get(pk=suggestion.agency_id)
        grievance.orders.filter(state__in=ACTIVE_ORDER_STATES).update(state=OrderState.WITHDRAWN)
        note = _("The duty list's edition changed the lead of duty %(code)s: now handled by %(agency)s.") % {
            "code": suggestion.duty_code,
            "agency": new_lead.name,
        }
        _dispatch_locked(
            grievance,
            actor,
            agency=new_lead,
            duty=grievance.duty,
            cooperating=(),
            note=note,
            action="reroute",
        )
    return True
