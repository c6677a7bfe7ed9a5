"""Routing benchmark: the router's model (grievances/router_model.py) against issue 9's baseline, its speed,
and its training time at production size.

Run ``make bench`` (or ``.venv/bin/python -m bench.routing``; ``--help`` for options). In one run it

1. reads the 495 labelled TipDM messages of ``../shared/data/tipdm2020`` (7 top-level topics), sorted by
   留言时间, the newest ``TEST_SHARE`` kept apart to test (``bench/router_model.py``'s split and functions);
2. trains the model as the product does — ``TextClassifier.train`` with titles, the taxonomy's names as
   prior documents, and the module's own C and title weight (nothing is tuned here, least of all on the
   test part; ``bench/router_model.py`` chooses them by cross-validation) — and issue 9's baseline,
   ``TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))`` + ``LinearSVC(C=0.5)``, side by side;
3. reports top-1/top-3 of both, their differences with a paired bootstrap interval, and the latency of one
   ``rank()`` of the model as loaded from its bytes (``dumps``/``loads``, as routing loads it);
4. builds a synthetic history of ``--scale`` grievances (default 100,000, the product's window) from the
   real TipDM sentences over 40 agency labels and "street", with a few hundred duty titles as prior
   documents, and times ``TextClassifier.train`` on it, stage by stage, then the model's bytes, load time
   and ``rank()`` latency;
5. prints target against measured (PASS/FAIL) with the machine's load, and writes its section of
   ``docs/benchmarks.md`` (not with ``--quick``, a small smoke run).

No Django database is needed. No number is asserted by the test suite: timings belong to a machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/routing.py), not as a module
    sys.path.insert(0, str(ROOT))

from bench.common import docs_section_write  # noqa: E402
from bench.router_model import (  # noqa: E402  (after the sys.path fix)
    P95_TARGET_MS,
    TEST_SHARE,
    TOP1_MARGIN,
    TOP3_MARGIN,
    Message,
    load,
    ranked,
    train,
)
from bench.routing_history import (  # noqa: E402
    synthetic_history,
)
from grievances import router_features, router_model  # noqa: E402
from grievances.router_model import TextClassifier  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START = "<!-- bench/routing.py writes from here -->"
DOCS_END = "<!-- bench/routing.py writes up to here -->"

TRAIN_TARGET_S = 60.0  # issue 9: training on 100,000 grievances
TARGET_SCALE = 100_000
LATENCY_ROUNDS = 5
BOOTSTRAP = 2000
STAGES = (
    "segmenting and hashing",
    "kept columns and TF-IDF",
    "SVM fit on all",
    "fit without the newest fifth",
    "other",
)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else 0.0


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# --- TipDM, split by time ----------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    train_seconds: float
    latencies_ms: list[float]
    hits1: list[bool]  # per test message: the right label first, among the first three
    hits3: list[bool]

    @classmethod
    def of(
        cls,
        name: str,
        seconds: float,
        timings: list[float],
        rankings: list[list[str]],
        test: Sequence[Message],
    ) -> Run:
        pairs = list(zip(rankings, [m.label for m in test], strict=True))
        return cls(name, seconds, timings, [r[:1] == [y] for r, y in pairs], [y in r[:3] for r, y in pairs])

    @property
    def top1(self) -> float:
        return statistics.fmean(self.hits1)

    @property
    def top3(self) -> float:
        return statistics.fmean(self.hits3)


@dataclass
class TipDM:
    train_size: int
    test_size: int
    first: datetime
    last: datetime
    runs: list[Run]
    model_bytes: int
    load_seconds: float
    first_rank_ms: float
    interval1: tuple[float, float]
    interval3: tuple[float, float]


def latency(route: Callable[[Message], Any], messages: Sequence[Message], rounds: int) -> list[float]:
    """Milliseconds per call, one message at a time as grievances arrive, over ``rounds`` passes."""
    timings = []
    for _ in range(rounds):
        for m in messages:
            started = time.perf_counter()
            route(m)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def ours(
    name: str, fit: Sequence[Message], test: Sequence[Message], priors: dict[str, list[str]], rounds: int
) -> tuple[Run, int, float, float]:
    trained, seconds = timed(
        lambda: train(fit, priors, c=router_model.C, title_weight=router_model.TITLE_WEIGHT)
    )
    data = trained.dumps()
    model, load_seconds = timed(lambda: TextClassifier.loads(data))
    started = time.perf_counter()  # the first rank() of a loaded model also lists its feature names
    model.rank(test[0].text, 3, title=test[0].title)
    first_ms = (time.perf_counter() - started) * 1000
    rankings = [[label for label, _ in ranked(model, m)] for m in test]
    timings = latency(lambda m: model.rank(m.text, 3, title=m.title), test, rounds)
    return Run.of(name, seconds, timings, rankings, test), len(data), load_seconds, first_ms


def baseline(fit: Sequence[Message], test: Sequence[Message], rounds: int) -> Run:
    """Issue 9's baseline, exactly: character n-grams within word boundaries, 1–3, and LinearSVC(C=0.5)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    def fit_baseline() -> tuple[Any, Any]:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))
        svm = LinearSVC(C=0.5).fit(vectorizer.fit_transform([m.text for m in fit]), [m.label for m in fit])
        return vectorizer, svm

    (vectorizer, svm), seconds = timed(fit_baseline)

    def route(m: Message) -> list[str]:
        scores = svm.decision_function(vectorizer.transform([m.text]))[0]
        return [str(svm.classes_[i]) for i in np.argsort(-scores)[:3]]

    name = 'baseline: TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)) + LinearSVC(C=0.5)'
    return Run.of(name, seconds, latency(route, test, rounds), [route(m) for m in test], test)


def paired_interval(ours_hits: Sequence[bool], base_hits: Sequence[bool], seed: int) -> tuple[float, float]:
    """95% bootstrap interval of ours − baseline, resampling the same test messages for both."""
    a, b = np.array(ours_hits, dtype=float), np.array(base_hits, dtype=float)
    rows = np.random.default_rng(seed).integers(0, len(a), size=(BOOTSTRAP, len(a)))
    diffs = (a[rows] - b[rows]).mean(axis=1)
    return float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def tipdm(rounds: int, seed: int) -> TipDM:
    messages, priors = load()
    cut = int(len(messages) * (1 - TEST_SHARE))
    fit, test = messages[:cut], messages[cut:]
    model, size, load_seconds, first_ms = ours("model: history + taxonomy names", fit, test, priors, rounds)
    alone, *_ = ours("model: history alone", fit, test, {}, rounds)
    base = baseline(fit, test, rounds)
    return TipDM(
        train_size=len(fit),
        test_size=len(test),
        first=test[0].at,
        last=test[-1].at,
        runs=[model, alone, base],
        model_bytes=size,
        load_seconds=load_seconds,
        first_rank_ms=first_ms,
        interval1=paired_interval(model.hits1, base.hits1, seed),
        interval3=paired_interval(model.hits3, base.hits3, seed),
    )


# --- Scale: the product's window of accepted grievances ---------------------------------------------------


@contextmanager
def stage_clock(clock: dict[str, float]) -> Iterator[None]:
    """Times the stages of one ``TextClassifier.train`` by wrapping the module functions it calls (its own
    code runs unchanged): ``count`` (segmenting and hashing), ``Features.fit_transform`` (the kept
    columns and TF-IDF), ``_holdout_fit`` (the fit without the newest fifth, and the temperature on it),
    and ``_fit`` outside it (the model on everything)."""
    count, holdout_fit, fit = router_model.count, router_model._holdout_fit, router_model._fit
    features_fit, features_transform = router_model.Features.fit_transform, router_model.Features.transform
    inside = {"holdout": False}

    def add(stage: str, seconds: float) -> None:
        clock[stage] = clock.get(stage, 0.0) + seconds

    def timed_count(*args: Any) -> Any:
        result, seconds = timed(lambda: count(*args))
        add(STAGES[0], seconds)
        return result

    def timed_features_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        result, seconds = timed(lambda: features_fit(self, *args, **kwargs))
        add(STAGES[1], seconds)
        return result

    def timed_features_transform(self: Any, *args: Any) -> Any:
        result, seconds = timed(lambda: features_transform(self, *args))
        if not inside["holdout"]:
            add(STAGES[1], seconds)
        return result

    def timed_holdout_fit(*args: Any) -> Any:
        inside["holdout"] = True
        try:
            result, seconds = timed(lambda: holdout_fit(*args))
        finally:
            inside["holdout"] = False
        add(STAGES[3], seconds)
        return result

    def timed_fit(*args: Any) -> Any:
        result, seconds = timed(lambda: fit(*args))
        if not inside["holdout"]:
            add(STAGES[2], seconds)
        return result

    patches: dict[tuple[Any, str], Any] = {
        (router_model, "count"): timed_count,
        (router_model, "_holdout_fit"): timed_holdout_fit,
        (router_model, "_fit"): timed_fit,
        (router_model.Features, "fit_transform"): timed_features_fit,
        (router_model.Features, "transform"): timed_features_transform,
    }
    originals = {(owner, name): getattr(owner, name) for owner, name in patches}
    for (owner, name), wrapper in patches.items():
        setattr(owner, name, wrapper)
    try:
        yield
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)


@dataclass
class Scale:
    grievances: int
    labels: int
    prior_documents: int
    mean_chars: float
    generate_seconds: float
    load: str  # the load average before and after training
    cpu_seconds: float  # of the main process (jieba's workers not counted)
    train_seconds: float
    stages: dict[str, float]
    peak_rss_mb: float
    features: int
    dump_seconds: float
    model_bytes: int
    load_seconds: float
    first_rank_ms: float
    top1: float
    latencies_ms: list[float] = field(default_factory=list)


def scale(n: int, seed: int) -> Scale:
    history = synthetic_history(n, seed)
    gc.collect()
    load_before, clock, cpu = loadavg(), dict[str, float](), time.process_time()
    with stage_clock(clock):
        model, seconds = timed(
            lambda: TextClassifier.train(
                history.texts,
                history.labels,
                titles=history.titles,
                prior_documents=history.priors,
                holdout=int(n * router_model.HOLDOUT_SHARE),
            )
        )
    cpu, load = time.process_time() - cpu, f"{load_before} before, {loadavg()} after"
    clock["other"] = seconds - sum(clock.get(stage, 0.0) for stage in STAGES[:-1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    features = int(model.classifier.coef_.shape[1])
    data, dump_seconds = timed(model.dumps)
    del model
    gc.collect()
    loaded, load_seconds = timed(lambda: TextClassifier.loads(data))
    text, title, _ = history.held_out[0]
    _, first_seconds = timed(lambda: loaded.rank(text, 5, title=title))
    latencies, right = [], 0
    for text, title, label in history.held_out:
        started = time.perf_counter()
        ranking = loaded.rank(text, 5, title=title)
        latencies.append((time.perf_counter() - started) * 1000)
        right += bool(ranking) and ranking[0][0] == label
    return Scale(
        grievances=n,
        labels=len(set(history.labels)),
        prior_documents=sum(len(v) for v in history.priors.values()),
        mean_chars=statistics.fmean(len(t) for t in history.texts),
        generate_seconds=history.seconds,
        load=load,
        cpu_seconds=cpu,
        train_seconds=seconds,
        stages={stage: clock.get(stage, 0.0) for stage in STAGES},
        peak_rss_mb=peak,
        features=features,
        dump_seconds=dump_seconds,
        model_bytes=len(data),
        load_seconds=load_seconds,
        first_rank_ms=first_seconds * 1000,
        top1=right / len(history.held_out),
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
    import sklearn

    return {
        "CPU": f"{cpu}, os.cpu_count() {os.cpu_count()}",
        "Python / scikit-learn": f"{platform.python_version()} / {sklearn.__version__}",
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def checks(t: TipDM, s: Scale | None) -> list[tuple[str, str, str, str]]:
    model, base = t.runs[0], t.runs[-1]
    rows = []
    for k, margin in ((1, TOP1_MARGIN), (3, TOP3_MARGIN)):
        ours_v, base_v = (r.top1 if k == 1 else r.top3 for r in (model, base))
        rows.append(
            (
                f"top-{k} ≥ baseline + {margin * 100:.0f} points (TipDM, time split)",
                f"≥ {base_v + margin:.3f}",
                f"{ours_v:.3f} ({(ours_v - base_v) * 100:+.1f} points)",
                verdict(ours_v >= base_v + margin - 1e-9),
            )
        )
    timings = [("the loaded model, TipDM", model.latencies_ms)]
    if s is not None:
        at_target = s.grievances == TARGET_SCALE
        wanted = f"≤ {TRAIN_TARGET_S:.0f} s" + ("" if at_target else f" (for {TARGET_SCALE:,})")
        ok = verdict(s.train_seconds <= TRAIN_TARGET_S) if at_target else "n/a"
        rows.append((f"training on {s.grievances:,} grievances", wanted, f"{s.train_seconds:.1f} s", ok))
        timings.append((f"the loaded {s.grievances:,}-grievance model", s.latencies_ms))
    for what, values in timings:
        p95 = percentile(values, 0.95)
        rows.append(
            (
                f"rank() p95, {what}",
                f"≤ {P95_TARGET_MS:.0f} ms",
                f"{p95:.1f} ms",
                verdict(p95 <= P95_TARGET_MS),
            )
        )
    return rows


def runs_table(t: TipDM) -> list[str]:
    lines = [
        "| | top-1 | top-3 | training s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in t.runs:
        p50, p95, p99 = (percentile(r.latencies_ms, q) for q in (0.5, 0.95, 0.99))
        lines.append(
            f"| {r.name} | {r.top1:.3f} | {r.top3:.3f} | {r.train_seconds:.2f} | {p50:.1f} | {p95:.1f} "
            f"| {p99:.1f} |"
        )
    return lines


def scale_lines(s: Scale) -> list[str]:
    p50, p95, p99 = (percentile(s.latencies_ms, q) for q in (0.5, 0.95, 0.99))
    return [
        f"**At the product's window.** A synthetic history of {s.grievances:,} grievances over {s.labels} "
        f"labels (40 agencies and `street`), {s.mean_chars:.0f} characters each on average (title and "
        f"details), plus {s.prior_documents} duty titles as prior documents (see `synthetic_history`; built "
        f"in {s.generate_seconds:.0f} s, not counted), trained with `TextClassifier.train(texts, labels, "
        f"titles=…, prior_documents=…, holdout=n/5)` as `router_train` does, load average {s.load}: "
        f"**{s.train_seconds:.1f} s** ({s.cpu_seconds:.0f} s of CPU in the main process, which peaked at "
        f"{s.peak_rss_mb:,.0f} MB). "
        f"{s.features:,} features × {s.labels} labels; `dumps()` {s.model_bytes:,} bytes in "
        f"{s.dump_seconds:.1f} s; `loads()` {s.load_seconds:.2f} s; the first `rank()` after loading "
        f"{s.first_rank_ms:.0f} ms (it lists the feature names once); then `rank(k=5)` p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms, p99 {p99:.1f} ms over {len(s.latencies_ms):,} held-out synthetic grievances "
        f"(top-1 {s.top1:.3f}; synthetic texts say nothing about accuracy).",
        "",
        "Where the training time goes (wrapping the functions `train` calls; its code runs unchanged):",
        "",
        "| stage | seconds | share |",
        "|---|---:|---:|",
        *(
            f"| {stage} | {seconds:.1f} | {seconds / s.train_seconds:.0%} |"
            for stage, seconds in s.stages.items()
        ),
        "",
        "“segmenting and hashing” is `count`: rjieba's words of the first "
        f"{router_features.WORD_CHARS} characters of each text and of its title, and the four blocks' "
        f"`HashingVectorizer` counts, in two processes from {router_features.PARALLEL_FROM:,} texts; “kept "
        "columns and TF-IDF” `Features.fit_transform` (one process); “fit without the newest fifth” the "
        "candidate `router_train` measures, and the temperature fitted on its scores of that fifth; “SVM "
        f"fit on all” the model kept (from {router_model.SGD_FROM:,} grievances `SGDClassifier`, hinge loss, "
        f"{router_model.SGD_EPOCHS} epochs, a label per core); “other” the rest. This is the whole of "
        "`router_train`'s training; it then routes the newest 2,000 one by one to measure the candidate.",
        "",
    ]


def markdown(t: TipDM, s: Scale | None, info: dict[str, str], elapsed: float) -> str:
    return "\n".join(
        [
            DOCS_START,
            f"## Routing ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
            "",
            "Written by `bench/routing.py` (run by `make bench`); do not edit by hand. The router's model "
            "(`grievances/router_model.py`: hashed TF-IDF of characters and jieba words, a linear SVM — "
            "`LinearSVC`, or `SGDClassifier` from 20,000 grievances — temperature-scaled probabilities) "
            "trained as the product trains it — titles, prior documents, "
            f"the module's C = {router_model.C} and title weight {router_model.TITLE_WEIGHT}, nothing tuned "
            'here — against issue 9\'s baseline, `TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))` '
            f"+ `LinearSVC(C=0.5)`, in the same run, on the {t.train_size + t.test_size} labelled TipDM "
            f"messages (7 top-level topics) sorted by 留言时间: the oldest {t.train_size} train, the newest "
            f"{t.test_size} test ({t.first:%Y-%m-%d} – {t.last:%Y-%m-%d}). “+ taxonomy names”: the names "
            "under each topic in `duty_lists/demo_data/taxonomy_3level.csv`, each a prior document; the "
            "baseline has the history alone. Calibration, the auto-dispatch threshold and the choice of C "
            "and title weight by cross-validation are in `bench/router_model.py`'s section below.",
            "",
            *(f"- **{key}**: {value}" for key, value in info.items()),
            f"- **the whole run**: {elapsed:.0f} s",
            "",
            "| target (issue 9) | wanted | measured | |",
            "|---|---|---|---|",
            *(
                f"| {what} | {wanted} | {measured} | {result} |"
                for what, wanted, measured, result in checks(t, s)
            ),
            "",
            *runs_table(t),
            "",
            f"Model − baseline over the same {t.test_size} test messages (one is worth "
            f"{100 / t.test_size:.1f} points), 95% paired bootstrap interval: top-1 "
            f"[{t.interval1[0] * 100:+.1f}, {t.interval1[1] * 100:+.1f}] points, top-3 "
            f"[{t.interval3[0] * 100:+.1f}, {t.interval3[1] * 100:+.1f}] points. The model's "
            f"bytes: {t.model_bytes:,}, loaded in {t.load_seconds * 1000:.0f} ms; its first `rank()` "
            f"{t.first_rank_ms:.0f} ms.",
            "",
            *(scale_lines(s) if s is not None else []),
            "Latency is one `rank(k=3)` (one text, segmentation included) of the model as `loads()` "
            f"returns it, single-threaded, timed with `perf_counter` over {LATENCY_ROUNDS} passes of the "
            f"test messages, on a {os.cpu_count()}-core machine shared with other work: a p99 says as "
            "much about the neighbours as about the code. The baseline is timed the same way.",
            DOCS_END,
        ]
    )


def write_docs(block: str) -> None:
    docs_section_write(DOCS, DOCS_START, DOCS_END, block)


# --- Command line ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=TARGET_SCALE, help="synthetic grievances (0: none)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 6,000 grievances, one latency pass, docs left alone"
    )
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--no-docs", action="store_true", help=f"do not rewrite {DOCS.relative_to(ROOT)}")
    args, _ = parser.parse_known_args(argv)  # make bench passes one BENCH_ARGS to every benchmark
    n = min(args.scale, 6000) if args.quick else args.scale
    rounds = 1 if args.quick else LATENCY_ROUNDS

    started, start_load, info = time.perf_counter(), loadavg(), machine()
    print("Training and routing on the TipDM time split …", flush=True)
    tipdm_result = tipdm(rounds, args.seed)
    scale_result = None
    if n > 0:
        print(f"A synthetic history of {n:,} grievances …", flush=True)
        scale_result = scale(n, args.seed)
    info["load average (1, 5, 15 min) at start / end"] = f"{start_load} / {loadavg()}"
    elapsed = time.perf_counter() - started
    block = markdown(tipdm_result, scale_result, info, elapsed)
    print(block)
    if not (args.no_docs or args.quick):
        write_docs(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
