"""Escalation benchmark: the beat sweep over 1,000,000 disputes, its lag, and a worker killed mid-sweep.

Run ``make bench`` (or ``.venv/bin/python -m bench.escalation``; ``--help`` for options). In one run it

1. builds its own database (``BENCH_ESCALATION_DATABASE_URL``, default
   ``postgres://postgres@127.0.0.1:5432/zhize_bench_escalation``) from scratch: 1,000,000 disputes, the
   newest 100,000 open, 10,000 of them past their negotiation deadline;
2. runs one ``sweep()`` in this process over the 10,000 due and reports its wall time, its queries and
   escalations per second, with the plan of the due query (does a partial index on the deadline serve it?);
3. starts a real ``celery worker`` and ``celery beat`` (sweep every 60 s, as in production), files disputes
   whose deadlines fall at known moments across one sweep period, and measures deadline → committed
   escalation;
4. makes more disputes due (what two sweeps can do, at most 10,000: ``--kill-due``), has a worker sweep
   them, ``kill -9``\\s the whole worker in the middle, starts a new one, sends the next sweeps and lets the
   unacknowledged one come back by itself (Redis visibility timeout), then counts disputes escalated never
   (lost) and more than once (doubled);
5. prints target against measured and writes the ``## Escalation`` section of ``docs/benchmarks.md``.

Worker and beat publish to and consume from a queue of their own on ``BENCH_REDIS_URL`` (default Redis
database 14), so nothing here reaches a developer's or a test run's worker. No number is asserted by the test
suite: timings belong to a machine, not to the code.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/escalation.py), not as a module
    sys.path.insert(0, str(ROOT))

from bench.registry import database_reset, machine, verdict  # noqa: E402  (after the sys.path fix)

if TYPE_CHECKING:
    from bench.escalation_race import RaceResult

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/zhize_bench_escalation"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START = "<!-- bench/escalation.py writes from here -->"
DOCS_END = "<!-- bench/escalation.py writes up to here -->"
VAR_DIR = ROOT / "var" / "bench-escalation"

DISPUTES = 1_000_000
WORKER_PROCESSES = 2  # as `make run` starts the worker
# The newest tenth are open, the rest were closed long ago; open disputes with id % 10 == 0 are past their
# deadline (10,000 of 10⁶).
RESERVE_REMAINDER = 5  # open disputes with id % 10 == 5: made due for the kill and race tests
REMINDER_REMAINDER = 3  # open disputes with id % 10 == 3: their reminders made due after the one sweep
REMINDERS = 2_000
SWEEP_TARGET_SECONDS = 5.0  # issue 11: the 10,000 due among 1,000,000 escalated in ≤ 5 s
RACE_DUE = 10_000
AGENCIES = 50
SWEEP_SECONDS = 60
LAG_DISPUTES = 60
STOP_TIMEOUT = 15.0

# `celery <argv>` with the default queue replaced by the run's own: what beat publishes, what the worker
# consumes and what this process enqueues all stay within the run.
CELERY_MAIN = (
    "import sys; from config.celery_app import app; "
    "app.conf.update(task_default_queue=sys.argv[1]); sys.exit(app.start(sys.argv[2:]))"
)


# --- The environment ---------------------------------------------------------------------------------------


def environment(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_DEBUG": "false",
        "ZHIZE_VAR_DIR": str(VAR_DIR),
        "ZHIZE_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def configure(env: dict[str, str], queue: str) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from config.celery_app import app

    app.conf.update(task_default_queue=queue)  # what this process enqueues (e-mails) goes to the run's queue


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- Building 1,000,000 disputes ---------------------------------------------------------------------------


@dataclass
class Build:
    disputes: int = 0
    seconds: float = 0.0
    analyze_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)


def people_ensure() -> list[int]:
    """50 agencies (a district and 49 departments) with one staff member each, and two editorial officers:
    each escalation then notifies four people, as a small district's would. Written through the product's
    services; there are few of them."""
    from django.contrib.auth import get_user_model

    from core.actors import SYSTEM
    from duty_lists.models import AgencyKind, AgencyLevel, Role
    from duty_lists.services.agencies import agency_create, membership_grant

    user_model = get_user_model()
    root = agency_create(
        actor=SYSTEM, code="bx", name="基准区", level=AgencyLevel.DISTRICT, kind=AgencyKind.GOVERNMENT
    )
    agencies = [root] + [
        agency_create(
            actor=SYSTEM,
            code=f"bx-{i:02d}",
            name=f"基准区第{i}局",
            level=AgencyLevel.DISTRICT,
            kind=AgencyKind.GOVERNMENT,
            parent=root,
        )
        for i in range(1, AGENCIES)
    ]
    # No e-mail addresses: the e-mail task claims the notifications and stops (there is no mail server).
    for agency in agencies:
        user = user_model.objects.create_user(username=f"staff-{agency.code}", email="")
        membership_grant(actor=SYSTEM, user=user, agency=agency, role=Role.AGENCY_STAFF)
    for n in (1, 2):
        user = user_model.objects.create_user(username=f"officer-{n}", email="")
        membership_grant(actor=SYSTEM, user=user, agency=root, role=Role.EDITORIAL_OFFICER)
    return [a.pk for a in agencies]


# Bench fixtures, not product writes: one INSERT … SELECT per table, generated by the server. Filing 10⁶
# disputes through ``dispute_file`` would take hours and measure nothing this benchmark is about; what the
# sweep reads and writes only needs the rows to have the shape ``dispute_file`` gives them — a dispute in
# negotiation, a filer and a respondent party, a DisputeStage(negotiation) and the "file" event (audit
# entries, which the sweep only appends to, are left out). ``session_replication_role = replica`` skips the
# deferred foreign-key triggers, which would otherwise queue 4 million checks in memory until the commit;
# the ids used are correct by construction.
BUILD_SQL = [
    (
        "arbitration_dispute",
        """
        INSERT INTO arbitration_dispute (
            id, title, description, kind, urgency, evidence_links, source_ref, stage, state, outcome,
            office_step, stage_started_at, deadline_at, remind_at, reminded_stage, paused_at, pause_reason,
            overdue, created_at, closed_at, duty_list_id, filed_by_id, filing_agency_id, domain_id)
        SELECT g,
               format('%%s：%%s与%%s职责不清（第%%s号）', m.matter, 'A' || (g %% 50), 'B' || (g %% 49), g),
               m.matter || '，两部门均称不属本部门职责，请求明确。',
               CASE WHEN g %% 3 = 0 THEN 'pushback' ELSE 'gap' END, 'normal', '[]'::jsonb, '',
               'negotiation', t.state, CASE WHEN t.state = 'open' THEN '' ELSE 'agreed' END, '',
               t.created, t.deadline, t.deadline - interval '1 day',
               CASE WHEN t.deadline - interval '1 day' <= %(now)s THEN 'negotiation' ELSE '' END,
               NULL, '', false, t.created,
               CASE WHEN t.state = 'closed' THEN t.created + interval '6 days' END,
               NULL, NULL, (%(agencies)s::bigint[])[1 + g %% 50], %(domain)s
        FROM generate_series(1::bigint, %(n)s::bigint) AS g
        CROSS JOIN LATERAL (
            SELECT (ARRAY['背街小巷占道堆物', '小区违章搭建', '餐饮油烟扰民', '井盖缺失', '河道漂浮物',
                          '共享单车乱停放', '夜间施工噪音', '流浪犬只管理'])[1 + g %% 8] AS matter
        ) AS m
        CROSS JOIN LATERAL (
            SELECT CASE WHEN g > %(n)s - %(open)s THEN 'open' ELSE 'closed' END AS state,
                   CASE WHEN g > %(n)s - %(open)s
                        THEN %(now)s - interval '20 days' * ((%(n)s - g)::float / %(open)s)
                        ELSE %(now)s - interval '5 years' * ((%(n)s - g)::float / %(n)s) - interval '30 days'
                   END AS created
        ) AS c
        CROSS JOIN LATERAL (
            SELECT c.state, c.created,
                   CASE WHEN c.state = 'closed' THEN NULL
                        WHEN g %% 10 = 0  -- due: between 1 second and 3 days ago
                        THEN %(now)s - interval '1 second' - interval '3 days' * ((g * 7919) %% 1000 / 1000.0)
                        WHEN g %% 10 = %(reserve)s  -- the kill test's; far enough not to fall due by itself
                        THEN %(now)s + interval '20 days' + interval '1 minute' * (g %% 1000)
                        ELSE %(now)s + interval '1 hour' + interval '15 days' * ((g * 7919) %% 1000 / 1000.0)
                   END AS deadline
        ) AS t
        """,
    ),
    (
        "arbitration_disputeparty",
        """
        INSERT INTO arbitration_disputeparty (dispute_id, agency_id, role)
        SELECT g, (%(agencies)s::bigint[])[1 + g %% 50], 'filer'
        FROM generate_series(1::bigint, %(n)s::bigint) AS g
        UNION ALL
        SELECT g, (%(agencies)s::bigint[])[1 + (g %% 50 + 1 + g %% 49) %% 50], 'respondent'
        FROM generate_series(1::bigint, %(n)s::bigint) AS g
        """,
    ),
    (
        "arbitration_disputestage",
        """
        INSERT INTO arbitration_disputestage (dispute_id, stage, entered_at, deadline_at, by_sweep)
        SELECT id, 'negotiation', created_at, COALESCE(deadline_at, closed_at), false FROM arbitration_dispute
        """,
    ),
    (
        "arbitration_disputeevent",
        """
        INSERT INTO arbitration_disputeevent (
            dispute_id, action, from_stage, to_stage, from_state, to_state, actor_repr, reason, at, actor_id)
        SELECT id, 'file', '', '', '', '', 'system', description, created_at, NULL FROM arbitration_dispute
        """,
    ),
]


def build(now: datetime, disputes: int) -> Build:
    from django.db import connection, transaction

    from arbitration.models import Domain

    report = Build(disputes=disputes)
    started = time.monotonic()
    agencies = people_ensure()
    domain = Domain.objects.get(code="urban")
    params: dict[str, Any] = {
        "now": now,
        "n": disputes,
        "open": disputes // 10,
        "reserve": RESERVE_REMAINDER,
        "agencies": agencies,
        "domain": domain.pk,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table, sql in BUILD_SQL:
            cursor.execute(sql, params)
            report.rows[table] = cursor.rowcount
            print(f"  {table}: {cursor.rowcount:,} rows ({time.monotonic() - started:.0f} s)", flush=True)
        for table, _sql in BUILD_SQL:  # the identity sequences continue after the ids written here
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
    report.seconds = time.monotonic() - started
    started = time.monotonic()
    with connection.cursor() as cursor:  # what autovacuum would do after a bulk load
        for table, _sql in BUILD_SQL:
            cursor.execute(f"VACUUM ANALYZE {table}")
    report.analyze_seconds = time.monotonic() - started
    return report


def due_ids(now: datetime) -> list[int]:
    from arbitration.models import Dispute, DisputeState

    return list(
        Dispute.objects.filter(state=DisputeState.OPEN, deadline_at__lte=now, overdue=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


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


# --- Worker and beat as separate processes -----------------------------------------------------------------


class Children:
    """Celery processes, each leading its own process group (a prefork worker's pool goes with it)."""

    def __init__(self, env: dict[str, str], queue: str) -> None:
        self.env, self.queue = env, queue
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = VAR_DIR / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", CELERY_MAIN, self.queue, *argv],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        # As `make run` starts it: prefork, two processes.
        return self.start(
            name,
            "worker",
            "-l",
            "info",
            "--concurrency",
            str(WORKER_PROCESSES),
            "-n",
            f"{name}-{self.queue}@%h",
            "--without-gossip",
        )

    def beat(self, name: str) -> subprocess.Popen[bytes]:
        schedule = VAR_DIR / f"{name}-schedule"
        return self.start(name, "beat", "-l", "info", "-s", str(schedule), "--pidfile=")

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace") if name in self.logs else ""

    def kill(self, name: str) -> None:
        """``kill -9`` of the whole worker: its main process and its pool at once, as a lost machine."""
        process = self.processes.pop(name)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        # SIGTERM to the main process only: a warm shutdown, in which it stops its own pool (SIGTERM to the
        # pool processes too would kill them mid-task). Then SIGKILL to whatever of the group is left.
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5.0)

    def check(self) -> None:
        """Stop the run when a child has died by itself: waiting on it would only time out."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = "\n".join(self.log(name).splitlines()[-20:])
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)


def wait_for(
    predicate: Callable[[], bool], timeout: float, every: float = 0.5, children: Children | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children is not None:
            children.check()
        if predicate():
            return True
        time.sleep(every)
    return predicate()


SUCCEEDED = re.compile(r"Task arbitration\.tasks\.sweep_disputes\[([0-9a-f-]+)\] succeeded in ([0-9.]+)s")


def sweep_durations(log: str) -> list[float]:
    return [float(seconds) for _id, seconds in SUCCEEDED.findall(log)]


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


# --- The report --------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


@dataclass
class Results:
    info: dict[str, str]
    build: Build
    sweep: SweepResult
    lag: LagResult
    kill: KillResult
    race: RaceResult | None = None


def table(r: Results) -> list[tuple[str, str, str, str]]:
    from arbitration.services.sweep import PER_TRANSACTION
    from arbitration.tasks import sweep_disputes
    from bench.escalation_race import race_rows
    from config.celery_app import VISIBILITY_TIMEOUT_SECONDS, app

    s, lag, k = r.sweep, r.lag, r.kill
    # Batched: a fixed round of statements per transaction of PER_TRANSACTION reminders, not one per reminder.
    remind_bound = 12 * math.ceil(s.reminders / PER_TRANSACTION) + 2
    soft_limit = sweep_disputes.soft_time_limit or 0
    expires = app.conf.beat_schedule["sweep-disputes"]["options"]["expires"]
    lag_bound = SWEEP_SECONDS + max(lag.sweep_seconds or [0.0]) + 1.0
    lag_max = max(lag.lags or [float("nan")])
    waits = [run.waited for run in k.runs if run.waited is not None]
    drained = k.emails_per_second * SWEEP_SECONDS
    worker_runs = [run for run in [*k.runs, k.again] if run is not None and run.finished is not None]
    cut = [run for run in worker_runs if run.outcome == "SoftTimeLimitExceeded"]
    one = s.one_escalation_queries
    one_commits = sum(1 for sql in one if sql == "COMMIT")  # CaptureQueriesContext logs BEGIN and COMMIT too
    redelivery = VISIBILITY_TIMEOUT_SECONDS + 10
    return [
        ("due query uses a partial index on the deadline (no scan of the table)", "yes",
         "yes" if s.index_used else "no",
         verdict(s.index_used)),
        (f"due query (500 of {s.due:,} due ids)", "none set", f"{s.query_ms:.1f} ms", "info"),
        (f"one sweep escalates the {s.due:,} due among {r.build.disputes:,}",
         f"all, ≤ {SWEEP_TARGET_SECONDS:.0f} s",
         f"{s.escalated + 1:,} in {s.seconds:.1f} s (of which {s.db_seconds:.1f} s in `cursor.execute`, "
         f"its baseline: the database's own share)",
         verdict(s.escalated + 1 >= s.due and s.seconds <= SWEEP_TARGET_SECONDS)),
        (f"reminders: {s.reminders:,} due, sent in batches", f"all; statements fixed per {PER_TRANSACTION}",
         f"{s.reminded:,} in {s.remind_seconds:.1f} s, {s.remind_queries:,} statements "
         f"({s.remind_queries / max(s.reminded, 1):.2f} per reminder)",
         verdict(s.reminded == s.reminders and s.remind_queries <= remind_bound)),
        ("one sweep ends before the task's soft time limit", f"≤ {soft_limit} s", f"{s.seconds:.1f} s",
         verdict(s.seconds <= soft_limit)),
        ("escalations per second (one sweep)", "none set", f"{s.rate:.1f}/s", "info"),
        ("statements per escalation (one sweep)", "none set",
         f"{s.queries / max(s.escalated, 1):.2f} ({s.queries:,} for {s.escalated:,})", "info"),
        ("statements of one `escalate_due` (a batch of one)", "fixed",
         f"{len(one) - one_commits * 2} in {one_commits} transactions", "info"),
        (f"{s.due:,} due cleared by", "none set", f"{s.sweeps_to_clear} sweeps (minutes of beat)", "info"),
        ("lag deadline → committed escalation, p50", "none set", f"{percentile(lag.lags, 50):.1f} s", "info"),
        ("lag p99", f"≤ {SWEEP_SECONDS} s + sweep time ({lag_bound:.0f} s)",
         f"{percentile(lag.lags, 99):.1f} s", verdict(percentile(lag.lags, 99) <= lag_bound)),
        ("lag max", f"≤ {lag_bound:.0f} s", f"{lag_max:.1f} s ({lag.escalated} of {lag.disputes} escalated)",
         verdict(lag_max <= lag_bound and lag.escalated == lag.disputes)),
        ("kill -9 mid-sweep: lost escalations", "0",
         f"{k.lost:,} of {k.due:,}",
         verdict(k.lost == 0)),
        ("kill -9 mid-sweep: doubled escalations", "0",
         f"{k.doubled_events} (events), {k.doubled_audit} (audit)",
         verdict(k.doubled_events == 0 and k.doubled_audit == 0)),
        ("kill -9 mid-sweep: half-done escalations", "0", f"{k.half_done}", verdict(k.half_done == 0)),
        ("killed sweep delivered again", f"≤ {redelivery} s after its delivery (visibility + restore check)",
         "never" if k.redelivered_after is None else f"{k.redelivered_after:.0f} s",
         verdict(k.redelivered_after is not None and k.redelivered_after <= redelivery)),
        ("a sweep queued behind the escalations' e-mail tasks waits", f"≤ {expires} s (beat's `expires`)",
         f"up to {max(waits or [float('nan')]):.0f} s", verdict(bool(waits) and max(waits) <= expires)),
        ("worker sweeps cut off by the soft time limit", "0", f"{len(cut)} of {len(worker_runs)}",
         verdict(not cut)),
        ("e-mail tasks one sweep queues, against what the worker drains in a minute",
         "queued ≤ drained (else the queue grows and sweeps wait, then expire, behind it)",
         f"{s.emails_queued:,} queued, {drained:,.0f} drained",
         verdict(s.emails_queued <= drained)),
        ("e-mail tasks per second a worker runs (2 processes ÷ mean task time)", "none set",
         f"{k.emails_per_second:.0f}/s", "info"),
        *(race_rows(r.race) if r.race is not None else []),
    ]  # fmt: skip


def print_report(r: Results) -> None:
    print()
    for key, value in r.info.items():
        print(f"{key:>24}: {value}")
    rows = table(r)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    for row in rows:
        print("  ".join(cell.replace("`", "").ljust(width) for cell, width in zip(row, widths, strict=True)))


def _run_line(name: str, run: SweepRun) -> str:
    ahead = "—" if run.queued_ahead is None else f"{run.queued_ahead:,}"
    waited = "—" if run.waited is None else f"{run.waited:.0f} s"
    ran = "—" if run.ran is None else f"{run.ran:.0f} s"
    escalated = f"{run.escalated:,}" if run.outcome == "succeeded" else "— (not reported)"
    return f"| {name} | {ahead} | {waited} | {ran} | {run.outcome or 'unfinished'} | {escalated} |"


def markdown(r: Results) -> str:
    from arbitration.services.sweep import PER_TRANSACTION
    from bench.escalation_race import race_method

    s, lag, k, b = r.sweep, r.lag, r.kill, r.build
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(s.kinds.items(), key=lambda kv: -kv[1]))
    one = Counter(q.split(None, 1)[0].upper() for q in s.one_escalation_queries)
    runs = [_run_line(f"sweep {i} after the kill", run) for i, run in enumerate(k.runs, start=1)]
    if k.again is not None:
        runs.append(_run_line("the killed sweep, delivered again (waited: since the kill)", k.again))
    lines = [
        DOCS_START,
        f"## Escalation ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
        "",
        "Written by `bench/escalation.py` (`make bench`, or `.venv/bin/python -m bench.escalation`); do not "
        "edit by hand. It builds its own database (`BENCH_ESCALATION_DATABASE_URL`, default "
        "`zhize_bench_escalation`, dropped and rebuilt on every run) and uses its own queue on Redis "
        "database 14 (`BENCH_REDIS_URL`).",
        "",
        *(f"- **{key}**: {value}" for key, value in r.info.items()),
        f"- **build**: {b.disputes:,} disputes with their parties, negotiation stage rows and filing events "
        f"by `INSERT … SELECT generate_series` in {b.seconds:.0f} s, then `VACUUM ANALYZE` in "
        f"{b.analyze_seconds:.0f} s",
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
        *(f"| {what} | {wanted} | {measured} | {result} |" for what, wanted, measured, result in table(r)),
        "",
        "### Method",
        "",
        f"- **Data**: {b.disputes:,} disputes. The oldest {b.disputes - b.disputes // 10:,} are closed "
        "(agreed; no deadline, so outside the partial index); the newest "
        f"{b.disputes // 10:,} are open in negotiation, and every tenth of those ({s.due:,}) passed its "
        "deadline between 1 s and 3 days ago, their ids spread through the open range. 50 agencies with one "
        "staff member each and two editorial officers: every escalation notifies four people; the sweep "
        f"escalates {PER_TRANSACTION} disputes per transaction, writes their {4 * PER_TRANSACTION} messages "
        "in the same transaction and queues one e-mail task for them after it commits, as the product does "
        "(the users have no address: the task claims the rows and stops; there is no mail server to time). "
        f"**Reminders**: then {s.reminders:,} open disputes not due had their reminder time set a minute "
        f"ago, and `remind_due` sent them, {PER_TRANSACTION} per transaction: {s.reminded:,} in "
        f"{s.remind_seconds:.1f} s, {s.remind_queries:,} statements.",
        f"- **One sweep**: `arbitration.services.sweep.sweep()` called in the bench process, against "
        f"PostgreSQL on loopback. Before it, one `escalate_due` of the first due dispute ran under "
        f"`CaptureQueriesContext`: {len(s.one_escalation_queries)} queries "
        f"({', '.join(f'{kind} {n}' for kind, n in one.most_common())}), its notifications after commit "
        "included. The sweep's own statements are counted by an execute wrapper, since "
        f"`CaptureQueriesContext` keeps only the last 9,000: {s.queries:,} statements ({kinds}); "
        f"{s.db_seconds:.1f} s of its {s.seconds:.1f} s were spent in `cursor.execute`, the rest in Python "
        f"(the ORM, the audit hash, publishing e-mail tasks to Redis) and commits. It returned "
        f"`{s.counts}` and queued {s.emails_queued:,} e-mail tasks. The {s.left_after_one:,} still due "
        "after it are the next minutes' work; they were set aside (deadline a month later) so that what "
        "follows measures a quiet system.",
        "- **Lag**: a real `celery worker` (prefork, 2 processes, as `make run` starts it) and `celery "
        f"beat` with the production schedule (sweep every {SWEEP_SECONDS} s; nothing scaled down), on Redis, "
        f"against the same database. {lag.disputes} disputes filed with `dispute_file`, their deadlines then "
        f"set {SWEEP_SECONDS / LAG_DISPUTES:.0f} s apart over one whole sweep period, so that every phase of "
        "beat's minute is sampled. Lag = the time of the `escalate` event (written inside the escalating "
        "transaction, just before it commits) − the deadline. Taken from `DisputeStage.entered_at` instead "
        "(which is the sweep's start time, the same for every escalation of one sweep): p50 "
        f"{percentile(lag.entered_lags, 50):.1f} s, max {max(lag.entered_lags or [float('nan')]):.1f} s. "
        f"Sweeps took {', '.join(f'{x:.2f}' for x in lag.sweep_seconds) or '—'} s.",
        f"- **kill -9**: {k.due:,} more open disputes made due"
        + (
            f" (not 10,000: at {s.escalated + 1:,} escalations a sweep, 10,000 take {s.sweeps_to_clear} "
            "sweeps, a minute of beat's each; what is tested — a kill inside a transaction, Redis's "
            "redelivery, the re-check under lock — does not depend on the count)"
            if k.due < 10_000
            else ""
        )
        + f"; one `sweep_disputes` sent to a fresh worker; "
        f"`SIGKILL` to the worker's whole process group (main process and pool, as a lost machine) "
        f"{k.killed_after:.1f} s after the sweep was delivered, when {k.escalated_at_kill:,} were escalated. "
        "A new worker was started; the next sweep was sent as soon as the one before had finished (beat "
        "would send one a minute; back to back keeps the run short), and the killed sweep came back by "
        "itself when Redis's visibility timeout expired. Lost = due at the start, no "
        "`DisputeStage(editorial_office)` at the end; doubled = more than one `escalate` event or audit "
        "entry for a dispute (a second stage row cannot exist: unique (dispute, stage)); half-done = the "
        "dispute's stage, its stage row, event and audit entry disagree."
        + (
            f" The run's bound (`--kill-minutes`) came with {k.finished_here:,} still due; the bench process "
            "swept those before counting (not lost: the next minutes' work)."
            if k.bound_reached
            else ""
        ),
        *([race_method(r.race)] if r.race is not None else []),
        "",
        "| after the kill | messages ahead when sent | waited in the queue | ran | outcome | escalated |",
        "|---|---:|---:|---:|---|---:|",
        *runs,
        "",
        f"<details><summary>Plan of the due query (EXPLAIN ANALYZE, {s.due:,} due)</summary>",
        "",
        "```",
        s.plan,
        "```",
        "",
        "</details>",
        DOCS_END,
    ]
    return "\n".join(lines)


def write_docs(r: Results) -> None:
    """Replace this script's section, else append it after everything else (the registry's section is
    rewritten by bench/registry.py between its own markers and is left alone)."""
    figures = markdown(r)
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    if DOCS_START in text and DOCS_END in text:
        head, rest = text.split(DOCS_START, 1)
        text = head + figures + rest.split(DOCS_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + figures + "\n"
    DOCS.write_text(text, encoding="utf-8")
    print(f"\nWrote the figures to {DOCS.relative_to(ROOT)}.")


# --- Command line ------------------------------------------------------------------------------------------


@contextmanager
def redis_queue(redis_url: str, queue: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=f"*{queue}*"))  # the queue and kombu's binding sets
        if keys:
            client.delete(*keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--disputes", type=int, default=DISPUTES, help="how many (default %(default)s)")
    parser.add_argument(
        "--kill-due", type=int, default=0, help="disputes due in the kill test (default: 3 sweeps' worth)"
    )
    parser.add_argument(
        "--kill-minutes", type=float, default=5.0, help="bound of the kill test (default %(default)s)"
    )
    parser.add_argument("--no-docs", action="store_true", help=f"do not write {DOCS.relative_to(ROOT)}")
    parser.add_argument("--no-race", action="store_true", help="leave out the race of four workers")
    # `make bench` passes one BENCH_ARGS to both benchmarks: the registry's options are not errors here.
    args, ignored = parser.parse_known_args(argv)
    if ignored:
        print(f"Ignoring options meant for bench/registry.py: {' '.join(ignored)}", flush=True)

    database_url = os.environ.get("BENCH_ESCALATION_DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    queue = f"zhize-bench-escalation-{uuid.uuid4().hex[:8]}"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    env = environment(database_url, redis_url)
    database_reset(database_url, drop=True)  # refuses a name without "bench"; every run starts afresh
    configure(env, queue)
    migrate()
    from django.db import connections
    from django.utils import timezone

    print(f"Building {args.disputes:,} disputes …", flush=True)
    built = build(timezone.now(), args.disputes)
    info = machine()
    children = Children(env, queue)
    with redis_queue(redis_url, queue) as redis:
        try:
            print("One sweep in this process …", flush=True)
            swept = measure_sweep(redis, queue)
            redis.delete(queue)  # its e-mail tasks: the lag run measures the sweep, not their backlog
            print(f"Lag: worker and beat, sweep every {SWEEP_SECONDS} s …", flush=True)
            connections.close_all()
            lag = measure_lag(children)
            print("kill -9 in the middle of a sweep …", flush=True)
            redis.delete(queue)
            # Sweeping 10,000 takes 10⁴ / (escalations per sweep) minutes of sweeps; unless told otherwise,
            # the kill test uses what two sweeps can do, which keeps the run under ten minutes.
            kill_due = args.kill_due or min(10_000, max(500, 2 * (swept.escalated + 1)))
            killed = kill_test(
                children,
                redis,
                queue,
                due=kill_due,
                expected_per_sweep=swept.escalated,
                limit=args.kill_minutes * 60,
            )
            race = None
            if not args.no_race:
                from bench.escalation_race import race_test

                print(f"{RACE_DUE:,} due, 4 workers racing, kill -9 of a worker and of Redis …", flush=True)
                race = race_test(env, queue, due=RACE_DUE, reminders=REMINDERS, limit=args.kill_minutes * 60)
        finally:
            children.stop_all()
    load_at_end = " ".join(f"{v:.2f}" for v in os.getloadavg())
    info["load average at start"] += f" / at end {load_at_end}"
    results = Results(info=info, build=built, sweep=swept, lag=lag, kill=killed, race=race)
    print_report(results)
    if not args.no_docs:
        write_docs(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
