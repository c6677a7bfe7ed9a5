"""The phases of bench/escalation.py: one sweep in this process, the lag behind beat, kill -9 mid-sweep."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.escalation_base import (
    LAG_DISPUTES,
    REMINDER_REMAINDER,
    REMINDERS,
    RESERVE_REMAINDER,
    SWEEP_SECONDS,
    WORKER_PROCESSES,
    Children,
    sweep_durations,
    wait_for,
)
from bench.escalation_build import due_ids

# --- Phase 1: one sweep in this process --------------------------------------------------------------------


class QueryCounter:
    """An execute wrapper: every statement, by its first word. (CaptureQueriesContext keeps at most 9,000
    queries in ``connection.queries_log``; a sweep of 10,000 disputes runs about twenty times that.)"""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.kinds: Counter[str] = Counter()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1
            self.kinds[sql.split(None, 1)[0].upper()] += 1


@dataclass
class SweepResult:
    due: int = 0
    plan: str = ""
    index_used: bool = False
    query_ms: float = 0.0
    one_escalation_queries: list[str] = field(default_factory=list)
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    queries: int = 0
    db_seconds: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)
    left_after_one: int = 0
    emails_queued: int = 0
    reminders: int = 0
    reminded: int = 0
    remind_seconds: float = 0.0
    remind_queries: int = 0

    @property
    def escalated(self) -> int:
        return self.counts.get("escalated", 0)

    @property
    def rate(self) -> float:
        return self.escalated / self.seconds if self.seconds else 0.0

    @property
    def sweeps_to_clear(self) -> int:
        """Sweeps (minutes of beat) the whole backlog takes at this sweep's pace."""
        # + 1: the first due dispute was escalated by the `escalate_due` measured before the sweep.
        return math.ceil(self.due / (self.escalated + 1)) if self.escalated else 0


def due_query_plan(now: datetime) -> tuple[str, float]:
    from arbitration.models import Dispute, DisputeState

    query = (
        Dispute.objects.filter(state=DisputeState.OPEN, deadline_at__lte=now, overdue=False, pk__gt=0)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    list(query)  # warm
    started = time.perf_counter()
    list(query)
    return query.explain(analyze=True, buffers=True), (time.perf_counter() - started) * 1000


def measure_sweep(redis: Any, queue: str) -> SweepResult:
    from django.db import connection
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from arbitration.models import Dispute, DisputeState, Stage
    from arbitration.services.escalation import escalate_due
    from arbitration.services.sweep import TIME_BUDGET_SECONDS, remind_due, sweep

    result = SweepResult()
    now = timezone.now()
    due = due_ids(now)
    result.due = len(due)
    result.plan, result.query_ms = due_query_plan(now)
    # dispute_open_by_deadline, or the dispute list's dispute_unclosed_by_deadline (open and paused, by
    # deadline): either reads only the unclosed tenth, never the table.
    result.index_used = "_by_deadline" in result.plan and "Seq Scan on arbitration_dispute" not in result.plan
    # One escalation with everything it runs, its notifications after commit included.
    with CaptureQueriesContext(connection) as captured:
        escalate_due(due[0], now)
    result.one_escalation_queries = [q["sql"] for q in captured.captured_queries]
    print(
        f"  due: {len(due):,}; due query {result.query_ms:.1f} ms, "
        f"index {'used' if result.index_used else 'NOT used'}; one escalation: {len(captured)} queries",
        flush=True,
    )
    counter = QueryCounter()
    started = time.monotonic()
    with connection.execute_wrapper(counter):
        result.counts = sweep()
    result.seconds = time.monotonic() - started
    result.queries, result.db_seconds, result.kinds = counter.count, counter.seconds, dict(counter.kinds)
    print(
        f"  one sweep: {result.escalated:,} escalated in {result.seconds:.1f} s "
        f"({result.rate:.0f}/s, {counter.count:,} queries; budget {TIME_BUDGET_SECONDS} s)",
        flush=True,
    )
    # The rest is beat's next minutes' work (reported as the sweeps it would take). Sweeping it here would
    # take minutes; it is set aside (deadlines a month later) so that the lag run measures a quiet minute.
    left = due_ids(timezone.now())
    result.left_after_one = len(left)
    Dispute.objects.filter(pk__in=left).update(deadline_at=F("deadline_at") + timedelta(days=30))
    result.emails_queued = int(redis.llen(queue))
    # Reminders: open disputes not due, their reminder time passed and not yet sent.
    reminder_ids = list(
        Dispute.objects.filter(
            state=DisputeState.OPEN, stage=Stage.NEGOTIATION, deadline_at__gt=timezone.now()
        )
        .annotate(remainder=F("id") % 10)
        .filter(remainder=REMINDER_REMAINDER)
        .order_by("pk")
        .values_list("pk", flat=True)[:REMINDERS]
    )
    Dispute.objects.filter(pk__in=reminder_ids).update(
        remind_at=timezone.now() - timedelta(minutes=1), reminded_stage=""
    )
    result.reminders = len(reminder_ids)
    counter = QueryCounter()
    started = time.monotonic()
    with connection.execute_wrapper(counter):
        result.reminded = remind_due(timezone.now())
    result.remind_seconds = time.monotonic() - started
    result.remind_queries = counter.count
    print(
        f"  reminders: {result.reminded:,} of {result.reminders:,} in {result.remind_seconds:.1f} s "
        f"({counter.count:,} statements)",
        flush=True,
    )
    return result


# --- Phase 2: lag from deadline to committed escalation ----------------------------------------------------


@dataclass
class LagResult:
    disputes: int = 0
    escalated: int = 0
    lags: list[float] = field(default_factory=list)  # deadline → commit of the escalation, seconds
    entered_lags: list[float] = field(default_factory=list)  # deadline → the sweep's `now` (entered_at)
    sweep_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0


def lag_disputes(count: int) -> list[int]:
    from arbitration.models import Domain
    from arbitration.services.disputes import dispute_file
    from core.actors import SYSTEM
    from duty_lists.models import Agency

    agencies = list(Agency.objects.filter(code__startswith="bx-").order_by("code")[:2])
    domain = Domain.objects.get(code="urban")
    return [
        dispute_file(
            actor=SYSTEM,
            title=f"时延测量争议 {i}",
            description="部门间职责争议，时延测量。",
            kind="gap",
            domain=domain,
            filing_agency=agencies[0],
            respondents=[agencies[1]],
        ).pk
        for i in range(count)
    ]


def measure_lag(children: Children) -> LagResult:
    """Deadlines spread evenly over one sweep period, so every phase of beat's minute is sampled: the lag is
    the wait for the next tick plus the sweep's own time, 0 to 60 s + sweep time."""
    from django.utils import timezone

    from arbitration.models import Dispute, DisputeEvent, DisputeStage, Stage

    result = LagResult()
    started = time.monotonic()
    ids = lag_disputes(LAG_DISPUTES)
    result.disputes = len(ids)
    children.worker("lag-worker")
    children.beat("lag-beat")
    first = timezone.now() + timedelta(seconds=5)
    step = SWEEP_SECONDS / LAG_DISPUTES
    deadlines = {pk: first + timedelta(seconds=i * step) for i, pk in enumerate(ids)}
    for pk, deadline in deadlines.items():
        Dispute.objects.filter(pk=pk).update(deadline_at=deadline)
    print(
        f"  {len(ids)} deadlines from {first:%H:%M:%S} every {step:.1f} s; worker and beat started",
        flush=True,
    )

    def escalated() -> int:
        return DisputeStage.objects.filter(dispute_id__in=ids, stage=Stage.EDITORIAL_OFFICE).count()

    # All due within one period; the last is escalated by the tick after it, which comes at most one more
    # period later; then allow the sweep's time budget.
    wait_for(lambda: escalated() == len(ids), 5 + 2 * SWEEP_SECONDS + 45, every=1.0, children=children)
    children.stop("lag-beat")
    children.stop("lag-worker")
    commits = dict(
        DisputeEvent.objects.filter(dispute_id__in=ids, action="escalate").values_list("dispute_id", "at")
    )
    entered = dict(
        DisputeStage.objects.filter(dispute_id__in=ids, stage=Stage.EDITORIAL_OFFICE).values_list(
            "dispute_id", "entered_at"
        )
    )
    result.escalated = len(entered)
    result.lags = sorted((commits[pk] - deadlines[pk]).total_seconds() for pk in commits)
    result.entered_lags = sorted((entered[pk] - deadlines[pk]).total_seconds() for pk in entered)
    result.sweep_seconds = sweep_durations(children.log("lag-worker"))
    result.seconds = time.monotonic() - started
    return result


# --- Phase 3: kill -9 in the middle of a sweep -------------------------------------------------------------

TASK_LINE = re.compile(
    r"sweep_disputes\[(?P<id>[0-9a-f-]+)\] (?:(?P<received>received)|succeeded in (?P<seconds>[0-9.]+)s: "
    r"(?P<counts>\{[^}]*\})|(?P<raised>raised unexpected: \w+))"
)


@dataclass
class SweepRun:
    """One sweep task, followed through a worker's log (polled, so times are good to half a second)."""

    task_id: str
    queued_ahead: int | None  # messages in the queue when it was sent, which it waits behind
    sent: float
    received: float | None = None
    finished: float | None = None
    outcome: str = ""
    escalated: int = 0

    @property
    def waited(self) -> float | None:
        return None if self.received is None else self.received - self.sent

    @property
    def ran(self) -> float | None:
        return None if self.finished is None or self.received is None else self.finished - self.received


def follow(log: str, runs: list[SweepRun]) -> None:
    by_id = {run.task_id: run for run in runs}
    now = time.monotonic()
    for match in TASK_LINE.finditer(log):
        run = by_id.get(match["id"])
        if run is None:
            continue
        if match["received"] and run.received is None:
            run.received = now
        elif (match["counts"] or match["raised"]) and run.finished is None:
            run.finished = now
            run.received = run.received or now
            run.outcome = "succeeded" if match["counts"] else match["raised"].split(": ")[1]
            found = re.search(r"'escalated': (\d+)", match["counts"] or "")
            run.escalated = int(found[1]) if found else 0


@dataclass
class KillResult:
    due: int = 0
    escalated_at_kill: int = 0
    killed_after: float = 0.0
    killed: SweepRun | None = None  # the sweep that was killed, as first delivered
    again: SweepRun | None = None  # the same task, delivered again after the kill
    redelivered_after: float | None = None  # from its first delivery to its second
    runs: list[SweepRun] = field(default_factory=list)  # the sweeps sent after the kill
    escalated: int = 0
    lost: int = 0
    doubled_events: int = 0
    doubled_audit: int = 0
    half_done: int = 0
    emails_per_second: float = 0.0
    bound_reached: bool = False  # stopped by --kill-minutes with disputes still due: those are not "lost"
    finished_here: int = 0  # … and were then swept in the bench process
    seconds: float = 0.0


def kill_test(
    children: Children, redis: Any, queue: str, *, due: int, expected_per_sweep: int, limit: float
) -> KillResult:
    """Kill the worker mid-sweep; then, as beat would each minute, send the next sweep (each as soon as the
    one before has finished, to keep the run short) until nothing is due, while the killed sweep comes back
    by itself after Redis's visibility timeout and runs beside them."""
    from django.db.models import F
    from django.utils import timezone

    from arbitration.models import Dispute, DisputeStage, DisputeState, Stage
    from arbitration.tasks import sweep_disputes
    from config.celery_app import VISIBILITY_TIMEOUT_SECONDS

    result = KillResult()
    started = time.monotonic()
    reserve = list(
        Dispute.objects.filter(state=DisputeState.OPEN, stage=Stage.NEGOTIATION)
        .annotate(remainder=F("id") % 10)
        .filter(remainder=RESERVE_REMAINDER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ids = reserve[:: max(1, len(reserve) // due)][:due]  # spread over the open range like the first 10,000
    Dispute.objects.filter(pk__in=ids).update(
        deadline_at=timezone.now() - timedelta(minutes=5), reminded_stage=Stage.NEGOTIATION
    )
    result.due = len(ids)

    def escalated() -> int:
        return DisputeStage.objects.filter(dispute_id__in=ids, stage=Stage.EDITORIAL_OFFICE).count()

    def send() -> SweepRun:
        ahead = int(redis.llen(queue))
        return SweepRun(sweep_disputes.apply_async().id, ahead, time.monotonic())  # as beat sends it

    children.worker("kill-worker")
    killed = result.killed = send()

    def far_enough() -> bool:
        follow(children.log("kill-worker"), [killed])  # when it was first delivered
        done = escalated()
        running = 0.0 if killed.received is None else time.monotonic() - killed.received
        return done >= threshold or (done > 0 and running >= 20)

    # Kill a third of the way through what one sweep can do in this process, or 20 s into the sweep if the
    # worker (sharing two cores with its e-mail tasks and PostgreSQL) is slower: well inside its 40 s budget,
    # so surely mid-sweep.
    threshold = max(50, min(len(ids), expected_per_sweep) // 3)
    wait_for(far_enough, 120, every=0.2, children=children)
    children.kill("kill-worker")
    killed_at = time.monotonic()
    result.killed_after = killed_at - (killed.received or killed.sent)
    result.escalated_at_kill = escalated()
    print(
        f"  killed the worker {result.killed_after:.1f} s into the sweep, "
        f"{result.escalated_at_kill:,} of {len(ids):,} escalated",
        flush=True,
    )
    children.worker("kill-worker-2")
    again = result.again = SweepRun(killed.task_id, None, killed_at)  # the same task, when Redis returns it
    stop_at = started + limit
    while escalated() < len(ids) and time.monotonic() < stop_at:
        run = send()
        result.runs.append(run)
        while run.finished is None and time.monotonic() < stop_at:
            children.check()
            time.sleep(0.5)
            follow(children.log("kill-worker-2"), [again, *result.runs])
        print(
            f"  sweep {len(result.runs)}: waited {run.waited or 0:.0f} s behind {run.queued_ahead:,} "
            f"messages, ran {run.ran or 0:.0f} s ({run.outcome or 'unfinished'}); "
            f"{escalated():,} escalated",
            flush=True,
        )
    # The killed sweep is unacknowledged: Redis hands it back after the visibility timeout (counted from its
    # delivery), and the new worker's restore check (every 10 s) queues it again.
    back_by = (killed.received or killed.sent) + VISIBILITY_TIMEOUT_SECONDS + 40
    while again.finished is None and time.monotonic() < min(back_by + 70, stop_at + 130):
        if again.received is None and time.monotonic() > back_by:
            break
        children.check()
        time.sleep(0.5)
        follow(children.log("kill-worker-2"), [again])
    if again.received is not None:
        result.redelivered_after = again.received - (killed.received or killed.sent)
        print(
            f"  the killed sweep came back {result.redelivered_after:.0f} s after its first delivery "
            f"({again.outcome or 'unfinished'}, {again.escalated:,} escalated)",
            flush=True,
        )
    result.bound_reached = escalated() < len(ids) and time.monotonic() >= stop_at
    log = children.log("kill-worker-2")
    children.stop("kill-worker-2")
    if result.bound_reached:
        # Out of time, not lost: what is still due is the next minutes' work. Sweep it here (bounded), so that
        # "lost" below counts only disputes that no sweep would ever escalate.
        from arbitration.services.sweep import sweep

        result.finished_here = len(ids) - escalated()
        for _ in range(10):
            if not sweep().get("escalated"):
                break
    # What the worker can drain, from each e-mail task's own run time: the tasks arrive as fast as the sweep
    # makes them, so their pace in the log would measure the sweep, not the worker.
    runtimes = [
        float(t)
        for t in re.findall(r"notification_emails\[.*succeeded in ([0-9.]+)s", log, flags=re.MULTILINE)
    ]
    if runtimes:
        result.emails_per_second = WORKER_PROCESSES / (sum(runtimes) / len(runtimes))
    count_outcome(result, ids)
    result.seconds = time.monotonic() - started
    return result


def count_outcome(result: KillResult, ids: list[int]) -> None:
    from django.db.models import Count

    from arbitration.models import Dispute, DisputeEvent, DisputeStage, Stage
    from core.models import AuditEntry

    escalated_ids = set(
        DisputeStage.objects.filter(dispute_id__in=ids, stage=Stage.EDITORIAL_OFFICE).values_list(
            "dispute_id", flat=True
        )
    )
    events = (
        DisputeEvent.objects.filter(dispute_id__in=ids, action="escalate", to_stage=Stage.EDITORIAL_OFFICE)
        .values("dispute_id")
        .annotate(n=Count("id"))
    )
    event_counts = {row["dispute_id"]: row["n"] for row in events}
    audit = (
        AuditEntry.objects.filter(action="arbitration.dispute.escalate", object_type="arbitration.dispute")
        .filter(object_id__in=[str(pk) for pk in ids])
        .values("object_id")
        .annotate(n=Count("id"))
    )
    audit_counts = {int(row["object_id"]): row["n"] for row in audit}
    moved = set(Dispute.objects.filter(pk__in=ids, stage=Stage.EDITORIAL_OFFICE).values_list("pk", flat=True))
    result.escalated = len(escalated_ids)
    result.lost = len(set(ids) - escalated_ids)
    result.doubled_events = sum(1 for n in event_counts.values() if n > 1)
    result.doubled_audit = sum(1 for n in audit_counts.values() if n > 1)
    # Half an escalation: the dispute moved without its stage row, event and audit entry, or the reverse.
    result.half_done = sum(
        1 for pk in ids if len({pk in moved, pk in escalated_ids, pk in event_counts, pk in audit_counts}) > 1
    )
