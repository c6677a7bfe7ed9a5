"""Writes to the search synonym table (kept by the editorial office). Admin, pages and the demo loader call
these; each change is audited and reaches every process's search on commit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from duty_lists import permissions
from duty_lists.models import SearchSynonym
from duty_lists.search import normalize
from duty_lists.synonyms import forget_synonyms

# A synonym is one search word: a run of letters and digits, as the index holds them. "违章 搭建" would be
# two words and could only ever match as both; the office writes 违章搭建.
_WORD_RE = re.compile(r"[^\W_]+")
MAX_WORD = 20
MAX_ALIASES = 30


def _require_officer(actor: Any) -> None:
    if not (actor.is_superuser or permissions.is_editorial_officer(actor)):
        raise PermissionRefused(_("Only an editorial-office officer may edit the search synonyms."))


def _word(raw: str, field: str) -> str:
    word = normalize(str(raw)).strip()
    if not word or not _WORD_RE.fullmatch(word) or len(word) > MAX_WORD:
        raise ApplicationError(
            _("“%(word)s” is not one search word: use letters and digits only, at most %(n)d.")
            % {"word": raw, "n": MAX_WORD},
            code="invalid",
            extra={field: [_("One word of letters and digits.")]},
        )
    return word


def _clean(term: str, aliases: Sequence[str]) -> tuple[str, list[str]]:
    word = _word(term, "term")
    words = list(dict.fromkeys(_word(a, "aliases") for a in aliases if str(a).strip()))
    words = [w for w in words if w != word]
    if not words:
        raise ApplicationError(
            _("Give at least one synonym."), code="invalid", extra={"aliases": [_("Required.")]}
        )
    if len(words) > MAX_ALIASES:
        raise ApplicationError(
            _("At most %(n)d synonyms per term.") % {"n": MAX_ALIASES},
            code="invalid",
            extra={"aliases": [_("Too many.")]},
        )
    return word, words


def _snapshot(synonym: SearchSynonym) -> dict[str, Any]:
    return {"term": synonym.term, "aliases": list(synonym.aliases), "note": synonym.note}


def search_synonym_save(
    *,
    actor: Any,
    term: str,
    aliases: Sequence[str],
    note: str = "",
    synonym: SearchSynonym | None = None,
    reason: str = "",
) -> SearchSynonym:
    """Create the row for ``term``, or change ``synonym`` (its term too).

    1. Only editorial-office officers; words are normalised (NFKC, lower case) and checked.
    2. Lock the row being changed and the row holding the term, if any; a term already kept in another row
       is refused, the same content again changes nothing.
    3. Save, audit in the same transaction, and on commit let every process re-read the table.
    """
    _require_officer(actor)
    word, words = _clean(term, aliases)
    note = note.strip()
    with transaction.atomic():
        holder = SearchSynonym.objects.select_for_update().filter(term=word).first()
        if synonym is None:
            synonym = holder
        else:
            synonym = SearchSynonym.objects.select_for_update().get(pk=synonym.pk)
            if holder is not None and holder.pk != synonym.pk:
                raise ApplicationError(
                    _("The term “%(term)s” already has its own row.") % {"term": word},
                    code="duplicate_term",
                    extra={"term": [_("This term is taken.")]},
                )
        before = _snapshot(synonym) if synonym is not None else None
        if synonym is None:
            synonym = SearchSynonym(term=word, aliases=words, note=note)
        elif before == {"term": word, "aliases": words, "note": note}:
            return synonym  # a repeat: nothing changed
        else:
            synonym.term, synonym.aliases, synonym.note = word, words, note
        synonym.full_clean(validate_unique=False)  # the lock above and the constraint keep terms unique
        synonym.save()
        audit_record(
            actor=actor,
            action="duty_lists.search_synonym.created"
            if before is None
            else "duty_lists.search_synonym.updated",
            target=synonym,
            reason=reason,
            before=before,
            after=_snapshot(synonym),
        )
        transaction.on_commit(forget_synonyms)
    return synonym


def search_synonym_delete(*, actor: Any, synonym: SearchSynonym, reason: str = "") -> None:
    """Delete a row (audited); deleting one already gone does nothing."""
    _require_officer(actor)
    with transaction.atomic():
        locked = SearchSynonym.objects.select_for_update().filter(pk=synonym.pk).first()
        if locked is None:
            return
        before = _snapshot(locked)
        audit_record(
            actor=actor,
            action="duty_lists.search_synonym.deleted",
            object_type="duty_lists.searchsynonym",
            object_id=str(locked.pk),
            reason=reason,
            before=before,
        )
        locked.delete()
        transaction.on_commit(forget_synonyms)
