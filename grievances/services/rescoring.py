"""A new edition re-scores the grievances waiting in the dispatchers' queue.

Nobody has them yet, so nothing is moved (that is ``grievances_reroute_for_edition``, for grievances an agency
holds): their suggestions are computed again against the list now in force, so that the queue's one-click
choice names the lead the new edition gives, never the one it replaced, and never an agency that already
returned the grievance. The dispatcher still decides.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from duty_lists.search import refresh_user_dictionary
from grievances import routing
from grievances.models import QUEUE_STATES, Grievance, OrderState, WorkOrder
from grievances.services.common import event
from grievances.services.orders import suggestions_after_returns

# One transaction per batch: short enough not to hold the queue's rows for long while routing runs.
RESCORE_BATCH = 100


def grievances_rescore_waiting(*, edition_id: int) -> int:
    """Re-compute the suggestions of every grievance waiting in the queue; returns how many changed. Safe to
    run twice or on two workers: a grievance whose suggestions are already those of the list in force is
    left alone, and one that left the queue meanwhile is skipped under its lock."""
    # Route by this edition's vocabulary: requests may go on with the one it replaces while it loads.
    refresh_user_dictionary()
    routing.forget()
    waiting = list(
        Grievance.objects.filter(state__in=QUEUE_STATES).order_by("pk").values_list("pk", flat=True)
    )
    changed = 0
    for start in range(0, len(waiting), RESCORE_BATCH):
        changed += _rescore_batch(waiting[start : start + RESCORE_BATCH], edition_id=edition_id)
    return changed


def _rescore_batch(ids: list[int], *, edition_id: int) -> int:
    from core.actors import SYSTEM

    returned = WorkOrder.objects.filter(state=OrderState.RETURNED).order_by("-returned_at", "-pk")
    changed = 0
    with transaction.atomic():
        batch = (
            Grievance.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, state__in=QUEUE_STATES)  # re-checked under the lock
            .select_related("street")
            .prefetch_related(Prefetch("orders", queryset=returned, to_attr="returns"))
            .order_by("pk")  # one lock order for every worker: no deadlock between two sweeps
        )
        for grievance in batch:
            last_return = grievance.returns[0] if grievance.returns else None
            fresh = _as_stored(
                suggestions_after_returns(
                    grievance, cited_duty_id=last_return.cited_duty_id if last_return else None
                )
            )
            if fresh == grievance.suggestions:
                continue
            before = _top_agency(grievance.suggestions)
            grievance.suggestions = fresh
            grievance.route_confidence = fresh[0]["confidence"] if fresh else 0.0
            grievance.routed_at = timezone.now()
            grievance.save(update_fields=["suggestions", "route_confidence", "routed_at", "updated_at"])
            event(
                grievance,
                "rescore",
                SYSTEM,
                data={"edition": edition_id, "from_agency": before, "to_agency": _top_agency(fresh)},
            )
            changed += 1
    return changed


def _as_stored(suggestions: list[routing.Suggestion]) -> list[dict[str, Any]]:
    # As the JSON column gives them back (tuples become lists), so "unchanged" compares equal.
    return json.loads(json.dumps([s.as_dict() for s in suggestions]))


def _top_agency(suggestions: list[Any]) -> int | None:
    top = suggestions[0] if suggestions and isinstance(suggestions[0], dict) else {}
    return top.get("agency_id")
