"""Long jobs a person asks for and follows in the page (issue 10: gap search, what-if replay, digests).

An app registers a kind once, in its AppConfig.ready::

    jobs.register("grievances.gaps", run=find_gaps_job, may_start=is_office, label=_("Gap search"))

``job_start`` queues a Job (or returns the one already queued or running for the same kind and target) and,
after commit, the Celery task ``core.tasks.run_job``; ``job_run`` claims the job with a conditional update
(a second worker given the same id does nothing), calls the runner with a progress callback, and stores its
JSON result or its error. Core knows the kinds only by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, PermissionRefused
from core.models import Job, JobState
from core.queue import task

logger = logging.getLogger(__name__)

Progress = Callable[[int, str], None]
STALE_AFTER = timedelta(hours=1)  # longer than run_job's time limit (31 minutes) plus a wait in the queue


@dataclass(frozen=True)
class Kind:
    run: Callable[[Job, Progress], dict[str, Any]]
    may_start: Callable[[Any], bool]
    label: Any = ""


_KINDS: dict[str, Kind] = {}


def register(
    kind: str,
    *,
    run: Callable[[Job, Progress], dict[str, Any]],
    may_start: Callable[[Any], bool],
    label: Any = "",
) -> None:
    _KINDS[kind] = Kind(run=run, may_start=may_start, label=label)


def kind_of(name: str) -> Kind:
    try:
        return _KINDS[name]
    except KeyError:
        raise ApplicationError(f"unknown job kind {name!r}", code="unknown_job_kind") from None


def may_see(user: Any, job: Job) -> bool:
    return bool(
        getattr(user, "is_superuser", False)
        or (job.requested_by_id is not None and job.requested_by_id == getattr(user, "pk", None))
        or kind_of(job.kind).may_start(user)
    )


def job_start(*, actor: Any, kind: str, params: dict[str, Any] | None = None, target: str = "") -> Job:
    """Queue a job of ``kind`` on ``target``; while one runs on the same target, that one is returned."""
    spec = kind_of(kind)
    if not spec.may_start(actor):
        raise PermissionRefused(_("You may not start this job."))
    # A job still unfinished long after the task's time limit lost its worker: failed, so a new one may start.
    Job.objects.filter(
        kind=kind,
        target=target,
        state__in=[JobState.QUEUED, JobState.RUNNING],
        created_at__lt=timezone.now() - STALE_AFTER,
    ).update(state=JobState.FAILED, error="no worker finished it", finished_at=timezone.now())
    running = Job.objects.filter(
        kind=kind, target=target, state__in=[JobState.QUEUED, JobState.RUNNING]
    ).first()
    if running is not None:
        return running
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                target=target,
                params=params or {},
                requested_by=actor if getattr(actor, "is_authenticated", False) and actor.pk else None,
            )
            transaction.on_commit(lambda: _enqueue(job.pk))
    except IntegrityError:  # another request queued it first
        return Job.objects.get(kind=kind, target=target, state__in=[JobState.QUEUED, JobState.RUNNING])
    return job


def _enqueue(job_id: int) -> None:
    task("core.tasks.run_job").delay(job_id)


def job_run(*, job_id: int) -> Job | None:
    """Run a queued job once (a job already claimed, done or failed is left as it is)."""
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(state=JobState.RUNNING, progress=1)
    job = Job.objects.filter(pk=job_id).first()
    if not claimed or job is None:
        return job

    def progress(percent: int, stage: str) -> None:
        # Outside any transaction: the page polling the job sees it at once.
        Job.objects.filter(pk=job_id).update(progress=max(0, min(100, percent)), stage=stage[:100])

    try:
        result = kind_of(job.kind).run(job, progress)
    except Exception as error:
        logger.exception("job %s #%s failed", job.kind, job_id)
        Job.objects.filter(pk=job_id).update(
            state=JobState.FAILED,
            error=str(error)[:2000] or error.__class__.__name__,
            finished_at=timezone.now(),
        )
    else:
        Job.objects.filter(pk=job_id).update(
            state=JobState.DONE, progress=100, result=result, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job


def latest(kind: str, target: str = "") -> Job | None:
    return Job.objects.filter(kind=kind, target=target).first()
