"""bench/common.py's docs writer: each benchmark rewrites its own section of docs/benchmarks.md only."""

from __future__ import annotations

from pathlib import Path

from bench.common import docs_section_write


def test_a_benchmark_rewrites_its_own_section_and_leaves_the_others(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n<!-- a -->\nold a\n<!-- /a -->\n\n<!-- b -->\nb\n<!-- /b -->\n", "utf-8")
    docs_section_write(docs, "<!-- a -->", "<!-- /a -->", "<!-- a -->\nnew a\n<!-- /a -->")
    docs_section_write(docs, "<!-- c -->", "<!-- /c -->", "<!-- c -->\nc\n<!-- /c -->")
    text = docs.read_text("utf-8")
    assert "old a" not in text and "new a" in text
    assert "<!-- b -->\nb\n<!-- /b -->" in text
    assert text.rstrip().endswith("<!-- c -->\nc\n<!-- /c -->")
