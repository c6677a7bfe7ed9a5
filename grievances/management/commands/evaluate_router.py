"""``evaluate_router``: train the learned router on an office's labelled history and measure it on held-out
grievances, before anyone switches on automatic dispatch.

The functions below are plain so that ``bench/routing.py`` measures on exactly the same split.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grievances.router_model import TextClassifier, expected_calibration_error, threshold_for

TOP_K = 3
BASELINE_NAME = "TF-IDF char 1-3 + LinearSVC(C=0.5)"
THRESHOLD_FOLDS = 3
TARGET_PRECISION = 0.95
# Without files: the newest fifth of the office's accepted grievances is measured, by acceptance time.
HISTORY_TEST_SHARE = 0.2
HISTORY_MIN_ROWS = 10
TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日")
SHUFFLE_SEED = 0
# Thresholds an office is likely to consider; the report shows what each would auto-dispatch.
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
# Confidence bands of the reliability table: is a 0.9 right nine times in ten?
CALIBRATION_BINS = (0.0, 0.5, 0.7, 0.85, 0.95, 1.0)


class TableError(Exception):
    """A file or column the evaluation cannot use; the command turns it into a CommandError."""


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8, with or without BOM) or .xlsx file (first sheet), keyed by the header row."""
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [
                {key: value or "" for key, value in row.items() if key is not None}
                for row in csv.DictReader(handle)
            ]
    except UnicodeDecodeError as error:
        raise TableError(f"{path}: not UTF-8 ({error.reason}); save it as UTF-8 CSV or .xlsx") from error


def _read_xlsx(path: Path) -> list[dict[str, str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(cell).strip() if cell is not None else "" for cell in next(rows, ())]
        return [
            {name: "" if cell is None else str(cell) for name, cell in zip(header, row, strict=False) if name}
            for row in rows
            if any(cell is not None for cell in row)
        ]
    finally:
        workbook.close()


def require_columns(rows: Sequence[Mapping[str, str]], columns: Iterable[str], path: Path) -> None:
    present = list(rows[0]) if rows else []
    missing = [column for column in columns if column not in present]
    if missing:
        raise TableError(
            f"{path}: no column {', '.join(missing)}; "
            f"its columns are: {', '.join(present) or '(none: the file is empty)'}"
        )


def held_out_share(identifier: str) -> float:
    """Where an id falls in [0, 1): a row is held out for testing when this is below the test fraction.

    A hash of the id, not its position: the same message is on the same side in every run, in every file it
    appears in, and however the file is sorted (Python's own ``hash`` of a str changes between runs).
    """
    digest = hashlib.sha256(identifier.strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Split:
    train: list[dict[str, str]]
    test: list[dict[str, str]]
    # Training rows left out because their id is also among the test rows.
    overlap_dropped: int


def split_rows(
    train_rows: Sequence[dict[str, str]],
    test_rows: Sequence[dict[str, str]],
    *,
    id_col: str | None,
    test_fraction: float | None,
) -> Split:
    """With ``test_fraction``, the test rows whose id falls in the held-out share and the training rows whose
    id does not; with ``id_col``, also no training row whose id is a test row's."""
    train, test = list(train_rows), list(test_rows)
    if test_fraction is not None:
        assert id_col is not None
        test = [row for row in test if held_out_share(row[id_col]) < test_fraction]
        train = [row for row in train if held_out_share(row[id_col]) >= test_fraction]
    dropped = 0
    if id_col is not None:
        test_ids = {row[id_col].strip() for row in test}
        kept = [row for row in train if row[id_col].strip() not in test_ids]
        dropped, train = len(train) - len(kept), kept
    return Split(train=train, test=test, overlap_dropped=dropped)


def row_text(row: Mapping[str, str], text_cols: Sequence[str]) -> str:
    return " ".join(row[column].strip() for column in text_cols if row[column].strip())


def prior_documents(rows: Sequence[Mapping[str, str]], label_col: str) -> dict[str, list[str]]:
    """Label → the distinct names in the other columns of its rows (a taxonomy: 一级分类 → its 二级分类 and
    三级分类). A name found under several labels (其他) describes none of them and is left out."""
    owners: dict[str, set[str]] = {}
    for row in rows:
        label = row[label_col].strip()
        for column, value in row.items():
            name = value.strip()
            if column != label_col and name and label:
                owners.setdefault(name, set()).add(label)
    documents: dict[str, list[str]] = {}
    for name, labels in owners.items():
        if len(labels) == 1:
            documents.setdefault(next(iter(labels)), []).append(name)
    return documents


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] if ordered else 0.0


def _reliability(confident: Sequence[tuple[float, bool]]) -> list[dict[str, Any]]:
    """Per band of top-1 confidence: how many, their mean confidence, and how many were right."""
    table = []
    for low, high in itertools.pairwise(CALIBRATION_BINS):
        group = [(p, right) for p, right in confident if low <= p < high or (high == 1.0 and p == 1.0)]
        table.append(
            {
                "confidence": f"[{low}, {high})" if high < 1.0 else f"[{low}, 1]",
                "count": len(group),
                "mean_confidence": round(sum(p for p, _ in group) / len(group), 4) if group else None,
                "accuracy": _ratio(sum(right for _, right in group), len(group)),
            }
        )
    return table


def row_time(row: Mapping[str, str], column: str, number: int, path: Path) -> datetime:
    """The time in ``column`` of a row (ISO 8601, 2020/1/6 12:09:38, 2020年1月6日 …), or a CommandError that
    names the row."""
    value = row[column].strip()
    parsed = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        for pattern in TIME_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern).replace(tzinfo=UTC)
                break
            except ValueError:
                continue
    if parsed is None:
        raise CommandError(f"{path}, row {number}: {column} {value!r} is not a date and time.")
    # Only the order matters: a time written without its zone is taken as UTC, so that it compares.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def in_time_order(rows: list[dict[str, str]], time_col: str | None, path: Path) -> list[dict[str, str]]:
    """The training rows oldest first (``time_col``), or else shuffled with a fixed seed: the file's own
    order is not taken for time, since files are often grouped by label, and the folds that calibrate the
    model and choose the threshold would then each hold out whole labels."""
    if time_col is None:
        shuffled = list(rows)
        random.Random(SHUFFLE_SEED).shuffle(shuffled)  # noqa: S311 (an order, not a secret)
        return shuffled
    numbered = {id(row): number for number, row in enumerate(rows, start=2)}
    return sorted(rows, key=lambda row: row_time(row, time_col, numbered[id(row)], path))


def chosen_threshold(
    texts: Sequence[str], labels: Sequence[str], priors: Mapping[str, list[str]], *, target: float
) -> float:
    """The auto-dispatch threshold chosen on the training part alone: out-of-fold confidences of
    ``THRESHOLD_FOLDS`` contiguous folds (time-ordered when the file is), never the test part."""
    from sklearn.model_selection import KFold

    confident: list[tuple[float, bool]] = []
    for fit, held in KFold(n_splits=THRESHOLD_FOLDS).split(list(texts)):
        fit_labels = [labels[i] for i in fit]
        if len(set(fit_labels)) < 2:
            continue
        model = TextClassifier.train([texts[i] for i in fit], fit_labels, prior_documents=priors)
        for i in held:
            ranking = model.rank(texts[i], 1)
            confident.append((ranking[0][1], ranking[0][0] == labels[i]) if ranking else (0.0, False))
    return threshold_for(confident, target)


def baseline(
    train: tuple[Sequence[str], Sequence[str]], test: tuple[Sequence[str], Sequence[str]]
) -> dict[str, Any]:
    """Issue 9's yardstick on the same split: TF-IDF character 1–3-grams + LinearSVC(C=0.5)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    if len(set(train[1])) < 2:
        return {"name": BASELINE_NAME, "top1": None, "top3": None}
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    svm = LinearSVC(C=0.5).fit(vectorizer.fit_transform(list(train[0])), list(train[1]))
    scores = np.asarray(svm.decision_function(vectorizer.transform(list(test[0]))))
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores])
    ranked = [[str(svm.classes_[i]) for i in np.argsort(-row)[:TOP_K]] for row in scores]
    n = len(test[1])
    return {
        "name": BASELINE_NAME,
        "top1": _ratio(sum(r[0] == y for r, y in zip(ranked, test[1], strict=True)), n),
        "top3": _ratio(sum(y in r for r, y in zip(ranked, test[1], strict=True)), n),
    }


def evaluate(
    model: TextClassifier, texts: Sequence[str], labels: Sequence[str], *, threshold: float
) -> dict[str, Any]:
    """Top-1/top-3 accuracy, per-label precision and recall of the top-1 label, what ``threshold`` would
    auto-dispatch and how often it would be right, and the time of one ``rank()``."""
    hits1 = hits3 = empty = 0
    predicted: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    support = Counter(labels)
    confident: list[tuple[float, bool]] = []
    timings: list[float] = []
    for text, label in zip(texts, labels, strict=True):
        started = time.perf_counter()
        ranking = model.rank(text, TOP_K)
        timings.append((time.perf_counter() - started) * 1000)
        ranked = [candidate for candidate, _, _ in ranking]
        if not ranked:
            empty += 1
            confident.append((0.0, False))
            continue
        top = ranked[0]
        predicted[top] += 1
        hits1 += top == label
        hits3 += label in ranked
        correct[top] += top == label
        confident.append((ranking[0][1], top == label))

    def dispatched(at: float) -> tuple[int, int]:
        chosen = [right for probability, right in confident if probability >= at]
        return len(chosen), sum(chosen)

    n = len(texts)
    auto, auto_right = dispatched(threshold)
    return {
        "top1": _ratio(hits1, n),
        "top3": _ratio(hits3, n),
        "top1_accuracy": _ratio(hits1, n),  # the names of earlier versions, kept for their readers
        "top3_accuracy": _ratio(hits3, n),
        "expected_calibration_error": expected_calibration_error(confident),
        "per_label": {
            label: {
                "precision": _ratio(correct[label], predicted[label]),
                "recall": _ratio(correct[label], support[label]),
                "support": support[label],
            }
            for label in sorted(support.keys() | predicted.keys())
        },
        "threshold": threshold,
        "auto_dispatched_share": _ratio(auto, n),
        "auto_dispatched_precision": _ratio(auto_right, auto),
        "by_threshold": [
            {"threshold": at, "share": _ratio(count, n), "precision": _ratio(right, count)}
            for at in THRESHOLDS
            for count, right in [dispatched(at)]
        ],
        "calibration": _reliability(confident),
        "no_candidates": empty,
        "seconds_per_route_ms": round(sum(timings) / n, 3) if n else None,
        "route_ms_p50": round(_percentile(timings, 0.5), 3),
        "route_ms_p99": round(_percentile(timings, 0.99), 3),
    }


class Command(BaseCommand):
    help = (
        "Train the learned router on one labelled CSV/xlsx and measure it on another (or on a held-out share "
        "of the same, split by id) - or, given no files, on the office's own accepted grievances, labelled "
        "by the agency that finally handled each and split by time; prints one JSON object: top-1/top-3 "
        "accuracy, per-label precision and recall, calibration, what the auto-dispatch threshold would "
        "dispatch and how precisely, and the TF-IDF + LinearSVC baseline on the same split."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--train",
            type=Path,
            help="Labelled grievances to learn from. Without --train and --test: the office's own history.",
        )
        parser.add_argument("--test", type=Path, help="Labelled grievances to measure on.")
        parser.add_argument(
            "--text-cols",
            help="Comma-separated columns whose text is routed (joined by a space); needed with files.",
        )
        parser.add_argument("--label-col", help="The column holding the right answer; needed with files.")
        parser.add_argument(
            "--id-col",
            help="A column identifying each grievance; rows of the test set are left out of training.",
        )
        parser.add_argument(
            "--threshold",
            type=float,
            help="Auto-dispatch confidence to measure at (default: chosen on the training part alone, by "
            "out-of-fold confidences, to reach --target-precision).",
        )
        parser.add_argument(
            "--target-precision",
            type=float,
            default=TARGET_PRECISION,
            help="How often auto-dispatch must be right when the threshold is chosen "
            f"(default {TARGET_PRECISION}).",
        )
        parser.add_argument(
            "--split-by-id",
            type=float,
            metavar="FRACTION",
            help="Test on the rows whose id hashes into this share, train on the others (needs --id-col); "
            "required when --train and --test are the same file.",
        )
        parser.add_argument(
            "--prior",
            type=Path,
            help="A CSV/xlsx describing the labels: the label in --prior-label-col, names in the other "
            "columns (e.g. a taxonomy). Each name is learned as a short example of its label.",
        )
        parser.add_argument("--prior-label-col", help="The label column of --prior (default: its first).")
        parser.add_argument(
            "--time-col",
            help="A column with each grievance's time: the model learns oldest first and its folds follow "
            "time. Without it the training rows are shuffled (with a fixed seed), since a file's order is "
            "often by label, not by time.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = self.report(options)
        except TableError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))

    def report(self, options: Mapping[str, Any]) -> dict[str, Any]:
        if options["train"] is None and options["test"] is None:
            return self.history_report(options)
        missing = [
            flag
            for flag, key in (
                ("--train", "train"),
                ("--test", "test"),
                ("--text-cols", "text_cols"),
                ("--label-col", "label_col"),
            )
            if not options.get(key)
        ]
        if missing:
            raise CommandError(
                f"With files, give {', '.join(missing)} too; or neither --train nor --test, "
                "for the office's own history."
            )
        text_cols = [column.strip() for column in options["text_cols"].split(",") if column.strip()]
        label_col: str = options["label_col"]
        id_col: str | None = options["id_col"]
        fraction: float | None = options["split_by_id"]
        threshold = options["threshold"]
        target = float(options.get("target_precision") or TARGET_PRECISION)
        if not 0.0 < target <= 1.0:
            raise CommandError(f"--target-precision {target} is not between 0 and 1.")
        if not text_cols:
            raise CommandError("--text-cols names no column.")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise CommandError(f"--threshold {threshold} is not between 0 and 1.")
        if fraction is not None and not 0.0 < fraction < 1.0:
            raise CommandError(f"--split-by-id {fraction} is not a fraction between 0 and 1.")
        if fraction is not None and id_col is None:
            raise CommandError(
                "--split-by-id needs --id-col: the split is by id, so no grievance is on both sides."
            )
        train_path, test_path = options["train"], options["test"]
        same_file = train_path.resolve() == test_path.resolve()
        if same_file and fraction is None:
            raise CommandError(
                "--train and --test are the same file: give --split-by-id FRACTION (with --id-col), "
                "or a router measured on what it learned from would look better than it is."
            )

        time_col: str | None = options.get("time_col")
        columns = [*text_cols, label_col, *([id_col] if id_col else [])]
        train_rows = read_table(train_path)
        require_columns(train_rows, [*columns, *([time_col] if time_col else [])], train_path)
        test_rows = train_rows if same_file else read_table(test_path)
        require_columns(test_rows, columns, test_path)
        split = split_rows(train_rows, test_rows, id_col=id_col, test_fraction=fraction)
        train = in_time_order([row for row in split.train if row[label_col].strip()], time_col, train_path)
        test = [row for row in split.test if row[label_col].strip()]
        if not train or not test:
            raise CommandError(
                f"Nothing to evaluate: {len(train)} training rows and {len(test)} test rows with a label."
            )

        train_labels = [row[label_col].strip() for row in train]
        priors: dict[str, list[str]] = {}
        if options["prior"] is not None:
            prior_rows = read_table(options["prior"])
            prior_label_col = options["prior_label_col"] or (
                next(iter(prior_rows[0]), "") if prior_rows else ""
            )
            require_columns(prior_rows, [prior_label_col], options["prior"])
            known = set(train_labels)
            # Labels the history never used would only compete with the ones it did.
            priors = {
                label: names
                for label, names in prior_documents(prior_rows, prior_label_col).items()
                if label in known
            }

        train_texts = [row_text(row, text_cols) for row in train]
        source = "given"
        if threshold is None:
            threshold = chosen_threshold(train_texts, train_labels, priors, target=target)
            source = f"chosen on {THRESHOLD_FOLDS} folds of the training part for precision {target}"
        started = time.perf_counter()
        try:
            model = TextClassifier.train(
                [row_text(row, text_cols) for row in train], train_labels, prior_documents=priors
            )
        except ValueError as error:  # fewer than two labels, nothing but empty texts
            raise CommandError(f"Cannot train on {train_path}: {error}.") from error
        train_seconds = time.perf_counter() - started
        test_labels = [row[label_col].strip() for row in test]
        learned = set(model.labels)
        report: dict[str, Any] = {
            "train_size": len(train),
            "test_size": len(test),
            "labels": len(model.labels),
        }
        report.update(
            evaluate(model, [row_text(row, text_cols) for row in test], test_labels, threshold=threshold)
        )
        report["threshold_source"] = source
        report["baseline"] = baseline(
            ([row_text(row, text_cols) for row in train], train_labels),
            ([row_text(row, text_cols) for row in test], test_labels),
        )
        report.update(
            {
                "test_labels_unseen_in_training": sum(label not in learned for label in test_labels),
                "split": {
                    "id_col": id_col,
                    "test_fraction": fraction,
                    "train_rows_dropped_as_in_test": split.overlap_dropped,
                    "train_order": f"by {time_col}" if time_col else f"shuffled (seed {SHUFFLE_SEED})",
                },
                "prior_documents": sum(len(names) for names in priors.values()),
                "temperature": model.temperature,
                "train_seconds": round(train_seconds, 2),
            }
        )
        return report

    def history_report(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The office's accepted grievances, labelled by the agency that finally handled each (after any
        returns), oldest first: the newest ``HISTORY_TEST_SHARE`` are measured, the rest train."""
        from grievances.models import Grievance
        from grievances.services.training import TAUGHT_STATES

        rows = list(
            Grievance.objects.filter(state__in=TAUGHT_STATES, handling_agency__isnull=False)
            .order_by("accepted_at", "id")
            .values_list("title", "details", "handling_agency__name")
        )
        cut = int(len(rows) * (1 - HISTORY_TEST_SHARE))
        train, test = rows[:cut], rows[cut:]
        if len(train) < HISTORY_MIN_ROWS or not test or len({label for *_, label in train}) < 2:
            raise CommandError(
                f"Too little history to evaluate: {len(rows)} accepted grievances handled by "
                f"{len({label for *_, label in rows})} agencies (at least {HISTORY_MIN_ROWS} to train on, "
                "from two agencies or more). Give --train and --test files instead."
            )
        texts = [f"{title}\n{details}" for title, details, _ in train]
        labels = [label for *_, label in train]
        target = float(options.get("target_precision") or TARGET_PRECISION)
        threshold = options["threshold"]
        source = "given"
        if threshold is None:
            threshold = chosen_threshold(texts, labels, {}, target=target)
            source = f"chosen on {THRESHOLD_FOLDS} folds of the training part for precision {target}"
        started = time.perf_counter()
        model = TextClassifier.train(texts, labels, titles=[title for title, _, _ in train])
        train_seconds = time.perf_counter() - started
        test_texts = [f"{title}\n{details}" for title, details, _ in test]
        test_labels = [label for *_, label in test]
        report: dict[str, Any] = {
            "source": "history",
            "train_size": len(train),
            "test_size": len(test),
            "labels": len(model.labels),
        }
        report.update(evaluate(model, test_texts, test_labels, threshold=threshold))
        report["threshold_source"] = source
        report["baseline"] = baseline((texts, labels), (test_texts, test_labels))
        report.update(
            {
                "split": {"by": "accepted_at", "test_share": HISTORY_TEST_SHARE},
                "temperature": model.temperature,
                "train_seconds": round(train_seconds, 2),
            }
        )
        return report
