"""Reads that apply permissions: who sees which grievance, whose personal data is shown, the queues, and the
numbers (first-dispatch success, returns, redo, timeliness, satisfaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek

from duty_lists import permissions
from duty_lists.models import Role
from grievances import kpis
from grievances.kpis import Figures
from grievances.models import (
    ACTIVE_ORDER_STATES,
    QUEUE_STATES,
    Grievance,
    GrievanceEvent,
    Handover,
    HandoverState,
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
    """What waits for a dispatcher: new, returned and reopened grievances, the most urgent deadline first
    (then the first received; the id settles ties, so that pages neither repeat nor skip one). The order is
    the one of the index ``grievance_queue_by_deadline``."""
    return (
        Grievance.objects.filter(state__in=QUEUE_STATES)
        .select_related("street", "district", "first_agency")
        .order_by("deadline_at", "received_at", "pk")
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
    first-dispatch figure is about), per category or per period (day / week / month of receipt), counted
    straight from the grievances. What each rate means: ``grievances.kpis``."""
    grievances = kpis.counted_grievances()
    if since is not None:
        grievances = grievances.filter(received_at__gte=since)
    if until is not None:
        grievances = grievances.filter(received_at__lt=until)
    if agency_id is not None:
        grievances = grievances.filter(first_agency_id=agency_id)
    if category:
        grievances = grievances.filter(category=category)

    grouped: QuerySet[Any]
    if group_by in PERIODS:
        grouped = grievances.annotate(group_key=PERIODS[group_by]("received_at"))
        key_fields = ["group_key"]
    elif group_by in GROUPINGS:
        key_field, label_field = GROUPINGS[group_by]
        grouped = grievances.annotate(group_key=F(key_field), group_label=F(label_field))
        key_fields = ["group_key", "group_label"]
    elif group_by is None:
        grouped, key_fields = grievances, []
    else:
        raise ValueError(f"unknown grouping {group_by!r}")

    rows: list[dict[str, Any]] = (
        list(grouped.values(*key_fields).annotate(**kpis.GRIEVANCE_COUNTS))
        if key_fields
        else [grouped.aggregate(**kpis.GRIEVANCE_COUNTS)]
    )
    related_keys = _related_keys(group_by, "grievance__")
    order_rows = _grouped(kpis.lead_orders_accepted(grievances), related_keys, group_by, **kpis.ORDER_COUNTS)
    feedback_rows = _grouped(kpis.feedback_of(grievances), related_keys, group_by, **kpis.FEEDBACK_COUNTS)

    figures = []
    for row in rows:
        key = _key(row, key_fields)
        counts = {**row, **(order_rows.get(key) or {}), **(feedback_rows.get(key) or {})}
        figures.append(
            kpis.figures_from_counts(
                counts,
                key=row.get("group_key"),
                label=str(row.get("group_label") or row.get("group_key") or ""),
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
