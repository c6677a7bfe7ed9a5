"""Dashboard benchmark: /dashboard/ at 1,000,000 grievances, read from the daily summary, against the same
figures computed by ``grievance_stats`` straight from the grievances table.

Run ``make bench`` (or ``.venv/bin/python -m bench.dashboard``; ``--help`` for options). In one run it

1. builds its own database (``BENCH_DASHBOARD_DATABASE_URL``; else ``BENCH_DATABASE_URL``'s server and
   name + ``_dashboard``; default ``postgres://postgres@127.0.0.1:5432/zhize_bench_dashboard``), migrates it
   and fills it by COPY (bench/dashboard_data.py): 1,000,000 grievances over two years with their lead work
   orders and ratings, 5,000 disputes with parties, stages, rulings and follow-ups; kept for the next run
   (``--rebuild`` starts again);
2. builds the summary with the product's full rebuild (``summary_rebuild_run``) and times it; times the
   beat refresh after 1,000 grievances of the last month changed;
3. times the page in-process with Django's test ``Client`` (middleware, view, template; an officer and an
   agency's staff), p50/p95/p99 over n requests per scenario, and counts its queries;
4. times the baseline, the same grievance figures from ``grievance_stats`` (overall, per day, category,
   agency and week), and checks that both give the same figures;
5. prints target against measured and writes the ``## Dashboard`` section of ``docs/benchmarks.md``.

No number here is asserted by the test suite: timings belong to a machine, not to the code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/dashboard.py), not as a module
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402  (after the sys.path fix)
    Timing,
    database_reset,
    docs_section_write,
    machine,
    verdict,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/zhize_bench_dashboard"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START = "<!-- bench/dashboard.py writes from here -->"
DOCS_END = "<!-- bench/dashboard.py writes up to here -->"
GRIEVANCES = 1_000_000
DISPUTES = 5_000
TARGET_MS = 300.0
CHANGED = 1_000  # grievances changed between two refreshes (five minutes of a busy hotline)


def database_url_of(environ: Any) -> str:
    """BENCH_DASHBOARD_DATABASE_URL; else BENCH_DATABASE_URL's server with "_dashboard" after its database's
    name (BENCH_DATABASE_URL itself is bench/registry.py's, kept between runs: never ours to drop); else
    the default."""
    if url := environ.get("BENCH_DASHBOARD_DATABASE_URL"):
        return str(url)
    if url := environ.get("BENCH_DATABASE_URL"):
        base, _slash, name = str(url).rstrip("/").rpartition("/")
        name, question, query = name.partition("?")
        return f"{base}/{name}_dashboard{question}{query}"
    return DEFAULT_DATABASE_URL


def configure(database_url: str) -> None:
    """Local settings against the benchmark's database, DEBUG off (as in production: no query log)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["ZHIZE_VAR_DIR"] = str(ROOT / "var" / "bench-dashboard")  # its own file broker and cache
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def grievance_count() -> int:
    from grievances.models import Grievance

    return Grievance.objects.count()


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
    since: date
    until: date
    agency: int | None = None
    page: Timing | None = None
    baseline: Timing | None = None
    queries: int = 0
    equal: bool | None = None

    def params(self) -> dict[str, str]:
        params = {"since": self.since.isoformat(), "until": self.until.isoformat()}
        if self.agency is not None:
            params["agency"] = str(self.agency)
        return params


@dataclass
class Results:
    info: dict[str, str]
    build: Any = None
    rebuild_seconds: float = 0.0
    summary_rows: int = 0
    quiet_refresh_seconds: float = 0.0
    busy_refresh_seconds: float = 0.0
    busy_refresh: dict[str, Any] = field(default_factory=dict)
    export: Timing | None = None
    scenarios: list[Scenario] = field(default_factory=list)
    plan: str = ""


def full_rebuild() -> float:
    from core.actors import SYSTEM
    from grievances.services import summary

    job = summary.summary_rebuild_request(actor=SYSTEM, reason="bench", enqueue=False)
    started = time.perf_counter()
    last = [0.0]

    def progress(job: Any) -> None:
        if time.perf_counter() - last[0] > 5:
            last[0] = time.perf_counter()
            print(f"  summary: {job.days_done}/{job.days_total} days", flush=True)

    summary.summary_rebuild_run(job_id=job.pk, progress=progress)
    return time.perf_counter() - started


def refreshes(results: Results) -> None:
    """The beat refresh twice: with nothing changed but today, then after CHANGED grievances of the last 30
    days were touched (their days are rebuilt)."""
    from django.db import connection
    from django.utils import timezone

    from grievances.services import summary

    summary.summary_refresh()  # catches up with the rebuild's own overlap
    started = time.perf_counter()
    summary.summary_refresh()
    results.quiet_refresh_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE grievances_grievance SET updated_at = %s WHERE id IN (SELECT id "
            "FROM grievances_grievance WHERE received_at >= %s ORDER BY md5(id::text) LIMIT %s)",
            [timezone.now(), timezone.now() - timedelta(days=30), CHANGED],
        )
    started = time.perf_counter()
    results.busy_refresh = summary.summary_refresh().as_dict()
    results.busy_refresh_seconds = time.perf_counter() - started


def baseline(scenario: Scenario) -> Callable[[], list[Any]]:
    """The dashboard's grievance figures, computed by grievance_stats from the grievances table."""
    from django.utils import timezone

    from grievances.selectors import grievance_stats

    tz = timezone.get_default_timezone()
    window: dict[str, Any] = {
        "since": datetime.combine(scenario.since, datetime.min.time(), tzinfo=tz),
        "until": datetime.combine(scenario.until + timedelta(days=1), datetime.min.time(), tzinfo=tz),
        "agency_id": scenario.agency,
    }

    def run() -> list[Any]:
        return [
            grievance_stats(group_by=group, **window) for group in (None, "day", "category", "agency", "week")
        ]

    return run


def same_figures(scenario: Scenario, computed: list[Any]) -> bool:
    from grievances.dashboard.figures import grievance_dashboard

    dash = grievance_dashboard(
        since=scenario.since,
        until=scenario.until,
        agencies=None if scenario.agency is None else {scenario.agency},
    )

    def plain(figures: Any) -> dict[str, Any]:
        return {k: v for k, v in asdict(figures).items() if k not in ("key", "label")}

    overall, _day, by_category, by_agency, _week = computed
    return (
        plain(dash.overall) == plain(overall[0])
        and {f.key: plain(f) for f in dash.per_category} == {f.key: plain(f) for f in by_category}
        and {f.key: plain(f) for f in dash.per_agency} == {f.key: plain(f) for f in by_agency}
    )


def measure(results: Results, requests: int, baseline_runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    import config.wsgi  # noqa: F401  (what gunicorn imports)
    from duty_lists.models import Agency

    users = get_user_model().objects
    clients = {}
    for username in ("bench-officer", "bench-staff"):
        clients[username] = Client()
        clients[username].force_login(users.get(username=username))
    today = timezone.localdate()
    own = Agency.objects.get(code="bd-01").pk
    results.scenarios = [
        Scenario("officer, last 90 days (the default)", "bench-officer", today - timedelta(days=89), today),
        Scenario("officer, last 365 days", "bench-officer", today - timedelta(days=364), today),
        Scenario("officer, both years", "bench-officer", today - timedelta(days=729), today),
        Scenario("officer, one agency, 365 days", "bench-officer", today - timedelta(days=364), today, own),
        Scenario("agency staff (own agency), 90 days", "bench-staff", today - timedelta(days=89), today, own),
    ]
    for scenario in results.scenarios:
        client = clients[scenario.who]
        url = f"/dashboard/?{urlencode(scenario.params())}"

        def get(client: Any = client, url: str = url) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"GET {url} answered {response.status_code}")

        print(f"  {scenario.name} …", flush=True)
        scenario.page = repeat(get, requests, warmup=3)
        with CaptureQueriesContext(connection) as captured:
            get()
        scenario.queries = len(captured.captured_queries)
        run = baseline(scenario)
        scenario.baseline = repeat(run, baseline_runs, warmup=1)
        scenario.equal = same_figures(scenario, run())
    officer = clients["bench-officer"]
    params = urlencode(results.scenarios[1].params())
    results.export = repeat(lambda: officer.get(f"/dashboard/export/agency_rates/?{params}"), 10, warmup=1)
    results.plan = explain(results.scenarios[1])


def explain(scenario: Scenario) -> str:
    from django.db import connection

    from grievances.dashboard.figures import SUMS, summary_rows

    rows = summary_rows(since=scenario.since, until=scenario.until).values("agency_id").annotate(**SUMS)
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


# --- Reporting ---------------------------------------------------------------------------------------------


def table(r: Results) -> list[tuple[str, str, str, str]]:
    rows = []
    for s in r.scenarios:
        assert s.page is not None and s.baseline is not None
        rows.append(
            (f"/dashboard/, {s.name}: p99", f"≤ {TARGET_MS:.0f} ms", f"{s.page.p99:.0f} ms",
             verdict(s.page.p99 <= TARGET_MS))
        )  # fmt: skip
        rows.append(
            (f"the same grievance figures by grievance_stats ({s.name}): p50", "(baseline)",
             f"{s.baseline.p50:.0f} ms, {s.baseline.p50 / s.page.p50:.0f}× the page", "info")
        )  # fmt: skip
        rows.append(("summary's figures = grievance_stats'", "equal", "equal" if s.equal else "DIFFER",
                     verdict(bool(s.equal))))  # fmt: skip
    limit = "< the task's soft limit, 50 s"
    rows += [
        ("full rebuild of the summary", "none set", f"{r.rebuild_seconds:.0f} s ({r.summary_rows:,} rows)",
         "info"),
        ("beat refresh, nothing changed but today", limit, f"{r.quiet_refresh_seconds:.2f} s",
         verdict(r.quiet_refresh_seconds < 50)),
        (f"beat refresh after {CHANGED:,} grievances changed", limit,
         f"{r.busy_refresh_seconds:.2f} s ({r.busy_refresh.get('days', 0)} days rebuilt)",
         verdict(r.busy_refresh_seconds < 50)),
    ]  # fmt: skip
    if r.export:
        rows.append(
            ("Excel export of one chart (365 days): p50", "none set", f"{r.export.p50:.0f} ms", "info")
        )
    return rows


def latency_lines(r: Results) -> list[str]:
    lines = []
    for s in r.scenarios:
        assert s.page is not None and s.baseline is not None
        for name, t in ((f"page: {s.name}", s.page), (f"baseline: {s.name}", s.baseline)):
            lines.append(
                f"| {name} | {len(t.samples)} | {t.p50:.0f} | {t.p95:.0f} | {t.p99:.0f} | {t.max:.0f} |"
                + (f" {s.queries} |" if name.startswith("page") else " — |")
            )
    return lines


def markdown(r: Results) -> str:
    b = r.build
    build_line = (
        f"- **build**: {', '.join(f'{n:,} {what}' for what, n in b.rows.items())} by COPY in "
        f"{b.seconds:.0f} s, then `VACUUM ANALYZE` in {b.analyze_seconds:.0f} s"
        if b
        else "- **build**: kept from an earlier run (`--rebuild` to time it)"
    )
    return "\n".join(
        [
            DOCS_START,
            f"## Dashboard ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
            "",
            "Written by `bench/dashboard.py` (`make bench`, or `.venv/bin/python -m bench.dashboard`); "
            "do not edit by hand. Its database is `BENCH_DASHBOARD_DATABASE_URL` (default "
            "`zhize_bench_dashboard`).",
            "",
            *(f"- **{key}**: {value}" for key, value in r.info.items()),
            build_line,
            "",
            "| target | wanted | measured | |",
            "|---|---|---|---|",
            *(
                f"| {what} | {wanted} | {measured} | {result} |"
                for what, wanted, measured, result in table(r)
            ),
            "",
            "Latency in ms; the page's n timed requests after 3 warm-up ones, the baseline's after 1.",
            "",
            "| request | n | p50 | p95 | p99 | max | queries |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *latency_lines(r),
            "",
            "### Method",
            "",
            "- **Data** (bench/dashboard_data.py): received times spread evenly over two years (~1,370 a "
            "day); 15 categories (the TipDM board's top-level topics, Zipf-distributed); 40 agencies, each "
            "category led by three of them (82/14/4 %) plus 3 % misrouted to any agency; ~2 % never "
            "dispatched, 1 % cancelled, ~10 % returned once, ~93 % of the accepted resolved, 60 % of those "
            "rated, a third of the unhappy redone. The summary holds a row per day × agency first asked × "
            "category.",
            "- **Page**: `GET /dashboard/` through Django's whole stack in-process (sessions, middleware, "
            "the view, the template with ten charts' tables and their json_script data), signed in. "
            "Grievance figures come from three grouped sums over the summary (per day, category, agency); "
            "the dispute figures are live queries over the disputes.",
            "- **Baseline**: `grievance_stats` for the same window and agency, grouped as the page needs "
            "them (overall, per day, per category, per agency, per week), over the grievances, their lead "
            "orders and their ratings; no rendering. Both give the same figures (checked per scenario).",
            f"- **Refresh**: `summary_refresh()` as beat runs it; the busy run after {CHANGED:,} grievances "
            "of the last 30 days had their `updated_at` touched, so that their days are rebuilt.",
            "",
            "<details><summary>Plan of the per-agency sum, 365 days (EXPLAIN ANALYZE)</summary>",
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


def print_report(r: Results) -> None:
    print()
    for key, value in r.info.items():
        print(f"{key:>24}: {value}")
    print()
    rows = table(r)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print("\n" + "\n".join(latency_lines(r)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grievances", type=int, default=GRIEVANCES, help="how many (default %(default)s)")
    parser.add_argument("--disputes", type=int, default=DISPUTES, help="how many (default %(default)s)")
    parser.add_argument("--requests", type=int, default=50, help="timed page requests per scenario")
    parser.add_argument("--baseline-runs", type=int, default=3, help="timed baseline runs per scenario")
    parser.add_argument(
        "--rebuild", action="store_true", help="drop the benchmark database and build it again"
    )
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--no-docs", action="store_true", help=f"do not write {DOCS.relative_to(ROOT)}")
    args, ignored = parser.parse_known_args(argv)  # `make bench` passes one BENCH_ARGS to every benchmark
    if ignored:
        print(f"Ignoring options meant for other benchmarks: {' '.join(ignored)}", flush=True)

    database_url = database_url_of(os.environ)
    database_reset(database_url, drop=args.rebuild)
    configure(database_url)
    from django.core.management import call_command
    from django.utils import timezone

    from bench import dashboard_data

    call_command("migrate", verbosity=0, interactive=False)
    built = None
    if grievance_count() != args.grievances:
        if grievance_count():
            database_reset(database_url, drop=True)
            from django.db import connections

            connections.close_all()
            call_command("migrate", verbosity=0, interactive=False)
        print(f"Building {args.grievances:,} grievances and {args.disputes:,} disputes …", flush=True)
        built = dashboard_data.build(args.grievances, args.disputes, args.seed, timezone.now())
    info = machine()
    results = Results(info=info, build=built)
    print("Full rebuild of the summary …", flush=True)
    results.rebuild_seconds = full_rebuild()
    from grievances.models import GrievanceDailySummary

    results.summary_rows = GrievanceDailySummary.objects.count()
    print("Beat refreshes …", flush=True)
    refreshes(results)
    print("The page and the baseline …", flush=True)
    measure(results, args.requests, args.baseline_runs)
    info["load average at start"] += f" / at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    print_report(results)
    if not args.no_docs:
        write_docs(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
