"""Comparing two states of a duty list, or two texts of one duty: what a person reading a diff needs.

Pure functions over revisions whose classification, participations (with agency) and legal bases are
prefetched (the selectors' content prefetch); ``selectors.edition_diff`` picks the revisions to compare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy

from duty_lists.models import DutyRevision, ParticipationRole
from duty_lists.proposals import DutyContent

# The fields a person compares, in the order a duty's page shows them.
COMPARED_FIELDS: tuple[tuple[str, Any], ...] = (
    ("classification", gettext_lazy("Classification")),
    ("title", gettext_lazy("Title")),
    ("description", gettext_lazy("Description")),
    ("duty_type", gettext_lazy("Duty type")),
    ("service_kind", gettext_lazy("Service kind")),
    ("layer", gettext_lazy("Layer")),
    ("lead", gettext_lazy("Lead agency")),
    ("cooperating", gettext_lazy("Cooperating agencies")),
    ("legal_bases", gettext_lazy("Legal basis")),
    ("keywords", gettext_lazy("Keywords")),
    ("synonyms", gettext_lazy("Synonyms")),
    ("promised_days", gettext_lazy("Promised time limit")),
    ("statutory_days", gettext_lazy("Statutory time limit")),
    ("district_side", gettext_lazy("District-side duty")),
    ("street_side", gettext_lazy("Street-side duty")),
)
FIELD_LABELS = dict(COMPARED_FIELDS)


def reads_as(text: str) -> str:
    """Text as a reader sees it: one kind of line break, no blank space around it. A browser form sends
    CR LF, an Excel cell keeps LF, an import strips each cell: none of that changes what a duty says."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _words(words: list[str]) -> list[str]:
    return [w for w in (reads_as(str(word)) for word in words) if w]


def comparable(content: DutyContent) -> dict[str, Any]:
    """A duty's content keyed by COMPARED_FIELDS, in a form where ``==`` means "reads the same". The order
    of cooperating agencies carries no meaning; the order of legal bases does (the list prints it); nor do
    line-break style and blank space around a text (``reads_as``)."""
    lead = next((p for p in content.participants if p.role == ParticipationRole.LEAD), None)
    return {
        "classification": content.classification,
        "title": reads_as(content.title),
        "description": reads_as(content.description),
        "duty_type": content.duty_type,
        "service_kind": content.service_kind,
        "layer": content.layer,
        "lead": (lead.agency, reads_as(lead.responsibility)) if lead else None,
        "cooperating": sorted(
            (p.agency, reads_as(p.responsibility))
            for p in content.participants
            if p.role == ParticipationRole.COOPERATING
        ),
        "legal_bases": [
            (reads_as(b.title), reads_as(b.article), reads_as(b.document_number)) for b in content.legal_bases
        ],
        "keywords": _words(content.keywords),
        "synonyms": _words(content.synonyms),
        "promised_days": content.promised_days,
        "statutory_days": content.statutory_days,
        "district_side": reads_as(content.district_side),
        "street_side": reads_as(content.street_side),
    }


def changed_fields(old: DutyContent, new: DutyContent) -> tuple[str, ...]:
    before, after = comparable(old), comparable(new)
    return tuple(name for name, _label in COMPARED_FIELDS if before[name] != after[name])


def lead_agency_id(revision: DutyRevision | None) -> int | None:
    lead = revision.lead if revision is not None else None
    return lead.agency_id if lead is not None else None


@dataclass(frozen=True)
class DutyChange:
    """One duty in a diff: ``old`` is None when added, ``new`` is None when removed."""

    code: str
    old: DutyRevision | None
    new: DutyRevision | None
    fields: tuple[str, ...] = ()

    @property
    def revision(self) -> DutyRevision:
        revision = self.new or self.old
        assert revision is not None
        return revision

    @property
    def lead_changed(self) -> bool:
        return (
            self.old is not None
            and self.new is not None
            and lead_agency_id(self.old) != lead_agency_id(self.new)
        )

    @property
    def field_labels(self) -> list[Any]:
        return [FIELD_LABELS[name] for name in self.fields]


@dataclass(frozen=True)
class EditionDiff:
    added: list[DutyChange] = field(default_factory=list)
    changed: list[DutyChange] = field(default_factory=list)
    removed: list[DutyChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def lead_changes(self) -> int:
        return sum(1 for change in self.changed if change.lead_changed)


def compare(old_revisions: Iterable[DutyRevision], new_revisions: Iterable[DutyRevision]) -> EditionDiff:
    """What changed between two states of a list, each given as the revisions in force (removed revisions
    count as absent). Duties are matched by identity (``duty_id``), not by title.

    Pure: reads only the revisions and their prefetched classification, participations (with agency) and
    legal bases — pass querysets built with the selectors' content prefetches. A duty whose revision was
    replaced by one that reads the same (a re-import) is not reported as changed.
    """
    old = {r.duty_id: r for r in old_revisions if not r.is_removed}
    new = {r.duty_id: r for r in new_revisions if not r.is_removed}
    added = [DutyChange(r.code, None, r) for duty_id, r in new.items() if duty_id not in old]
    removed = [DutyChange(r.code, r, None) for duty_id, r in old.items() if duty_id not in new]
    changed = []
    for duty_id in old.keys() & new.keys():
        before, after = old[duty_id], new[duty_id]
        if before.pk == after.pk:
            continue
        fields = changed_fields(DutyContent.from_revision(before), DutyContent.from_revision(after))
        if fields:
            changed.append(DutyChange(after.code, before, after, fields))

    def by_code(changes: list[DutyChange]) -> list[DutyChange]:
        return sorted(changes, key=lambda c: c.code)

    return EditionDiff(added=by_code(added), changed=by_code(changed), removed=by_code(removed))
