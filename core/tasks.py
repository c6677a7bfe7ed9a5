from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from core.audit import audit_record, verify_chain
from core.models import Heartbeat

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def record_heartbeat(component: str = "worker") -> str:
    """Proves that beat schedules and a worker runs: /healthz reports how long ago this last happened."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(component=component, defaults={"seen_at": now})
    return now.isoformat()


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3, soft_time_limit=600, time_limit=660
)
def verify_audit_chain() -> dict[str, object]:
    """Daily: walk the audit chain; a broken link is logged as an error and recorded in the log itself."""
    report = verify_chain()
    if not report.ok:
        logger.error("audit chain broken at entry #%s: %s", report.broken_seq, report.problem)
        audit_record(
            actor=None,
            actor_repr="system",
            action="core.audit.chain_broken",
            object_type="core.auditentry",
            object_id=str(report.broken_seq),
            reason=report.problem,
        )
    return {"checked": report.checked, "ok": report.ok, "problem": report.problem}


# A job runs as long as its runner needs (a replay of six months of grievances takes minutes): acknowledged
# at the start so that a long run is never handed to a second worker; a job a lost worker left "running"
# is failed by job_start after an hour, so that a new one may start.
@shared_task(acks_late=False, soft_time_limit=1800, time_limit=1860)
def run_job(job_id: int) -> str:
    from core.jobs import job_run

    job = job_run(job_id=job_id)
    return job.state if job else "gone"
