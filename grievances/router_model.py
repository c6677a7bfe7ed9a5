"""The router's learned model on scikit-learn (issue 9): a text classifier trained on the grievances that
agencies accepted, with the duty list's own words as extra training documents.

Routing (grievances/routing.py) blends it with the duty list; ``router_train`` trains and stores it as
RouterModel versions; ``evaluate_router``, ``bench/router_model.py`` and ``bench/routing.py`` measure it.

**Features** (``Features``): four blocks of sublinear TF-IDF, l2-normalised each: character n-grams and
jieba word 1–2-grams (rjieba: jieba's dictionary and precise mode, in Rust), over the whole text (title and
details; characters 2–3) and again over the title alone (characters 1–3), the title's blocks weighted
``TITLE_WEIGHT``: the citizen's title names the matter, the details add context and noise. Character n-grams
do not depend on how a citizen's sentence segments; words and word pairs carry what characters split apart.
Each block is ``HashingVectorizer`` counts (stateless, so a large history is counted in two processes, and
nothing but the counts crosses between them), the columns seen in at least ``min_df`` texts and most
frequent (``MAX_FEATURES``) kept, then ``TfidfTransformer``. The model keeps no n-gram strings: an
explanation hashes the input's own words to find their columns.

**Classifier.** A linear SVM with balanced class weights, so that a label with few grievances is not
drowned by the busy ones: ``LinearSVC`` (liblinear, exact) below ``SGD_FROM`` grievances, and the same
hinge loss and L2 penalty (``alpha = 1 / (C · n)``) fitted by ``SGDClassifier`` in ``SGD_EPOCHS`` passes
from there, one label per core: on 100,000 grievances liblinear takes over a minute a fit, SGD about ten
seconds at the same held-out accuracy (bench/routing.py). **Probabilities** by temperature scaling of its
scores (``softmax(score / T)``), ``T`` fitted by maximum likelihood on held-out scores — what
``CalibratedClassifierCV(method="temperature")`` does, but of one model trained on everything rather than
an ensemble of fold models: a third of the memory and prediction time, and the ranking is that of the
model trained on all the history. The held-out grievances are the newest ``HOLDOUT_SHARE`` from
``HOLDOUT_FROM`` (texts are passed oldest first), or ``CALIBRATION_FOLDS`` folds below; a caller that
measures a candidate on its own newest grievances (``router_train``) passes ``holdout``: the model
trained without them is kept as ``candidate`` (with the same temperature), so that one training fits
twice, not four times. Prior documents train in every fold, since a label's description may be all it
has, and how a four-character duty title scores says nothing about how grievances score.

``bench/router_model.py`` compares it with the issue's baseline on a time split of the TipDM messages,
choosing C and the title's weight by cross-validation on time-ordered folds of the training part only.

**Prior documents** (label → short texts: a duty's title, keywords, synonyms; a topic's names in a
taxonomy) are one training document each. An office with no history routes by them alone (cold start).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import KFold
from sklearn.svm import LinearSVC

# Models pickled before the features moved to grievances.router_features name their classes and functions
# here; joblib finds them by these names.
from grievances.router_features import (  # noqa: F401
    BLOCKS,
    TITLE_WEIGHT,
    Block,
    Document,
    Features,
    _column,
    _text,
    _text_words,
    _title,
    _title_words,
    count,
    document,
    features,
    normalize,
    words,
)

FORMAT_VERSION = 3
C = 0.5
CALIBRATION_FOLDS = 3
HOLDOUT_FROM = 3000  # grievances: from here one time-ordered fold calibrates
HOLDOUT_SHARE = 0.2
SGD_FROM = 20_000  # grievances: from here SGD fits the SVM (see the module docstring)
SGD_EPOCHS = 5
# From this many grievances, an n-gram seen once is mostly a name or a typo.
MIN_DF_FROM = 2000
EXPLANATION_TERMS = 5


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

    features: Features
    classifier: Any  # fitted: classes_, and decision_function (temperature-scaled) or predict_proba
    temperature: float | None = None  # None: the classifier's own predict_proba
    examples: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    # From ``train(..., holdout=n)``: the model fitted without the newest n grievances (not stored).
    candidate: TextClassifier | None = field(default=None, repr=False)
    _weights: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _blank: tuple[int, ...] | None = field(default=None, repr=False)

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
        holdout: int | None = None,
    ) -> TextClassifier:
        """Learn from ``texts[i]`` (oldest first; titled ``titles[i]``, or else by its first line) labelled
        ``labels[i]``, plus short descriptions of labels. Deterministic. ``classifier`` makes an unfitted
        scikit-learn classifier to use instead of the SVM (the benchmark's alternatives); one with
        ``predict_proba`` keeps its own probabilities. ``holdout``: calibrate on the newest ``holdout``
        texts and keep the model fitted without them as ``candidate``."""
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if titles is not None and len(titles) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(titles)} titles")
        if holdout is not None and not 0 < holdout < len(texts):
            raise ValueError(f"a holdout of {holdout} out of {len(texts)} texts")
        prior_texts, prior_labels = [], []
        for label, label_texts in sorted((prior_documents or {}).items()):
            for text in label_texts:
                if text.strip():
                    prior_texts.append(text)
                    prior_labels.append(str(label))
        # The prior documents first: the fit without the newest texts is then of the matrix's first rows.
        y = np.array([*prior_labels, *map(str, labels)])
        if not any(text.strip() for text in texts) and not prior_texts:
            raise ValueError("nothing to learn from: no texts and no prior documents")
        if len(set(y)) < 2:
            raise ValueError("nothing to choose between: fewer than two labels")
        union = Features.make(title_weight=title_weight)
        pairs: list[tuple[str, str | None]] = [(text, text) for text in prior_texts]
        pairs += [(text, None if titles is None else titles[i]) for i, text in enumerate(texts)]
        matrix = union.fit_transform(count(union, pairs), min_df=2 if len(texts) >= MIN_DF_FROM else 1)
        priors = len(prior_texts)
        make = classifier or (lambda: _svm(c, len(texts)))
        fold = holdout
        if fold is None and len(texts) >= HOLDOUT_FROM:
            fold = int(len(texts) * HOLDOUT_SHARE)
        candidate, temperature = None, None
        if fold is not None:
            candidate, temperature = _holdout_fit(make, matrix, y, priors, fold)
            if candidate is None and holdout is not None:
                raise ValueError(
                    "nothing to choose between without the held-out texts: fewer than two labels"
                )
        model = _fit(make, matrix, y)
        if hasattr(model, "predict_proba"):
            temperature = None
        elif candidate is None:
            temperature = _calibrate(make, matrix, y, priors)
        trained = cls(features=union, classifier=model, temperature=temperature, examples=len(texts))
        if candidate is not None and holdout is not None:
            trained.candidate = cls(
                features=union, classifier=candidate, temperature=temperature, examples=len(texts) - holdout
            )
        return trained

    # --- Ranking -------------------------------------------------------------------------------------------

    def probabilities(self, docs: Sequence[Document]) -> np.ndarray:
        """One row of label probabilities (in ``labels`` order) per prepared document."""
        matrix = self.features.vectors(docs)
        if self.temperature is None:
            return np.asarray(self.classifier.predict_proba(matrix))
        return softmax(self._scores(matrix), self.temperature)

    def rank(self, text: str, k: int = 3, *, title: str | None = None) -> list[tuple[str, float, list[str]]]:
        """The ``k`` likeliest labels with their probability and the words of the text that weighed most for
        each; a text with no feature the model knows gets no candidates."""
        if not text.strip() and not (title or "").strip():
            return []
        doc = document(text, title)
        vector = self.features.vectors([doc])
        # The character blocks count spaces too: a text of nothing known still has those.
        if not set(vector.indices.tolist()) - set(self._blank_columns()):
            return []
        if self.temperature is None:
            probabilities = np.asarray(self.classifier.predict_proba(vector))[0]
        else:
            probabilities = softmax(self._scores(vector), self.temperature)[0]
        order = np.argsort(-probabilities, kind="stable")[:k]
        return [
            (str(self.classifier.classes_[i]), float(probabilities[i]), self._explain(vector, int(i), doc))
            for i in order
        ]

    def _scores(self, matrix: sp.csr_matrix) -> np.ndarray:
        """The classifier's decision scores, one column per label: ``matrix @ coef.T + intercept`` on a copy
        of the weights laid out for it (scipy would copy the transposed coefficients on every call)."""
        weights = self._linear()
        if weights is None:
            return _scores(self.classifier, matrix)
        coef_t, intercept = weights
        scores = np.asarray(matrix @ coef_t, dtype=float) + intercept
        if scores.shape[1] == 1:  # two labels: one score, positive for the second
            scores = np.column_stack([-scores[:, 0], scores[:, 0]])
        return scores

    def _linear(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._weights is None:
            coef = getattr(self.classifier, "coef_", None)
            if coef is None or sp.issparse(coef):
                return None
            self._weights = (
                np.ascontiguousarray(np.asarray(coef, dtype=np.float32).T),
                np.asarray(self.classifier.intercept_, dtype=float),
            )
        return self._weights

    def _blank_columns(self) -> tuple[int, ...]:
        if self._blank is None:
            offsets = np.cumsum([0, *self.features.sizes])
            self._blank = tuple(
                int(offsets[i] + column)
                for i, block in enumerate(self.features.blocks)
                if block.name.endswith("chars")
                for column in [block.column_of(" ")]
                if column >= 0
            )
        return self._blank

    def _explain(self, vector: sp.csr_matrix, label: int, doc: Document) -> list[str]:
        """The words and word pairs of the text with the largest positive share of the label's score: each
        one's columns (as a word, and as characters when it is two or three long) in every block, weighed
        by the text's values there and the label's coefficients."""
        weights = self._linear()
        if weights is None:
            return []
        coef_t = weights[0]
        # Two labels: one column, positive for the second.
        sign, column = (1.0 if label == 1 else -1.0, 0) if coef_t.shape[1] == 1 else (1.0, label)
        values = dict(zip(vector.indices.tolist(), vector.data.tolist(), strict=True))
        offsets = np.cumsum([0, *self.features.sizes])
        title_words, text_words = doc[2].split(), doc[3].split()
        grams: list[str] = []
        for sequence in (title_words, text_words):
            for i, word in enumerate(sequence):
                grams.append(word)
                if i + 1 < len(sequence):
                    grams.append(f"{word} {sequence[i + 1]}")
        shares: dict[str, float] = {}
        for gram in dict.fromkeys(grams):
            shown = gram.replace(" ", "")
            if len(shown) < 2 or shown in shares:
                continue
            share = 0.0
            for b, block in enumerate(self.features.blocks):
                if block.name.endswith("chars"):
                    if " " in gram or len(shown) > 3:
                        continue
                    key = shown
                else:
                    key = gram
                kept = block.column_of(key)
                if kept >= 0:
                    at = int(offsets[b] + kept)
                    share += values.get(at, 0.0) * float(coef_t[at, column]) * sign
            shares[shown] = share
        ordered = sorted(shares.items(), key=lambda item: -item[1])
        return [gram for gram, share in ordered[:EXPLANATION_TERMS] if share > 0]

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


def _svm(c: float, n: int) -> Any:
    if n < SGD_FROM:
        return LinearSVC(C=c, class_weight="balanced")
    return SGDClassifier(
        loss="hinge",
        alpha=1.0 / (c * n),
        max_iter=SGD_EPOCHS,
        tol=None,
        class_weight="balanced",
        n_jobs=2,
        random_state=0,
    )


def _fit(make: Callable[[], Any], matrix: Any, y: np.ndarray) -> Any:
    model = make().fit(matrix, y)
    coef = getattr(model, "coef_", None)
    if coef is not None and not sp.issparse(coef) and coef.dtype != np.float32:
        # Half the bytes stored and loaded; the scores differ in the seventh digit.
        model.coef_ = coef.astype(np.float32)
    return model


def _scores(model: Any, matrix: Any) -> np.ndarray:
    scores = np.asarray(model.decision_function(matrix), dtype=float)
    if scores.ndim == 1:  # two labels: one score, positive for the second
        scores = np.column_stack([-scores, scores])
    return scores


def _fold_scores(model: Any, matrix: Any, classes: np.ndarray) -> np.ndarray:
    # A label the fold's model never saw gets no probability (exp(-inf) = 0): its grievances count as
    # confident misses, as they would be in use.
    scores = np.full((matrix.shape[0], len(classes)), -np.inf)
    scores[:, np.searchsorted(classes, model.classes_)] = _scores(model, matrix)
    return scores


def _holdout_fit(
    make: Callable[[], Any], matrix: Any, y: np.ndarray, priors: int, holdout: int
) -> tuple[Any, float | None]:
    """The model fitted on all but the newest ``holdout`` grievances (the last rows; the first ``priors``
    are the prior documents) — None when that leaves fewer than two labels — and the temperature of its
    scores on them (None for a classifier with its own probabilities)."""
    cut = matrix.shape[0] - holdout
    if len(set(y[:cut])) < 2:
        return None, None
    model = _fit(make, matrix[:cut], y[:cut])
    if hasattr(model, "predict_proba"):
        return model, None
    classes = np.unique(y)
    scores = _fold_scores(model, matrix[cut:], classes)
    return model, fit_temperature(scores, np.searchsorted(classes, y[cut:]))


def _calibrate(make: Callable[[], Any], matrix: Any, y: np.ndarray, priors: int) -> float:
    """The temperature fitted on out-of-fold scores of a short history (the rows after the first
    ``priors``, in CALIBRATION_FOLDS folds); the prior documents train in every fold."""
    real = matrix.shape[0] - priors
    if real < 2 * CALIBRATION_FOLDS:
        return 1.0  # cold start: nothing to calibrate on; LinearSVC margins of ±1 make it cautious
    prior_rows = np.arange(priors)
    classes = np.unique(y)
    scores, targets = [], []
    for train, test in KFold(n_splits=CALIBRATION_FOLDS).split(np.zeros(real)):
        train = np.concatenate([prior_rows, train + priors])
        if len(set(y[train])) < 2:
            continue
        model = make().fit(matrix[train], y[train])
        scores.append(_fold_scores(model, matrix[test + priors], classes))
        targets.append(np.searchsorted(classes, y[test + priors]))
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
