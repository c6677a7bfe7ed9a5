"""Requesting and computing a list-health report (the expensive findings of duty_lists/health.py).

States: queued → running → done, or → failed. At most one report is queued or running per scope (one
list, or all lists), kept so by a partial unique index: a second click, the nightly run and an officer's
request at the same moment all get the one already waiting. The task (duty_lists.tasks.list_health_run)
takes the report's id; running it twice, or on two workers, computes once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.actors import SYSTEM
from core.audit import audit_record
from core.errors import PermissionRefused
from core.queue import task
from duty_lists import permissions
from duty_lists.health import compute_findings
from duty_lists.health_models import HEALTH_PENDING, ListHealthReport, ListHealthState
from duty_lists.models import DutyList

logger = logging.getLogger(__name__)

# Well past the task's hard time limit (duty_lists/tasks.py): a report still pending then lost its worker.
STALE_AFTER = timedelta(hours=1)
KEEP_REPORTS = 10  # finished reports kept per scope; older ones are derived data, deleted
# A report's ``stage`` is one of these keys, shown in the reader's language (the worker's may differ).
STAGES = {
    "waiting": gettext_lazy("Waiting for a worker"),
    "reading": gettext_lazy("Reading the duties in force"),
    "overlaps": gettext_lazy("Comparing titles for overlaps"),
    "grievances": gettext_lazy("Counting grievances and returns"),
    "done": gettext_lazy("Done"),
    "failed": gettext_lazy("Failed"),
}


def stage_label(report: ListHealthReport) -> str:
    return str(STAGES.get(report.stage, report.get_state_display()))


def may_compute(actor: Any) -> bool:
    return bool(actor is SYSTEM or actor.is_superuser or permissions.is_editorial_officer(actor))


def _scope(duty_list: DutyList | None) -> dict[str, Any]:
    return {"duty_list__isnull": True} if duty_list is None else {"duty_list": duty_list}


def list_health_compute_request(
    *, actor: Any, duty_list: DutyList | None = None, reason: str = ""
) -> ListHealthReport:
    """Queue a report of ``duty_list`` (None: all lists) and the task that computes it.

    1. Only the editorial office (or the system's nightly run).
    2. Reports pending long past the task's limits are marked failed first (their worker was lost).
    3. A report already queued or running for the scope is returned as it is.
    4. Otherwise create one, audit the request, and enqueue the task once the transaction commits.
    """
    if not may_compute(actor):
        raise PermissionRefused(_("Only the editorial office recomputes the list health."))
    _fail_stale()
    pending = ListHealthReport.objects.filter(state__in=HEALTH_PENDING, **_scope(duty_list)).first()
    if pending is not None:
        return pending
    try:
        with transaction.atomic():
            report = ListHealthReport.objects.create(
                duty_list=duty_list,
                reason=reason[:200],
                requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                stage="waiting",
            )
            audit_record(actor=actor, action="duty_lists.list_health.requested", target=report, reason=reason)
            transaction.on_commit(lambda: _enqueue(report.pk))
    except IntegrityError:  # another request won the race for the scope's one pending report
        return ListHealthReport.objects.get(state__in=HEALTH_PENDING, **_scope(duty_list))
    return report


def _enqueue(report_id: int) -> None:
    task("duty_lists.tasks.list_health_run").delay(report_id)


def _fail_stale() -> None:
    stale = ListHealthReport.objects.filter(
        state__in=HEALTH_PENDING, created_at__lt=timezone.now() - STALE_AFTER
    ).values_list("pk", flat=True)
    for report_id in list(stale):
        updated = ListHealthReport.objects.filter(pk=report_id, state__in=HEALTH_PENDING).update(
            state=ListHealthState.FAILED,
            stage="failed",
            error=_("No worker finished it within %(minutes)s minutes.")
            % {"minutes": int(STALE_AFTER.total_seconds() // 60)},
        )
        if updated:
            logger.warning("list health report #%s lost its worker; marked failed", report_id)


def _progress(report_id: int, percent: int, stage: str) -> None:
    # Outside any transaction, so that the page following the report sees it at once.
    ListHealthReport.objects.filter(pk=report_id, state=ListHealthState.RUNNING).update(
        progress=max(0, min(percent, 100)), stage=stage[:100]
    )


def list_health_compute(*, report_id: int) -> str:
    """Compute the queued report ``report_id``; returns its state afterwards.

    1. Claim it: lock the row, and go on only if it is still queued (a repeated delivery, or a second
       worker, finds it running or done and leaves it alone).
    2. Compute the findings outside any transaction, telling the row how far it got.
    3. Keep the result and mark it done, or failed with the reason; delete the scope's oldest reports.
    """
    with transaction.atomic():
        report = ListHealthReport.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            return "gone"
        if report.state != ListHealthState.QUEUED:
            return report.state
        report.state, report.started_at, report.progress = ListHealthState.RUNNING, timezone.now(), 1
        report.stage = "reading"
        report.save(update_fields=["state", "started_at", "progress", "stage"])
    told: list[tuple[int, str]] = []

    def progress(percent: int, stage: str) -> None:
        if not told or told[-1] != (percent, stage):  # at most one write per percent
            told.append((percent, stage))
            _progress(report_id, percent, stage)

    try:
        result = compute_findings(report.duty_list, progress=progress)
    except SoftTimeLimitExceeded:
        return _fail(report_id, _("The computation took too long and was stopped."))
    # Not retried, even for a lost connection: a retry would find the report running and leave it. Failed
    # is visible; the officer recomputes, or the nightly run does.
    except Exception as error:
        logger.exception("list health report #%s failed", report_id)
        return _fail(report_id, str(error)[:2000] or error.__class__.__name__)
    ListHealthReport.objects.filter(pk=report_id, state=ListHealthState.RUNNING).update(
        state=ListHealthState.DONE,
        result=result,
        progress=100,
        stage="done",
        finished_at=timezone.now(),
    )
    _prune(report.duty_list)
    return ListHealthState.DONE


def _fail(report_id: int, message: str) -> str:
    ListHealthReport.objects.filter(pk=report_id, state=ListHealthState.RUNNING).update(
        state=ListHealthState.FAILED, error=message, stage="failed", finished_at=timezone.now()
    )
    return ListHealthState.FAILED


def _prune(duty_list: DutyList | None) -> None:
    finished = ListHealthReport.objects.filter(
        state__in=[ListHealthState.DONE, ListHealthState.FAILED], **_scope(duty_list)
    ).order_by("-created_at", "-id")
    keep = list(finished.values_list("pk", flat=True)[:KEEP_REPORTS])
    finished.exclude(pk__in=keep).delete()
