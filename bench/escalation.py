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

Its parts: ``escalation_base`` (constants, environment, the Celery children), ``escalation_build`` (the
1,000,000 disputes), ``escalation_phases`` (the sweep, the lag, the kill), ``escalation_race`` (four workers
racing, a worker and Redis killed) and ``escalation_report`` (the table and docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/escalation.py), not as a module
    sys.path.insert(0, str(ROOT))


from bench.common import database_reset, machine  # noqa: E402
from bench.escalation_base import (  # noqa: E402  (after the sys.path fix)
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    DISPUTES,
    DOCS,
    RACE_DUE,
    REMINDERS,
    ROOT,
    SWEEP_SECONDS,
    VAR_DIR,
    Children,
    configure,
    environment,
    migrate,
    redis_queue,
)
from bench.escalation_build import build  # noqa: E402
from bench.escalation_phases import kill_test, measure_lag, measure_sweep  # noqa: E402
from bench.escalation_report import Results, print_report, write_docs  # noqa: E402

__all__ = ["build", "main"]  # bench/lists.py builds its disputes with build()


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
