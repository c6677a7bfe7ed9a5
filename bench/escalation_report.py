"""What bench/escalation.py prints and writes into docs/benchmarks.md."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bench.common import (
    docs_section_write,
    verdict,
)
from bench.escalation_base import (
    DOCS,
    DOCS_END,
    DOCS_START,
    LAG_DISPUTES,
    SWEEP_SECONDS,
    SWEEP_TARGET_SECONDS,
    percentile,
)
from bench.escalation_build import Build
from bench.escalation_phases import KillResult, LagResult, SweepResult, SweepRun
from bench.escalation_race import RaceResult


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
    docs_section_write(DOCS, DOCS_START, DOCS_END, markdown(r))
