"""Routing benchmark: the learned router against a TF-IDF + linear SVM baseline, and its speed.

Run ``make bench`` (or ``.venv/bin/python -m bench.routing``; ``--help`` for options). In one run it

1. reads the 495 labelled citizens' messages of ``../shared/data/tipdm2020`` (7 top-level topics) and splits
   them by message id exactly as ``manage.py evaluate_router --split-by-id 0.3`` does (the same functions);
2. trains ``grievances.learning.TextClassifier`` with and without the taxonomy's names as prior documents
   (``duty_lists/demo_data/taxonomy_3level.csv``), and the baseline — scikit-learn's ``TfidfVectorizer``
   (character 1–2-grams, sublinear tf) + ``LinearSVC``, top-3 from ``decision_function`` — with and without
   the same names as extra training texts;
3. reports top-1 and top-3 accuracy, training time and single-text routes per second for each, the
   latency of one ``rank()`` (p50/p99), and what the auto-dispatch threshold would dispatch;
4. repeats the accuracy comparison over five folds of the same id hash (every message tested once), since
   136 test messages move a figure by 0.7 points each;
5. builds a synthetic history the size of production (1,600 labels, as many as a district's duties;
   12 texts each) to time training, the model's JSON size and load time, and ``rank()`` with that many
   labels;
6. prints target against measured and writes the ``## Routing`` section of ``docs/benchmarks.md``.

No Django database is needed. No number is asserted by the test suite: timings belong to a machine.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/routing.py), not as a module
    sys.path.insert(0, str(ROOT))

from grievances.learning import TextClassifier  # noqa: E402  (after the sys.path fix)
from grievances.management.commands.evaluate_router import (  # noqa: E402
    held_out_share,
    prior_documents,
    read_table,
    row_text,
    split_rows,
)

SHARED_DATA = Path(os.environ.get("ZHIZE_SHARED_DATA") or ROOT.parent / "shared" / "data")
MESSAGES = SHARED_DATA / "tipdm2020" / "messages_labelled_level1.csv"
TAXONOMY = ROOT / "duty_lists" / "demo_data" / "taxonomy_3level.csv"
TEXT_COLS = ("留言主题", "留言详情")
LABEL_COL = "一级分类"
ID_COL = "留言编号"
TEST_FRACTION = 0.3
FOLDS = 5
THRESHOLD = 0.85
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START = "<!-- bench/routing.py writes from here -->"
DOCS_END = "<!-- bench/routing.py writes up to here -->"

TOP3_TARGET = 0.95
LATENCY_ROUNDS = 5
RANK_P99_TARGET_MS = 5.0
SCALE_LABELS = 1600
SCALE_TEXTS_PER_LABEL = 12


# --- Measuring ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    top1: float
    top3: float
    train_seconds: float
    routes_per_second: float
    latencies_ms: list[float] = field(default_factory=list)
    auto_share: float | None = None
    auto_precision: float | None = None

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else 0.0


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def latency(route: Callable[[str], Any], texts: Sequence[str]) -> list[float]:
    """Milliseconds per call, over LATENCY_ROUNDS passes (a p99 of one pass of 136 texts is its second
    slowest call)."""
    timings = []
    for _ in range(LATENCY_ROUNDS):
        for text in texts:
            started = time.perf_counter()
            route(text)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def accuracy(rankings: Sequence[Sequence[str]], labels: Sequence[str]) -> tuple[float, float]:
    top1 = sum(bool(ranked) and ranked[0] == label for ranked, label in zip(rankings, labels, strict=True))
    top3 = sum(label in ranked[:3] for ranked, label in zip(rankings, labels, strict=True))
    return top1 / len(labels), top3 / len(labels)


def ours(
    name: str,
    train: tuple[list[str], list[str]],
    test: tuple[list[str], list[str]],
    priors: dict[str, list[str]],
) -> Run:
    model, seconds = timed(lambda: TextClassifier.train(*train, prior_documents=priors))
    rankings, confidences = [], []
    for text in test[0]:
        ranking = model.rank(text, 3)
        rankings.append([label for label, _, _ in ranking])
        confidences.append(ranking[0][1] if ranking else 0.0)
    latencies = latency(lambda text: model.rank(text, 3), test[0])
    top1, top3 = accuracy(rankings, test[1])
    dispatched = [
        ranked[0] == label
        for ranked, label, p in zip(rankings, test[1], confidences, strict=True)
        if p >= THRESHOLD
    ]
    return Run(
        name=name,
        top1=top1,
        top3=top3,
        train_seconds=seconds,
        routes_per_second=1000 / statistics.fmean(latencies),
        latencies_ms=latencies,
        auto_share=len(dispatched) / len(test[1]),
        auto_precision=sum(dispatched) / len(dispatched) if dispatched else None,
    )


def baseline(
    name: str,
    train: tuple[list[str], list[str]],
    test: tuple[list[str], list[str]],
    priors: dict[str, list[str]],
) -> Run:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    texts, labels = list(train[0]), list(train[1])
    for label, names in sorted(priors.items()):
        texts += names
        labels += [label] * len(names)

    def fit() -> tuple[Any, Any]:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
        return vectorizer, LinearSVC().fit(vectorizer.fit_transform(texts), labels)

    (vectorizer, svm), seconds = timed(fit)
    classes = svm.classes_

    def route(text: str) -> list[str]:
        # One text at a time, as a grievance arrives; scikit-learn's per-call overhead is part of the cost.
        scores = svm.decision_function(vectorizer.transform([text]))[0]
        return [str(classes[i]) for i in np.argsort(-scores)[:3]]

    top1, top3 = accuracy([route(text) for text in test[0]], test[1])
    latencies = latency(route, test[0])
    return Run(name, top1, top3, seconds, 1000 / statistics.fmean(latencies), latencies)


def load() -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    if not MESSAGES.is_file():
        sys.exit(
            f"{MESSAGES} is missing: this benchmark reads the real messages of shared/data. "
            "Put shared/ beside the checkout or point ZHIZE_SHARED_DATA at it."
        )
    return read_table(MESSAGES), prior_documents(read_table(TAXONOMY), LABEL_COL)


def columns(rows: Sequence[dict[str, str]]) -> tuple[list[str], list[str]]:
    return [row_text(row, TEXT_COLS) for row in rows], [row[LABEL_COL].strip() for row in rows]


def known_priors(priors: dict[str, list[str]], labels: Sequence[str]) -> dict[str, list[str]]:
    """As evaluate_router: only the topics the history uses."""
    return {label: names for label, names in priors.items() if label in set(labels)}


def split_runs(rows: list[dict[str, str]], taxonomy: dict[str, list[str]]) -> tuple[list[Run], int, int]:
    split = split_rows(rows, rows, id_col=ID_COL, test_fraction=TEST_FRACTION)
    train, test = columns(split.train), columns(split.test)
    priors = known_priors(taxonomy, train[1])
    runs = [
        ours("ours + taxonomy names", train, test, priors),
        ours("ours", train, test, {}),
        baseline("TF-IDF + LinearSVC (baseline)", train, test, {}),
        baseline("TF-IDF + LinearSVC + taxonomy names", train, test, priors),
    ]
    return runs, len(split.train), len(split.test)


@dataclass
class FoldSummary:
    name: str
    top1: float
    top3: float
    worst_top3: float
    per_fold: list[tuple[float, float]]


def folds(rows: list[dict[str, str]], taxonomy: dict[str, list[str]]) -> list[FoldSummary]:
    """Five folds by the same id hash: fold k tests the ids whose share lies in [k/5, (k+1)/5)."""
    results: dict[str, list[Run]] = {}
    for k in range(FOLDS):
        fold = [int(held_out_share(row[ID_COL]) * FOLDS) == k for row in rows]
        train = columns([row for row, held in zip(rows, fold, strict=True) if not held])
        test = columns([row for row, held in zip(rows, fold, strict=True) if held])
        priors = known_priors(taxonomy, train[1])
        for run in (
            ours("ours + taxonomy names", train, test, priors),
            ours("ours", train, test, {}),
            baseline("TF-IDF + LinearSVC (baseline)", train, test, {}),
            baseline("TF-IDF + LinearSVC + taxonomy names", train, test, priors),
        ):
            results.setdefault(run.name, []).append(run)
    return [
        FoldSummary(
            name,
            statistics.fmean(r.top1 for r in runs),
            statistics.fmean(r.top3 for r in runs),
            min(r.top3 for r in runs),
            [(r.top1, r.top3) for r in runs],
        )
        for name, runs in results.items()
    ]


# --- Scale: as many labels as a district has duties --------------------------------------------------------


@dataclass
class Scale:
    labels: int
    texts: int
    train_seconds: float
    json_megabytes: float
    load_seconds: float
    memory_megabytes: float
    tokens: int
    weights: int
    top1: float
    latencies_ms: list[float]


def synthetic_history(
    labels: int, per_label: int, seed: int
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Texts made of real Chinese words from jieba's dictionary: each label (a duty) has 5 words of its own
    and shares 10 with the 9 other duties of its group (a classification), and 80% of every text is common
    words drawn Zipf-like, so labels overlap as duties of one classification do."""
    from grievances.learning import _jieba

    words = sorted(word for word, freq in _jieba().dt.FREQ.items() if freq >= 50 and 2 <= len(word) <= 4)
    rng = random.Random(seed)
    rng.shuffle(words)
    common, topical = words[:3000], words[3000:40000]
    zipf = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(common))))
    groups = [rng.sample(topical, 10) for _ in range(labels // 10 + 1)]
    own = [rng.sample(topical, 5) for _ in range(labels)]

    def text(label: int) -> str:
        picks = []
        for _ in range(rng.randint(40, 120)):
            r = rng.random()
            if r < 0.08:
                picks.append(rng.choice(own[label]))
            elif r < 0.2:
                picks.append(rng.choice(groups[label // 10]))
            else:
                picks.append(rng.choices(common, cum_weights=zipf)[0])
        return "".join(picks)

    texts, names = [], []
    for label in range(labels):
        for _ in range(per_label):
            texts.append(text(label))
            names.append(f"duty-{label}")
    held_out = [(text(label), f"duty-{label}") for label in rng.sample(range(labels), min(labels, 500))]
    return texts, names, held_out


def scale(labels: int, per_label: int, seed: int) -> Scale:
    texts, names, held_out = synthetic_history(labels, per_label, seed)
    model, seconds = timed(lambda: TextClassifier.train(texts, names))
    payload = json.dumps(model.to_dict(), ensure_ascii=False)
    del model
    gc.collect()
    loaded, load_seconds = timed(lambda: TextClassifier.from_dict(json.loads(payload)))
    del loaded
    gc.collect()
    # Measured on a second load: tracemalloc slows what it traces several times over.
    tracemalloc.start()
    loaded = TextClassifier.from_dict(json.loads(payload))
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rows = json.loads(payload)["rows"]
    latencies, hits = [], 0
    for text, label in held_out:
        started = time.perf_counter()
        ranking = loaded.rank(text, 5)
        latencies.append((time.perf_counter() - started) * 1000)
        hits += bool(ranking) and ranking[0][0] == label
    return Scale(
        labels=labels,
        texts=len(texts),
        train_seconds=seconds,
        json_megabytes=len(payload.encode()) / 1e6,
        load_seconds=load_seconds,
        memory_megabytes=memory / 1e6,
        tokens=len(rows),
        weights=sum(len(row) // 2 for row in rows),
        top1=hits / len(held_out),
        latencies_ms=latencies,
    )


# --- Reporting ---------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), cpu
            )
    except OSError:
        pass
    return {
        "CPU": f"{cpu}, nproc {os.cpu_count()}",
        "Python": platform.python_version(),
        "load average at start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(runs: list[Run], scale_result: Scale | None) -> list[tuple[str, str, str, str]]:
    ours_run, base = runs[0], runs[2]
    rows = [
        (
            "top-1, ours (+ taxonomy) vs baseline",
            f"≥ {base.top1:.3f}",
            f"{ours_run.top1:.3f}",
            verdict(ours_run.top1 >= base.top1),
        ),
        (
            "top-3, ours (+ taxonomy)",
            f"≥ {TOP3_TARGET:.2f}",
            f"{ours_run.top3:.3f}",
            verdict(ours_run.top3 >= TOP3_TARGET),
        ),
        (
            "rank() p99, TipDM test messages",
            f"< {RANK_P99_TARGET_MS:.0f} ms",
            f"{ours_run.p99:.2f} ms",
            verdict(ours_run.p99 < RANK_P99_TARGET_MS),
        ),
    ]
    if scale_result is not None:
        p99 = percentile(scale_result.latencies_ms, 0.99)
        rows.append(
            (
                f"rank() p99, {scale_result.labels:,} labels",
                f"< {RANK_P99_TARGET_MS:.0f} ms",
                f"{p99:.2f} ms",
                verdict(p99 < RANK_P99_TARGET_MS),
            )
        )
    return rows


def print_report(
    runs: list[Run],
    sizes: tuple[int, int],
    fold_results: list[FoldSummary],
    scale_result: Scale | None,
    info: dict[str, str],
) -> None:
    print()
    for key, value in info.items():
        print(f"{key:>24}: {value}")
    print(f"\nTipDM messages, split by id hash: {sizes[0]} to train, {sizes[1]} to test (7 topics)")
    print(f"{'':38} {'top-1':>6} {'top-3':>6} {'train s':>8} {'routes/s':>9} {'p50 ms':>7} {'p99 ms':>7}")
    for run in runs:
        print(
            f"{run.name:38} {run.top1:6.3f} {run.top3:6.3f} {run.train_seconds:8.2f} "
            f"{run.routes_per_second:9,.0f} {run.p50:7.2f} {run.p99:7.2f}"
        )
    first = runs[0]
    if first.auto_share is not None:
        precision = f"{first.auto_precision:.3f}" if first.auto_precision is not None else "—"
        print(
            f"\nAuto-dispatch at {THRESHOLD}: {first.auto_share:.1%} of the test messages, "
            f"precision {precision}"
        )
    print(
        f"\n{FOLDS} folds by the same id hash (every message tested once): "
        "mean top-1, mean top-3, worst fold's top-3"
    )
    for fold in fold_results:
        each = "  ".join(f"{a:.2f}/{b:.2f}" for a, b in fold.per_fold)
        print(f"{fold.name:38} {fold.top1:6.3f} {fold.top3:6.3f} {fold.worst_top3:6.3f}   {each}")
    if scale_result is not None:
        s = scale_result
        print(
            f"\nSynthetic history: {s.labels:,} labels, {s.texts:,} texts: "
            f"trained in {s.train_seconds:.0f} s; "
            f"model {s.tokens:,} tokens, {s.weights:,} weights, JSON {s.json_megabytes:.1f} MB, loaded in "
            f"{s.load_seconds:.2f} s into {s.memory_megabytes:.0f} MB; rank(k=5) p50 "
            f"{percentile(s.latencies_ms, 0.5):.2f} ms, p99 {percentile(s.latencies_ms, 0.99):.2f} ms; "
            f"top-1 on held-out synthetic texts {s.top1:.3f}"
        )
    print()
    rows = table(runs, scale_result)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def markdown(
    runs: list[Run],
    sizes: tuple[int, int],
    fold_results: list[FoldSummary],
    scale_result: Scale | None,
    info: dict[str, str],
) -> str:
    first = runs[0]
    lines = [
        DOCS_START,
        f"## Routing ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
        "",
        "Written by `bench/routing.py` (run by `make bench`); do not edit by hand. The learned half of",
        "routing (`grievances/learning.py`: jieba words + character bigrams, TF-IDF, an averaged multiclass",
        "margin perceptron, softmax confidences with a temperature fitted on held-out examples) against a",
        "TF-IDF (character 1–2-grams) + `LinearSVC` baseline, on the 495 labelled TipDM citizens' messages",
        "(7 top-level topics), split by a hash of the message id as `evaluate_router --split-by-id "
        f"{TEST_FRACTION}` splits them: {sizes[0]} messages to train, {sizes[1]} to test.",
        "“+ taxonomy names”: the names under each topic in `duty_lists/demo_data/taxonomy_3level.csv`, each",
        "one short training example (`prior_documents`); the baseline gets them too in its last row, for a",
        "fair comparison.",
        "",
        *(f"- **{key}**: {value}" for key, value in info.items()),
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
        *(
            f"| {what} | {target} | {measured} | {result} |"
            for what, target, measured, result in table(runs, scale_result)
        ),
        "",
        "| | top-1 | top-3 | training s | routes/s (one text at a time) | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r.name} | {r.top1:.3f} | {r.top3:.3f} | {r.train_seconds:.2f} | "
            f"{r.routes_per_second:,.0f} | {r.p50:.2f} | {r.p99:.2f} |"
            for r in runs
        ),
        "",
    ]
    if first.auto_share is not None:
        precision = f"{first.auto_precision:.3f}" if first.auto_precision is not None else "—"
        lines += [
            f"At the auto-dispatch threshold {THRESHOLD}, ours (+ taxonomy) would dispatch "
            f"{first.auto_share:.1%} of the test messages automatically, {precision} of them to the right "
            "topic.",
            "",
        ]
    lines += [
        f"The same comparison over {FOLDS} folds of the same id hash, every message tested once (one test "
        f"message is worth 0.7 points above, 1 point here):",
        "",
        "| | mean top-1 | mean top-3 | worst fold's top-3 | each fold, top-1 / top-3 |",
        "|---|---:|---:|---:|---|",
        *(
            f"| {f.name} | {f.top1:.3f} | {f.top3:.3f} | {f.worst_top3:.3f} | "
            + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in f.per_fold)
            + " |"
            for f in fold_results
        ),
        "",
        "The first fold holds the 89 messages a 20 % split (`--split-by-id 0.2`) would test on. The split",
        "above holds out 30 % so that one message moves a figure less.",
        "",
    ]
    if scale_result is not None:
        s = scale_result
        lines += [
            f"**At production size.** A synthetic history of {s.labels:,} labels (a district's duties) × "
            f"{s.texts // s.labels} texts = {s.texts:,} texts (the beat task trains on at most 20,000), "
            "made of dictionary words so that labels of one group of ten share vocabulary: trained in "
            f"{s.train_seconds:.0f} s; the model keeps {s.tokens:,} tokens and {s.weights:,} weights, "
            f"{s.json_megabytes:.1f} MB of JSON, loaded in {s.load_seconds:.2f} s into "
            f"{s.memory_megabytes:.0f} MB; `rank(k=5)` p50 {percentile(s.latencies_ms, 0.5):.2f} ms, p99 "
            f"{percentile(s.latencies_ms, 0.99):.2f} ms over {len(s.latencies_ms)} held-out texts "
            f"(top-1 {s.top1:.3f}: synthetic texts are easier than citizens'). Training time grows with "
            "the texts and with the labels each text's tokens touch; the task that retrains the router needs "
            "a time limit to match.",
            "",
        ]
    lines += [
        "Latency is one `rank()` (segmentation included), single-threaded, timed with `perf_counter`, on a "
        f"{os.cpu_count()}-core machine shared with other work, so p99 says as much about the neighbours as "
        "about the code. "
        f"Each p50/p99 is over {LATENCY_ROUNDS} passes of the test messages. Segmentation dominates: jieba "
        "reads the first 300 characters (without its HMM), the bigrams the first 1,000.",
        DOCS_END,
    ]
    return "\n".join(lines)


def write_docs(text_block: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n\n"
    if DOCS_START in text and DOCS_END in text:
        head, rest = text.split(DOCS_START, 1)
        text = head + text_block + rest.split(DOCS_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + text_block + "\n"
    DOCS.write_text(text, encoding="utf-8")
    print(f"\nWrote the figures to {DOCS.relative_to(ROOT)}.")


# --- Command line ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-scale", action="store_true", help="skip the synthetic production-size history")
    parser.add_argument("--scale-labels", type=int, default=SCALE_LABELS, help="labels (default %(default)s)")
    parser.add_argument(
        "--scale-texts", type=int, default=SCALE_TEXTS_PER_LABEL, help="texts per label (default %(default)s)"
    )
    parser.add_argument("--no-folds", action="store_true", help=f"skip the {FOLDS}-fold comparison")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--no-docs", action="store_true", help=f"do not rewrite {DOCS.relative_to(ROOT)}")
    args, _ = parser.parse_known_args(argv)  # make bench passes one BENCH_ARGS to every benchmark

    info = machine()
    rows, taxonomy = load()
    print("Training and routing on the TipDM split …", flush=True)
    runs, train_size, test_size = split_runs(rows, taxonomy)
    fold_results: list[FoldSummary] = []
    if not args.no_folds:
        print(f"{FOLDS} folds …", flush=True)
        fold_results = folds(rows, taxonomy)
    scale_result = None
    if not args.no_scale:
        print(f"Synthetic history of {args.scale_labels:,} labels × {args.scale_texts} texts …", flush=True)
        scale_result = scale(args.scale_labels, args.scale_texts, args.seed)
    info["load average at start / end"] = (
        f"{info.pop('load average at start')} / {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print_report(runs, (train_size, test_size), fold_results, scale_result, info)
    if not args.no_docs:
        write_docs(markdown(runs, (train_size, test_size), fold_results, scale_result, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
