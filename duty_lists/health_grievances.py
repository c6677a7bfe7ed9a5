"""What the list-health report needs to know about grievances: which duties received any, and how often
each duty's dispatches were returned.

Dependencies point one way (DESIGN.md §5: duty_lists ← arbitration ← grievances), so duty_lists never
imports grievances. The choice made here: the figures are read through the app registry
(``apps.get_model("grievances", ...)``) inside the functions, at call time, and only when the grievances
app is installed — no import, no module-level coupling, and a duty_lists without grievances still works
(the sections say "not available"). A provider registered with ``register_grievance_figures`` (the
grievances app may do so in its ``AppConfig.ready``) replaces this reading, should the grievances app want
to own the definition.

The return rate of a duty is over the lead work orders dispatched under it: returned, of those the agency
decided on (accepted or returned). A grievance returned under duty A and dispatched again under duty B
counts its return against A — the duty that sent it to the wrong desk — not B where it ended up; the duty
of each round is the one its dispatch event recorded ({"duty": id, "round": n}), and for a round without
one (an imported history), the grievance's own duty when that round is its latest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.db.models import Q

DISPATCH_ACTIONS = ("dispatch", "reroute")


@dataclass
class GrievanceFigures:
    received: int = 0  # grievances received in the window, under a duty or not
    duties_with_grievances: set[int] = field(default_factory=set)
    # duty id → (lead orders decided, of which returned)
    orders: dict[int, tuple[int, int]] = field(default_factory=dict)


_provider: list[Callable[[datetime], GrievanceFigures]] = []


def register_grievance_figures(provider: Callable[[datetime], GrievanceFigures]) -> None:
    _provider[:] = [provider]


def grievance_figures(since: datetime) -> GrievanceFigures | None:
    """The figures of grievances received (and orders dispatched) since ``since``; None without the app."""
    if _provider:
        return _provider[0](since)
    if not apps.is_installed("grievances"):
        return None
    grievance_model = apps.get_model("grievances", "Grievance")
    figures = GrievanceFigures()
    received = grievance_model.objects.filter(received_at__gte=since).exclude(state="cancelled")
    figures.received = received.count()
    figures.duties_with_grievances = set(
        received.filter(duty__isnull=False).order_by().values_list("duty_id", flat=True).distinct()
    )
    figures.orders = _order_figures(since)
    return figures


def _order_figures(since: datetime) -> dict[int, tuple[int, int]]:
    order_model = apps.get_model("grievances", "WorkOrder")
    event_model = apps.get_model("grievances", "GrievanceEvent")
    orders = list(
        order_model.objects.filter(role="lead", dispatched_at__gte=since)
        .filter(Q(state="returned") | Q(accepted_at__isnull=False))
        .values_list("grievance_id", "round", "state", "grievance__duty_id", "grievance__dispatch_count")
        .iterator(chunk_size=5000)
    )
    if not orders:
        return {}
    # The dispatch event is written in the same transaction as its order, a moment after it.
    round_duty: dict[tuple[int, int], int | None] = {}
    events = event_model.objects.filter(action__in=DISPATCH_ACTIONS, at__gte=since - timedelta(hours=1))
    for grievance_id, data in events.values_list("grievance_id", "data").iterator(chunk_size=5000):
        if isinstance(data, dict) and isinstance(data.get("round"), int):
            duty = data.get("duty")
            round_duty[(grievance_id, data["round"])] = duty if isinstance(duty, int) else None
    decided: dict[int, int] = defaultdict(int)
    returned: dict[int, int] = defaultdict(int)
    for grievance_id, round_number, state, grievance_duty, latest_round in orders:
        key = (grievance_id, round_number)
        duty_id = round_duty.get(key, grievance_duty if round_number == latest_round else None)
        if duty_id is None:
            continue  # dispatched as not on the list: no duty to blame
        decided[duty_id] += 1
        if state == "returned":
            returned[duty_id] += 1
    return {duty_id: (n, returned[duty_id]) for duty_id, n in decided.items()}
