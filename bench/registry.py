"""Registry benchmark: 100,000 published duties in PostgreSQL, and how fast /api/v1/duties/ serves them.

Run ``make bench`` (or ``.venv/bin/python bench/registry.py``; ``--help`` for options). In one run it

1. creates its own database (``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/zhize_bench``)
   and migrates it;
2. builds the registry once — 50 agencies, 20 categories, ~440 classifications, 100,000 duties staged through
   ``revisions_stage`` (the product's own write path) and published as one edition — and keeps it for the
   next run (``--rebuild`` starts again);
3. times, in-process with Django's test ``Client``: the first 50-item page, a page 95% deep, searches, and
   the raw SQL of the page (in turns with the page itself, on the same connection); counts the queries per
   request at page sizes 10, 50 and 200; and repeats the page, deep page and one search over HTTP against
   gunicorn on loopback, to show what in-process hides;
4. prints target against measured, and rewrites the figures section of ``docs/benchmarks.md``.

No number here is asserted by the test suite: timings belong to a machine, not to the code.

Its parts: ``bench/common.py`` (shared by every benchmark), ``registry_base`` (targets, environment),
``registry_build``, ``registry_measure`` and ``registry_report``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/registry.py), not as a module
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402  (after the sys.path fix)
    Timing,
    database_reset,
    machine,
    verdict,
)
from bench.registry_base import (  # noqa: E402  (after the sys.path fix)
    DEFAULT_DATABASE_URL,
    DOCS,
    DUTIES,
    ROOT,
    configure,
    migrate,
    registry_size,
)
from bench.registry_build import (  # noqa: E402  (after the sys.path fix)
    BuildReport,
    build,
    build_in_child,
)
from bench.registry_measure import (  # noqa: E402  (after the sys.path fix)
    InProcess,
    Results,
    measure,
    repeat,
)
from bench.registry_report import (  # noqa: E402  (after the sys.path fix)
    print_report,
    write_docs,
)

__all__ = [
    "BuildReport",
    "InProcess",
    "Results",
    "Timing",
    "build",
    "database_reset",
    "machine",
    "main",
    "measure",
    "repeat",
    "verdict",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rebuild", action="store_true", help="drop the benchmark database and build again")
    parser.add_argument("--duties", type=int, default=DUTIES, help="registry size (default %(default)s)")
    parser.add_argument("--chunk", type=int, default=5000, help="duties per revisions_stage call")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario")
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn-on-loopback comparison")
    parser.add_argument("--no-docs", action="store_true", help=f"do not rewrite {DOCS.relative_to(ROOT)}")
    parser.add_argument(
        "--build-only", metavar="REPORT", help=argparse.SUPPRESS
    )  # the child of build_in_child
    args = parser.parse_args(argv)

    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    if args.build_only:
        configure(database_url)
        report = build(args.duties, args.chunk, args.seed)
        Path(args.build_only).write_text(json.dumps(dataclasses.asdict(report)), encoding="utf-8")
        return 0
    fresh = database_reset(database_url, drop=args.rebuild)
    configure(database_url)
    migrate()
    size = registry_size()
    build_report = None
    if size != args.duties:
        if not fresh:
            print(f"Registry holds {size or 0:,} duties, {args.duties:,} wanted: rebuilding.", flush=True)
            from django.db import connections

            connections.close_all()
            database_reset(database_url, drop=True)
            migrate()
        print(f"Building {args.duties:,} duties …", flush=True)
        build_report = build_in_child(args.duties, args.chunk, args.seed)
        build_report.save()
    else:
        print(f"Registry of {size:,} duties kept from an earlier run.", flush=True)
        build_report = BuildReport.load()

    info = machine()
    print("Measuring …", flush=True)
    results = measure(args.requests, over_http=not args.no_http, build_report=build_report)
    load_at_end = " ".join(f"{v:.2f}" for v in os.getloadavg())
    info = {
        ("load average at start / end" if key == "load average at start" else key): (
            f"{value} / {load_at_end}" if key == "load average at start" else value
        )
        for key, value in info.items()
    }
    print_report(results, info)
    if not args.no_docs:
        write_docs(results, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
