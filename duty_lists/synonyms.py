"""The search synonym table, as search reads it: a word → the other words of its rows, held in memory.

Citizens say 噪声, 违建, 占道; the lists say 噪音, 违章建筑, 城管执法. The editorial office keeps rows of
a term and its synonyms (``SearchSynonym``); a query term that is a row's term is searched together with
the row's synonyms. One way only: 违建 → 违章建筑 does not make 违章建筑 search for 违建, and a synonym's
own row is not followed, so each row says exactly what it adds and one broad row cannot pull the whole
table into every query. Two words that are the same to everyone (噪声, 噪音) get a row each.

A search must not cost a query per word, nor one per search: the table (a few hundred rows) is read once
into a dict and kept. Changes reach every process at once through a version token in the shared cache
(Redis in production), which ``forget_synonyms`` replaces when a change commits; a search reads that one
token. Where the cache is per process (development without Redis), the table is also re-read every
``MAX_AGE_SECONDS``, so another process's edit shows within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.cache import cache

from duty_lists.models import SearchSynonym
from duty_lists.text import normalize

VERSION_KEY = "zhize:search:synonyms:version"
MAX_AGE_SECONDS = 60.0


@dataclass
class _Table:
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: str | None = None
    loaded_at: float = 0.0
    words: dict[str, frozenset[str]] = field(default_factory=dict)
    digest: str = ""


_table = _Table()


def _normalize(word: str) -> str:
    return normalize(word).strip()


def build_map(rows: Iterable[tuple[str, list[str]]]) -> dict[str, frozenset[str]]:
    """Each row's term (normalised) → its synonyms (normalised), without the term itself."""
    words: dict[str, frozenset[str]] = {}
    for term, aliases in rows:
        word = _normalize(term)
        others = frozenset(_normalize(a) for a in (aliases if isinstance(aliases, list) else []) if a)
        others -= {word, ""}
        if word and others:
            words[word] = others
    return words


def _current_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        # First reader since the cache started (or the key was evicted): name the table as it is now.
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY) or ""
    return str(version)


def _fresh() -> _Table:
    version = _current_version()
    state = _table
    if state.version == version and time.monotonic() - state.loaded_at < MAX_AGE_SECONDS:
        return state
    with state.lock:
        if state.version != version or time.monotonic() - state.loaded_at >= MAX_AGE_SECONDS:
            rows = sorted(SearchSynonym.objects.values_list("term", "aliases"))
            state.words = build_map(rows)
            state.digest = hashlib.sha256(repr(sorted(state.words.items())).encode()).hexdigest()[:16]
            state.version, state.loaded_at = version, time.monotonic()
    return state


def synonyms_of(word: str) -> frozenset[str]:
    """The words searched together with ``word`` (normalised), without ``word`` itself."""
    return _fresh().words.get(_normalize(word), frozenset())


def synonyms_digest() -> str:
    """Changes whenever the table's content does: part of the ETag of a search response."""
    return _fresh().digest


def forget_synonyms() -> None:
    """After a change commits: every process re-reads the table at its next search."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    _table.version = None
