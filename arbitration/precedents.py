"""Precedent search (类案检索): the past rulings most like a dispute, so officers rule alike in like cases.

Each current ruling is one document: its dispute's title (counted twice: it names the matter), the
dispute's description, the ruling's rationale and legal bases, and the lead agency's name. A text becomes
features of two kinds:

- jieba words (``duty_lists.search.segment``, with the registry's user dictionary), two characters or more,
  without stop words and bare numbers: ``噪音`` ``扰民`` ``物业管理``;
- CJK character bigrams of those words and of the runs of characters jieba left single: it cuts a word it
  does not know into characters (``占道经营`` → ``占 道 经营``), and the bigram ``占道`` still matches; a
  word segmented differently elsewhere (``市场监管局`` / ``市场 监管``) still shares bigrams.

Weights are TF-IDF over the corpus of current rulings — term frequency damped with ``log(1 + tf)``, smoothed
inverse document frequency ``1 + log((1 + N) / (1 + df))`` — and the score is the cosine of the query's
vector and the ruling's, in [0, 1]. A query's features that no ruling has still count in the query's norm
(at the highest IDF): a text that shares one common word with a ruling and is otherwise about something else
scores low. Rulings scoring below ``MIN_SCORE`` are not precedents.

The index is built in process memory and kept under a stamp read with one aggregate query per search
(count, current count, last id and last issue time of the rulings): issuing or correcting a ruling changes
the stamp and the next search rebuilds. Segmenting is the slow part (about 4 ms a ruling), so a rebuild
segments only the rulings it has not seen with the same text, appends their postings, and recomputes the
IDF table and the norms. A search is then one stamp query, the vector arithmetic, and one query for the
rulings found. For 2,000 rulings of real complaint texts (~460 characters each), on a busy 2-core machine:
first build 8–11 s, rebuild after a new ruling 0.3 s, a search 5–8 ms for a few words and 10–20 ms for a
whole dispute, 42 MB of memory.

A ruling stays segmented as it was when the process first read it, also after the registry's jieba
dictionary has grown (a published edition, a new agency): segmenting every ruling again would stall each
process for seconds, and the bigrams still match a registry word the old segmentation cut in pieces.
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import mul
from typing import Any

from django.db.models import Count, Max, Q

from arbitration.models import Dispute, Ruling
from arbitration.selectors import rulings_visible_to
from duty_lists import search

# Field weights of a document and of a dispute used as a query.
TITLE_WEIGHT = 2.0
TEXT_WEIGHT = 1.0
# How much a bigram counts against a word. On the 495 labelled messages of the TipDM board (shared/data),
# the nearest message shares its top-level topic for 75% of them with words alone, 78% with bigrams at 0.5
# and 79% at 1.0 (title counted twice; 73% counted once); IDF keeps common bigrams such as 管理 cheap.
BIGRAM_WEIGHT = 1.0
# Below this a ruling shares a word or two with the query by chance: of the pairs of those messages from
# different topics, 90% score under 0.033 and 95% under 0.042; a nearest neighbour scoring 0.05–0.1 still
# shares the topic in 55% of cases (against ~10% by chance), from 0.1 in 85%.
MIN_SCORE = 0.05
# A query is bounded before jieba sees it; a dispute's description is rarely longer.
MAX_QUERY_CHARS = 4000
DEFAULT_LIMIT = 5

_HAN_RUN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_BIGRAM_PREFIX = "#"  # never part of a jieba word (words are runs of letters and digits)
# Words that say nothing about the matter of a dispute, on top of the search module's query stop words.
# fmt: off
STOP_WORDS = search.QUERY_STOP_WORDS | frozenset({
    "问题", "情况", "相关", "有关", "进行", "工作", "部门", "单位", "认为", "存在", "是否", "以及", "其中",
    "由于", "因此", "但是", "没有", "可以", "需要", "已经", "目前", "一个", "这些", "那些",
})
# fmt: on


def text_features(fields: Iterable[tuple[str, float]]) -> dict[str, float]:
    """The damped, field-weighted term frequencies of a text given as (text, weight) fields."""
    counts: defaultdict[str, float] = defaultdict(float)
    for text, weight in fields:
        if not text:
            continue
        for unit in _units(search.segment(text), counts, weight):
            for i in range(len(unit) - 1):
                counts[_BIGRAM_PREFIX + unit[i : i + 2]] += weight
    return {
        feature: math.log1p(tf) * (BIGRAM_WEIGHT if feature[0] == _BIGRAM_PREFIX else 1.0)
        for feature, tf in counts.items()
    }


def _units(words: Sequence[str], counts: defaultdict[str, float], weight: float) -> list[str]:
    """Count the words; return the CJK strings whose bigrams count too: every CJK word, and every run of
    characters jieba left single (``占 道`` → ``占道``). Bigrams across two words (``道经`` of ``占道 经营``)
    are left out: on the TipDM messages they halve the features for the same top-3 accuracy."""
    units: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        cjk = _HAN_RUN_RE.fullmatch(word) is not None
        if cjk and len(word) == 1:
            run.append(word)
            continue
        if len(run) > 1:
            units.append("".join(run))
        run = []
        if len(word) > 1:
            if cjk:
                units.append(word)
            if not word.isdigit() and word not in STOP_WORDS:
                counts[word] += weight
    return units


def _document_fields(
    title: str, description: str, rationale: str, legal_bases: str, agency: str
) -> list[tuple[str, float]]:
    return [
        (title, TITLE_WEIGHT),
        (description, TEXT_WEIGHT),
        (rationale, TEXT_WEIGHT),
        (legal_bases, TEXT_WEIGHT),
        (agency, TEXT_WEIGHT),
    ]


# --- The corpus --------------------------------------------------------------------------------------------
#
# Postings hold the damped term frequencies, not TF-IDF weights: they do not change when a ruling is added
# and the IDF of every feature shifts, so a rebuild appends the new rulings' postings and recomputes only
# the IDF table and each ruling's norm (a few C-level passes). The cosine is then, for a query q and a
# ruling d, sum(q_t * idf_t * idf_t * tf_dt) / (|q| * |d|), the idf applied at query time, once per feature.


@dataclass(frozen=True)
class _Document:
    key: int  # hash of the texts it was segmented from: a changed text is segmented again
    features: array[int]  # feature ids
    tfs: array[float]  # their damped term frequencies


@dataclass(frozen=True)
class _Live:
    dispute_id: int
    internal: bool
    inverse_norm: float


@dataclass(frozen=True)
class _Index:
    """A snapshot: a search works on the one it took, while another thread may build the next. The
    vocabulary and postings are shared with later snapshots, which only append to them: what was added
    after this snapshot belongs to rulings it does not know, and is ignored."""

    stamp: tuple[Any, ...]
    vocabulary: dict[str, int]  # feature -> id
    postings: dict[int, tuple[array[int], array[float]]]  # feature id -> (ruling ids, damped tfs)
    rulings: dict[int, _Live]  # the current rulings, by id
    idf: array[float]  # by feature id; 0.0: no current ruling has the feature
    unseen_idf: float  # the IDF of a feature no ruling has


@dataclass
class _Corpus:
    """What a process keeps between searches (changed only under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    index: _Index | None = None
    # Only grows: the features of rulings superseded since the process started stay (a few hundred each).
    vocabulary: dict[str, int] = field(default_factory=dict)
    documents: dict[int, _Document] = field(default_factory=dict)  # current ruling id -> document
    postings: dict[int, tuple[array[int], array[float]]] = field(default_factory=dict)
    posted: int = 0  # entries in postings, including those of rulings no longer current


_corpus = _Corpus()


def _stamp() -> tuple[Any, ...]:
    """Changes whenever the set of current rulings can have: a ruling is issued (new id and time), corrected
    (new id; the old one stops being current), or deleted. An edited dispute title or a renamed agency does
    not change it; the next rebuild notices the new text."""
    row = Ruling.objects.aggregate(
        count=Count("id"), current=Count("id", filter=Q(is_current=True)), last=Max("id"), at=Max("issued_at")
    )
    return (row["count"], row["current"], row["last"], row["at"])


def _index() -> _Index:
    stamp = _stamp()
    index = _corpus.index
    if index is not None and index.stamp == stamp:
        return index
    with _corpus.lock:
        index = _corpus.index
        if index is None or index.stamp != stamp:  # else another thread built it while this one waited
            index = _corpus.index = _build(stamp)
    return index


def _build(stamp: tuple[Any, ...]) -> _Index:
    """Read the current rulings (one query), segment those not seen before, post them, and weight them all."""
    corpus = _corpus
    rows = (
        Ruling.objects.filter(is_current=True)
        .order_by("id")
        .values_list(
            "id",
            "dispute_id",
            "is_internal",
            "dispute__title",
            "dispute__description",
            "rationale",
            "legal_bases",
            "lead_agency__name",
        )
    )
    documents: dict[int, _Document] = {}
    fresh: list[tuple[int, _Document]] = []
    changed = False
    attributes: dict[int, tuple[int, bool]] = {}
    for ruling_id, dispute_id, is_internal, *texts in rows.iterator(chunk_size=500):
        key = hash(tuple(texts))
        document = corpus.documents.get(ruling_id)
        if document is None or document.key != key:
            changed = changed or document is not None
            document = _document(corpus.vocabulary, key, *texts)
            fresh.append((ruling_id, document))
        documents[ruling_id] = document
        attributes[ruling_id] = (dispute_id, is_internal)
    corpus.documents = documents  # superseded and deleted rulings drop out

    live_entries = sum(len(document.features) for document in documents.values())
    # A ruling whose text changed (its dispute edited, its agency renamed) would be posted twice; postings of
    # rulings no longer current only cost memory. Either way, past a point, post everything afresh — into
    # a new dict: a search still working on the last snapshot keeps the one it refers to.
    if changed or corpus.posted - live_entries > live_entries // 4:
        corpus.postings, corpus.posted = {}, 0
        fresh = list(documents.items())
    for ruling_id, document in fresh:
        _post(corpus.postings, ruling_id, document)
        corpus.posted += len(document.features)

    n = len(documents)
    idf = array("d", bytes(8 * len(corpus.vocabulary)))  # zeros
    df = Counter(chain.from_iterable(document.features for document in documents.values()))
    for feature, count in df.items():
        idf[feature] = 1.0 + math.log((1 + n) / (1 + count))
    squared_idf = array("d", map(mul, idf, idf))
    rulings = {}
    for ruling_id, document in documents.items():
        weights = map(
            mul, map(mul, document.tfs, document.tfs), map(squared_idf.__getitem__, document.features)
        )
        norm = math.sqrt(sum(weights))
        dispute_id, is_internal = attributes[ruling_id]
        rulings[ruling_id] = _Live(dispute_id, is_internal, 1.0 / norm if norm else 0.0)
    return _Index(
        stamp=stamp,
        vocabulary=corpus.vocabulary,
        postings=corpus.postings,
        rulings=rulings,
        idf=idf,
        unseen_idf=1.0 + math.log(1 + n),
    )


def _document(
    vocabulary: dict[str, int],
    key: int,
    title: str,
    description: str,
    rationale: str,
    legal_bases: str,
    agency: str,
) -> _Document:
    features = text_features(_document_fields(title, description, rationale, legal_bases, agency))
    ids = array("i", (vocabulary.setdefault(feature, len(vocabulary)) for feature in features))
    tfs = array("d", features.values())
    return _Document(key=key, features=ids, tfs=tfs)


def _post(postings: dict[int, tuple[array[int], array[float]]], ruling_id: int, document: _Document) -> None:
    for feature, tf in zip(document.features, document.tfs, strict=True):
        entry = postings.get(feature)
        if entry is None:
            entry = postings[feature] = (array("i"), array("d"))
        # Ids first: a search reading the entry meanwhile zips the two and stops at the shorter.
        entry[0].append(ruling_id)
        entry[1].append(tf)


# --- Searching ---------------------------------------------------------------------------------------------


def _scores(index: _Index, query: dict[str, float]) -> dict[int, float]:
    """Cosine similarity of the query with every current ruling sharing a feature with it: id -> score."""
    weighted: list[tuple[int, float]] = []
    norm = 0.0
    for feature, tf in query.items():
        feature_id = index.vocabulary.get(feature, len(index.idf))
        idf = index.idf[feature_id] if feature_id < len(index.idf) else 0.0
        w = tf * (idf or index.unseen_idf)
        norm += w * w
        if idf:
            weighted.append((feature_id, w * idf))  # the ruling's idf, applied once here
    dots: dict[int, float] = {}
    for feature_id, w in weighted:
        ruling_ids, tfs = index.postings[feature_id]
        for ruling_id, tf in zip(ruling_ids, tfs):  # noqa: B905 - see _post
            dots[ruling_id] = dots.get(ruling_id, 0.0) + w * tf
    if not dots:
        return {}
    norm = math.sqrt(norm)
    scores = {}
    for ruling_id, dot in dots.items():
        live = index.rulings.get(ruling_id)
        if live is not None:  # else superseded, or issued after this snapshot
            scores[ruling_id] = min(dot * live.inverse_norm / norm, 1.0)
    return scores


def _search(
    fields: Sequence[tuple[str, float]], *, exclude_dispute: int | None, limit: int, visible_to: Any
) -> list[tuple[Ruling, float]]:
    if limit <= 0:
        return []
    query = text_features((text[:MAX_QUERY_CHARS], weight) for text, weight in fields)
    if not query:
        return []
    index = _index()
    ranked = sorted(
        (
            (score, ruling_id)
            for ruling_id, score in _scores(index, query).items()
            if score >= MIN_SCORE and index.rulings[ruling_id].dispute_id != exclude_dispute
        ),
        key=lambda item: (-item[0], -item[1]),  # best first; of equals, the latest ruling
    )
    # Published rulings are visible to everyone. Any ruling ranked above the `limit`-th published one may
    # be in the answer, so that prefix is what the visibility query has to look at.
    candidates: list[tuple[float, int]] = []
    published = 0
    for score, ruling_id in ranked:
        candidates.append((score, ruling_id))
        published += visible_to is None or not index.rulings[ruling_id].internal
        if published >= limit:
            break
    if not candidates:
        return []
    # Only an internal candidate needs the permission check (and its query of the person's roles).
    checked = visible_to is not None and published < len(candidates)
    rulings = rulings_visible_to(visible_to) if checked else Ruling.objects.all()
    # is_current again: a ruling corrected since the stamp was read is no longer a precedent.
    found = (
        rulings.prefetch_related(None)
        .select_related("dispute__domain", "lead_agency")
        .filter(pk__in=[ruling_id for _score, ruling_id in candidates], is_current=True)
    )
    by_id = {ruling.pk: ruling for ruling in found}
    results = [(by_id[ruling_id], score) for score, ruling_id in candidates if ruling_id in by_id]
    return results[:limit]


def similar_rulings(
    text: str, *, exclude_dispute: int | None = None, limit: int = DEFAULT_LIMIT, visible_to: Any = None
) -> list[tuple[Ruling, float]]:
    """The current rulings most similar to ``text``, best first, with their scores in [0, 1].

    ``exclude_dispute`` leaves out the rulings of that dispute (a dispute is not its own precedent).
    ``visible_to`` (a user, or AnonymousUser) keeps only the rulings that person may see — internal rulings
    only when they see the dispute; without it, internal rulings are included too. Blank text, or text
    with nothing in common with any ruling, gives ``[]``.
    """
    if not text or not text.strip():
        return []
    return _search([(text, TEXT_WEIGHT)], exclude_dispute=exclude_dispute, limit=limit, visible_to=visible_to)


def similar_for_dispute(
    dispute: Dispute, limit: int = DEFAULT_LIMIT, *, visible_to: Any = None
) -> list[tuple[Ruling, float]]:
    """The precedents of a dispute: rulings of other disputes like its title and description."""
    return _search(
        [(dispute.title, TITLE_WEIGHT), (dispute.description, TEXT_WEIGHT)],
        exclude_dispute=dispute.pk,
        limit=limit,
        visible_to=visible_to,
    )


__all__ = ["MIN_SCORE", "similar_for_dispute", "similar_rulings", "text_features"]
