"""What bench/registry.py prints and writes into docs/benchmarks.md."""

from __future__ import annotations

from datetime import datetime

from bench.common import (
    Timing,
    docs_section_write,
    verdict,
)
from bench.registry_base import (
    DEEP_RATIO_TARGET,
    DOCS,
    DOCS_END,
    DOCS_START,
    FIRST_SEARCH_TARGET_S,
    LIST_CODE,
    LIST_P99_TARGET_MS,
    MIN_SAMPLES,
    PAGE_P99_TARGET_MS,
    PAIRED_FACTOR,
    RAW_RATIO_TARGET,
    SCENARIO_SECONDS,
    SEARCH_P95_TARGET_MS,
    SEARCHES,
)
from bench.registry_measure import (
    Results,
)


def table(results: Results) -> list[tuple[str, str, str, str]]:
    """(what, target, measured, verdict) rows."""
    first, deep, raw = results.first, results.deep, results.raw
    deep_ratio = deep.p50 / first.p50
    raw_ratio = first.p50 / raw.p50
    fixed_pages = len(set(results.page_queries.values())) == 1
    fixed_search = len(set(results.search_queries.values())) == 1

    def counts(by_size: dict[int, int]) -> str:
        return ", ".join(f"{n} at {size}" for size, n in by_size.items())

    search = results.search_all
    return [
        (
            "first page (50 items) p99",
            f"≤ {PAGE_P99_TARGET_MS:.0f} ms",
            f"{first.p99:.1f} ms",
            verdict(first.p99 <= PAGE_P99_TARGET_MS),
        ),
        (
            "page 95% deep ÷ first page (p50)",
            f"≤ {DEEP_RATIO_TARGET}×",
            f"{deep_ratio:.2f}× ({deep.p50:.1f} / {first.p50:.1f} ms)",
            verdict(deep_ratio <= DEEP_RATIO_TARGET),
        ),
        (
            "first page ÷ its raw SQL (p50)",
            f"≤ {RAW_RATIO_TARGET}×",
            f"{raw_ratio:.2f}× ({first.p50:.1f} / {raw.p50:.1f} ms)",
            verdict(raw_ratio <= RAW_RATIO_TARGET),
        ),
        (
            "queries per page request",
            "same at every page size",
            counts(results.page_queries),
            verdict(fixed_pages),
        ),
        (
            "queries per search request",
            "same at every page size",
            counts(results.search_queries),
            verdict(fixed_search),
        ),
        (
            "first page of one list (`?list=`) p99",
            f"≤ {LIST_P99_TARGET_MS:.0f} ms",
            f"{results.listed.p99:.1f} ms",
            verdict(results.listed.p99 <= LIST_P99_TARGET_MS),
        ),
        *(
            (
                f"search `q={q}` p95",
                f"≤ {SEARCH_P95_TARGET_MS[len(q)]:.0f} ms",
                f"{timing.p95:.1f} ms",
                verdict(timing.p95 <= SEARCH_P95_TARGET_MS[len(q)]),
            )
            for q, timing in results.searches.items()
        ),
        (
            "first search in a fresh process",
            f"≤ {FIRST_SEARCH_TARGET_S} s",
            f"{results.fresh_process_seconds:.2f} s",
            verdict(results.fresh_process_seconds <= FIRST_SEARCH_TARGET_S),
        ),
        (
            f"search `q={SEARCHES[0]}` SQL, stored vector vs recomputed (p50)",
            "info",
            f"{results.search_raw.p50:.1f} vs {results.search_previous_raw.p50:.1f} ms "
            f"({results.search_previous_raw.p50 / results.search_raw.p50:.1f}× faster)",
            "info",
        ),
        ("search p99 (all queries)", "none set", f"{search.p99:.1f} ms", "info"),
    ]


def latency_rows(results: Results) -> list[tuple[str, Timing]]:
    rows = [
        ("first page `/api/v1/duties/`", results.first),
        ("page 95% deep (`?cursor=…`)", results.deep),
        (f"first page of one list (`?list={LIST_CODE}`)", results.listed),
        (
            f"raw SQL of the first page ({results.raw_statements} "
            f"quer{'y' if results.raw_statements == 1 else 'ies'}, psycopg2, in turns with the page)",
            results.raw,
        ),
        ("raw SQL of the deep page", results.deep_raw),
    ]
    rows += [(f"search `q={q}` ({results.search_hits[q]:,} hits)", t) for q, t in results.searches.items()]
    rows += [
        (f"raw SQL of search `q={SEARCHES[0]}`, stored vector", results.search_raw),
        (
            f"raw SQL of search `q={SEARCHES[0]}`, vector recomputed (previous path)",
            results.search_previous_raw,
        ),
    ]
    rows += [(f"over HTTP: {name}", t) for name, t in results.http.items()]
    return rows


def print_report(results: Results, info: dict[str, str]) -> None:
    print()
    for key, value in info.items():
        print(f"{key:>24}: {value}")
    if results.build:
        b = results.build
        print(
            f"{'build':>24}: {b.built_at}: {b.duties:,} duties staged in {b.stage_seconds:.0f} s "
            f"({b.rate:,.0f}/s, chunks of {b.chunk:,}), published in {b.publish_seconds:.1f} s, "
            f"VACUUM ANALYZE {b.analyze_seconds:.1f} s"
        )
    print(f"\nLatency in ms, {results.duties:,} duties in force; n timed requests after 20 warm-up ones:")
    print(f"{'':54} {'n':>4} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    for name, t in latency_rows(results):
        print(
            f"{name.replace('`', ''):54} {len(t.samples):4} "
            f"{t.p50:7.1f} {t.p95:7.1f} {t.p99:7.1f} {t.max:7.1f}"
        )
    print(
        "\nFirst search in a fresh process (reads the stored vocabulary): "
        f"{results.fresh_process_seconds:.2f} s; "
        "working the vocabulary out again from the registry (once per edition): "
        f"{results.vocabulary_seconds:.2f} s; first search after an edition: "
        f"{results.edition_search_ms:.0f} ms, the new vocabulary loaded beside it in "
        f"{results.edition_reload_seconds:.2f} s"
    )
    print()
    rows = table(results)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def markdown(results: Results, info: dict[str, str]) -> str:
    lines = [
        DOCS_START,
        f"## Figures of the last run ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
        "",
        "Written by `bench/registry.py`; do not edit by hand.",
        "",
        *(f"- **{key}**: {value}" for key, value in info.items()),
    ]
    if results.build:
        b = results.build
        lines.append(
            f"- **build** ({b.built_at}): {b.duties:,} duties staged through `revisions_stage` in "
            f"{b.stage_seconds:.0f} s ({b.rate:,.0f} duties/s, chunks of {b.chunk:,}); "
            f"`edition_publish` {b.publish_seconds:.1f} s; "
            f"`VACUUM ANALYZE` {b.analyze_seconds:.1f} s"
        )
    else:
        lines.append("- **build**: not recorded (`--rebuild` to time it)")
    lines += [
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
        *(
            f"| {what} | {target} | {measured} | {result} |"
            for what, target, measured, result in table(results)
        ),
        "",
        f"Latency in ms, {results.duties:,} duties in force. Each row: n timed requests after 20 warm-up "
        f"ones (at most {results.requests}, {results.requests // 2} per search query; a scenario stops after "
        f"{SCENARIO_SECONDS:.0f} s once it has {MIN_SAMPLES}). The first page and its raw SQL are timed in "
        f"turns on the same connection (at most {PAIRED_FACTOR * results.requests} of each), so that the "
        "machine's drifting load falls on both alike.",
        "",
        "| request | n | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {len(t.samples)} | {t.p50:.1f} | {t.p95:.1f} | {t.p99:.1f} | {t.max:.1f} |"
            for name, t in latency_rows(results)
        ),
        "",
        f"First search in a fresh process (it reads the registry's words, stored once per edition): "
        f"{results.fresh_process_seconds:.2f} s. Working those words out again from every duty in force "
        f"(once per edition, by the first process to need them): {results.vocabulary_seconds:.2f} s. "
        "First search after an edition is published: "
        f"{results.edition_search_ms:.0f} ms, answered with the vocabulary in place while a thread "
        f"loaded the new one ({results.edition_reload_seconds:.2f} s).",
        "",
        "<details><summary>Plans of the page queries (EXPLAIN ANALYZE)</summary>",
        "",
    ]
    for name, plan in results.plans.items():
        lines += [f"{name}:", "", "```", plan, "```", ""]
    lines += ["</details>", DOCS_END]
    return "\n".join(lines)


def write_docs(results: Results, info: dict[str, str]) -> None:
    docs_section_write(DOCS, DOCS_START, DOCS_END, markdown(results, info))
