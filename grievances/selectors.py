"""Reads that apply permissions: who sees which grievance, whose personal data is shown, the queues, and the
numbers (first-dispatch success, returns, redo, timeliness, satisfaction)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek

from duty_lists import permissions
from duty_lists.models import Role
from grievances.models import (
    ACTIVE_ORDER_STATES,
    QUEUE_STATES,
    Feedback,
    Grievance,
    GrievanceEvent,
    GrievanceState,
    Handover,
    HandoverState,
    OrderRole,
    OrderState,
    Summons,
    Whistle,
    WorkOrder,
)
from grievances.redaction import mask_email, mask_name, mask_phone

# Everyone who oversees the loop sees every grievance (personal data stays masked for most of them).
OVERSIGHT_ROLES = (Role.DISPATCHER, Role.EDITORIAL_OFFICER, Role.LEADER, Role.AUDITOR)


def sees_everything(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False) or permissions.has_any_role(user, OVERSIGHT_ROLES))


def grievances_visible_to(user: Any) -> QuerySet[Grievance]:
    """Oversight roles see all; agency staff see what was ever sent to their agencies and what happened in
    their street; anyone else sees nothing."""
    base = Grievance.objects.select_related("handling_agency", "street", "district", "duty", "first_agency")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if sees_everything(user):
        return base
    agencies = permissions.agencies_of(user)
    if not agencies:
        return base.none()
    return base.filter(Q(orders__agency_id__in=agencies) | Q(street_id__in=agencies)).distinct()


def may_see_contact(user: Any, grievance: Grievance) -> bool:
    """The citizen's personal data: dispatchers and the agency handling the grievance, nobody else."""
    if getattr(user, "is_superuser", False) or permissions.is_dispatcher(user):
        return True
    return grievance.handling_agency_id is not None and permissions.may_act_for_agency(
        user, grievance.handling_agency_id
    )


def contact_of(user: Any, grievance: Grievance) -> dict[str, Any]:
    """The contact fields as this user may see them, and whether they are masked."""
    if may_see_contact(user, grievance):
        return {
            "name": grievance.contact_name,
            "phone": grievance.contact_phone,
            "email": grievance.contact_email,
            "masked": False,
        }
    return {
        "name": mask_name(grievance.contact_name),
        "phone": mask_phone(grievance.contact_phone),
        "email": mask_email(grievance.contact_email),
        "masked": True,
    }


def dispatch_queue() -> QuerySet[Grievance]:
    """What waits for a dispatcher: new, returned and reopened grievances, the most urgent deadline first."""
    return (
        Grievance.objects.filter(state__in=QUEUE_STATES)
        .select_related("street", "district", "first_agency")
        .order_by("deadline_at", "received_at")
    )


def inbox_of(user: Any) -> QuerySet[WorkOrder]:
    """The open orders of the user's agencies, the soonest deadline first."""
    return (
        WorkOrder.objects.filter(agency_id__in=permissions.agencies_of(user), state__in=ACTIVE_ORDER_STATES)
        .select_related("grievance", "agency", "grievance__duty", "grievance__street")
        .order_by("accept_by", "deadline_at")
    )


def whistles_visible_to(user: Any) -> QuerySet[Whistle]:
    base = Whistle.objects.select_related("street").prefetch_related("summonses__agency")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if sees_everything(user):
        return base
    agencies = permissions.agencies_of(user)
    return base.filter(Q(street_id__in=agencies) | Q(summonses__agency_id__in=agencies)).distinct()


def handovers_visible_to(user: Any) -> QuerySet[Handover]:
    """Oversight roles see every handover; agency staff those their agency sent or received."""
    base = Handover.objects.select_related("from_agency", "to_agency", "duty__duty_list")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if sees_everything(user):
        return base
    agencies = permissions.agencies_of(user)
    return base.filter(Q(from_agency_id__in=agencies) | Q(to_agency_id__in=agencies))


def handovers_awaiting(user: Any) -> QuerySet[Handover]:
    """Handovers reported to the user's agencies and not yet taken over: theirs to complete."""
    return Handover.objects.filter(
        to_agency_id__in=permissions.agencies_of(user), state=HandoverState.REPORTED
    )


def open_summonses_of(user: Any) -> QuerySet[Summons]:
    return (
        Summons.objects.filter(agency_id__in=permissions.agencies_of(user), reported_at__isnull=True)
        .select_related("whistle", "whistle__street", "agency")
        .order_by("due_at")
    )


def public_status(grievance: Grievance) -> dict[str, Any]:
    """What the citizen's tokenised link shows: state, who handles it, deadline, the public history."""
    return {
        "reference": grievance.reference,
        "state": grievance.state,
        "state_display": grievance.get_state_display(),
        "handling_agency": grievance.handling_agency.name if grievance.handling_agency else "",
        "deadline_at": grievance.deadline_at,
        "events": list(
            GrievanceEvent.objects.filter(grievance=grievance, public=True)
            .select_related("agency")
            .order_by("at", "id")
        ),
    }


# --- Numbers ------------------------------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Figures:
    """One row of the dashboard. Each rate is over the grievances it can apply to (None: none yet)."""

    key: Any = None
    label: str = ""
    received: int = 0
    dispatched: int = 0
    first_dispatch_success_rate: float | None = None
    return_rate: float | None = None
    redo_rate: float | None = None
    on_time_acceptance_rate: float | None = None
    on_time_completion_rate: float | None = None
    satisfaction_rate: float | None = None
    mean_rating: float | None = None
    counts: dict[str, int] = field(default_factory=dict)


GROUPINGS = {
    "agency": ("first_agency_id", "first_agency__name"),
    "category": ("category", "category"),
}
PERIODS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def grievance_stats(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: str | None = None,
    agency_id: int | None = None,
    category: str | None = None,
) -> list[Figures]:
    """The loop's figures overall (group_by None) or per agency (the first agency asked, which the
    first-dispatch figure is about), per category or per period (day / week / month of receipt).

    - first-dispatch success: accepted by the first agency sent, of those whose first agency has decided;
    - return rate: returned at least once, of those dispatched;
    - redo rate: reopened by the citizen at least once, of those resolved at least once;
    - on-time acceptance: lead orders accepted by their accept-by time, of lead orders accepted;
    - on-time completion: resolved by the deadline, of those resolved;
    - satisfaction: satisfied ratings, of all ratings (and the mean rating).
    """
    grievances = Grievance.objects.exclude(state=GrievanceState.CANCELLED)
    if since is not None:
        grievances = grievances.filter(received_at__gte=since)
    if until is not None:
        grievances = grievances.filter(received_at__lt=until)
    if agency_id is not None:
        grievances = grievances.filter(first_agency_id=agency_id)
    if category:
        grievances = grievances.filter(category=category)

    if group_by in PERIODS:
        grievances = grievances.annotate(group_key=PERIODS[group_by]("received_at"))
        key_fields = ["group_key"]
    elif group_by in GROUPINGS:
        key_field, label_field = GROUPINGS[group_by]
        grievances = grievances.annotate(group_key=F(key_field), group_label=F(label_field))
        key_fields = ["group_key", "group_label"]
    elif group_by is None:
        key_fields = []
    else:
        raise ValueError(f"unknown grouping {group_by!r}")

    resolved_states = [GrievanceState.RESOLVED, GrievanceState.CLOSED]
    counts = dict(
        received=Count("id"),
        dispatched=Count("id", filter=Q(dispatch_count__gt=0)),
        first_decided=Count("id", filter=Q(first_dispatch_accepted__isnull=False)),
        first_accepted=Count("id", filter=Q(first_dispatch_accepted=True)),
        returned=Count("id", filter=Q(return_count__gt=0)),
        ever_resolved=Count("id", filter=Q(state__in=resolved_states) | Q(reopen_count__gt=0)),
        redone=Count("id", filter=Q(reopen_count__gt=0)),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        resolved_on_time=Count("id", filter=Q(resolved_at__isnull=False, resolved_at__lte=F("deadline_at"))),
    )
    rows: list[dict[str, Any]] = (
        list(grievances.values(*key_fields).annotate(**counts))
        if key_fields
        else [grievances.aggregate(**counts)]
    )
    ids = grievances.values("id")
    orders = WorkOrder.objects.filter(grievance_id__in=ids, role=OrderRole.LEAD, accepted_at__isnull=False)
    feedback = Feedback.objects.filter(grievance_id__in=ids)
    order_keys = _related_keys(group_by, "grievance__")
    order_rows = _grouped(
        orders,
        order_keys,
        group_by,
        accepted=Count("id"),
        accepted_on_time=Count("id", filter=Q(accepted_at__lte=F("accept_by"))),
    )
    feedback_rows = _grouped(
        feedback,
        order_keys,
        group_by,
        rated=Count("id"),
        satisfied_count=Count("id", filter=Q(satisfied=True)),
        rating_sum=Sum("rating"),
    )

    figures = []
    for row in rows:
        key = _key(row, key_fields)
        accepted = order_rows.get(key) or {}
        rated = feedback_rows.get(key) or {}
        figures.append(
            Figures(
                key=row.get("group_key"),
                label=str(row.get("group_label") or row.get("group_key") or ""),
                received=row["received"],
                dispatched=row["dispatched"],
                first_dispatch_success_rate=_rate(row["first_accepted"], row["first_decided"]),
                return_rate=_rate(row["returned"], row["dispatched"]),
                redo_rate=_rate(row["redone"], row["ever_resolved"]),
                on_time_acceptance_rate=_rate(
                    accepted.get("accepted_on_time", 0), accepted.get("accepted", 0)
                ),
                on_time_completion_rate=_rate(row["resolved_on_time"], row["resolved"]),
                satisfaction_rate=_rate(rated.get("satisfied_count", 0), rated.get("rated", 0)),
                mean_rating=round((rated.get("rating_sum") or 0) / rated["rated"], 2)
                if rated.get("rated")
                else None,
                counts={
                    k: row[k]
                    for k in (
                        "first_decided",
                        "first_accepted",
                        "returned",
                        "ever_resolved",
                        "redone",
                        "resolved",
                    )
                }
                | {"accepted_lead_orders": accepted.get("accepted", 0), "ratings": rated.get("rated", 0)},
            )
        )
    if group_by is None and not figures:
        figures.append(Figures())
    return sorted(figures, key=lambda f: (f.key is None, str(f.key)))


def _related_keys(group_by: str | None, prefix: str) -> list[str]:
    if group_by is None:
        return []
    return [f"{prefix}received_at" if group_by in PERIODS else f"{prefix}{GROUPINGS[group_by][0]}"]


def _grouped(
    queryset: QuerySet[Any], keys: list[str], group_by: str | None, **aggregates: Any
) -> dict[Any, Any]:
    """Aggregates of a related table (orders, feedback) under the same grouping as the grievances."""
    if not keys:
        return {None: queryset.aggregate(**aggregates)}
    if group_by in PERIODS:
        queryset = queryset.annotate(group_key=PERIODS[group_by](keys[0]))
    else:
        queryset = queryset.annotate(group_key=F(keys[0]))
    return {row["group_key"]: row for row in queryset.values("group_key").annotate(**aggregates)}


def _key(row: dict[str, Any], key_fields: list[str]) -> Any:
    return row.get("group_key") if key_fields else None


def returned_orders() -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(state=OrderState.RETURNED)
