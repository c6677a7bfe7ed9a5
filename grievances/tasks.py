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


# Training on 100,000 accepted grievances takes about a minute or more (docs/benchmarks.md), longer than a
# broker's visibility timeout might be: acknowledged at the start, so it is never handed to a second
# worker while it runs. A worker lost mid-training leaves the version "training" (an officer sees it
# stall); the version in force stays in use.
@shared_task(acks_late=False, soft_time_limit=900, time_limit=960)
def train_router(model_id: int) -> str:
    """Train the queued version ``model_id`` (queued by router_training_request)."""
    from core.actors import SYSTEM
    from grievances.models import RouterModel

    model = RouterModel.objects.filter(pk=model_id).first()
    if model is None:
        return "gone"
    trained = services.router_train(actor=SYSTEM, model=model)
    return trained.state if trained else "skipped"


@shared_task(acks_late=False)
def retrain_router(reason: str = "") -> int:
    """Nightly, and after a new edition: queue a version when there is history to learn from."""
    from core.actors import SYSTEM
    from grievances.models import Grievance
    from grievances.services.training import MIN_SAMPLES, TAUGHT_STATES

    if Grievance.objects.filter(state__in=TAUGHT_STATES, handling_agency__isnull=False).count() < MIN_SAMPLES:
        return 0
    model = services.router_training_request(actor=SYSTEM, reason=reason or "nightly")
    return model.pk


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=2, soft_time_limit=50, time_limit=58
)
def refresh_dashboard_summary() -> dict[str, int]:
    """Every few minutes: the dashboard's summary of today, yesterday and every day whose grievances
    changed (a time budget; what is left waits for the next run)."""
    from grievances.services.summary import summary_refresh

    return summary_refresh().as_dict()


# At 1,000,000 grievances a full rebuild takes a minute or more (docs/benchmarks.md), beyond a broker's
# visibility timeout: acknowledged at the start, as train_router is. A lost worker leaves the job running
# without a heartbeat; the next request marks it failed.
@shared_task(acks_late=False, soft_time_limit=1800, time_limit=1860)
def rebuild_dashboard_summary(job_id: int) -> str:
    """Run the full rebuild ``job_id`` (queued by summary_rebuild_request)."""
    from grievances.services.summary import summary_rebuild_run

    job = summary_rebuild_run(job_id=job_id)
    return job.state if job else "skipped"


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3, soft_time_limit=50, time_limit=58
)
def build_daily_digest(day: str | None = None) -> int:
    """Each morning: the digest of yesterday (local time), mailed to the editorial office once. ``day``
    (ISO date) builds another; building it again only refreshes the figures."""
    from datetime import date, timedelta

    from django.utils import timezone

    from core.actors import SYSTEM
    from grievances.services.digest import digest_build

    chosen = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
    return digest_build(actor=SYSTEM, day=chosen).pk
