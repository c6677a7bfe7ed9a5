"""Chinese full-text search over duty revisions, ranked.

Chinese has no spaces, so text is segmented with jieba before PostgreSQL sees it, and PostgreSQL's
``'simple'`` configuration (split on spaces, lowercase, no stemming, no stop words) indexes the tokens.

What ``DutyRevision.search_text`` holds (``build_search_text`` writes it; nothing else should)::

    <title tokens> | <keyword and synonym tokens> | <description tokens>

three sections of space-separated tokens, split by ``|`` (which never occurs inside a token: tokens are
runs of letters and digits only). The stored tsvector of migration 0009 (``search_vector``, GIN-indexed)
weights the sections A, B and C, so a hit in the title outranks one in a keyword, which outranks one in the
description. Each section lists a token
once, in order of first appearance. The title and term sections hold:

- every run of letters/digits of the title, keyword or synonym whole (``噪音扰民``), so a registry term is
  always a token of the duty it comes from, however jieba segments it;
- jieba's ``cut_for_search`` tokens, which include the sub-words of long words (``物业`` ``管理`` in
  ``物业管理``);
- every CJK character bigram (``占道`` ``道经`` ``经营`` of ``占道经营``): jieba keeps ``占道经营`` as
  ``占 道 经营``, and a two-character query must still find it.

The description section holds only jieba's ``cut_for_search`` tokens. Text is NFKC-normalised (full-width
letters and digits become ASCII) and lowercased first.

Queries are segmented the same way (precise mode), stop words such as ``怎么`` are dropped, and each term
becomes a tsquery operand: two characters or latin/digits match exactly; a single CJK character matches as a
prefix (``噪:*``); a CJK term of three or more characters matches itself OR all of its bigrams, so a registry
word added to jieba's dictionary after a revision was indexed still finds that revision's title and terms.
A term that the office's synonym table lists (``duty_lists/synonyms.py``: 违建 → 违章建筑, 违法建设) matches
itself OR any of its synonyms. Terms are AND-ed; if nothing matches them all, they are OR-ed. A query of one
word that jieba cuts into pieces (``占道经营`` → ``占道 / 经营``) also matches as that whole word, with its
own synonyms. Results are ordered by ``ts_rank`` raised by two tiers — a match of the whole word, and above
it a title that holds the query as typed — then by code.

jieba's dictionary is extended with the registry's own vocabulary (titles of duties in force, their keywords
and synonyms, agency names and short names) so that ``区综合执法局`` stays one token instead of
``区 / 综合 / 执法局``. The words and their frequencies are worked out once per state of the registry and
stored (``SearchVocabulary``): a process reads them in one query. They are loaded lazily, once per process,
and reloaded after
``invalidate_user_dictionary()`` (call it when an edition is published) or, for the other processes that do
not see that call, when a cheap check every few minutes notices a new edition or a changed agency. Searches
and routing do not wait for a reload: they go on with the vocabulary in place while a thread loads the new
one (``ZHIZE_SEARCH_RELOAD_IN_BACKGROUND``); indexing does wait.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import add, and_, or_
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connections
from django.db.models import Case, Count, Expression, FloatField, Max, Q, QuerySet, Value, When

from duty_lists.models import DutyRevision
from duty_lists.text import normalize

logger = logging.getLogger(__name__)

# Runs of letters and digits of any script (``\w`` without the underscore). PostgreSQL's default parser
# keeps each such run as one lexeme, so document and query tokens are parsed identically.
_WORD_RE = re.compile(r"[^\W_]+")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RUN_RE = re.compile(f"[{_HAN}]+")
_ALL_HAN_RE = re.compile(f"[{_HAN}]+$")

SECTION_SEPARATOR = "|"
# Registry terms longer than this are sentences ("对未取得资质承担城市道路施工任务的处罚"), not words: as
# jieba words they would swallow the shorter words inside them.
MAX_DICTIONARY_WORD = 16
# User input is bounded before it reaches jieba and PostgreSQL.
MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 24
# How often a process checks whether another process published an edition (see refresh_user_dictionary).
RECHECK_SECONDS = 300.0

# Words that carry no subject in a citizen's question ("小区噪音归谁管"). Dropped from queries only, and
# only when something else remains.
# fmt: off
QUERY_STOP_WORDS = frozenset({
    "的", "了", "和", "与", "及", "或", "在", "是", "有", "被", "把", "对", "就", "都",
    "也", "还", "我", "我们", "你", "您", "他", "她", "它", "他们", "这", "那", "这个", "那个",
    "怎么", "怎么办", "怎样", "如何", "什么", "哪", "哪个", "哪里", "谁", "吗", "呢", "啊", "吧", "呀",
    "请问", "请", "一下", "应该", "该", "归", "管", "找",
})
# fmt: on


class _StoredSearchVector(Expression):
    """The ``search_vector`` column of the query's revisions (PostgreSQL only): the weighted tsvector of
    ``search_text`` that migration 0009 stores and indexes with GIN, so that neither the match nor the rank
    computes a vector. Not a model field (see that migration), so named here by the query's own alias."""

    output_field = SearchVectorField()

    # A list, not the stubs' tuple: django.contrib.postgres.search adds the lookup's list of params to it.
    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        alias = compiler.query.get_initial_alias()
        return f"{compiler.quote_name_unless_alias(alias)}.search_vector", []


def search_vector() -> Expression:
    """The weighted tsvector of ``search_text`` (PostgreSQL only), as stored and indexed."""
    return _StoredSearchVector()


# --- jieba, initialised lazily and quietly ------------------------------------------------------------------

_init_lock = threading.Lock()
_jieba_module: Any = None


def _jieba() -> Any:
    """The jieba module with its default dictionary loaded. Importing jieba and loading its dictionary take
    about a second and log to stderr, so neither happens before the first segmentation."""
    global _jieba_module
    if _jieba_module is None:
        with _init_lock:
            if _jieba_module is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_module = jieba
    return _jieba_module


def _words(token: str) -> list[str]:
    return _WORD_RE.findall(token)


def _index_tokens(text: str) -> Iterator[str]:
    """jieba's search-mode tokens (words and their sub-words), without punctuation and whitespace."""
    for token in _jieba().cut_for_search(normalize(text)):
        yield from _words(token)


def _bigrams(text: str) -> Iterator[str]:
    for run in _HAN_RUN_RE.findall(text):
        for i in range(len(run) - 1):
            yield run[i : i + 2]


def _term_tokens(text: str) -> list[str]:
    normalized = normalize(text)
    return [*_words(normalized), *_index_tokens(normalized), *_bigrams(normalized)]


def _unique(tokens: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tokens))


def build_search_text(
    *, title: str, description: str, keywords: Sequence[str], synonyms: Sequence[str]
) -> str:
    """The value of ``DutyRevision.search_text`` for this content (see the module docstring).

    Segments with the registry's dictionary, so the first call in a process reads the registry's vocabulary
    (one query). The same content and vocabulary always give the same text.
    """
    refresh_user_dictionary()
    terms = [str(term) for term in (*keywords, *synonyms) if term]
    sections = (
        _term_tokens(title),
        [token for term in terms for token in _term_tokens(term)],
        list(_index_tokens(description)),
    )
    return f" {SECTION_SEPARATOR} ".join(" ".join(_unique(tokens)) for tokens in sections)


# --- The user dictionary: the registry's own vocabulary -----------------------------------------------------


@dataclass
class _UserDictionary:
    lock: threading.Lock = field(default_factory=threading.Lock)
    loaded: bool = False
    checked_at: float = 0.0
    stamp: tuple[Any, ...] | None = None
    # word -> its frequency in jieba before we added it (None: jieba did not know it), to restore on removal.
    added: dict[str, int | None] = field(default_factory=dict)
    reloading: bool = False  # a thread is loading a new vocabulary beside the requests
    # invalidate_user_dictionary() was called: work the words out again rather than trust the stored ones.
    recompute: bool = False
    generation: int = 0  # counts the vocabularies loaded (see search_state)


_user_dictionary = _UserDictionary()
_reloading_lock = threading.Lock()


def dictionary_words(texts: Iterable[str]) -> set[str]:
    """The jieba words a registry text contributes: its runs of letters and digits that contain a CJK
    character and are word-sized."""
    words = set()
    for text in texts:
        if not isinstance(text, str):
            continue
        for word in _words(normalize(text)):
            if 2 <= len(word) <= MAX_DICTIONARY_WORD and _HAN_RUN_RE.search(word):
                words.add(word)
    return words


def _registry_vocabulary() -> set[str]:
    from duty_lists.models import Agency
    from duty_lists.selectors import revisions_in_force

    texts: list[str] = []
    rows = revisions_in_force(with_content=False).values_list("title", "keywords", "synonyms")
    for title, keywords, synonyms in rows.iterator(chunk_size=2000):
        texts.append(title)
        texts.extend(keywords if isinstance(keywords, list) else [])
        texts.extend(synonyms if isinstance(synonyms, list) else [])
    for name, short_name in Agency.objects.values_list("name", "short_name"):
        texts.extend((name, short_name))
    return dictionary_words(texts)


def _vocabulary_stamp() -> tuple[Any, ...]:
    """Changes whenever the vocabulary can have: an edition is published (that is the only way revisions come
    into or go out of force) or an agency is added, renamed or deleted."""
    from duty_lists.models import Agency, Edition

    editions = Edition.objects.aggregate(last=Max("id"))
    agencies = Agency.objects.aggregate(count=Count("id"), changed=Max("updated_at"))
    return (editions["last"], agencies["count"], agencies["changed"])


def _set_frequency(tokenizer: Any, word: str, frequency: int | None) -> None:
    # jieba's add_word adds to the dictionary's total without subtracting the word's old frequency; keep the
    # total true so that repeated reloads do not drift the probabilities of every other word.
    tokenizer.total -= tokenizer.FREQ.get(word) or 0
    if frequency is None:
        tokenizer.del_word(word)  # frequency 0: jieba never chooses it
    else:
        tokenizer.add_word(word, frequency)


def _load(frequencies: Mapping[str, int]) -> None:
    """Make the registry's words exactly these, at these frequencies (words no longer there get back what
    jieba had for them)."""
    tokenizer = _jieba().dt
    added = _user_dictionary.added
    for word in sorted(added.keys() - frequencies.keys()):
        _set_frequency(tokenizer, word, added.pop(word))
    for word in sorted(frequencies):
        if word not in added:
            added[word] = tokenizer.FREQ.get(word) or None
        if tokenizer.FREQ.get(word) != frequencies[word]:
            _set_frequency(tokenizer, word, frequencies[word])
    _user_dictionary.generation += 1


def _suggested_frequencies(words: set[str]) -> dict[str, int]:
    """Each word's frequency as jieba suggests it from its own dictionary: every registry word taken out
    first, then the words added one by one in sorted order (a suggestion depends on the words before it), so
    any process given the same words works out the same frequencies. Leaves jieba holding them."""
    tokenizer = _jieba().dt
    added = _user_dictionary.added
    for word in sorted(added):
        _set_frequency(tokenizer, word, added.pop(word))
    frequencies = {}
    for word in sorted(words):
        added[word] = tokenizer.FREQ.get(word) or None
        frequencies[word] = tokenizer.suggest_freq(word, False)
        _set_frequency(tokenizer, word, frequencies[word])
    return frequencies


KEPT_VOCABULARIES = 5  # the stored vocabularies kept: the newest, and a few for processes still behind


def _stored_frequencies(stamp: tuple[Any, ...], *, recompute: bool = False) -> dict[str, int]:
    """The vocabulary of this state of the registry: read from its stored row, or worked out once (by the
    first process to need it, or when ``recompute``) and stored for every other process."""
    from django.db import IntegrityError, transaction

    from duty_lists.models import SearchVocabulary

    key = "|".join(map(str, stamp))[:200]
    if not recompute:
        stored = SearchVocabulary.objects.filter(stamp=key).values_list("frequencies", flat=True).first()
        if stored is not None:
            return {word: int(frequency) for word, frequency in stored.items()}
    frequencies = _suggested_frequencies(_registry_vocabulary())
    try:
        with transaction.atomic():
            SearchVocabulary.objects.update_or_create(stamp=key, defaults={"frequencies": frequencies})
    except IntegrityError:
        pass  # another process stored the same words first
    older = SearchVocabulary.objects.values_list("pk", flat=True)[KEPT_VOCABULARIES:]
    SearchVocabulary.objects.filter(pk__in=list(older)).delete()
    return frequencies


def refresh_user_dictionary(*, wait: bool = True) -> None:
    """Make sure jieba knows the registry's vocabulary. Cheap after the first call: a flag check, and every
    ``RECHECK_SECONDS`` one small query to notice an edition published by another process.

    ``wait=False`` (searching, routing): a process that has loaded a vocabulary before keeps using it while a
    thread loads the new one, so the first request after an edition does not wait seconds for it. Indexing
    waits: the same content and vocabulary must always give the same search text.
    """
    state = _user_dictionary
    if state.loaded and time.monotonic() - state.checked_at < RECHECK_SECONDS:
        return
    if not wait and state.stamp is not None and settings.ZHIZE_SEARCH_RELOAD_IN_BACKGROUND:
        if not state.lock.acquire(blocking=False):
            return  # a load is under way: the vocabulary in place will do until it ends
        try:
            if state.loaded and _vocabulary_stamp() == state.stamp:
                state.checked_at = time.monotonic()
                return
        finally:
            state.lock.release()
        _reload_beside()
        return
    with state.lock:
        if state.loaded and time.monotonic() - state.checked_at < RECHECK_SECONDS:
            return  # another thread loaded it while this one waited
        stamp = _vocabulary_stamp()
        if not (state.loaded and stamp == state.stamp):
            recompute, state.recompute = state.recompute, False
            _load(_stored_frequencies(stamp, recompute=recompute))
        state.stamp, state.loaded, state.checked_at = stamp, True, time.monotonic()


def _reload_beside() -> None:
    state = _user_dictionary
    with _reloading_lock:
        if state.reloading:
            return
        state.reloading = True
    threading.Thread(target=_reload, name="zhize-search-vocabulary", daemon=True).start()


def _reload() -> None:
    from django.db import connection

    try:
        refresh_user_dictionary()
    except Exception:  # the requests go on with the vocabulary they have; the next check tries again
        logger.exception("Reloading the registry's vocabulary failed")
    finally:
        _user_dictionary.reloading = False
        connection.close()  # this thread's own connection


def invalidate_user_dictionary() -> None:
    """Work the vocabulary out again from the registry at the next segmentation, and store it for the other
    processes (call after an edition is published, on commit)."""
    with _user_dictionary.lock:
        _user_dictionary.loaded = False
        _user_dictionary.recompute = True


def search_state() -> tuple[int, str]:
    """What the SQL of a search depends on besides the query's text (and, for a query of several terms, the
    registry: see ``search_revisions``): the vocabulary jieba segments with and the synonym table. Equal
    states and texts give the same statement."""
    from duty_lists.synonyms import synonyms_digest

    return (_user_dictionary.generation, synonyms_digest())


def segment(text: str) -> list[str]:
    """jieba's precise-mode tokens of a text, with the registry's dictionary, without punctuation."""
    refresh_user_dictionary(wait=False)
    return [word for token in _jieba().cut(normalize(text)) for word in _words(token)]


# --- Queries ------------------------------------------------------------------------------------------------


def query_terms(q: str) -> list[str]:
    """The search terms of a user's query, in order, each once.

    Adjacent single CJK characters are joined again (jieba splits unknown words like ``占道`` into ``占 道``,
    which the index holds as the bigram ``占道``); stop words are dropped unless nothing else is left.
    """
    refresh_user_dictionary(wait=False)
    tokens: list[str | None] = []  # None: a break (punctuation, space) between tokens
    for token in _jieba().cut(normalize(q[:MAX_QUERY_CHARS])):
        words = _words(token)
        tokens.extend(words if words else [None])
    terms = _join_single_characters(tokens, QUERY_STOP_WORDS) or _join_single_characters(tokens, frozenset())
    return _unique(terms)[:MAX_QUERY_TERMS]


def _join_single_characters(tokens: Sequence[str | None], stop_words: frozenset[str]) -> list[str]:
    terms: list[str] = []
    run: list[str] = []
    for token in [*tokens, None]:
        if token is not None and len(token) == 1 and _HAN_RUN_RE.fullmatch(token) and token not in stop_words:
            run.append(token)
            continue
        if run:
            terms.append("".join(run))
            run = []
        if token is not None and token not in stop_words:
            terms.append(token)
    return terms


def _lexeme(word: str, prefix: bool = False) -> str:
    # Terms are letters and digits only, so no tsquery syntax can get in; quote anyway, and the whole
    # tsquery still travels as a bound parameter, never inside the SQL text.
    quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + ":*" if prefix else quoted


def _operand(term: str) -> str:
    if _ALL_HAN_RE.match(term):
        if len(term) == 1:
            return _lexeme(term, prefix=True)
        if len(term) >= 3:
            bigrams = " & ".join(_lexeme(b) for b in _unique(_bigrams(term)))
            return f"( {_lexeme(term)} | ( {bigrams} ) )"
    return _lexeme(term)


Synonyms = Mapping[str, Iterable[str]]


def _expanded_operand(term: str, synonyms: Synonyms) -> str:
    alternatives = [term, *sorted(synonyms.get(term, ()))]
    if len(alternatives) == 1:
        return _operand(term)
    return "( " + " | ".join(_operand(word) for word in alternatives) + " )"


def tsquery_text(terms: Sequence[str], *, match_all: bool = True, synonyms: Synonyms | None = None) -> str:
    """The ``to_tsquery('simple', …)`` text for the terms: all of them, or any of them (then ignoring single
    characters, which as prefixes match too much, unless there is nothing else). A term with synonyms
    matches itself or any of them."""
    if not match_all:
        terms = [t for t in terms if len(t) > 1] or list(terms)
    return (" & " if match_all else " | ").join(_expanded_operand(t, synonyms or {}) for t in terms)


@dataclass(frozen=True)
class _Query:
    """What a user's query asks for: its terms with their synonyms, and the whole query as one phrase."""

    terms: list[str]
    synonyms: dict[str, frozenset[str]]
    # The query as one run of letters and digits (``占道经营``, which jieba cuts into ``占道 / 经营``), when
    # it is one; ``""`` for a query of several words or a single character.
    phrase: str
    # The query as typed, trimmed: a title holding it whole is the best hit there is.
    text: str


def _parse(q: str) -> _Query | None:
    from duty_lists.synonyms import synonyms_of

    terms = query_terms(q)
    if not terms:
        return None
    words = _words(normalize(q[:MAX_QUERY_CHARS]))
    phrase = words[0] if len(words) == 1 and len(words[0]) > 1 else ""
    synonyms = {word: synonyms_of(word) for word in {*terms, phrase} if word}
    # Control characters (a NUL byte, which PostgreSQL refuses in a string) are in no title.
    text = "".join(ch for ch in q[:MAX_QUERY_CHARS] if ch.isprintable()).strip()
    return _Query(terms, {w: s for w, s in synonyms.items() if s}, phrase, text)


def search_revisions(queryset: QuerySet[DutyRevision], q: str) -> QuerySet[DutyRevision]:
    """Revisions of ``queryset`` matching ``q``, best first, annotated with ``rank``.

    A blank ``q`` returns the queryset unchanged; a ``q`` with nothing searchable in it matches nothing.
    Each term is looked for together with its synonyms (``duty_lists.synonyms``, held in memory). Checks
    once (one EXISTS query) whether every term matches somewhere, and else looks for any term. A query of
    one word that jieba cuts into pieces also matches as that word, with its synonyms, and such a match
    ranks above a match of pieces; a title holding the whole query ranks above everything else.
    """
    if not q or not q.strip():
        return queryset
    query = _parse(q)
    if query is None:
        return queryset.none()
    if connections[queryset.db].vendor == "postgresql":
        return _search_postgresql(queryset, query)
    return _search_portable(queryset, query)


# Added to a revision's rank: a title with the whole query in it (``PHRASE_IN_TITLE``) above a revision
# matching the whole query as one word or a synonym of it (``PHRASE_MATCH``), above the rest. ts_rank of a
# query stays below 1 for the short texts of duties (each token once per section), so the tiers never mix.
PHRASE_IN_TITLE = 20.0
PHRASE_MATCH = 10.0


def _raw(text: str) -> SearchQuery:
    return SearchQuery(text, config="simple", search_type="raw")


def _search_postgresql(queryset: QuerySet[DutyRevision], query: _Query) -> QuerySet[DutyRevision]:
    terms, synonyms = query.terms, query.synonyms
    searched = queryset.alias(search_vector=search_vector())
    # The phrase is worth its own operand only when jieba cut it into several terms.
    whole = (
        tsquery_text([query.phrase], synonyms=synonyms) if query.phrase and terms != [query.phrase] else ""
    )
    text = tsquery_text(terms, synonyms=synonyms)
    if len(terms) > 1 and not searched.filter(search_vector=_raw(_either(text, whole))).exists():
        text = tsquery_text(terms, match_all=False, synonyms=synonyms)
    matching = _raw(_either(text, whole))
    rank: Any = SearchRank(search_vector(), matching)
    if whole:
        rank = rank + Case(
            When(search_vector=_raw(whole), then=Value(PHRASE_MATCH)),
            default=Value(0.0),
            output_field=FloatField(),
        )
    if query.text:
        rank = rank + _title_bonus(query.text)
    return searched.filter(search_vector=matching).annotate(rank=rank).order_by("-rank", "code", "pk")


def _either(text: str, whole: str) -> str:
    return f"( {text} ) | ( {whole} )" if whole else text


def _title_bonus(text: str, bonus: float = PHRASE_IN_TITLE) -> Case:
    return Case(
        When(title__icontains=text, then=Value(bonus)),
        default=Value(0.0),
        output_field=FloatField(),
    )


def _search_portable(queryset: QuerySet[DutyRevision], query: _Query) -> QuerySet[DutyRevision]:
    """SQLite (development without PostgreSQL): substring matches. A term (or a synonym of it) found in
    the title scores its length (a longer term is more specific), one found elsewhere a fifth of that."""
    terms = query.terms

    def alternatives(term: str) -> list[str]:
        return [term, *sorted(query.synonyms.get(term, ()))]

    def anywhere(term: str) -> Q:
        return reduce(or_, (Q(title__icontains=w) | Q(search_text__icontains=w) for w in alternatives(term)))

    def in_title(term: str) -> Q:
        return reduce(or_, (Q(title__icontains=w) for w in alternatives(term)))

    matches = [anywhere(term) for term in terms]
    condition = reduce(and_, matches)
    if len(terms) > 1 and not queryset.filter(condition).exists():
        condition = reduce(or_, matches)
    if query.phrase and terms != [query.phrase]:
        condition = condition | anywhere(query.phrase)
    scores = [
        Case(
            When(in_title(term), then=Value(float(len(term)))),
            When(anywhere(term), then=Value(0.2 * len(term))),
            default=Value(0.0),
            output_field=FloatField(),
        )
        for term in terms
    ]
    rank: Any = reduce(add, scores)
    if query.text:
        rank = rank + _title_bonus(query.text, bonus=100.0)
    return queryset.filter(condition).annotate(rank=rank).order_by("-rank", "code", "pk")


__all__ = [
    "build_search_text",
    "dictionary_words",
    "invalidate_user_dictionary",
    "normalize",
    "query_terms",
    "refresh_user_dictionary",
    "search_revisions",
    "search_state",
    "search_vector",
    "segment",
    "tsquery_text",
]
