"""Routing a grievance by the duty list: which duty covers it, and so which agency leads.

Two halves, each explainable to a dispatcher:

- **The list** (always): the current edition's duties are indexed once per process per edition — titles,
  keywords and synonyms weigh most, then the classification and category names, then the description —
  and the grievance's words are scored against them (BM25-like: rare words count more). A territorial duty
  goes to the street where the grievance happened (the area rule). A duty that a ruling rewrote carries
  the ruling as its precedent.
- **History** (once there is some): ``RouterModel`` holds a classifier trained on grievances that agencies
  accepted (label = duty id), retrained by a beat task. Its weight grows with the number of examples.

The result is a ranked list of ``Suggestion``; the confidences of one grievance's suggestions sum to at
most 1. Routing touches the database only to load the index when an edition changes, so a grievance is
routed in a few milliseconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Max

from duty_lists.models import DutyRevision, DutyType, Edition, Layer, ParticipationRole
from duty_lists.search import normalize, segment

TOP_K = 5
# Field weights of the list index: a match on what the duty is called beats one in its long description.
WEIGHTS = {"title": 3.0, "terms": 3.0, "classification": 1.5, "category": 1.0, "description": 0.6}
# How far the best duty must lead the best duty of *another* agency before the list alone is sure: what a
# dispatcher needs to know is which agency, and duties of one agency often score alike. Measured in rare
# title words (a word of one duty's title weighs its idf × the title weight), so the rule holds for a list of
# ten duties as for one of thousands.
MARGIN_SATURATION = 0.6
# The list alone, matched word by word, is often fooled by long messages full of generic words (measured on
# the labelled messages: 56% right at the best margins). It may dispatch by itself only when the grievance's
# title contains one of the duty's own terms whole; otherwise its confidence stays below this.
LIST_ONLY_CAP = 0.8
MIN_WHOLE_TERM = 3
# The citizen's title says what the matter is; the details add context and noise.
DETAILS_FACTOR = 0.5
# Only the beginning of long details is read: it keeps routing fast and the rest rarely names the matter.
MAX_DETAILS_CHARS = 400
# How sharply the list prefers its best match over the runners-up when turning scores into shares.
TEMPERATURE = 2.5
# The history model's weight reaches one half at this many accepted grievances.
HISTORY_HALF_WEIGHT_SAMPLES = 300
RECHECK_SECONDS = 30.0


# Characters that glue words together rather than carry meaning: a bigram containing one (的人, 了一) spans
# a word boundary and would match unrelated duties.
FUNCTION_CHARACTERS = frozenset("的了是在和与及或等有我你他她们这那个也都就被把对为从到给又很")
# A bigram is weaker evidence than a word: it catches words jieba splits differently in a citizen's
# sentence than in the list's terse titles, but it also matches across words by chance.
BIGRAM_FACTOR = 0.5


def _bigrams(text: str) -> list[str]:
    out: list[str] = []
    run: list[str] = []
    for ch in [*text, " "]:
        if "\u3400" <= ch <= "\u9fff":
            run.append(ch)
            continue
        out.extend(
            run[i] + run[i + 1]
            for i in range(len(run) - 1)
            if run[i] not in FUNCTION_CHARACTERS and run[i + 1] not in FUNCTION_CHARACTERS
        )
        run = []
    return out


def weighted_tokens(text: str) -> dict[str, float]:
    """Words (jieba, with the registry's dictionary) at full weight and CJK bigrams at half."""
    normalized = normalize(text)
    weights = dict.fromkeys(_bigrams(normalized), BIGRAM_FACTOR)
    weights.update(dict.fromkeys((w for w in segment(normalized) if len(w) >= 2), 1.0))
    return weights


def tokens(text: str) -> list[str]:
    return list(weighted_tokens(text))


@dataclass
class Entry:
    revision_id: int
    duty_id: int
    code: str
    title: str
    duty_list: str
    lead_id: int | None
    lead_name: str
    territorial: bool
    precedent_ruling: int | None
    category: str
    terms: frozenset[str] = frozenset()


@dataclass
class Suggestion:
    duty_id: int | None
    revision_id: int | None
    duty_code: str
    duty_title: str
    duty_list: str
    agency_id: int | None
    agency_name: str
    confidence: float
    matched_words: list[str] = field(default_factory=list)
    area_rule: str = ""
    precedent_ruling: int | None = None
    learned_words: list[str] = field(default_factory=list)
    source: str = "list"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Index:
    stamp: Any
    entries: list[Entry]
    # token -> [(entry index, weight)]
    postings: dict[str, list[tuple[int, float]]]
    idf: dict[str, float]
    by_duty: dict[int, int]
    max_idf: float = 1.0


class _Cache:
    lock = threading.Lock()
    index: _Index | None = None
    checked_at = 0.0
    history: Any = None
    history_id: int | None = None
    history_samples = 0


def _stamp() -> Any:
    return (Edition.objects.aggregate(m=Max("id"))["m"], DutyRevision.objects.aggregate(m=Max("id"))["m"])


def _build(stamp: Any) -> _Index:
    from duty_lists.selectors import revisions_in_force

    entries: list[Entry] = []
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    revisions = revisions_in_force().order_by("duty_list__code", "code")
    for revision in revisions:
        lead = next((p for p in revision.participations.all() if p.role == ParticipationRole.LEAD), None)
        ruling = None
        if revision.source_ref.startswith("arbitration.ruling:"):
            ruling = int(revision.source_ref.rsplit(":", 1)[1])
        entry = Entry(
            revision_id=revision.pk,
            duty_id=revision.duty_id,
            code=revision.code,
            title=revision.title,
            duty_list=revision.duty_list.code,
            lead_id=lead.agency_id if lead else None,
            lead_name=lead.agency.name if lead else "",
            territorial=revision.duty_type == DutyType.TERRITORIAL or revision.layer == Layer.STREET,
            precedent_ruling=ruling,
            category=revision.classification.category.name if revision.classification else "",
            terms=frozenset(
                normalize(str(t)) for t in (revision.title, *revision.keywords, *revision.synonyms) if t
            ),
        )
        position = len(entries)
        entries.append(entry)
        fields = {
            "title": revision.title,
            "terms": " ".join(str(t) for t in (*revision.keywords, *revision.synonyms)),
            "classification": revision.classification.name if revision.classification else "",
            "category": entry.category,
            "description": revision.description,
        }
        weights: dict[str, float] = {}
        for name, text in fields.items():
            for token, factor in weighted_tokens(text).items():
                weights[token] = max(weights.get(token, 0.0), WEIGHTS[name] * factor)
        for token, weight in weights.items():
            postings[token].append((position, weight))
    n = max(len(entries), 1)
    idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
    return _Index(
        stamp=stamp,
        entries=entries,
        postings=dict(postings),
        idf=idf,
        by_duty={e.duty_id: i for i, e in enumerate(entries)},
        max_idf=math.log(1 + (n - 0.5) / 1.5),
    )


def index() -> _Index:
    """The list index, rebuilt when an edition or revision appears (checked at most every 30 s)."""
    now = time.monotonic()
    with _Cache.lock:
        current = _Cache.index
        if current is not None and now - _Cache.checked_at < RECHECK_SECONDS:
            return current
        stamp = _stamp()
        _Cache.checked_at = now
        if current is not None and current.stamp == stamp:
            return current
        _Cache.index = _build(stamp)
        return _Cache.index


def forget() -> None:
    """Drop the cached index and model (after publishing, retraining, or between tests)."""
    with _Cache.lock:
        _Cache.index = None
        _Cache.history = None
        _Cache.history_id = None
        _Cache.checked_at = 0.0


def _history() -> tuple[Any, int]:
    from grievances.models import RouterModel

    latest = RouterModel.objects.order_by("-trained_at", "-id").values("id", "samples").first()
    if latest is None:
        return None, 0
    from grievances.learning import TextClassifier

    with _Cache.lock:
        if _Cache.history_id != latest["id"]:
            payload = RouterModel.objects.values_list("payload", flat=True).get(pk=latest["id"])
            _Cache.history = TextClassifier.from_dict(payload)
            _Cache.history_id = latest["id"]
            _Cache.history_samples = latest["samples"]
        return _Cache.history, _Cache.history_samples


def _list_scores(idx: _Index, query: dict[str, float]) -> dict[int, tuple[float, list[str]]]:
    scores: dict[int, float] = defaultdict(float)
    matched: dict[int, list[str]] = defaultdict(list)
    for token, factor in query.items():
        for position, weight in idx.postings.get(token, ()):
            scores[position] += idx.idf[token] * min(weight, WEIGHTS["title"] * factor)
            matched[position].append(token)
    return {p: (s, matched[p]) for p, s in scores.items()}


def _shares(idx: _Index, scores: dict[int, float], title: str) -> dict[int, float]:
    """Scores → shares of a confidence that is itself capped by how clearly the best duty's agency beats
    every other agency, and by whether the title names the duty in its own terms."""
    if not scores:
        return {}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best_position, top = ranked[0]
    best_lead = idx.entries[best_position].lead_id
    rival = next((v for p, v in ranked[1:] if idx.entries[p].lead_id != best_lead), 0.0)
    rare_title_word = idx.max_idf * WEIGHTS["title"]
    strength = min(1.0, (top - rival) / (MARGIN_SATURATION * rare_title_word))
    normalized_title = normalize(title)
    if not any(len(t) >= MIN_WHOLE_TERM and t in normalized_title for t in idx.entries[best_position].terms):
        strength = min(strength, LIST_ONLY_CAP)
    exps = {k: math.exp((v - top) / TEMPERATURE) for k, v in ranked[:50]}
    total = sum(exps.values())
    return {k: strength * e / total for k, e in exps.items()}


def _readable(words: list[str], query_words: set[str], terms: frozenset[str]) -> list[str]:
    """The matched words worth showing a dispatcher: the duty's own terms first, then the citizen's words;
    other bigrams only when nothing else matched (动摊 straddles two words and explains nothing)."""
    shown = [w for w in words if w in terms] + [w for w in words if w in query_words and w not in terms]
    return (shown or words)[:8]


def query_tokens(title: str, details: str = "") -> dict[str, float]:
    """The grievance's tokens: the title's at full weight, the beginning of the details' at half."""
    query = {t: f * DETAILS_FACTOR for t, f in weighted_tokens(details[:MAX_DETAILS_CHARS]).items()}
    query.update(weighted_tokens(title))
    return query


def route(
    title: str,
    details: str = "",
    *,
    street: Any = None,
    exclude_agencies: frozenset[int] = frozenset(),
    k: int = TOP_K,
) -> list[Suggestion]:
    """Ranked suggestions for a grievance (its title and details) that happened in ``street``."""
    idx = index()
    query = query_tokens(title, details)
    query_words = {w for w in segment(normalize(f"{title} {details[:MAX_DETAILS_CHARS]}")) if len(w) >= 2}
    raw = _list_scores(idx, query)
    list_share = _shares(idx, {p: s for p, (s, _) in raw.items()}, title)
    text = f"{title}\n{details[:MAX_DETAILS_CHARS]}"

    model, samples = _history()
    learned: dict[int, tuple[float, list[str]]] = {}
    if model is not None:
        for label, probability, words in model.rank(text, k * 2):
            position = idx.by_duty.get(int(label))
            if position is not None:
                learned[position] = (probability, list(words))
    history_weight = samples / (samples + HISTORY_HALF_WEIGHT_SAMPLES) if learned else 0.0

    combined: dict[int, float] = defaultdict(float)
    for position, share in list_share.items():
        combined[position] += (1 - history_weight) * share
    for position, (probability, _) in learned.items():
        combined[position] += history_weight * probability

    suggestions: list[Suggestion] = []
    seen_duties: set[int] = set()
    for position, confidence in sorted(combined.items(), key=lambda kv: (-kv[1], idx.entries[kv[0]].code)):
        entry = idx.entries[position]
        agency_id, agency_name, area_rule = entry.lead_id, entry.lead_name, ""
        if entry.territorial and street is not None:
            agency_id, agency_name = street.pk, street.name
            area_rule = "territorial"
        if agency_id in exclude_agencies or entry.duty_id in seen_duties:
            continue
        seen_duties.add(entry.duty_id)
        words = raw.get(position, (0.0, []))[1]
        learned_words = learned.get(position, (0.0, []))[1]
        suggestions.append(
            Suggestion(
                duty_id=entry.duty_id,
                revision_id=entry.revision_id,
                duty_code=entry.code,
                duty_title=entry.title,
                duty_list=entry.duty_list,
                agency_id=agency_id,
                agency_name=agency_name,
                confidence=round(confidence, 4),
                matched_words=_readable(words, query_words, entry.terms),
                area_rule=area_rule,
                precedent_ruling=entry.precedent_ruling,
                learned_words=learned_words[:6],
                source="both" if words and learned_words else ("history" if learned_words else "list"),
            )
        )
        if len(suggestions) == k:
            break
    return suggestions


def suggestion_for_duty(duty_id: int, *, street: Any = None) -> Suggestion | None:
    """A suggestion for a duty the caller already knows (an Open311 ``service_code``, a cited duty)."""
    idx = index()
    position = idx.by_duty.get(duty_id)
    if position is None:
        return None
    entry = idx.entries[position]
    agency_id, agency_name, area_rule = entry.lead_id, entry.lead_name, ""
    if entry.territorial and street is not None:
        agency_id, agency_name, area_rule = street.pk, street.name, "territorial"
    return Suggestion(
        duty_id=entry.duty_id,
        revision_id=entry.revision_id,
        duty_code=entry.code,
        duty_title=entry.title,
        duty_list=entry.duty_list,
        agency_id=agency_id,
        agency_name=agency_name,
        confidence=1.0,
        area_rule=area_rule,
        precedent_ruling=entry.precedent_ruling,
        source="named",
    )
