"""Thin tasks: ids in, a service call, bounded retries on transient database errors."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from grievances import services
from grievances.services import rescoring


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def reroute_after_edition(edition_id: int) -> int:
    """A published edition may have changed leads: move the open grievances its duties cover."""
    return services.grievances_reroute_for_edition(edition_id=edition_id)


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3, soft_time_limit=300, time_limit=330
)
def rescore_after_edition(edition_id: int) -> int:
    """A published edition may have changed leads: the queue's suggestions follow it (nothing is moved)."""
    return rescoring.grievances_rescore_waiting(edition_id=edition_id)


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=2, soft_time_limit=50, time_limit=58
)
def sweep_grievances() -> dict[str, int]:
    """Every minute: whistles nobody reported to, handovers past their 3 working days."""
    return {
        "summonses_late": services.summonses_flag_late(),
        "handovers_late": services.handovers_flag_late(),
    }


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=2)
def check_unlisted_clusters() -> int:
    """Hourly: clusters of grievances that matched no duty become gap disputes."""
    return len(services.unlisted_clusters_check())


# Training on 20,000 accepted grievances takes minutes (docs/benchmarks.md), longer than the broker's
# visibility timeout: acknowledged at the start, so it is never handed to a second worker while it runs. A
# worker lost mid-training loses nothing but this night's model; the previous one stays in use.
@shared_task(acks_late=False, soft_time_limit=900, time_limit=960)
def retrain_router() -> int:
    model = services.router_train()
    return model.samples if model else 0
