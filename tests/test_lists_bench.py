"""bench/lists.py imports, and its report and docs section format a result (no timing is asserted: a timing
belongs to a machine, not to the code)."""

from __future__ import annotations

from bench import lists
from bench.common import Timing


def result() -> lists.Results:
    page = lists.Scenario(
        "officer: open disputes (the default), first page",
        lists.OFFICER,
        "/disputes/",
        page=Timing([0.030, 0.020, 0.060]),
        baseline=Timing([0.004, 0.005, 0.006]),
        queries=9,
        rows=50,
        statements=["SELECT 1"],
    )
    return lists.Results(info={"load average at start": "0.10 0.20 0.30"}, scenarios=[page], plan="Result")


def test_the_report_gives_target_measured_and_verdict_per_scenario() -> None:
    text = lists.report(result())

    assert "officer: open disputes (the default), first page: p99" in text
    assert "≤ 50 ms" in text and "60.0 ms" in text and "MISS" in text
    assert "its raw SQL (1 SELECTs): p50 / p99" in text and "5.0 / 6.0 ms" in text


def test_the_docs_section_sits_between_the_bench_markers() -> None:
    section = lists.markdown(result())

    assert section.startswith(lists.DOCS_START) and section.endswith(lists.DOCS_END)
    assert "## Lists" in section and "| officer: open disputes (the default), first page | 3 |" in section


def test_the_deep_page_is_95_percent_of_the_way_through() -> None:
    assert lists.deep_page(100_000) == 1_900
    assert lists.deep_page(10) == 1
