"""Near-identical duty titles: character-bigram Jaccard similarity, and a similarity join that finds every
pair at or above a threshold without comparing every title with every other.

Why bigrams and Jaccard rather than TF-IDF and cosine: Chinese titles have no spaces, a bigram is the
smallest unit that carries meaning (占道, 经营), and "share of bigrams in common" is a number an officer can
check by hand. Before comparing, titles are normalised (NFKC, lower case, as search does), stripped of
punctuation and spaces, and of a few function characters (的, 之, 及, 与, 和) whose presence is style, not
meaning: 占道经营的查处 and 占道经营查处 are the same duty.

The join is the classic prefix filter (Bayardo et al., "Scaling up all pairs similarity search", 2007):
order every title's bigrams from the rarest to the most common; two titles with Jaccard ≥ t must then
share one of the first ``n - ceil(t·n) + 1`` bigrams of each. Only titles sharing such a rare bigram are
compared, so 100,000 titles are joined in seconds instead of 5·10⁹ comparisons.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from duty_lists.search import normalize

_NOT_WORD_RE = re.compile(r"[\W_]+")
_FILLERS = str.maketrans("", "", "的之及与和")


def title_key(title: str) -> str:
    """The title as compared: normalised, without punctuation, spaces and function characters."""
    key = _NOT_WORD_RE.sub("", normalize(title)).translate(_FILLERS)
    return key or _NOT_WORD_RE.sub("", normalize(title))


def bigrams(key: str) -> frozenset[str]:
    """The character bigrams of a title key (a one-character title is its own token)."""
    if len(key) < 2:
        return frozenset([key]) if key else frozenset()
    return frozenset(key[i : i + 2] for i in range(len(key) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def _prefix_length(size: int, threshold: float) -> int:
    # A tiny epsilon: 0.8 · 5 must be 4, not 4.000000000000001 rounded up to 5.
    return size - math.ceil(threshold * size - 1e-9) + 1


def similar_pairs(
    keys: Sequence[str],
    threshold: float,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[int, int, float]]:
    """Every pair of *distinct* keys (by index, ``i < j``) whose bigram Jaccard is at least ``threshold``,
    with the similarity. Keys should be unique: equal titles are grouped by the caller, and compared once.
    """
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    sets = [bigrams(key) for key in keys]
    frequency = Counter(token for tokens in sets for token in tokens)
    # Rarest first; ties broken by the token itself so that the order is the same on every run.
    ordered = [sorted(tokens, key=lambda t: (frequency[t], t)) for tokens in sets]
    order = sorted(range(len(keys)), key=lambda i: (len(ordered[i]), i))
    index: dict[str, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int, float]] = []
    for done, i in enumerate(order, start=1):
        tokens = ordered[i]
        size = len(tokens)
        if not size:
            continue
        prefix = tokens[: _prefix_length(size, threshold)]
        # Processed in order of size, so every indexed title is at most this long; it must be at least t·n.
        smallest = threshold * size - 1e-9
        seen: set[int] = set()
        for token in prefix:
            for j in index[token]:
                if j in seen or len(ordered[j]) < smallest:
                    continue
                seen.add(j)
                similarity = jaccard(sets[i], sets[j])
                if similarity >= threshold - 1e-9:
                    pairs.append((min(i, j), max(i, j), round(similarity, 4)))
        for token in prefix:
            index[token].append(i)
        if progress is not None and (done % 2000 == 0 or done == len(order)):
            progress(done, len(order))
    return pairs
