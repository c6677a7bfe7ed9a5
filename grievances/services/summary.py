"""Keeping the dashboard's daily summary (grievances/dashboard/models.py) in step with the grievances.

A day's rows are always rebuilt whole from the grievances received that day (``summary_days_rebuild``),
never patched, so rebuilding twice gives the same rows and a rebuild can never drift from the grievances.
Which days to rebuild:

- ``summary_refresh`` (beat, every few minutes): today, yesterday, and the days of receipt of every
  grievance changed since the cursor (``Grievance.updated_at``: every service that changes a figure saves
  the grievance, feedback and lead-order acceptance included), every day the first time. They are marked
  dirty first, then rebuilt within a time budget; what the budget leaves stays marked for the next run.
- ``summary_rebuild_run`` (a job, from the dashboard's button or ``manage.py rebuild_dashboard_summary``):
  every day from the first grievance to the last, a week per transaction, with its progress on the job.

Every write to the summary — a chunk of days, the marking, a job request — first locks the one cursor row,
so that two workers can never rebuild the same day at once (each deletes the day's rows and inserts new
ones: two at once would insert twice). Each chunk reads the grievances after taking the lock, so the last
writer always wrote the newest data.

The cursor moves to the refresh's start minus ``OVERLAP``, not to its start: a grievance saved just before
the refresh but committed after it has an ``updated_at`` before the refresh started, and the overlap finds
it next time. Rebuilding a day twice is harmless; missing it is not.
"""

from __future__ import annotations

import logging
import time as clock
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import PermissionRefused
from core.queue import task
from duty_lists.permissions import is_editorial_officer
from grievances import kpis
from grievances.models import (
    Grievance,
    GrievanceDailySummary,
    SummaryCursor,
    SummaryDirtyDay,
    SummaryRebuild,
    SummaryRebuildState,
)

logger = logging.getLogger(__name__)

CURSOR = "grievances"
# Longer than any transaction that changes a grievance takes to commit.
OVERLAP = timedelta(minutes=10)
CHUNK_DAYS = 7  # days per transaction: a week at 1,000,000 grievances a year is ~20,000 of them
REFRESH_BUDGET_SECONDS = 35.0  # the refresh task's soft limit is 50 s
PENDING = (SummaryRebuildState.QUEUED, SummaryRebuildState.RUNNING)
# A rebuild whose worker has not reported for this long was lost (killed, or the broker forgot the task).
STALE_AFTER = timedelta(minutes=30)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def _local_day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_default_timezone())


def _lock() -> SummaryCursor:
    """The cursor row, locked until the end of the caller's transaction (created on first use)."""
    cursor, _created = SummaryCursor.objects.select_for_update().get_or_create(name=CURSOR)
    return cursor


def cursor() -> SummaryCursor | None:
    return SummaryCursor.objects.filter(name=CURSOR).first()


# --- Rebuilding days ---------------------------------------------------------------------------------------


def _rows(first: date, last: date) -> list[GrievanceDailySummary]:
    """The summary rows of days first … last, counted from the grievances as ``kpis`` defines the counts."""
    grievances = kpis.counted_grievances().filter(
        received_at__gte=_day_start(first), received_at__lt=_day_start(last + timedelta(days=1))
    )
    counts: dict[tuple[date, int | None, str], dict[str, Any]] = {}

    def merge(rows: Iterable[dict[str, Any]], prefix: str) -> None:
        for row in rows:
            key = (row["day"], row[f"{prefix}first_agency_id"], row[f"{prefix}category"])
            counts.setdefault(key, {}).update(row)

    keys = ("day", "first_agency_id", "category")
    merge(
        grievances.annotate(day=_local_day("received_at"))
        .order_by()
        .values(*keys)
        .annotate(**kpis.GRIEVANCE_COUNTS),
        "",
    )
    related = ("day", "grievance__first_agency_id", "grievance__category")
    merge(
        kpis.lead_orders_accepted(grievances)
        .annotate(day=_local_day("grievance__received_at"))
        .order_by()
        .values(*related)
        .annotate(**kpis.ORDER_COUNTS),
        "grievance__",
    )
    merge(
        kpis.feedback_of(grievances)
        .annotate(day=_local_day("grievance__received_at"))
        .order_by()
        .values(*related)
        .annotate(**kpis.FEEDBACK_COUNTS),
        "grievance__",
    )
    return [
        GrievanceDailySummary(
            day=day,
            agency_id=agency_id,
            category=category,
            **{name: int(row.get(name) or 0) for name in kpis.COUNT_FIELDS},
        )
        for (day, agency_id, category), row in sorted(counts.items(), key=lambda kv: str(kv[0]))
    ]


def summary_days_rebuild(*, first: date, last: date) -> int:
    """Rebuild the summary of days ``first`` … ``last`` from the grievances, in one transaction, and clear
    their dirty marks. Returns the number of rows written."""
    with transaction.atomic():
        _lock()
        rows = _rows(first, last)
        GrievanceDailySummary.objects.filter(day__gte=first, day__lte=last).delete()
        GrievanceDailySummary.objects.bulk_create(rows, batch_size=2000)
        SummaryDirtyDay.objects.filter(day__gte=first, day__lte=last).delete()
    return len(rows)


def runs_of(days: Iterable[date], *, longest: int = CHUNK_DAYS) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs of at most ``longest`` days, newest run first."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days), reverse=True):
        if runs and runs[-1][0] - timedelta(days=1) == day and (runs[-1][1] - day).days < longest:
            runs[-1] = (day, runs[-1][1])
        else:
            runs.append((day, day))
    return runs


# --- The refresh (beat) ------------------------------------------------------------------------------------


@dataclass
class Refresh:
    marked: int = 0
    days: int = 0
    rows: int = 0
    left: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"marked": self.marked, "days": self.days, "rows": self.rows, "left": self.left}


def _every_day() -> set[date]:
    bounds = kpis.counted_grievances().aggregate(first=Min("received_at"), last=Max("received_at"))
    if bounds["first"] is None:
        return set()
    first, last = timezone.localdate(bounds["first"]), timezone.localdate(bounds["last"])
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def summary_refresh(*, budget_seconds: float = REFRESH_BUDGET_SECONDS) -> Refresh:
    """Every few minutes (beat):

    1. under the lock, mark today, yesterday and the days of receipt of the grievances changed since the
       cursor dirty — every day of receipt, the first time — and move the cursor to now − OVERLAP;
    2. rebuild the dirty days, newest first, a run of consecutive days per transaction, until none is left
       or the budget is spent (the rest waits for the next run: at 1,000,000 grievances the first build
       takes a run or two)."""
    result = Refresh()
    started = timezone.now()
    with transaction.atomic():
        state = _lock()
        if state.seen_until is None:
            changed = _every_day()
            state.seen_until = started - OVERLAP
        else:
            changed = set(
                Grievance.objects.filter(updated_at__gte=state.seen_until)
                .annotate(day=_local_day("received_at"))
                .order_by()
                .values_list("day", flat=True)
                .distinct()
            )
        today = timezone.localdate(started)
        days = changed | {today, today - timedelta(days=1)}
        SummaryDirtyDay.objects.bulk_create(
            [SummaryDirtyDay(day=day, marked_at=started) for day in days], ignore_conflicts=True
        )
        result.marked = len(days)
        state.seen_until = max(state.seen_until, started - OVERLAP)
        state.save(update_fields=["seen_until"])

    deadline = clock.monotonic() + budget_seconds
    dirty = list(SummaryDirtyDay.objects.values_list("day", flat=True))
    runs = runs_of(dirty)
    for index, (first, last) in enumerate(runs):
        if index and clock.monotonic() > deadline:
            result.left = sum((b - a).days + 1 for a, b in runs[index:])
            break
        result.rows += summary_days_rebuild(first=first, last=last)
        result.days += (last - first).days + 1
    SummaryCursor.objects.filter(name=CURSOR).update(refreshed_at=timezone.now())
    return result


# --- Full rebuilds (jobs) ----------------------------------------------------------------------------------


def _may_rebuild(actor: Any) -> bool:
    return bool(getattr(actor, "is_superuser", False)) or is_editorial_officer(actor)  # SYSTEM is superuser


def summary_rebuild_request(*, actor: Any, reason: str = "", enqueue: bool = True) -> SummaryRebuild:
    """Queue a full rebuild (and, after commit, the task that runs it unless ``enqueue`` is false: the
    command runs it itself). While one is queued or running, that one is returned."""
    if not _may_rebuild(actor):
        raise PermissionRefused(_("Only the editorial office rebuilds the dashboard's summary."))
    with transaction.atomic():
        _lock()  # one pending job: requests queue up here
        _fail_stale()
        pending = SummaryRebuild.objects.filter(state__in=PENDING).first()
        if pending is not None:
            return pending
        user = actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None
        job = SummaryRebuild.objects.create(reason=reason[:200], requested_by=user)
        audit_record(actor=actor, action="grievances.summary.rebuild_requested", target=job, reason=reason)
        if enqueue:
            transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    task("grievances.tasks.rebuild_dashboard_summary").delay(job_id)


def _fail_stale() -> None:
    now = timezone.now()
    stale = SummaryRebuild.objects.filter(state__in=PENDING, created_at__lt=now - STALE_AFTER).exclude(
        heartbeat_at__gte=now - STALE_AFTER
    )
    for job_id in stale.values_list("pk", flat=True):
        if SummaryRebuild.objects.filter(pk=job_id, state__in=PENDING).update(
            state=SummaryRebuildState.FAILED,
            finished_at=now,
            error=_("No worker finished it: it was lost and may be asked for again."),
        ):
            logger.warning("dashboard summary rebuild #%s lost its worker; marked failed", job_id)


def pending_rebuild() -> SummaryRebuild | None:
    return SummaryRebuild.objects.filter(state__in=PENDING).first()


def summary_rebuild_run(
    *, job_id: int, progress: Callable[[SummaryRebuild], None] | None = None
) -> SummaryRebuild | None:
    """Run the queued job ``job_id``:

    1. claim it (queued → running, by a conditional update: a second worker given the same job stops);
    2. under the lock, start the cursor if it never ran (so the refresh catches what changes meanwhile),
       find the first and last day of receipt and delete the rows outside them;
    3. rebuild a week per transaction, oldest first, reporting progress after each;
    4. done (or failed, with the error)."""
    now = timezone.now()
    claimed = SummaryRebuild.objects.filter(pk=job_id, state=SummaryRebuildState.QUEUED).update(
        state=SummaryRebuildState.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return None
    job = SummaryRebuild.objects.get(pk=job_id)
    try:
        with transaction.atomic():
            state = _lock()
            if state.seen_until is None:
                state.seen_until = now - OVERLAP
                state.save(update_fields=["seen_until"])
            days = _every_day()
            if days:
                GrievanceDailySummary.objects.exclude(day__gte=min(days), day__lte=max(days)).delete()
            else:
                GrievanceDailySummary.objects.all().delete()
            runs = sorted(runs_of(days))
        job.days_total = sum((b - a).days + 1 for a, b in runs)
        SummaryRebuild.objects.filter(pk=job.pk).update(days_total=job.days_total)
        for first, last in runs:
            summary_days_rebuild(first=first, last=last)
            job.days_done += (last - first).days + 1
            # Outside the chunk's transaction: the page following the job sees it at once.
            SummaryRebuild.objects.filter(pk=job.pk).update(
                days_done=job.days_done, heartbeat_at=timezone.now()
            )
            if progress is not None:
                progress(job)
    except Exception as error:
        SummaryRebuild.objects.filter(pk=job.pk).update(
            state=SummaryRebuildState.FAILED, finished_at=timezone.now(), error=repr(error)[:2000]
        )
        raise
    if connection.vendor == "postgresql":
        # The table was rewritten whole: without fresh statistics the planner takes the dashboard's sums
        # for a few hundred rows and sorts tens of thousands on disk (autovacuum would get there later).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {GrievanceDailySummary._meta.db_table}")
    finished = timezone.now()
    SummaryRebuild.objects.filter(pk=job.pk).update(state=SummaryRebuildState.DONE, finished_at=finished)
    SummaryCursor.objects.filter(name=CURSOR).update(rebuilt_at=finished, refreshed_at=finished)
    job.refresh_from_db()
    return job
