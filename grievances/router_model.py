"""The router's learned model on scikit-learn (issue 9): a text classifier trained on the grievances that
agencies accepted, with the duty list's own words as extra training documents.

``evaluate_router`` and ``bench/router_model.py`` measure this model. It is to replace
``grievances.learning.TextClassifier`` (a hand-written perceptron), which routing, ``router_train`` and
``bench/routing.py`` still use until they move over together, with a RouterModel that stores this
model's bytes, metrics and training window.

**Features** (a ``FeatureUnion`` of four TF-IDF vectorisers, all sublinear): character 1–3-grams
(``char_wb``) and jieba word 1–2-grams, each over the whole text (title and details) and again over the
title alone, the title's block weighted ``TITLE_WEIGHT``: the citizen's title names the matter, the details
add context and noise. Character n-grams do not depend on how jieba segments a citizen's sentence; words
and word pairs carry what characters split apart. jieba runs once per text (``document``), in two processes
for a large history: it is most of the training time.

**Classifier.** ``LinearSVC(class_weight="balanced")``, so that a label with few grievances is not drowned
by the busy ones. **Probabilities** by temperature scaling of its scores (``softmax(score / T)``), ``T``
fitted by maximum likelihood on out-of-fold scores of the grievances — the calibration
``CalibratedClassifierCV(method="temperature")`` does, but of one model trained on everything rather than
an ensemble of fold models: a third of the memory and prediction time, and the ranking is that of the
model trained on all the history. The calibration folds split the grievances only: prior documents train
in every fold, since a label's description may be all it has, and how a four-character duty title scores
says nothing about how grievances score. With thousands of grievances, one time-ordered fold (the newest
``HOLDOUT_SHARE``) instead of ``CALIBRATION_FOLDS``: texts are passed oldest first.

``bench/router_model.py`` compares it with the issue's baseline on a time split of the TipDM messages,
choosing C and the title's weight by cross-validation on time-ordered folds of the training part only.

**Prior documents** (label → short texts: a duty's title, keywords, synonyms; a topic's names in a
taxonomy) are one training document each. An office with no history routes by them alone (cold start).
"""

from __future__ import annotations

import io
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import KFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

FORMAT_VERSION = 2
# The beginning of a long complaint names the matter; the rest costs time and rarely changes the label.
# jieba (~150,000 characters a second here) reads the first WORD_CHARS, the character n-grams the first
# MAX_TEXT_CHARS.
MAX_TEXT_CHARS = 1000
WORD_CHARS = 300
TITLE_WEIGHT = 1.0
C = 0.5
CALIBRATION_FOLDS = 3
HOLDOUT_FROM = 3000  # grievances: from here one time-ordered fold calibrates
HOLDOUT_SHARE = 0.2
# From this many grievances, an n-gram seen once is mostly a name or a typo; and each block keeps its most
# frequent n-grams only, which bounds the model (labels × features weights).
MIN_DF_FROM = 2000
MAX_FEATURES = {"text_chars": 60_000, "text_words": 60_000, "title_chars": 20_000, "title_words": 20_000}
PARALLEL_FROM = 5000  # texts: below this, starting worker processes costs more than it saves
EXPLANATION_TERMS = 5

_WORD_RE = re.compile(r"[^\W_]")
_jieba_lock = threading.Lock()
_jieba_module: Any = None

# (title, whole text, title's words, text's words), the words joined by spaces.
Document = tuple[str, str, str, str]


def _jieba() -> Any:
    """jieba with its dictionary loaded, once per process and quietly (it takes about a second)."""
    global _jieba_module
    if _jieba_module is None:
        with _jieba_lock:
            if _jieba_module is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_module = jieba
    return _jieba_module


def normalize(text: str) -> str:
    """As ``duty_lists.search.normalize``: full-width letters and digits become ASCII, then lowercase."""
    return unicodedata.normalize("NFKC", text).lower()


def words(text: str) -> list[str]:
    """jieba's words of ``text`` (precise mode, without HMM guessing), punctuation and spaces left out."""
    return [word for word in _jieba().lcut(text, HMM=False) if _WORD_RE.search(word) and " " not in word]


def document(text: str, title: str | None = None) -> Document:
    """The text prepared for ``features``; without a title, the text's first line is its title."""
    if title is None:
        title = text.split("\n", 1)[0]
    title, text = normalize(title[:MAX_TEXT_CHARS]), normalize(text[:MAX_TEXT_CHARS])
    title_words = words(title)
    text_words = title_words if text == title else words(text[:WORD_CHARS])
    return title, text, " ".join(title_words), " ".join(text_words)


def _documents(pairs: Sequence[tuple[str, str | None]]) -> list[Document]:
    if len(pairs) < PARALLEL_FROM:
        return [document(text, title) for text, title in pairs]
    chunks = [pairs[i : i + 2000] for i in range(0, len(pairs), 2000)]
    done = joblib.Parallel(n_jobs=2)(joblib.delayed(_document_chunk)(chunk) for chunk in chunks)
    return [doc for chunk in done for doc in chunk]


def _document_chunk(pairs: Sequence[tuple[str, str | None]]) -> list[Document]:
    return [document(text, title) for text, title in pairs]


# Module-level functions, not lambdas: the pipeline is pickled by joblib, which stores them by name.
def _column(i: int) -> Callable[[Sequence[Document]], list[str]]:
    return [_title, _text, _title_words, _text_words][i]


def _title(rows: Sequence[Document]) -> list[str]:
    return [row[0] for row in rows]


def _text(rows: Sequence[Document]) -> list[str]:
    return [row[1] for row in rows]


def _title_words(rows: Sequence[Document]) -> list[str]:
    return [row[2] for row in rows]


def _text_words(rows: Sequence[Document]) -> list[str]:
    return [row[3] for row in rows]


def _split(text: str) -> list[str]:
    return text.split()


def features(*, title_weight: float = TITLE_WEIGHT, min_df: int = 1) -> FeatureUnion:
    """The text's and the title's character and word n-grams (see the module docstring)."""

    def block(name: str, column: int) -> tuple[str, Pipeline]:
        if name.endswith("chars"):
            vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=False)
        else:
            vectorizer = TfidfVectorizer(
                tokenizer=_split, token_pattern=None, lowercase=False, ngram_range=(1, 2)
            )
        vectorizer.set_params(
            sublinear_tf=True, min_df=min_df, max_features=MAX_FEATURES[name], dtype=np.float32
        )
        return name, Pipeline([("select", FunctionTransformer(_column(column))), ("tfidf", vectorizer)])

    return FeatureUnion(
        [block("text_chars", 1), block("text_words", 3), block("title_chars", 0), block("title_words", 2)],
        transformer_weights={
            "text_chars": 1.0,
            "text_words": 1.0,
            "title_chars": title_weight,
            "title_words": title_weight,
        },
    )


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_temperature(scores: np.ndarray, targets: np.ndarray) -> float:
    """The ``T`` of ``softmax(scores / T)`` of least log-loss for rows of ``scores`` whose right column is
    ``targets``."""

    def loss(log_t: float) -> float:
        p = softmax(scores, math.exp(log_t))[np.arange(len(targets)), targets]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    return float(math.exp(minimize_scalar(loss, bounds=(-6.0, 4.0), method="bounded").x))


@dataclass
class TextClassifier:
    """Ranks labels for a text; build with ``train`` or ``loads``."""

    features: FeatureUnion
    classifier: Any  # fitted: classes_, and decision_function (temperature-scaled) or predict_proba
    temperature: float | None = None  # None: the classifier's own predict_proba
    examples: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    _names: np.ndarray | None = field(default=None, repr=False)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(str(label) for label in self.classifier.classes_)

    # --- Training ------------------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        titles: Sequence[str] | None = None,
        prior_documents: Mapping[str, Iterable[str]] | None = None,
        c: float = C,
        title_weight: float = TITLE_WEIGHT,
        classifier: Callable[[], Any] | None = None,
    ) -> TextClassifier:
        """Learn from ``texts[i]`` (oldest first; titled ``titles[i]``, or else by its first line) labelled
        ``labels[i]``, plus short descriptions of labels. Deterministic. ``classifier`` makes an unfitted
        scikit-learn classifier to use instead of LinearSVC (the benchmark's alternatives); one with
        ``predict_proba`` keeps its own probabilities."""
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if titles is not None and len(titles) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(titles)} titles")
        rows = _documents([(text, None if titles is None else titles[i]) for i, text in enumerate(texts)])
        priors = [
            (document(text, text), str(label))
            for label, label_texts in sorted((prior_documents or {}).items())
            for text in label_texts
            if text.strip()
        ]
        y = np.array([*map(str, labels), *(label for _, label in priors)])
        if not any(row[1].strip() for row in rows) and not priors:
            raise ValueError("nothing to learn from: no texts and no prior documents")
        if len(set(y)) < 2:
            raise ValueError("nothing to choose between: fewer than two labels")
        make = classifier or (lambda: LinearSVC(C=c, class_weight="balanced"))
        union = features(title_weight=title_weight, min_df=2 if len(rows) >= MIN_DF_FROM else 1)
        matrix = union.fit_transform([*rows, *(row for row, _ in priors)]).tocsr()
        for _, pipeline in union.transformer_list:
            # The n-grams cut by min_df and max_features: only for introspection, and most of the pickle.
            pipeline[-1].stop_words_ = None
        model = make().fit(matrix, y)
        temperature = None
        if not hasattr(model, "predict_proba"):
            temperature = _calibrate(make, matrix, y, len(rows), len(priors))
        return cls(features=union, classifier=model, temperature=temperature, examples=len(rows))

    # --- Ranking -------------------------------------------------------------------------------------------

    def probabilities(self, docs: Sequence[Document]) -> np.ndarray:
        """One row of label probabilities (in ``labels`` order) per prepared document."""
        matrix = self.features.transform(docs)
        if self.temperature is None:
            return np.asarray(self.classifier.predict_proba(matrix))
        return softmax(_scores(self.classifier, matrix), self.temperature)

    def rank(self, text: str, k: int = 3, *, title: str | None = None) -> list[tuple[str, float, list[str]]]:
        """The ``k`` likeliest labels with their probability and the n-grams of the text that weighed most
        for each; a text with no feature the model knows gets no candidates."""
        if not text.strip() and not (title or "").strip():
            return []
        doc = document(text, title)
        vector = self.features.transform([doc]).tocsr()
        names = self._feature_names()
        # char_wb pads words with spaces, so a text of nothing known still has the blank n-grams.
        if not any(str(names[i]).partition("__")[2].strip() for i in vector.indices):
            return []
        if self.temperature is None:
            probabilities = np.asarray(self.classifier.predict_proba(vector))[0]
        else:
            probabilities = softmax(_scores(self.classifier, vector), self.temperature)[0]
        order = np.argsort(-probabilities, kind="stable")[:k]
        return [
            (str(self.classifier.classes_[i]), float(probabilities[i]), self._explain(vector, int(i), doc))
            for i in order
        ]

    def _explain(self, vector: Any, label: int, doc: Document) -> list[str]:
        """The n-grams with the largest positive share of the label's score that a dispatcher can read: the
        text's words and word pairs as written, and character n-grams that are one of its words."""
        coef = getattr(self.classifier, "coef_", None)
        if coef is None:
            return []
        # Two labels: one row, positive for the second.
        row = (coef[0] if label == 1 else -coef[0]) if coef.shape[0] == 1 else coef[label]
        row = row.toarray().ravel() if hasattr(row, "toarray") else np.asarray(row).ravel()
        contributions = vector.data * row[vector.indices]
        names = self._feature_names()
        text_words = set(doc[3].split()) | set(doc[2].split())
        shown: list[str] = []
        for position in np.argsort(-contributions, kind="stable"):
            if contributions[position] <= 0 or len(shown) == EXPLANATION_TERMS:
                break
            kind, _, gram = str(names[vector.indices[position]]).partition("__")
            if kind.endswith("words"):
                gram = gram.replace(" ", "")
                readable = len(gram) >= 2 and gram in doc[1]
            else:
                readable = gram in text_words and len(gram) >= 2
            if readable and gram not in shown:
                shown.append(gram)
        return shown

    def _feature_names(self) -> np.ndarray:
        if self._names is None:
            # FeatureUnion's own get_feature_names_out asks the selecting FunctionTransformers too.
            self._names = np.concatenate(
                [
                    np.array(
                        [f"{name}__{gram}" for gram in pipeline[-1].get_feature_names_out()], dtype=object
                    )
                    for name, pipeline in self.features.transformer_list
                ]
            )
        return self._names

    # --- Storage -------------------------------------------------------------------------------------------

    def dumps(self) -> bytes:
        buffer = io.BytesIO()
        payload = {
            "format": FORMAT_VERSION,
            "features": self.features,
            "classifier": self.classifier,
            "temperature": self.temperature,
            "examples": self.examples,
            "metrics": self.metrics,
        }
        joblib.dump(payload, buffer, compress=3)
        return buffer.getvalue()

    @classmethod
    def loads(cls, data: bytes) -> TextClassifier:
        """A model stored by ``dumps``; ``ValueError`` for anything else (another format, a damaged row).

        joblib unpickles: only bytes this application wrote (RouterModel rows) may be given to it."""
        try:
            payload = joblib.load(io.BytesIO(bytes(data)))
        except Exception as error:  # unpickling fails in as many ways as bytes can be wrong
            raise ValueError(f"not a router model: {error.__class__.__name__}: {error}") from error
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            raise ValueError("not a router model of this version")
        return cls(
            features=payload["features"],
            classifier=payload["classifier"],
            temperature=payload["temperature"],
            examples=payload.get("examples", 0),
            metrics=payload.get("metrics", {}),
        )


def _scores(model: Any, matrix: Any) -> np.ndarray:
    scores = np.asarray(model.decision_function(matrix), dtype=float)
    if scores.ndim == 1:  # two labels: one score, positive for the second
        scores = np.column_stack([-scores, scores])
    return scores


def _calibrate(make: Callable[[], Any], matrix: Any, y: np.ndarray, real: int, priors: int) -> float:
    """The temperature fitted on out-of-fold scores of the grievances (rows ``0 … real-1``, oldest first);
    the prior documents (the rows after them) train in every fold."""
    if real < 2 * CALIBRATION_FOLDS:
        return 1.0  # cold start: nothing to calibrate on; LinearSVC margins of ±1 make it cautious
    prior_rows = np.arange(real, real + priors)
    if real >= HOLDOUT_FROM:
        cut = int(real * (1 - HOLDOUT_SHARE))
        folds = [(np.arange(cut), np.arange(cut, real))]
    else:
        folds = list(KFold(n_splits=CALIBRATION_FOLDS).split(np.zeros(real)))
    classes = np.unique(y)
    scores, targets = [], []
    for train, test in folds:
        train = np.concatenate([train, prior_rows])
        if len(set(y[train])) < 2:
            continue
        model = make().fit(matrix[train], y[train])
        # A label the fold's model never saw gets no probability (exp(-inf) = 0): its grievances count as
        # confident misses, as they would be in use.
        fold_scores = np.full((len(test), len(classes)), -np.inf)
        fold_scores[:, np.searchsorted(classes, model.classes_)] = _scores(model, matrix[test])
        scores.append(fold_scores)
        targets.append(np.searchsorted(classes, y[test]))
    if not scores:
        return 1.0
    return fit_temperature(np.vstack(scores), np.concatenate(targets))


# --- Measuring ---------------------------------------------------------------------------------------------


def expected_calibration_error(confident: Sequence[tuple[float, bool]], bins: int = 10) -> float | None:
    """How far the top-1 confidence is from how often it is right, weighted over ``bins`` equal bands."""
    if not confident:
        return None
    bands: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, right in confident:
        bands[min(bins - 1, int(p * bins))].append((p, right))
    gap = sum(
        len(band) * abs(sum(p for p, _ in band) / len(band) - sum(r for _, r in band) / len(band))
        for band in bands
        if band
    )
    return round(gap / len(confident), 4)


def threshold_for(confident: Sequence[tuple[float, bool]], target: float) -> float:
    """The lowest top-1 confidence above which the top-1 was right at least ``target`` of the time; 1.0
    (dispatch nothing by itself) when none reaches it."""
    best, right, count = 1.0, 0, 0
    for p, ok in sorted(confident, key=lambda pair: -pair[0]):
        right, count = right + ok, count + 1
        if right / count >= target:
            best = p
    return best
