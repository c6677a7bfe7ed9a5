"""The router model's features (grievances.router_model): a grievance's title and text as characters and
as jieba's words, counted in blocks (TF-IDF below a size, hashed above it)."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import murmurhash3_32

# The beginning of a long complaint names the matter; the rest costs time and rarely changes the label.
# Words are read from the first WORD_CHARS, character n-grams from the first MAX_TEXT_CHARS.
MAX_TEXT_CHARS = 1000
WORD_CHARS = 300
TITLE_WEIGHT = 1.0
# Each block keeps its most frequent n-grams only, which bounds the model (labels × features weights).
MAX_FEATURES = {"text_chars": 60_000, "text_words": 60_000, "title_chars": 20_000, "title_words": 20_000}
# Hash space per block: a few times the columns kept, so that frequent n-grams rarely share one.
HASH_BITS = {"text_chars": 20, "text_words": 20, "title_chars": 18, "title_words": 18}
PARALLEL_FROM = 5000  # texts: below this, starting worker processes costs more than it saves
CHUNK = 5000

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
