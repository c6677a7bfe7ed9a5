"""The learned half of grievance routing: a text classifier trained on grievances that agencies accepted.

Pure Python and sparse, so that it runs in the web process without numpy and serialises to JSON for the
beat task that retrains it (``grievances.services.training``).

**Features.** jieba's precise-mode words plus every CJK character bigram of the NFKC-normalised, lowercased
text; each token weighs ``(1 + log tf) × idf``, the text keeps its ``MAX_FEATURES`` heaviest tokens, and
the vector is L2-normalised (TF-IDF). The bigrams make the model independent of how jieba happens to
segment: with the registry's words loaded into jieba's dictionary (``duty_lists.search`` does that in a
process that searches) ``区综合执法局`` becomes one word, but its bigrams are the same either way, so a model
trained in the worker scores texts segmented in the web process. ``duty_lists.search.segment`` is not reused
because it queries the database to refresh that dictionary and importing that module needs Django; this
module needs neither.

**Model.** One weight vector per label, trained by the averaged multiclass margin perceptron (the
Crammer–Singer multiclass SVM loss, optimised online): for each example, if the right label does not beat
the best wrong one by a margin, the right label's weights move towards the text and the wrong one's away
from it. Only two labels change per example, so the weights stay sparse with thousands of labels (duty
ids), training is linear in the examples, and ranking touches only the labels that share a token with the
text. Averaging the weights over all steps is what makes an online perceptron generalise like a batch SVM.
Each label keeps its ``LABEL_TERMS`` heaviest tokens, each token its ``ROW_LIMIT`` heaviest labels.

**Prior documents** describe a label in a few words (the taxonomy names under a topic, a duty's title and
keywords); each is one more short training example. They matter most for labels with few grievances: on
the TipDM messages they lift top-1 accuracy by about seven points (docs/benchmarks.md, "Routing").

**Confidence.** ``softmax(score / T)`` over all labels, the temperature ``T`` fitted by maximum likelihood
on a held-out fifth of the examples scored by a model trained without them, so that a confidence of 0.9 is
right about nine times in ten. Labels no token of the text touched score 0 and keep their share of the
probability mass, so probabilities over all labels sum to 1; a text the model knows no token of gets no
candidates at all.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import re
import threading
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

FORMAT_VERSION = 1
# jieba reads only the start of a text, and without its HMM guessing at words it does not know (names,
# mostly, which the bigrams cover): segmentation is most of rank()'s time, ~1 ms per 300 characters with
# the HMM, and a 3,000-character complaint would take 10 ms. The bigrams, which cost less, go on up to
# MAX_TEXT_CHARS. On the TipDM messages (median 300 characters, p90 980, max 3,731) neither cut lost
# accuracy against segmenting everything with the HMM.
WORD_CHARS = 300
MAX_TEXT_CHARS = 1000
# The text's heaviest tokens only: a long complaint's hundredth token says little its first sixty did not,
# and the bound keeps both training steps and rank() cheap whatever the text's length. 64, 96 and 160 gave
# the same accuracy on the TipDM messages within noise; 64 is the cheapest.
MAX_FEATURES = 64
# In a small history every token counts; in a large one a token seen in one text only is mostly a name or
# a bigram straddling two words, and dropping those halves the vocabulary.
MIN_DOCUMENT_FREQUENCY = 2
MIN_DOCUMENT_FREQUENCY_FROM = 1000  # training texts
# 6 and 12 epochs gave the same accuracy on the TipDM messages; training time is linear in them.
EPOCHS = 6
# Update step against required margin: only their ratio matters for a perceptron (scores scale with the
# step).
MARGIN = 1.0
STEP = 0.5
# A token is evidence for a few labels, not for all: a common one (问题, 小区) would otherwise collect a
# weight for every label it was ever wrongly scored for, and scoring a text would cost its tokens × all
# labels. During training a row is cut back to its ROW_LIMIT heaviest labels when it outgrows
# TRAIN_ROW_LIMIT. On a synthetic 400-label history, limits of 6, 12, 24 and 48 ranked as well as each
# other (6–24 a little better) and training took a third less time at 12 than at 48.
ROW_LIMIT = 16
TRAIN_ROW_LIMIT = 32
# Each label keeps its heaviest tokens only; 300 and 100,000 gave the same accuracy on the TipDM messages,
# and this bounds the model at 1,600 labels.
LABEL_TERMS = 400
# Weights are stored as integers in units of 1/WEIGHT_SCALE: compact in memory (array) and in JSON, and
# exactly the same after a round trip. Smaller weights change no ranking.
WEIGHT_SCALE = 10_000
# The temperature when there are too few examples to hold some out: typical of fitted ones, cautious side.
DEFAULT_TEMPERATURE = 0.3
MIN_CALIBRATION_EXAMPLES = 40
MAX_CALIBRATION_EXAMPLES = 2000
CALIBRATION_SHARE = 0.2
EXPLANATION_TERMS = 5

_K = TypeVar("_K")

_WORD_RE = re.compile(r"[^\W_]+")
_HAN_RUN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")

_jieba_lock = threading.Lock()
_jieba_module: Any = None


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


def tokenize(text: str) -> list[str]:
    """jieba words of two or more letters or digits, followed by the CJK character bigrams of ``text``."""
    normalized = normalize(text[:MAX_TEXT_CHARS])
    return [*_words(normalized), *_bigrams(normalized)]


def _words(normalized: str) -> list[str]:
    normalized = normalized[:WORD_CHARS]
    # Single characters are left to the bigrams: as words they are mostly particles (的, 很, 了) that match
    # every label a little; dropping them made no difference to accuracy on the TipDM messages.
    pieces = _jieba().lcut(normalized, HMM=False)
    return [word for piece in pieces for word in _WORD_RE.findall(piece) if len(word) >= 2]


def _bigrams(normalized: str) -> list[str]:
    return [run[i : i + 2] for run in _HAN_RUN_RE.findall(normalized) for i in range(len(run) - 1)]


def _idf(document_frequency: int, documents: int) -> float:
    # Smoothed as scikit-learn's TfidfVectorizer does: never zero, never infinite. Rounded so that the
    # value in memory is the one JSON gives back.
    return round(math.log((1 + documents) / (1 + document_frequency)) + 1.0, 6)


def _vector(tokens: Iterable[str], idf: Mapping[str, float]) -> dict[str, float]:
    """The text's TF-IDF vector over the known tokens (see ``_weighted``)."""
    counts = Counter(tokens)
    known = [(token, (1.0 + math.log(count)) * idf[token]) for token, count in counts.items() if token in idf]
    return _weighted(known, len(counts))


def _weighted(known: list[tuple[str, float]], distinct: int) -> dict[str, float]:
    """The heaviest ``MAX_FEATURES`` of the known tokens' weights, L2-normalised, then scaled by the share
    of the text's distinct tokens the model knows.

    The scale is what makes a text the model barely knows uncertain: normalised alone, the vector of
    ``今天天气很好`` against a model that knows only ``很`` would be that one token at full strength. It
    scales every label's score alike, so it changes confidences, never the order of the labels.
    """
    vector = _normalised(known)
    evidence = len(known) / distinct if distinct else 0.0
    return {token: value * evidence for token, value in vector.items()}


def _normalised(weights: list[tuple[str, float]]) -> dict[str, float]:
    weights = _heaviest(weights, MAX_FEATURES, str)
    norm = math.sqrt(sum(w * w for _, w in weights))
    return {token: w / norm for token, w in weights} if norm else {}


def _heaviest(items: list[tuple[_K, float]], n: int, tie: Callable[[_K], str]) -> list[tuple[_K, float]]:
    """The ``n`` items of highest weight, in their order; ties at the cut broken by ``tie`` of the key, so
    that what is cut never depends on dict order. The n-th weight is found first: a sort key built for
    every item cost more than all the rest of rank()."""
    if len(items) <= n:
        return items
    cut = heapq.nlargest(n, [weight for _, weight in items])[-1]
    chosen = [item for item in items if item[1] >= cut]
    if len(chosen) > n:
        chosen.sort(key=lambda item: (-item[1], tie(item[0])))
        chosen = chosen[:n]
    return chosen


class TextClassifier:
    """Ranks labels for a text; see the module docstring. Build with ``train`` or ``from_dict``."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        tokens: Sequence[str],
        idf: Iterable[float],
        rows: Iterable[Sequence[int]],
        temperature: float,
        examples: int = 0,
    ) -> None:
        """``tokens`` in order; for each, its ``idf`` and its row: a flat ``[label index, weight, …]`` list,
        weights in units of 1/WEIGHT_SCALE, labels ascending."""
        self.labels: tuple[str, ...] = tuple(labels)
        self.temperature = temperature
        self.examples = examples
        # A dict from token to a number and flat arrays, instead of a dict per token: a model of 20,000
        # grievances over 1,600 duties holds ~2·10^5 tokens and ~6·10^5 weights, which as Python objects
        # would take some 100 MB in every web process (30 MB this way).
        self._vocabulary = {token: i for i, token in enumerate(tokens)}
        self._idf = array("d", idf)
        self._offsets = array("I", [0])
        self._entry_labels = array("I")
        self._entry_weights = array("i")
        for row in rows:
            self._entry_labels.extend(row[0::2])
            self._entry_weights.extend(row[1::2])
            self._offsets.append(len(self._entry_labels))
        if not len(self._idf) == len(self._offsets) - 1 == len(self._vocabulary):
            raise ValueError("tokens, idf and rows differ in length")

    # --- Training ------------------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        prior_documents: Mapping[str, Iterable[str]] | None = None,
        epochs: int = EPOCHS,
        seed: int = 0,
    ) -> TextClassifier:
        """Learn from ``texts[i]`` labelled ``labels[i]``, plus optional short descriptions of labels.

        Deterministic: the same examples in the same order with the same seed give the same model. Labels
        that appear only in ``prior_documents`` are learned from those alone.
        """
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        # One str object per distinct token, not one per occurrence: 20,000 tokenised texts otherwise
        # hold some 6 million strings.
        canonical: dict[str, str] = {}

        def tokens_of(text: str) -> list[str]:
            return [canonical.setdefault(token, token) for token in tokenize(text)]

        documents = [tokens_of(text) for text in texts]
        names = [str(label) for label in labels]
        priors = [
            (tokens_of(text), str(label))
            for label, label_texts in sorted((prior_documents or {}).items())
            for text in label_texts
            if text.strip()
        ]
        if not documents and not priors:
            raise ValueError("nothing to learn from: no texts and no prior documents")

        temperature = DEFAULT_TEMPERATURE
        held_out = _calibration_indices(len(documents), seed)
        if held_out:
            kept = [i for i in range(len(documents)) if i not in held_out]
            partial = cls._fit([documents[i] for i in kept], [names[i] for i in kept], priors, epochs, seed)
            temperature = partial._fit_temperature(
                [documents[i] for i in held_out], [names[i] for i in held_out]
            )
        model = cls._fit(documents, names, priors, epochs, seed)
        model.temperature = temperature
        return model

    @classmethod
    def _fit(
        cls,
        documents: Sequence[list[str]],
        names: Sequence[str],
        priors: Sequence[tuple[list[str], str]],
        epochs: int,
        seed: int,
    ) -> TextClassifier:
        all_documents = [*documents, *(tokens for tokens, _ in priors)]
        all_names = [*names, *(name for _, name in priors)]
        frequency: Counter[str] = Counter()
        for tokens in all_documents:
            frequency.update(set(tokens))
        # A prior document's tokens are kept even when seen once: a label's description may be all it has.
        min_df = MIN_DOCUMENT_FREQUENCY if len(all_documents) >= MIN_DOCUMENT_FREQUENCY_FROM else 1
        described = {token for tokens, _ in priors for token in tokens}
        idf = {
            token: _idf(df, len(all_documents))
            for token, df in frequency.items()
            if df >= min_df or token in described
        }
        label_list = sorted(set(all_names))
        index = {name: i for i, name in enumerate(label_list)}
        vectors = [_vector(tokens, idf) for tokens in all_documents]
        targets = [index[name] for name in all_names]
        weights = _averaged_perceptron(vectors, targets, len(label_list), epochs=epochs, seed=seed)
        # Every token keeps its idf, weight or not: the share of a text's tokens the model knows is the
        # evidence its confidence rests on (``_weighted``).
        tokens = sorted(idf)
        return cls(
            labels=label_list,
            tokens=tokens,
            idf=[idf[token] for token in tokens],
            rows=[[x for item in sorted(weights.get(token, {}).items()) for x in item] for token in tokens],
            temperature=DEFAULT_TEMPERATURE,
            examples=len(documents),
        )

    def _fit_temperature(self, documents: Sequence[list[str]], names: Sequence[str]) -> float:
        """The temperature that maximises the likelihood of the held-out labels (golden-section search on
        log T; the likelihood is unimodal in it)."""
        index = {name: i for i, name in enumerate(self.labels)}
        cases = [
            (self._scores(self._vector(tokens)), index.get(name))
            for tokens, name in zip(documents, names, strict=True)
        ]

        def loss(log_t: float) -> float:
            t = math.exp(log_t)
            return -sum(
                math.log(max(self._probability(scores, target, t), 1e-12)) for scores, target in cases
            )

        low, high = math.log(0.005), math.log(5.0)
        ratio = (math.sqrt(5) - 1) / 2
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        fa, fb = loss(a), loss(b)
        for _ in range(25):  # narrows log T to within 10^-4: far finer than the likelihood can tell
            if fa < fb:
                high, b, fb = b, a, fa
                a = high - ratio * (high - low)
                fa = loss(a)
            else:
                low, a, fa = a, b, fb
                b = low + ratio * (high - low)
                fb = loss(b)
        return round(math.exp((low + high) / 2), 4)

    # --- Ranking -------------------------------------------------------------------------------------------

    def _vector(self, tokens: Iterable[str]) -> dict[str, float]:
        """As ``_vector``, with this model's vocabulary."""
        vocabulary, idf = self._vocabulary, self._idf
        counts = Counter(tokens)
        known = [
            (token, (1.0 + math.log(count)) * idf[vocabulary[token]])
            for token, count in counts.items()
            if token in vocabulary
        ]
        return _weighted(known, len(counts))

    def _scores(self, vector: Mapping[str, float]) -> dict[int, float]:
        """Label index → score, for the labels some token of ``vector`` weighs for."""
        scores: dict[int, float] = {}
        get = scores.get
        vocabulary, offsets = self._vocabulary, self._offsets
        entry_labels, entry_weights = self._entry_labels, self._entry_weights
        for token, value in vector.items():
            i = vocabulary[token]
            for j in range(offsets[i], offsets[i + 1]):
                label = entry_labels[j]
                scores[label] = get(label, 0.0) + value * entry_weights[j]
        return {label: score / WEIGHT_SCALE for label, score in scores.items()}

    def _normalizer(self, scores: Mapping[int, float], temperature: float) -> tuple[float, float]:
        """(top, Z) of ``softmax(score / T)`` over all labels, those no token touched scoring 0:
        P(label) = exp((score - top) / T) / Z."""
        top = max(0.0, *scores.values()) if scores else 0.0
        untouched = len(self.labels) - len(scores)
        total = untouched * math.exp(-top / temperature)
        total += sum(math.exp((s - top) / temperature) for s in scores.values())
        return top, total

    def _probability(self, scores: Mapping[int, float], target: int | None, temperature: float) -> float:
        if target is None:  # a held-out label the partial model never saw
            return 0.0
        top, total = self._normalizer(scores, temperature)
        return math.exp((scores.get(target, 0.0) - top) / temperature) / total

    def rank(self, text: str, k: int = 3) -> list[tuple[str, float, list[str]]]:
        """The ``k`` likeliest labels for ``text``: (label, probability, the tokens that weighed most for it).

        Probabilities are over all labels, so those returned sum to at most 1. A text with no token the
        model knows gets an empty list: there is nothing to be confident about.
        """
        normalized = normalize(text[:MAX_TEXT_CHARS])
        words = _words(normalized)
        vector = self._vector([*words, *_bigrams(normalized)])
        scores = self._scores(vector)
        if not scores or k <= 0:
            return []
        t = self.temperature
        top, total = self._normalizer(scores, t)
        candidates = list(scores.items())
        # Labels no token touched tie at 0 and can outrank touched labels with negative scores; the first
        # k of them by name are enough to compete.
        untouched = (i for i in range(len(self.labels)) if i not in scores)
        candidates.extend((i, 0.0) for _, i in zip(range(k), untouched, strict=False))
        best = _heaviest(candidates, k, self.labels.__getitem__)
        best.sort(key=lambda item: (-item[1], self.labels[item[0]]))
        explanations = self._explain(vector, [label for label, _ in best], words)
        return [
            (self.labels[label], min(1.0, math.exp((score - top) / t) / total), explanations[label])
            for label, score in best
        ]

    def _explain(
        self, vector: Mapping[str, float], labels: Sequence[int], words: Sequence[str]
    ) -> dict[int, list[str]]:
        """For each label, the tokens of the text that added most to its score, as a dispatcher can read
        them: words and bigrams inside words, not bigrams straddling two words (施工噪音 gives 工噪) unless
        nothing else weighed."""
        wanted = set(labels)
        contributions: dict[int, list[tuple[float, str]]] = {label: [] for label in labels}
        for token, value in vector.items():
            i = self._vocabulary[token]
            for j in range(self._offsets[i], self._offsets[i + 1]):
                label = self._entry_labels[j]
                if label in wanted and self._entry_weights[j] > 0:
                    contributions[label].append((value * self._entry_weights[j], token))
        inside_words = {*words, *(word[i : i + 2] for word in words for i in range(len(word) - 1))}
        explained: dict[int, list[str]] = {}
        for label, found in contributions.items():
            ordered = [token for _, token in sorted(found, key=lambda ct: (-ct[0], ct[1]))]
            readable = [token for token in ordered if token in inside_words]
            explained[label] = _distinct_terms(readable or ordered)
        return explained

    # --- Serialisation -------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``from_dict`` of it ranks every text exactly as this model does."""
        offsets, entry_labels, entry_weights = self._offsets, self._entry_labels, self._entry_weights
        return {
            "format": FORMAT_VERSION,
            "labels": list(self.labels),
            "temperature": self.temperature,
            "examples": self.examples,
            "tokens": sorted(self._vocabulary, key=self._vocabulary.__getitem__),
            "idf": self._idf.tolist(),
            # Per token, a flat [label, weight, label, weight, …] list: JSON has no tuples, and objects would
            # need string keys.
            "rows": [
                [x for j in range(offsets[i], offsets[i + 1]) for x in (entry_labels[j], entry_weights[j])]
                for i in range(len(offsets) - 1)
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextClassifier:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown classifier format {data.get('format')!r}; retrain the model")
        return cls(
            labels=[str(label) for label in data["labels"]],
            tokens=data["tokens"],
            idf=data["idf"],
            rows=data["rows"],
            temperature=float(data["temperature"]),
            examples=int(data.get("examples", 0)),
        )


def _distinct_terms(tokens: Iterable[str]) -> list[str]:
    """The first ``EXPLANATION_TERMS`` tokens, a token inside one already taken (噪音 in 噪音扰民) left out
    and a token that contains ones already taken (补课费 after 补课) put in their place."""
    terms: list[str] = []
    for token in tokens:
        if any(token in term for term in terms):
            continue
        inside = [term for term in terms if term in token]
        if inside:
            terms[terms.index(inside[0])] = token
            terms = [term for term in terms if term not in inside[1:]]
        elif len(terms) == EXPLANATION_TERMS:
            break
        else:
            terms.append(token)
    return terms


def _calibration_indices(n: int, seed: int) -> set[int]:
    """A fixed fifth of the examples (at most ``MAX_CALIBRATION_EXAMPLES``) to fit the temperature on."""
    if n < MIN_CALIBRATION_EXAMPLES:
        return set()
    order = list(range(n))
    random.Random(f"calibration-{seed}").shuffle(order)  # noqa: S311  (reproducible, not secret)
    return set(order[: min(MAX_CALIBRATION_EXAMPLES, round(n * CALIBRATION_SHARE))])


def _averaged_perceptron(
    vectors: Sequence[Mapping[str, float]], targets: Sequence[int], labels: int, *, epochs: int, seed: int
) -> dict[str, dict[int, int]]:
    """Weights (token → {label: weight in 1/WEIGHT_SCALE units}) of the averaged multiclass margin
    perceptron.

    Averaging uses the usual trick: alongside the weights ``w`` keep ``u``, the sum of every update times
    the step it was made at; the average over ``c`` steps is then ``w - u / c``, without touching every
    weight at every step.
    """
    w: dict[str, dict[int, float]] = {}
    u: dict[str, dict[int, float]] = {}
    order = list(range(len(vectors)))
    shuffle = random.Random(seed).shuffle  # noqa: S311  (reproducible, not secret)
    step = 1
    for _ in range(epochs):
        shuffle(order)
        updates = 0
        for i in order:
            vector, target = vectors[i], targets[i]
            scores: dict[int, float] = {}
            get = scores.get
            for token, value in vector.items():
                row = w.get(token)
                if row:
                    for label, weight in row.items():
                        scores[label] = get(label, 0.0) + value * weight
            right = scores.pop(target, 0.0)
            wrong, wrong_score = -1, -math.inf
            if scores:
                wrong = max(scores, key=scores.__getitem__)
                wrong_score = scores[wrong]
            if wrong_score < 0.0 and (len(scores) + 1 < labels or labels == 1):
                # A label no token of the text touched scores 0 and is the worst rival; pushing an arbitrary
                # one of them down would teach nothing, so only the right label moves up.
                wrong, wrong_score = -1, 0.0
            if right - wrong_score < MARGIN:
                updates += 1
                for token, value in vector.items():
                    delta = STEP * value
                    w_row = w.setdefault(token, {})
                    u_row = u.setdefault(token, {})
                    w_row[target] = w_row.get(target, 0.0) + delta
                    u_row[target] = u_row.get(target, 0.0) + step * delta
                    if wrong >= 0:
                        w_row[wrong] = w_row.get(wrong, 0.0) - delta
                        u_row[wrong] = u_row.get(wrong, 0.0) - step * delta
                    if len(w_row) > TRAIN_ROW_LIMIT:
                        _prune_row(w_row, u_row, step)
            step += 1
        if not updates:
            break
    averaged: dict[str, dict[int, int]] = {}
    for token, w_row in w.items():
        u_row = u[token]
        mean = {
            label: round((weight - u_row[label] / step) * WEIGHT_SCALE) for label, weight in w_row.items()
        }
        mean = {label: value for label, value in mean.items() if value}
        if len(mean) > ROW_LIMIT:
            mean = dict(heapq.nlargest(ROW_LIMIT, mean.items(), key=lambda item: (abs(item[1]), -item[0])))
        if mean:
            averaged[token] = mean
    return _heaviest_per_label(averaged, LABEL_TERMS)


def _prune_row(w_row: dict[int, float], u_row: dict[int, float], step: int) -> None:
    """Keep the ``ROW_LIMIT`` labels a token weighs most for (by its running average)."""
    kept = set(
        heapq.nlargest(ROW_LIMIT, w_row, key=lambda label: (abs(w_row[label] - u_row[label] / step), -label))
    )
    for label in [label for label in w_row if label not in kept]:
        del w_row[label]
        del u_row[label]


def _heaviest_per_label(weights: Mapping[str, Mapping[int, int]], limit: int) -> dict[str, dict[int, int]]:
    by_label: dict[int, list[tuple[int, str]]] = {}
    for token, row in weights.items():
        for label, weight in row.items():
            by_label.setdefault(label, []).append((abs(weight), token))
    kept: dict[str, dict[int, int]] = {}
    for label, entries in sorted(by_label.items()):
        for _, token in heapq.nlargest(limit, entries):
            kept.setdefault(token, {})[label] = weights[token][label]
    return kept
