"""What each of the loop's figures means, in one place: the counts behind them and the rates made of those
counts. ``selectors.grievance_stats`` counts straight from the grievances; the dashboard's daily summary
(``grievances.dashboard.summary``) stores the same counts per day, agency first asked and category, and
adds them up. Every count is additive over grievances, so both give the same rates for the same grievances.

- first-dispatch success: accepted by the first agency sent, of those whose first agency has decided;
- return rate: returned at least once, of those dispatched;
- redo rate: reopened by the citizen at least once, of those resolved at least once;
- on-time acceptance: lead orders accepted by their accept-by time, of lead orders accepted;
- on-time completion: resolved by the deadline, of those resolved;
- satisfaction: satisfied ratings, of all ratings (and the mean rating).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum

from grievances.models import Feedback, Grievance, GrievanceState, OrderRole, WorkOrder

RESOLVED_STATES = (GrievanceState.RESOLVED, GrievanceState.CLOSED)

# Counted over the grievances themselves.
GRIEVANCE_COUNTS: dict[str, Any] = {
    "received": Count("id"),
    "dispatched": Count("id", filter=Q(dispatch_count__gt=0)),
    "first_decided": Count("id", filter=Q(first_dispatch_accepted__isnull=False)),
    "first_accepted": Count("id", filter=Q(first_dispatch_accepted=True)),
    "returned": Count("id", filter=Q(return_count__gt=0)),
    "ever_resolved": Count("id", filter=Q(state__in=RESOLVED_STATES) | Q(reopen_count__gt=0)),
    "redone": Count("id", filter=Q(reopen_count__gt=0)),
    "resolved": Count("id", filter=Q(resolved_at__isnull=False)),
    "resolved_on_time": Count("id", filter=Q(resolved_at__isnull=False, resolved_at__lte=F("deadline_at"))),
}
# Counted over the grievances' accepted lead orders (``lead_orders_accepted``).
ORDER_COUNTS: dict[str, Any] = {
    "accepted_lead_orders": Count("id"),
    "accepted_on_time": Count("id", filter=Q(accepted_at__lte=F("accept_by"))),
}
# Counted over the citizens' ratings (every round's).
FEEDBACK_COUNTS: dict[str, Any] = {
    "ratings": Count("id"),
    "satisfied": Count("id", filter=Q(satisfied=True)),
    "rating_sum": Sum("rating"),
}
COUNT_FIELDS: tuple[str, ...] = (*GRIEVANCE_COUNTS, *ORDER_COUNTS, *FEEDBACK_COUNTS)
# The denominators shown beside the rates (``Figures.counts``, the API's "counts"): the API's contract.
SHOWN_COUNTS = (
    "first_decided",
    "first_accepted",
    "returned",
    "ever_resolved",
    "redone",
    "resolved",
    "accepted_lead_orders",
    "ratings",
)

# rate → (numerator, denominator), in the order the field reads them.
RATES: dict[str, tuple[str, str]] = {
    "first_dispatch_success_rate": ("first_accepted", "first_decided"),
    "return_rate": ("returned", "dispatched"),
    "redo_rate": ("redone", "ever_resolved"),
    "on_time_acceptance_rate": ("accepted_on_time", "accepted_lead_orders"),
    "on_time_completion_rate": ("resolved_on_time", "resolved"),
    "satisfaction_rate": ("satisfied", "ratings"),
}


def counted_grievances() -> QuerySet[Grievance]:
    """The grievances the figures are about: all but the cancelled."""
    return Grievance.objects.exclude(state=GrievanceState.CANCELLED)


def lead_orders_accepted(grievances: QuerySet[Grievance]) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(
        grievance_id__in=grievances.values("id"), role=OrderRole.LEAD, accepted_at__isnull=False
    )


def feedback_of(grievances: QuerySet[Grievance]) -> QuerySet[Feedback]:
    return Feedback.objects.filter(grievance_id__in=grievances.values("id"))


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Figures:
    """One row of figures. Each rate is over the grievances it can apply to (None: none yet)."""

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


def figures_from_counts(counts: Mapping[str, Any], *, key: Any = None, label: str = "") -> Figures:
    """The rates of one set of counts (missing counts are zero)."""
    values = {name: int(counts.get(name) or 0) for name in COUNT_FIELDS}
    rates = {name: rate(values[num], values[den]) for name, (num, den) in RATES.items()}
    return Figures(
        key=key,
        label=label,
        received=values["received"],
        dispatched=values["dispatched"],
        mean_rating=round(values["rating_sum"] / values["ratings"], 2) if values["ratings"] else None,
        counts={name: values[name] for name in SHOWN_COUNTS},
        **rates,
    )


def add_counts(total: dict[str, int], row: Mapping[str, Any]) -> dict[str, int]:
    """Add ``row``'s counts into ``total`` (in place) and return it."""
    get = row.get
    for name in COUNT_FIELDS:
        value = get(name)
        if value:
            total[name] = total.get(name, 0) + int(value)
    return total
