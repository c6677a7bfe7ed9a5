"""Background work of the duty lists: browser imports, and list-health reports (at the end).

A browser import is a *job* kept in the Django cache (no table: it lives a day, and nothing else refers to
it) and an uploaded file under ``MEDIA_ROOT/imports/``. Its states::

    queued → validating → validated ──confirm──► writing → written ──publish──► published
                     └──► invalid / failed       └──► invalid / failed

The task takes the job's id, reads the file and runs ``duty_list_import`` — checking only, or writing —
as the person who uploaded it; progress goes to the job as it runs. It is safe to run twice: a repeated
check gives the same report, and a repeated write finds the first one's work done (``written`` jobs are
left alone).

The cache must be shared by web and worker processes (Redis in production). A process-local cache
(LocMem) works only where the task runs in the web process (tests, eager mode).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.actors import SYSTEM
from core.errors import ApplicationError
from duty_lists.importing import duty_list_import
from duty_lists.models import DutyList
from duty_lists.services.health import list_health_compute, list_health_compute_request

logger = logging.getLogger(__name__)

JOB_TTL_SECONDS = 24 * 3600
IMPORT_FOLDER = "imports"
PROGRESS_WRITE_SECONDS = 0.5  # at most two cache writes a second from a running import


class JobState:
    QUEUED = "queued"
    VALIDATING = "validating"
    VALIDATED = "validated"
    WRITING = "writing"
    WRITTEN = "written"
    PUBLISHED = "published"
    INVALID = "invalid"
    FAILED = "failed"

    RUNNING = frozenset({QUEUED, VALIDATING, WRITING})


@dataclass
class ImportJob:
    id: str
    user_id: int
    duty_list_id: int
    file_path: str  # name in default_storage
    file_name: str  # as uploaded
    default_lead: str = ""
    language: str = ""
    state: str = JobState.QUEUED
    phase: str = ""
    processed: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    error: str = ""
    edition: int | None = None
    created_at: str = field(default_factory=lambda: timezone.now().isoformat())

    @property
    def is_running(self) -> bool:
        return self.state in JobState.RUNNING


def _key(job_id: str) -> str:
    return f"zhize:import-job:{job_id}"


def new_job_id() -> str:
    return secrets.token_urlsafe(16)


def job_load(job_id: str) -> ImportJob | None:
    data = cache.get(_key(job_id))
    return ImportJob(**data) if data else None


def job_save(job: ImportJob) -> None:
    cache.set(_key(job.id), asdict(job), JOB_TTL_SECONDS)


def job_claim(job_id: str, step: str) -> bool:
    """True for the first caller only: a double-clicked "confirm" enqueues one write."""
    return bool(cache.add(f"{_key(job_id)}:{step}", 1, JOB_TTL_SECONDS))


def job_release(job_id: str, step: str) -> None:
    """Undo ``job_claim`` after the step failed, so that it can be tried again."""
    cache.delete(f"{_key(job_id)}:{step}")


def _discard_file(job: ImportJob) -> None:
    if job.file_path and default_storage.exists(job.file_path):
        default_storage.delete(job.file_path)


def import_job_execute(job_id: str, *, write: bool) -> str:
    """The work of ``import_job_run``; returns the job's new state."""
    job = job_load(job_id)
    if job is None:
        return "missing"  # expired, or never existed: nothing to do
    # A retry finds its own state (validating/writing); anything else is a repeated delivery of work done.
    runs_from = {JobState.VALIDATED, JobState.WRITING} if write else {JobState.QUEUED, JobState.VALIDATING}
    if job.state not in runs_from:
        return job.state
    job.state, job.phase, job.processed, job.total = (
        JobState.WRITING if write else JobState.VALIDATING,
        "reading",
        0,
        0,
    )
    job_save(job)
    last_write = [timezone.now()]

    def progress(phase: str, done: int, total: int) -> None:
        now = timezone.now()
        if done < total and now - last_write[0] < timedelta(seconds=PROGRESS_WRITE_SECONDS):
            return
        last_write[0] = now
        job.phase, job.processed, job.total = phase, done, total
        job_save(job)

    user_model = get_user_model()
    try:
        actor = user_model.objects.get(pk=job.user_id)
        duty_list = DutyList.objects.get(pk=job.duty_list_id)
        with default_storage.open(job.file_path, "rb") as handle:
            data = handle.read()
        with translation.override(job.language or settings.LANGUAGE_CODE):
            report = duty_list_import(
                actor=actor,
                duty_list=duty_list,
                source=data,
                file_name=job.file_name,
                default_lead=job.default_lead,
                write=write,
                progress=progress,
            )
    except OperationalError:
        raise  # transient (a lock time-out, a lost connection): Celery retries
    except (ApplicationError, FileNotFoundError, user_model.DoesNotExist, DutyList.DoesNotExist) as exc:
        job.state = JobState.FAILED
        job.error = getattr(exc, "message", "") or _("The uploaded file or list is no longer there.")
    except SoftTimeLimitExceeded:
        job.state = JobState.FAILED
        job.error = _("The import took too long and was stopped. Nothing was written.")
    except Exception:
        # A poison file must not crash-loop the worker: park the job in a visible state and log it.
        logger.exception("import job %s failed", job_id)
        job.state = JobState.FAILED
        job.error = _("The import failed unexpectedly. Nothing was written.")
    else:
        job.report = report.to_dict()
        if not report.ok:
            job.state = JobState.INVALID
        elif write:
            job.state = JobState.WRITTEN
        else:
            job.state = JobState.VALIDATED
    if job.state != JobState.VALIDATED:
        _discard_file(job)  # a written, refused or failed file is not needed again
    job_save(job)
    return job.state


# Below the broker's 90 s visibility timeout (config/celery_app.py), so a running import is never handed
# to a second worker; 4,000 rows take well under a minute.
@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3, soft_time_limit=75, time_limit=85
)
def import_job_run(job_id: str, write: bool = False) -> str:
    """Check (``write=False``) or write (``write=True``) the uploaded file of an import job."""
    return import_job_execute(job_id, write=write)


@shared_task
def import_files_purge(max_age_hours: int = 24) -> int:
    """Delete uploaded import files older than their jobs (previews nobody confirmed). For beat: daily."""
    if not default_storage.exists(IMPORT_FOLDER):
        return 0
    cutoff = timezone.now() - timedelta(hours=max_age_hours)
    removed = 0
    for name in default_storage.listdir(IMPORT_FOLDER)[1]:
        path = f"{IMPORT_FOLDER}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            removed += 1
    return removed


# Overlaps over 100,000 duties take longer than the broker's 90 s visibility timeout may allow: acknowledged
# at the start (like grievances.tasks.train_router), so a running report is never handed to a second
# worker. A worker lost mid-way leaves the report running until list_health_compute_request marks it
# failed an hour later; the previous report stays on the page meanwhile.
@shared_task(acks_late=False, soft_time_limit=600, time_limit=660)
def list_health_run(report_id: int) -> str:
    """Compute the queued list-health report ``report_id`` (queued by list_health_compute_request)."""
    return list_health_compute(report_id=report_id)


@shared_task(acks_late=False)
def list_health_nightly() -> int:
    """Nightly: a report of all lists (one already waiting is reused). For beat."""
    return list_health_compute_request(actor=SYSTEM, reason="nightly").pk
