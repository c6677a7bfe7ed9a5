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
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import KFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC
from sklearn.utils import murmurhash3_32

FORMAT_VERSION = 3
# The beginning of a long complaint names the matter; the rest costs time and rarely changes the label.
# Words are read from the first WORD_CHARS, character n-grams from the first MAX_TEXT_CHARS.
MAX_TEXT_CHARS = 1000
WORD_CHARS = 300
TITLE_WEIGHT = 1.0
C = 0.5
CALIBRATION_FOLDS = 3
HOLDOUT_FROM = 3000  # grievances: from here one time-ordered fold calibrates
HOLDOUT_SHARE = 0.2
SGD_FROM = 20_000  # grievances: from here SGD fits the SVM (see the module docstring)
SGD_EPOCHS = 5
# From this many grievances, an n-gram seen once is mostly a name or a typo; and each block keeps its most
# frequent n-grams only, which bounds the model (labels × features weights).
MIN_DF_FROM = 2000
MAX_FEATURES = {"text_chars": 60_000, "text_words": 60_000, "title_chars": 20_000, "title_words": 20_000}
# Hash space per block: a few times the columns kept, so that frequent n-grams rarely share one.
HASH_BITS = {"text_chars": 20, "text_words": 20, "title_chars": 18, "title_words": 18}
PARALLEL_FROM = 5000  # texts: below this, starting worker processes costs more than it saves
CHUNK = 5000
EXPLANATION_TERMS = 5

_WORD_RE = re.compile(r"[^\W_]")
_jieba_lock = threading.Lock()
_jieba_module: Any = None

# (title, whole text, title's words, text's words), the words joined by spaces.
Document = tuple[str, str, str, str]
BLOCKS = (("text_chars", 1), ("text_words", 3), ("title_chars", 0), ("title_words", 2))


def _jieba() -> Any:
    """jieba with its dictionary loaded, once per process and quietly (it takes about a second): the
    Python jieba, for what needs its dictionary (bench/routing.py's vocabulary); segmenting is rjieba's."""
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
    import rjieba

    return [word for word in rjieba.cut(text, hmm=False) if _WORD_RE.search(word) and " " not in word]


def document(text: str, title: str | None = None) -> Document:
    """The text prepared for ``Features``; without a title, the text's first line is its title."""
    if title is None:
        title = text.split("\n", 1)[0]
    title, text = normalize(title[:MAX_TEXT_CHARS]), normalize(text[:MAX_TEXT_CHARS])
    title_words = words(title)
    text_words = title_words if text == title else words(text[:WORD_CHARS])
    return title, text, " ".join(title_words), " ".join(text_words)


def _split(text: str) -> list[str]:
    return text.split()


@dataclass
class Block:
    """One block of ``Features``: a column of the documents, hashed, its kept columns, their TF-IDF."""

    name: str
    column: int
    weight: float
    vectorizer: HashingVectorizer
    kept: np.ndarray | None = None  # the hashed columns kept, ascending
    tfidf: TfidfTransformer | None = None
    _lookup: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def make(cls, name: str, column: int, weight: float) -> Block:
        if name.endswith("chars"):
            # The text's single characters add little to its pairs and triples, and its title's: a third of
            # a large training's n-grams (bench/routing.py), no worse on TipDM's folds.
            low = 2 if name == "text_chars" else 1
            vectorizer = HashingVectorizer(analyzer="char", ngram_range=(low, 3), lowercase=False)
        else:
            vectorizer = HashingVectorizer(
                tokenizer=_split, token_pattern=None, lowercase=False, ngram_range=(1, 2)
            )
        vectorizer.set_params(
            n_features=2 ** HASH_BITS[name], alternate_sign=False, norm=None, dtype=np.float32
        )
        return cls(name=name, column=column, weight=weight, vectorizer=vectorizer)

    def counts(self, docs: Sequence[Document]) -> sp.csr_matrix:
        if not docs:  # no history (cold start), or no prior documents
            return sp.csr_matrix((0, self.vectorizer.n_features), dtype=np.float32)
        return self.vectorizer.transform([doc[self.column] for doc in docs])

    def fit_transform(self, counts: sp.csr_matrix, min_df: int) -> sp.csr_matrix:
        """Keep the columns seen in ``min_df`` texts, the most frequent first; fit and apply the TF-IDF."""
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        frequent = np.argsort(-df, kind="stable")[: MAX_FEATURES[self.name]]
        self.kept = np.sort(frequent[df[frequent] >= min_df])
        self._lookup = None
        selected = self.select(counts)
        self.tfidf = TfidfTransformer(sublinear_tf=True)
        matrix = self.tfidf.fit_transform(selected)
        return matrix * self.weight if self.weight != 1.0 else matrix

    def lookup(self) -> np.ndarray:
        """Hashed column → kept column (−1: not kept); rebuilt after loading rather than stored."""
        if self._lookup is None:
            assert self.kept is not None
            lookup = np.full(self.vectorizer.n_features, -1, dtype=np.int32)
            lookup[self.kept] = np.arange(len(self.kept), dtype=np.int32)
            self._lookup = lookup
        return self._lookup

    def select(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """The kept columns of hashed counts, renumbered (a gather, not scipy's column indexing)."""
        assert self.kept is not None
        columns = self.lookup()[counts.indices]
        keep = columns >= 0
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))[keep]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=counts.shape[0]))])
        return sp.csr_matrix(
            (counts.data[keep], columns[keep], indptr), shape=(counts.shape[0], len(self.kept))
        )

    def transform(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        assert self.tfidf is not None
        matrix = self.tfidf.transform(self.select(counts))
        return matrix * self.weight if self.weight != 1.0 else matrix

    def column_of(self, gram: str) -> int:
        """The kept column of one n-gram (words joined by a space), −1 when not kept: the hashing
        ``HashingVectorizer`` does (``FeatureHasher``: signed murmurhash3 of the UTF-8, its absolute value
        modulo the space)."""
        h = murmurhash3_32(gram, seed=0, positive=False)
        n = self.vectorizer.n_features
        column = (2147483647 - (n - 1)) % n if h == -2147483648 else abs(h) % n
        return int(self.lookup()[column])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_lookup"] = None
        return state


@dataclass
class Features:
    """The four blocks side by side (see the module docstring)."""

    blocks: list[Block]

    @classmethod
    def make(cls, *, title_weight: float = TITLE_WEIGHT) -> Features:
        return cls(
            [
                Block.make(name, column, title_weight if name.startswith("title") else 1.0)
                for name, column in BLOCKS
            ]
        )

    def counts(self, docs: Sequence[Document]) -> list[sp.csr_matrix]:
        return [block.counts(docs) for block in self.blocks]

    def fit_transform(self, counts: Sequence[sp.csr_matrix], *, min_df: int = 1) -> sp.csr_matrix:
        matrices = [block.fit_transform(c, min_df) for block, c in zip(self.blocks, counts, strict=True)]
        return sp.hstack(matrices, format="csr", dtype=np.float32)

    def transform(self, counts: Sequence[sp.csr_matrix]) -> sp.csr_matrix:
        matrices = [block.transform(c) for block, c in zip(self.blocks, counts, strict=True)]
        return sp.hstack(matrices, format="csr", dtype=np.float32)

    def vectors(self, docs: Sequence[Document]) -> sp.csr_matrix:
        return self.transform(self.counts(docs))

    @property
    def sizes(self) -> list[int]:
        return [len(block.kept) if block.kept is not None else 0 for block in self.blocks]


def _count_chunk(features: Features, pairs: Sequence[tuple[str, str | None]]) -> list[sp.csr_matrix]:
    return features.counts([document(text, title) for text, title in pairs])


def count(features: Features, pairs: Sequence[tuple[str, str | None]]) -> list[sp.csr_matrix]:
    """Each block's hashed counts of (text, title) pairs: segmenting and hashing are most of a large
    training, and both are per text, so from PARALLEL_FROM texts two processes share them."""
    if len(pairs) < PARALLEL_FROM:
        return _count_chunk(features, pairs)
    chunks = [pairs[i : i + CHUNK] for i in range(0, len(pairs), CHUNK)]
    done = joblib.Parallel(n_jobs=2)(joblib.delayed(_count_chunk)(features, chunk) for chunk in chunks)
    return [sp.vstack([chunk[b] for chunk in done], format="csr") for b in range(len(features.blocks))]


# The readable features of grievances/gaps.py, which names what a cluster's grievances share: the same four
# blocks with their vocabularies (the router's hashed blocks keep no n-gram strings), as the router had them
# when the gap finder's DISTANCE was chosen (character 1–3-grams within words): kept, not re-tuned.
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


def features(*, title_weight: float = TITLE_WEIGHT, min_df: int = 1) -> FeatureUnion:
    """The router's blocks as TF-IDF with vocabularies, for grievances/gaps.py (see above)."""

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
        [block(name, column) for name, column in BLOCKS],
        transformer_weights={name: title_weight if name.startswith("title") else 1.0 for name, _ in BLOCKS},
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
