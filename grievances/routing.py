"""Routing a grievance by the duty list: which duty covers it, and so which agency leads.

Two halves, each explainable to a dispatcher:

- **The list** (always): the current edition's duties are indexed once per process per edition — titles,
  keywords and synonyms weigh most, then the classification and category names, then the description —
  and the grievance's words are scored against them (BM25-like: rare words count more). A territorial duty
  goes to the street where the grievance happened (the area rule). A duty that a ruling rewrote carries
  the ruling as its precedent.
- **History** (once there is some): the ``RouterModel`` in force holds a scikit-learn classifier
  (grievances/router_model.py) trained on the grievances agencies accepted, labelled by the agency that
  finally handled each (after returns), a street office as "the street where it happened". It says which
  agency; the list says which of that agency's duties. Its weight grows with the number of examples. A
  model that fails to load is logged and routing falls back to the list alone (``status()`` says so).

The result is a ranked list of ``Suggestion``; the confidences of one grievance's suggestions sum to at
most 1. Routing touches the database only to load the index when an edition changes, so a grievance is
routed in a few milliseconds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
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
# The label of every street office in the learned model: a territorial matter goes to the street where it
# happened, so the model learns "a street's matter", not which street.
STREET_LABEL = "street"

logger = logging.getLogger(__name__)


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
class ListIndex:
    stamp: Any
    entries: list[Entry]
    # token -> [(entry index, weight)]
    postings: dict[str, list[tuple[int, float]]]
    idf: dict[str, float]
    by_duty: dict[int, int]
    max_idf: float = 1.0


@dataclass
class Learned:
    """The learned half as routing uses it: the classifier of a RouterModel and what its training measured."""

    classifier: Any  # grievances.router_model.TextClassifier
    samples: int
    model_id: int | None = None
    usual_duties: dict[str, int] = field(default_factory=dict)
    threshold: float | None = None
    coverage: float | None = None  # of the newest grievances, the share dispatched from the threshold
    precision: float | None = None  # of those, the share sent to the agency that finally handled them


class _Cache:
    lock = threading.Lock()
    index: ListIndex | None = None
    checked_at = 0.0
    learned: Learned | None = None
    learned_id: int | None = None
    learned_checked_at = 0.0
    load_error = ""


def _stamp() -> Any:
    return (Edition.objects.aggregate(m=Max("id"))["m"], DutyRevision.objects.aggregate(m=Max("id"))["m"])


def entry_of(revision: Any) -> tuple[Entry, dict[str, str]]:
    """A revision in force (with its participations, classification and category loaded) as an index entry
    and the texts it is found by."""
    lead = next((p for p in revision.participations.all() if p.role == ParticipationRole.LEAD), None)
    ruling = None
    if revision.source_ref.startswith("arbitration.ruling:"):
        ruling = int(revision.source_ref.rsplit(":", 1)[1])
    classification = revision.classification
    return make_entry(
        revision_id=revision.pk,
        duty_id=revision.duty_id,
        code=revision.code,
        title=revision.title,
        duty_list=revision.duty_list.code,
        lead=lead.agency if lead else None,
        territorial=revision.duty_type == DutyType.TERRITORIAL or revision.layer == Layer.STREET,
        precedent_ruling=ruling,
        classification=classification.name if classification else "",
        category=classification.category.name if classification else "",
        keywords=[str(k) for k in revision.keywords],
        synonyms=[str(s) for s in revision.synonyms],
        description=revision.description,
    )


def make_entry(
    *,
    revision_id: int,
    duty_id: int,
    code: str,
    title: str,
    duty_list: str,
    lead: Any,
    territorial: bool,
    precedent_ruling: int | None,
    classification: str,
    category: str,
    keywords: list[str],
    synonyms: list[str],
    description: str,
) -> tuple[Entry, dict[str, str]]:
    entry = Entry(
        revision_id=revision_id,
        duty_id=duty_id,
        code=code,
        title=title,
        duty_list=duty_list,
        lead_id=lead.pk if lead else None,
        lead_name=lead.name if lead else "",
        territorial=territorial,
        precedent_ruling=precedent_ruling,
        category=category,
        terms=frozenset(normalize(t) for t in (title, *keywords, *synonyms) if t),
    )
    fields = {
        "title": title,
        "terms": " ".join((*keywords, *synonyms)),
        "classification": classification,
        "category": category,
        "description": description,
    }
    return entry, fields


def entry_tokens(fields: dict[str, str]) -> dict[str, float]:
    """The weight of each token of an entry's texts: its best field's weight."""
    weights: dict[str, float] = {}
    for name, text in fields.items():
        for token, factor in weighted_tokens(text).items():
            weights[token] = max(weights.get(token, 0.0), WEIGHTS[name] * factor)
    return weights


def index_of(items: list[tuple[Entry, dict[str, str]]], stamp: Any = None) -> ListIndex:
    """An index over these entries: the list in force, or a list as an amendment would leave it."""
    entries: list[Entry] = []
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for entry, fields in items:
        position = len(entries)
        entries.append(entry)
        for token, weight in entry_tokens(fields).items():
            postings[token].append((position, weight))
    n = max(len(entries), 1)
    idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
    return ListIndex(
        stamp=stamp,
        entries=entries,
        postings=dict(postings),
        idf=idf,
        by_duty={e.duty_id: i for i, e in enumerate(entries)},
        max_idf=math.log(1 + (n - 0.5) / 1.5),
    )


def items_in_force() -> list[tuple[Entry, dict[str, str]]]:
    from duty_lists.selectors import revisions_in_force

    return [entry_of(r) for r in revisions_in_force().order_by("duty_list__code", "code")]


def _build(stamp: Any) -> ListIndex:
    return index_of(items_in_force(), stamp)


def index() -> ListIndex:
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
        _Cache.checked_at = 0.0
        _Cache.learned = None
        _Cache.learned_id = None
        _Cache.learned_checked_at = 0.0
        _Cache.load_error = ""


def label_of(agency_id: int | None, *, street_office: bool) -> str:
    """The learned model's label for the agency that handled (or would handle) a grievance."""
    return STREET_LABEL if street_office else str(agency_id)


def _entry_label(entry: Entry) -> str:
    return label_of(entry.lead_id, street_office=entry.territorial)


def learned() -> Learned | None:
    """The model in force, loaded once per process and version (checked at most every 30 s); None when there
    is none or it fails to load (then ``status()`` carries the error and the list routes alone)."""
    from grievances.models import RouterModel
    from grievances.router_model import TextClassifier

    now = time.monotonic()
    with _Cache.lock:
        if _Cache.learned_checked_at and now - _Cache.learned_checked_at < RECHECK_SECONDS:
            return _Cache.learned
    current = RouterModel.objects.filter(in_force=True).values("id", "samples", "metrics").first()
    with _Cache.lock:
        _Cache.learned_checked_at = now
        if current is None:
            _Cache.learned, _Cache.learned_id, _Cache.load_error = None, None, ""
            return None
        if _Cache.learned_id == current["id"]:
            return _Cache.learned
        _Cache.learned_id = current["id"]
        data = RouterModel.objects.values_list("model", flat=True).get(pk=current["id"])
        try:
            classifier = TextClassifier.loads(bytes(data))
        except ValueError as error:
            logger.error(
                "router model #%s failed to load; routing by the list alone: %s", current["id"], error
            )
            _Cache.learned, _Cache.load_error = None, str(error)
            return None
        metrics = current["metrics"] or {}
        _Cache.learned = Learned(
            classifier=classifier,
            samples=current["samples"],
            model_id=current["id"],
            usual_duties={str(k): int(v) for k, v in (metrics.get("usual_duties") or {}).items()},
            threshold=metrics.get("threshold"),
            coverage=metrics.get("coverage"),
            precision=metrics.get("precision"),
        )
        _Cache.load_error = ""
        return _Cache.learned


def status() -> dict[str, Any]:
    """What the dispatcher's pages say about the router: the model in force, or why the list routes alone,
    and the auto-dispatch threshold in use."""
    model = learned()
    return {
        "model_id": model.model_id if model else None,
        "samples": model.samples if model else 0,
        "load_error": _Cache.load_error,
        "threshold": auto_dispatch_threshold(),
        "measured": bool(model and model.threshold is not None),
        "coverage": model.coverage if model else None,
        "precision": model.precision if model else None,
    }


def auto_dispatch_threshold() -> float:
    """The confidence from which a grievance is dispatched without a dispatcher: the one the model in force
    measured on the office's own newest grievances for the target precision, else the setting."""
    model = learned()
    if model is not None and model.threshold is not None:
        return float(model.threshold)
    return float(settings.ZHIZE_AUTO_DISPATCH_CONFIDENCE)


def _list_scores(idx: ListIndex, query: dict[str, float]) -> dict[int, tuple[float, list[str]]]:
    scores: dict[int, float] = defaultdict(float)
    matched: dict[int, list[str]] = defaultdict(list)
    for token, factor in query.items():
        for position, weight in idx.postings.get(token, ()):
            scores[position] += idx.idf[token] * min(weight, WEIGHTS["title"] * factor)
            matched[position].append(token)
    return {p: (s, matched[p]) for p, s in scores.items()}


def _shares(idx: ListIndex, scores: dict[int, float], title: str) -> dict[int, float]:
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


_IN_FORCE: Any = object()


def _learned_shares(
    idx: ListIndex, model: Learned, list_share: dict[int, float], text: str, title: str, k: int
) -> dict[int, tuple[float, list[str]]]:
    """The model's agency probabilities spread over that agency's duties the list matched, in the list's
    proportions; an agency the list did not match gets the duty it usually handled, if that is still its."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for position in list_share:
        by_label[_entry_label(idx.entries[position])].append(position)
    shares: dict[int, tuple[float, list[str]]] = {}
    for label, probability, words in model.classifier.rank(text, k * 2, title=title):
        positions = by_label.get(label)
        if positions:
            total = sum(list_share[p] for p in positions) or 1.0
            for p in positions:
                shares[p] = (probability * list_share[p] / total, list(words))
            continue
        usual = idx.by_duty.get(model.usual_duties.get(label, -1))
        if usual is not None and _entry_label(idx.entries[usual]) == label:
            shares[usual] = (probability, list(words))
    return shares


def route(
    title: str,
    details: str = "",
    *,
    street: Any = None,
    exclude_agencies: frozenset[int] = frozenset(),
    k: int = TOP_K,
    using: Any = _IN_FORCE,
    list_index: ListIndex | None = None,
) -> list[Suggestion]:
    """Ranked suggestions for a grievance (its title and details) that happened in ``street``. ``using`` is a
    ``Learned`` to route with instead of the model in force (training measures a candidate so), or None for
    the list alone. ``list_index`` routes by another list than the one in force (the what-if replay)."""
    idx = list_index or index()
    query = query_tokens(title, details)
    query_words = {w for w in segment(normalize(f"{title} {details[:MAX_DETAILS_CHARS]}")) if len(w) >= 2}
    raw = _list_scores(idx, query)
    list_share = _shares(idx, {p: s for p, (s, _) in raw.items()}, title)
    text = f"{title}\n{details[:MAX_DETAILS_CHARS]}"

    model: Learned | None = learned() if using is _IN_FORCE else using
    learned_share: dict[int, tuple[float, list[str]]] = {}
    history_weight = 0.0
    if model is not None:
        learned_share = _learned_shares(idx, model, list_share, text, title, k)
        if learned_share:
            history_weight = model.samples / (model.samples + HISTORY_HALF_WEIGHT_SAMPLES)

    # The list's shares sum to how sure it is; what it leaves unclaimed goes to the model too, so that a
    # grievance the list does not recognise is as confident as the model alone is.
    list_weight = 1 - history_weight
    model_weight = history_weight + list_weight * (1 - sum(list_share.values())) if learned_share else 0.0
    combined: dict[int, float] = defaultdict(float)
    for position, share in list_share.items():
        combined[position] += list_weight * share
    for position, (probability, _) in learned_share.items():
        combined[position] += model_weight * probability

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
        learned_words = learned_share.get(position, (0.0, []))[1]
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
