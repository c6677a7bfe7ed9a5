"""List benchmark: the dispute list (/disputes/) and the dispatchers' grievance queue (/grievances/queue/)
at 1,000,000 disputes and 1,000,000 grievances, against the raw SQL behind each page.

Run ``make bench`` (or ``.venv/bin/python -m bench.lists``; ``--help`` for options). In one run it

1. builds its own database (``BENCH_LISTS_DATABASE_URL``, default
   ``postgres://postgres@127.0.0.1:5432/zhize_bench_lists``; kept between runs, ``--rebuild`` starts again)
   with the other benchmarks' fast builders: 1,000,000 grievances over two years by COPY
   (``bench/dashboard_data.py``; ~2 % of them wait in the dispatchers' queue) and 1,000,000 disputes by
   ``INSERT … SELECT generate_series`` (``bench/escalation.py``; the newest 100,000 open). Then, so that the
   list's filters have something to find, the open disputes are spread over the three stages (30 % with the
   editorial office at one of its steps, 10 % with leadership, half of those overdue), 1 in 17 is urgent
   and 1 in 30 paused; the waiting grievances get three router suggestions each, as intake leaves them;
2. times each page in-process with Django's test ``Client`` (sessions, middleware, view, template),
   signed in as the people who use it — an editorial officer (every dispute), the staff of one agency
   (its own disputes) and a hotline dispatcher (the queue) — on the first page, filtered pages and a page
   95 % deep: p50/p95/p99 over n requests, and the queries of one request;
3. times the baseline of every scenario in the same run: the SELECT statements that one request of the
   page ran, captured and executed again as raw SQL through the same connection, without the ORM,
   the view or the template;
4. prints target against measured (p99 ≤ 50 ms) and writes the ``## Lists`` section of
   ``docs/benchmarks.md``, with the plan of the slowest statement.

No number here is asserted by the test suite: timings belong to a machine, not to the code.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/lists.py), not as a module
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402  (after the sys.path fix)
    Timing,
    database_reset,
    docs_section_write,
    machine,
    verdict,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/zhize_bench_lists"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START = "<!-- bench/lists.py writes from here -->"
DOCS_END = "<!-- bench/lists.py writes up to here -->"
GRIEVANCES = 1_000_000
DISPUTES = 1_000_000
TARGET_MS = 50.0
PAGE_SIZE = 50  # both views'
DEEP = 0.95  # how deep "a page deep in the list" is

OFFICER = "bench-officer"  # bench/dashboard_data.py's editorial officer
STAFF = "staff-bx-01"  # bench/escalation.py's staff member of one of its 50 agencies
DISPATCHER = "bench-dispatcher"  # added here


def configure(database_url: str) -> None:
    """Local settings against the benchmark's database, DEBUG off (as in production: no query log)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["ZHIZE_VAR_DIR"] = str(ROOT / "var" / "bench-lists")  # its own file broker and cache
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


# --- Building ----------------------------------------------------------------------------------------------


@dataclass
class Build:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# Bench fixtures, not product writes (see the builders' docstrings for why). Every row still satisfies the
# tables' constraints: only open disputes change stage, a paused one has its paused_at, closed ones keep
# their outcome. Ids ending in 0 and 5 are left as bench/escalation.py made them (its due and reserve rows).
SPREAD_DISPUTES_SQL = """
UPDATE arbitration_dispute SET
    stage = CASE WHEN id %% 10 IN (1, 2, 3) THEN 'editorial_office' WHEN id %% 10 = 4 THEN 'leadership'
                 ELSE stage END,
    office_step = CASE WHEN id %% 10 IN (1, 2, 3) THEN (ARRAY['assess', 'review', 'coordinate'])[id %% 10]
                       ELSE '' END,
    deadline_at = CASE WHEN id %% 20 = 4 THEN %(now)s - interval '2 days' ELSE deadline_at END,
    overdue = (id %% 20 = 4),
    urgency = CASE WHEN id %% 17 = 0 THEN 'urgent' ELSE urgency END,
    state = CASE WHEN id %% 30 = 7 THEN 'paused' ELSE state END,
    paused_at = CASE WHEN id %% 30 = 7 THEN %(now)s - interval '1 day' END,
    pause_reason = CASE WHEN id %% 30 = 7 THEN '等待现场核查' ELSE '' END
WHERE state = 'open'
"""

SUGGEST_SQL = """
UPDATE grievances_grievance AS g SET suggestions = (
    SELECT jsonb_agg(jsonb_build_object(
        'duty_id', NULL, 'revision_id', NULL, 'duty_code', format('BD-%s-%s', g.id % 15, n),
        'duty_title', g.category || '职责事项' || n, 'duty_list', '基准区职责清单',
        'agency_id', a.id, 'agency_name', a.name, 'confidence', 0.9 / n,
        'matched_words', jsonb_build_array(g.category), 'area_rule', '', 'precedent_ruling', NULL,
        'learned_words', '[]'::jsonb, 'source', 'list') ORDER BY n)
    FROM generate_series(1, 3) AS n
    JOIN duty_lists_agency AS a ON a.code = format('bd-%s', lpad((1 + (g.id + n) % 40)::text, 2, '0'))
)
WHERE g.state IN ('received', 'returned', 'reopened')
"""


def build(grievances: int, disputes: int, seed: int) -> Build:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from bench import dashboard_data, escalation
    from core.actors import SYSTEM
    from duty_lists.models import Agency, Role
    from duty_lists.services.agencies import membership_grant

    report = Build()
    started = time.monotonic()
    now = timezone.now()
    print(f"  {grievances:,} grievances by COPY (bench/dashboard_data.py) …", flush=True)
    built = dashboard_data.build(grievances, 0, seed, now)
    report.rows.update({k: v for k, v in built.rows.items() if v})
    print(f"  {disputes:,} disputes by INSERT … SELECT (bench/escalation.py) …", flush=True)
    report.rows.update(escalation.build(now, disputes).rows)
    with connection.cursor() as cursor:
        cursor.execute(SPREAD_DISPUTES_SQL, {"now": now})
        report.rows["open disputes spread over stages"] = cursor.rowcount
        cursor.execute(SUGGEST_SQL)
        report.rows["queued grievances given suggestions"] = cursor.rowcount
        for table in ("arbitration_dispute", "grievances_grievance"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    user = get_user_model().objects.create_user(username=DISPATCHER, email="")
    membership_grant(actor=SYSTEM, user=user, agency=Agency.objects.get(code="bd"), role=Role.DISPATCHER)
    report.seconds = time.monotonic() - started
    return report


def sizes() -> tuple[int, int]:
    from arbitration.models import Dispute
    from grievances.models import Grievance

    return Grievance.objects.count(), Dispute.objects.count()


# --- Measuring ---------------------------------------------------------------------------------------------


def repeat(call: Callable[[], Any], requests: int, warmup: int) -> Timing:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return Timing(samples)


@dataclass
class Scenario:
    name: str
    who: str
    url: str
    page: Timing | None = None
    baseline: Timing | None = None
    queries: int = 0
    rows: int = 0  # the list's rows on the page
    statements: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")


@dataclass
class Results:
    info: dict[str, str]
    build: Build | None = None
    scenarios: list[Scenario] = field(default_factory=list)
    plan: str = ""


def deep_page(count: int) -> int:
    return max(1, math.ceil(math.ceil(count / PAGE_SIZE) * DEEP))


def scenarios() -> list[Scenario]:
    from django.contrib.auth import get_user_model

    from arbitration.models import Dispute, DisputeParty, DisputeState
    from duty_lists import permissions
    from grievances.models import QUEUE_STATES, Grievance

    staff = get_user_model().objects.get(username=STAFF)
    own = DisputeParty.objects.filter(agency_id__in=permissions.agencies_of(staff)).values("dispute_id")
    open_disputes = Dispute.objects.exclude(state=DisputeState.CLOSED)
    deep_open = deep_page(open_disputes.count())
    deep_own = deep_page(open_disputes.filter(pk__in=own).count())
    deep_queue = deep_page(Grievance.objects.filter(state__in=QUEUE_STATES).count())
    return [
        Scenario("officer: open disputes (the default), first page", OFFICER, "/disputes/"),
        Scenario(f"officer: open disputes, page {deep_open:,} (95 % deep)", OFFICER,
                 f"/disputes/?page={deep_open}"),
        Scenario("officer: stage = editorial office", OFFICER,
                 "/disputes/?state=open&stage=editorial_office"),
        Scenario("officer: overdue only", OFFICER, "/disputes/?state=open&overdue=on"),
        Scenario("officer: closed, first page", OFFICER, "/disputes/?state=closed"),
        Scenario("officer: all, first page", OFFICER, "/disputes/?state=all"),
        Scenario("agency staff: own open disputes, first page", STAFF, "/disputes/"),
        Scenario(f"agency staff: own open disputes, page {deep_own:,} (95 % deep)", STAFF,
                 f"/disputes/?page={deep_own}"),
        Scenario("agency staff: own, all, first page", STAFF, "/disputes/?state=all"),
        Scenario("dispatcher: grievance queue, first page", DISPATCHER, "/grievances/queue/"),
        Scenario(f"dispatcher: grievance queue, page {deep_queue:,} (95 % deep)", DISPATCHER,
                 f"/grievances/queue/?page={deep_queue}"),
    ]  # fmt: skip


def _captured_selects(get: Callable[[], Any]) -> tuple[int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        get()
    statements = [q["sql"] for q in captured.captured_queries]
    return len(statements), [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def raw_sql(statements: list[str]) -> Callable[[], None]:
    """The page's SELECTs as one request ran them (parameters already inlined by the driver), executed
    again through the same connection and fetched: the database's share of the page."""
    from django.db import connection

    def run() -> None:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    return run


def slowest(statements: list[str]) -> tuple[float, str]:
    from django.db import connection

    worst = (0.0, "")
    with connection.cursor() as cursor:
        for sql in statements:
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            worst = max(worst, ((time.perf_counter() - started) * 1000, sql))
    return worst


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def measure(results: Results, requests: int, baseline_runs: int, only: str = "") -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    import config.wsgi  # noqa: F401  (what gunicorn imports)

    users = get_user_model().objects
    clients: dict[str, Client] = {}
    for username in (OFFICER, STAFF, DISPATCHER):
        clients[username] = Client(HTTP_HOST="localhost")
        clients[username].force_login(users.get(username=username))
    results.scenarios = [s for s in scenarios() if only in s.name]
    for scenario in results.scenarios:

        def get(client: Client = clients[scenario.who], url: str = scenario.url) -> Any:
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"GET {url} answered {response.status_code}")
            return response

        print(f"  {scenario.name} …", flush=True)
        response = get()
        html = response.content.decode()
        scenario.rows = html.count("<tr class=") + html.count('<li class="g-queue__item')
        scenario.page = repeat(get, requests, warmup=3)
        scenario.queries, scenario.statements = _captured_selects(get)
        scenario.baseline = repeat(raw_sql(scenario.statements), baseline_runs, warmup=1)
        scenario.slowest = slowest(scenario.statements)
    worst = max(results.scenarios, key=lambda s: s.slowest[0])
    results.plan = f"-- {worst.name}\n{worst.slowest[1]}\n\n{explain(worst.slowest[1])}"


# --- Reporting ---------------------------------------------------------------------------------------------


def table(r: Results) -> list[tuple[str, str, str, str]]:
    rows = []
    for s in r.scenarios:
        assert s.page is not None and s.baseline is not None
        ratio = s.page.p50 / s.baseline.p50 if s.baseline.p50 else float("inf")
        rows.append(
            (
                f"{s.name}: p99",
                f"≤ {TARGET_MS:.0f} ms",
                f"{s.page.p99:.1f} ms",
                verdict(s.page.p99 <= TARGET_MS),
            )
        )
        rows.append(
            (f"  its raw SQL ({len(s.statements)} SELECTs): p50 / p99", "(baseline)",
             f"{s.baseline.p50:.1f} / {s.baseline.p99:.1f} ms; page p50 = {ratio:.1f}× it", "info")
        )  # fmt: skip
    return rows


def latency_lines(r: Results) -> list[str]:
    lines = []
    for s in r.scenarios:
        assert s.page is not None and s.baseline is not None
        for name, t, extra in (
            (s.name, s.page, f" {s.queries} | {s.rows} |"),
            ("  raw SQL of it", s.baseline, " — | — |"),
        ):
            lines.append(
                f"| {name} | {len(t.samples)} | {t.p50:.1f} | {t.p95:.1f} | {t.p99:.1f} | {t.max:.1f} |"
                + extra
            )
    return lines


def markdown(r: Results) -> str:
    b = r.build
    build_line = (
        f"- **build**: {', '.join(f'{n:,} {what}' for what, n in b.rows.items())} in {b.seconds:.0f} s"
        if b
        else "- **build**: kept from an earlier run (`--rebuild` to time it)"
    )
    return "\n".join(
        [
            DOCS_START,
            f"## Lists ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
            "",
            "Written by `bench/lists.py` (`make bench`, or `.venv/bin/python -m bench.lists`); do not edit "
            "by hand. Its database is `BENCH_LISTS_DATABASE_URL` (default `zhize_bench_lists`).",
            "",
            *(f"- **{key}**: {value}" for key, value in r.info.items()),
            build_line,
            "",
            "| target | wanted | measured | |",
            "|---|---|---|---|",
            *(
                f"| {what.strip()} | {wanted} | {measured} | {result} |"
                for what, wanted, measured, result in table(r)
            ),
            "",
            "Latency in ms; the page's n timed requests after 3 warm-up ones, the raw SQL's after 1. "
            "Queries: all statements of one request (session and user included); rows: the list's rows on "
            "the page.",
            "",
            "| request | n | p50 | p95 | p99 | max | queries | rows |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *latency_lines(r),
            "",
            "### Method",
            "",
            "- **Data**: 1,000,000 grievances from `bench/dashboard_data.py` (two years, 40 agencies; ~2 % "
            "never dispatched: the queue), the waiting ones with three router suggestions each; 1,000,000 "
            "disputes from `bench/escalation.py` (50 agencies, each party to ~4 % of them; the newest "
            "100,000 open), the open ones spread over the stages: 30 % with the editorial office, 10 % with "
            "leadership (half of those overdue), 1 in 17 urgent, 1 in 30 paused.",
            "- **Page**: `GET` through Django's whole stack in-process (`django.test.Client`, sessions, "
            "middleware, the view, the template), signed in as an editorial officer (`bench-officer`, sees "
            "every dispute), the staff of one agency (`staff-bx-01`, sees the disputes their agency is a "
            "party to) or a hotline dispatcher (`bench-dispatcher`, the queue). 50 rows a page; the deep "
            "page is the one 95 % of the way through the list.",
            "- **Baseline**: the SELECT statements one request of the page ran (captured with "
            "`CaptureQueriesContext`, parameters inlined), executed again as raw SQL on the same "
            "connection and fetched, in the same run: what the database costs the page; the rest is "
            "Python (ORM, view, template).",
            "- **How the pages read a million rows** (`arbitration/views/paging.py`): the count is exact "
            "when PostgreSQL's planner expects at most 20,000 rows at a low cost, else the page says "
            '"about N" with the planner\'s estimate (whether a next page exists is read, not estimated); a '
            "page reads its ids from an index alone (`dispute_unclosed_by_deadline`, "
            "`dispute_closed_by_time`, `grievance_queue_by_deadline`, `party_agency_dispute`), then those "
            "rows by primary key; the working days to every deadline of a page come from one read of the "
            "calendar; labels, links and dates are worked out in the view, not looked up by the template.",
            "",
            "<details><summary>Plan of the slowest statement of any scenario (EXPLAIN ANALYZE)</summary>",
            "",
            "```",
            r.plan,
            "```",
            "",
            "</details>",
            DOCS_END,
        ]
    )


def write_docs(r: Results) -> None:
    docs_section_write(DOCS, DOCS_START, DOCS_END, markdown(r))


def report(r: Results) -> str:
    lines = [f"{key:>24}: {value}" for key, value in r.info.items()]
    rows = table(r)
    widths = [max(len(row[i]) for row in rows) for i in range(4)] if rows else [0, 0, 0, 0]
    lines.append("")
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


# --- Command line ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grievances", type=int, default=GRIEVANCES, help="how many (default %(default)s)")
    parser.add_argument("--disputes", type=int, default=DISPUTES, help="how many (default %(default)s)")
    parser.add_argument("--requests", type=int, default=200, help="timed page requests per scenario")
    parser.add_argument("--baseline-runs", type=int, default=200, help="timed raw-SQL runs per scenario")
    parser.add_argument(
        "--rebuild", action="store_true", help="drop the benchmark database and build it again"
    )
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--only", default="", help="only the scenarios whose name contains this")
    parser.add_argument("--no-docs", action="store_true", help=f"do not write {DOCS.relative_to(ROOT)}")
    args, ignored = parser.parse_known_args(argv)  # `make bench` passes one BENCH_ARGS to every benchmark
    if ignored:
        print(f"Ignoring options meant for other benchmarks: {' '.join(ignored)}", flush=True)

    database_url = os.environ.get("BENCH_LISTS_DATABASE_URL") or DEFAULT_DATABASE_URL
    database_reset(database_url, drop=args.rebuild)  # refuses a name without "bench"
    configure(database_url)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    built = None
    if sizes() != (args.grievances, args.disputes):
        if any(sizes()):
            connections.close_all()
            database_reset(database_url, drop=True)
            call_command("migrate", verbosity=0, interactive=False)
        print(f"Building {args.grievances:,} grievances and {args.disputes:,} disputes …", flush=True)
        built = build(args.grievances, args.disputes, args.seed)
    info = machine()
    results = Results(info=info, build=built)
    print("The pages and their raw SQL …", flush=True)
    measure(results, args.requests, args.baseline_runs, args.only)
    info["load average at start"] += f" / at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    print()
    print(report(results))
    print("\n" + "\n".join(latency_lines(results)))
    if not args.no_docs:
        write_docs(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
