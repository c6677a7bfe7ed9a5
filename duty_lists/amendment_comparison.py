"""What an amendment would change in a duty, field by field, as the amendment page shows it beside the
revision in force."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duty_lists import selectors
from duty_lists.diff import COMPARED_FIELDS, comparable
from duty_lists.forms import (
    join_words,
)
from duty_lists.models import (
    Agency,
    Amendment,
    Classification,
    DutyRevision,
    DutyType,
    Layer,
    ParticipationRole,
    ServiceKind,
)
from duty_lists.proposals import DutyContent


@dataclass
class ComparedRow:
    name: str
    label: Any
    before: list[tuple[str, str]]
    after: list[tuple[str, str]]
    changed: bool


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _display(
    content: DutyContent, agencies: dict[str, Agency], classifications: dict[str, Classification]
) -> dict[str, list[tuple[str, str]]]:
    """Each compared field as lines of (text, secondary text), names instead of codes."""

    def agency(code: str) -> str:
        found = agencies.get(code)
        return found.name if found is not None else code

    lead = next((p for p in content.participants if p.role == ParticipationRole.LEAD), None)
    classification = classifications.get(content.classification)
    return {
        "classification": [
            (
                f"{content.classification} {classification.name}"
                if classification
                else content.classification,
                f"{classification.category.code} {classification.category.name}" if classification else "",
            )
        ],
        "title": [(content.title, "")],
        "description": [(content.description, "")],
        "duty_type": [(_label(DutyType, content.duty_type), "")],
        "service_kind": [(_label(ServiceKind, content.service_kind), "")] if content.service_kind else [],
        "layer": [(_label(Layer, content.layer), "")],
        "lead": [(agency(lead.agency), lead.responsibility)] if lead else [],
        "cooperating": [
            (agency(p.agency), p.responsibility)
            for p in content.participants
            if p.role == ParticipationRole.COOPERATING
        ],
        "legal_bases": [
            (b.title, " ".join(x for x in (b.article, b.document_number) if x)) for b in content.legal_bases
        ],
        "keywords": [(join_words(content.keywords), "")] if content.keywords else [],
        "synonyms": [(join_words(content.synonyms), "")] if content.synonyms else [],
        "promised_days": [(str(content.promised_days), "")] if content.promised_days else [],
        "statutory_days": [(str(content.statutory_days), "")] if content.statutory_days else [],
        "district_side": [(content.district_side, "")] if content.district_side else [],
        "street_side": [(content.street_side, "")] if content.street_side else [],
    }


def _before_revision(amendment: Amendment) -> tuple[DutyRevision | None, bool]:
    """The text the proposal is compared with, and whether it is the text before publication (for a
    published amendment) rather than the text in force now."""
    if amendment.duty_id is None:
        return None, False
    revision = amendment.pending_revision
    if amendment.published_in_id is not None and revision is not None and revision.valid_from is not None:
        before = (
            DutyRevision.objects.filter(
                duty_id=amendment.duty_id, edition__isnull=False, valid_until=revision.valid_from
            )
            .select_related("classification__category")
            .prefetch_related("participations__agency", "legal_bases")
            .first()
        )
        return before, True
    current = selectors.revisions_in_force(duty_list=amendment.duty_list).filter(duty_id=amendment.duty_id)
    return current.first(), False


def comparison(amendment: Amendment) -> tuple[list[ComparedRow], DutyRevision | None, bool]:
    before_revision, is_prior_text = _before_revision(amendment)
    before = DutyContent.from_revision(before_revision) if before_revision is not None else None
    after = DutyContent.from_dict(amendment.proposal) if amendment.proposal else None
    contents = [c for c in (before, after) if c is not None]
    codes = {p.agency for c in contents for p in c.participants}
    agencies = {a.code: a for a in Agency.objects.filter(code__in=codes)}
    classifications = {
        c.code: c
        for c in Classification.objects.filter(
            duty_list=amendment.duty_list, code__in={c.classification for c in contents}
        ).select_related("category")
    }
    shown_before = _display(before, agencies, classifications) if before else {}
    shown_after = _display(after, agencies, classifications) if after else {}
    compared_before = comparable(before) if before else {}
    compared_after = comparable(after) if after else {}
    rows = [
        ComparedRow(
            name,
            label,
            shown_before.get(name, []),
            shown_after.get(name, []),
            bool(before and after and compared_before[name] != compared_after[name]),
        )
        for name, label in COMPARED_FIELDS
    ]
    return rows, before_revision, is_prior_text
