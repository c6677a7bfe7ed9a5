"""Duty lists, their structure, revisions and editions.

Published content is never edited: a change is a new *pending* revision (from an approved amendment or an
import), and ``edition_publish`` puts every pending revision of a list in force at one instant, closing the
revisions they supersede at that same instant. That is what makes "as of any date" reads exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists import permissions
from duty_lists.models import (
    Agency,
    AgencyLevel,
    Amendment,
    AmendmentEvent,
    AmendmentKind,
    AmendmentState,
    Category,
    Classification,
    Duty,
    DutyList,
    DutyRevision,
    Edition,
    Layer,
    LegalBasis,
    LegalBasisStatus,
    Participation,
    ParticipationRole,
)
from duty_lists.proposals import DutyContent
from duty_lists.search import build_search_text, invalidate_user_dictionary
from duty_lists.services.delegations import delegations_apply
from duty_lists.signals import edition_published

DISTRICT_LEVELS = {AgencyLevel.CITY, AgencyLevel.DISTRICT}
STREET_LEVELS = {AgencyLevel.STREET, AgencyLevel.COMMUNITY}


def require_registry_keeper(actor: Any) -> None:
    """The editorial office keeps the lists (creates them, imports, publishes)."""
    if not (actor.is_superuser or permissions.is_editorial_officer(actor)):
        raise PermissionRefused(_("Only an editorial-office officer may do this."))


def duty_list_create(
    *,
    actor: Any,
    code: str,
    name: str,
    kind: str,
    description: str = "",
    owner: Agency | None = None,
    reviewing_agencies: list[Agency] | tuple[Agency, ...] = (),
    is_demo: bool = False,
    reason: str = "",
) -> DutyList:
    require_registry_keeper(actor)
    with transaction.atomic():
        existing = DutyList.objects.select_for_update().filter(code=code).first()
        if existing is not None:
            if (existing.name, existing.kind) == (name, kind):
                return existing
            raise ApplicationError(
                _("A duty list with code %(code)s already exists.") % {"code": code},
                code="duplicate_code",
                extra={"code": [_("This code is taken.")]},
            )
        duty_list = DutyList(
            code=code, name=name, kind=kind, description=description, owner=owner, is_demo=is_demo
        )
        duty_list.full_clean()
        duty_list.save()
        duty_list.reviewing_agencies.set(reviewing_agencies)
        audit_record(
            actor=actor,
            action="duty_lists.duty_list.created",
            target=duty_list,
            reason=reason,
            after={
                "code": code,
                "name": name,
                "kind": kind,
                "reviewing_agencies": [a.code for a in reviewing_agencies],
            },
        )
    return duty_list


def structure_ensure(
    *,
    duty_list: DutyList,
    category_code: str,
    category_name: str,
    classification_code: str,
    classification_name: str,
) -> Classification:
    """The category and classification a duty sits in, created when missing. Structure is named, not
    versioned: renaming a classification renames it in every edition."""
    category, _created = Category.objects.get_or_create(
        duty_list=duty_list, code=category_code, defaults={"name": category_name}
    )
    classification, _created = Classification.objects.get_or_create(
        duty_list=duty_list,
        code=classification_code,
        defaults={"name": classification_name, "category": category},
    )
    if classification.category_id != category.pk:
        raise ApplicationError(
            _("Classification %(cl)s belongs to category %(other)s, not %(cat)s.")
            % {"cl": classification_code, "other": classification.category.code, "cat": category_code},
            code="structure_conflict",
        )
    return classification


def next_duty_code(duty_list: DutyList, classification: Classification) -> str:
    """``03-12`` → ``03-12-0001``, ``03-12-0002`` … the next free number in the classification."""
    prefix = f"{classification.code}-"
    numbers = [
        int(match.group(1))
        for code in Duty.objects.filter(duty_list=duty_list, code__startswith=prefix).values_list(
            "code", flat=True
        )
        if (match := re.fullmatch(re.escape(prefix) + r"(\d+)", code))
    ]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def in_force_revision(duty: Duty) -> DutyRevision | None:
    return (
        DutyRevision.objects.filter(duty=duty, edition__isnull=False, valid_until__isnull=True)
        .prefetch_related("participations__agency")
        .first()
    )


def pushes_down(current: DutyRevision | None, content: DutyContent, agencies: dict[str, Agency]) -> bool:
    """Would this content move a duty from a district agency (or the district layer) down to a street?"""
    if current is None or current.is_removed:
        return False
    current_lead = current.lead
    new_lead = agencies.get(content.lead_code or "")
    agency_down = (
        current_lead is not None
        and new_lead is not None
        and current_lead.agency.level in DISTRICT_LEVELS
        and new_lead.level in STREET_LEVELS
    )
    layer_down = current.layer == Layer.DISTRICT and content.layer == Layer.STREET
    return agency_down or layer_down


def revision_stage(
    *,
    duty_list: DutyList,
    code: str,
    content: DutyContent | None,
    amendment: Amendment | None = None,
    source_ref: str = "",
) -> DutyRevision:
    """Write the pending revision of duty ``code`` (creating the duty if new): what the next edition will
    publish. ``content=None`` stages a removal. See ``revisions_stage`` for the rules."""
    return revisions_stage(
        duty_list=duty_list, items=[(code, content)], amendment=amendment, source_ref=source_ref
    )[0]


@transaction.atomic
def revisions_stage(
    *,
    duty_list: DutyList,
    items: Sequence[tuple[str, DutyContent | None]],
    amendment: Amendment | None = None,
    source_ref: str = "",
) -> list[DutyRevision]:
    """Stage pending revisions for many duties of one list at once (an import, the demo): a fixed number of
    queries whatever the count. Callers have checked permissions; this checks the content.

    1. Load the list's classifications, the named agencies, and the duties with their revisions in force
       and pending, locking the duties.
    2. Check every item: valid content; no removal of what is not in force; no second pending change from
       another source; and delegation admission (职责下沉准入) — moving a duty from a district agency down to
       a street is refused unless it is an approved delegation amendment, whatever path the change takes.
    3. Only if every item passes: replace this source's own pending revisions, write the new ones.
    One refusal writes nothing (its own transaction, a savepoint inside the caller's).
    """
    codes = [code for code, _content in items]
    if len(set(codes)) != len(codes):
        raise ApplicationError(_("A duty code appears twice."), code="duplicate_code")
    agency_codes = {p.agency for _code, content in items if content for p in content.participants}
    # Only agencies that exist today: one dissolved while an amendment sat in review cannot become a lead.
    agencies = {a.code: a for a in Agency.objects.filter(code__in=agency_codes, is_active=True)}
    classifications = {c.code: c for c in Classification.objects.filter(duty_list=duty_list)}
    duties = {d.code: d for d in Duty.objects.select_for_update().filter(duty_list=duty_list, code__in=codes)}
    in_force = {
        r.duty_id: r
        for r in DutyRevision.objects.filter(
            duty__in=duties.values(), edition__isnull=False, valid_until__isnull=True
        ).prefetch_related("participations__agency")
    }
    pending = {
        r.duty_id: r for r in DutyRevision.objects.filter(duty__in=duties.values(), edition__isnull=True)
    }
    source_id = amendment.pk if amendment else None
    is_delegation = amendment is not None and amendment.kind == AmendmentKind.DELEGATE

    refusals: list[tuple[str, ApplicationError]] = []
    for code, content in items:
        duty = duties.get(code)
        current = in_force.get(duty.pk) if duty else None
        refusal = _refusal(code, content, current, duty_list, agencies, classifications, is_delegation)
        # The same source staging again (a re-import, a retried approval) replaces its own pending
        # revision; anything else would silently drop another change waiting for publication.
        if (
            refusal is None
            and duty is not None
            and duty.pk in pending
            and pending[duty.pk].amendment_id != source_id
        ):
            refusal = Conflict(
                _("Another change to duty %(code)s awaits publication.") % {"code": code},
                code="pending_change_exists",
            )
        if refusal is not None:
            refusals.append((code, refusal))
    if len(items) == 1 and refusals:
        raise refusals[0][1]
    if refusals:
        raise ApplicationError(
            _("%(n)d duties cannot be staged.") % {"n": len(refusals)},
            code="invalid_duties",
            extra={code: {"code": r.code, "message": r.message, "fields": r.extra} for code, r in refusals},
        )

    new_duties = Duty.objects.bulk_create(
        [Duty(duty_list=duty_list, code=c) for c in codes if c not in duties]
    )
    duties.update({d.code: d for d in new_duties})
    replaced = [pending[duties[c].pk].pk for c in codes if duties[c].pk in pending]
    if replaced:
        DutyRevision.objects.filter(pk__in=replaced).delete()  # never published, so not history

    contents = []
    for code, content in items:
        if content is None:
            contents.append((code, DutyContent.from_revision(in_force[duties[code].pk]), True))
        else:
            contents.append((code, content, False))
    revisions = DutyRevision.objects.bulk_create(
        [
            DutyRevision(
                duty=duties[code],
                duty_list=duty_list,
                code=code,
                classification=classifications[content.classification],
                title=content.title.strip(),
                description=content.description,
                duty_type=content.duty_type,
                service_kind=content.service_kind,
                layer=content.layer,
                keywords=content.keywords,
                synonyms=content.synonyms,
                promised_days=content.promised_days,
                statutory_days=content.statutory_days,
                district_side=content.district_side,
                street_side=content.street_side,
                is_removed=removed,
                search_text=build_search_text(
                    title=content.title,
                    description=content.description,
                    keywords=content.keywords,
                    synonyms=content.synonyms,
                ),
                amendment=amendment,
                source_ref=source_ref or (amendment.source_ref if amendment else ""),
            )
            for code, content, removed in contents
        ]
    )
    if removed_agencies := {p.agency for _c, content, _r in contents for p in content.participants} - set(
        agencies
    ):
        agencies.update({a.code: a for a in Agency.objects.filter(code__in=removed_agencies)})
    Participation.objects.bulk_create(
        Participation(
            revision=revision,
            agency=agencies[p.agency],
            role=p.role,
            responsibility=p.responsibility,
            position=i,
        )
        for revision, (_code, content, _removed) in zip(revisions, contents, strict=True)
        for i, p in enumerate(sorted(content.participants, key=lambda p: p.role != ParticipationRole.LEAD))
    )
    notes = _legal_basis_notes(list(in_force.values()))
    LegalBasis.objects.bulk_create(
        LegalBasis(
            revision=revision,
            title=b.title,
            article=b.article,
            document_number=b.document_number,
            position=i,
            **notes.get((revision.duty_id, b.title, b.article, b.document_number), {}),
        )
        for revision, (_code, content, _removed) in zip(revisions, contents, strict=True)
        for i, b in enumerate(content.legal_bases)
    )
    return revisions


def _legal_basis_notes(current: list[DutyRevision]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The office's notes (repealed, due for review) on the legal bases the duties cite now: a law's
    standing is the law's, so a new revision citing the same law keeps them (services/legal_bases.py)."""
    if not current:
        return {}
    rows = (
        LegalBasis.objects.filter(revision__in=current)
        .exclude(status=LegalBasisStatus.IN_FORCE, review_date__isnull=True)
        .values_list("revision__duty_id", "title", "article", "document_number", "status", "review_date")
    )
    return {tuple(row[:4]): {"status": row[4], "review_date": row[5]} for row in rows}


def _refusal(
    code: str,
    content: DutyContent | None,
    current: DutyRevision | None,
    duty_list: DutyList,
    agencies: dict[str, Agency],
    classifications: dict[str, Classification],
    is_delegation: bool,
) -> ApplicationError | None:
    """Why this item cannot be staged, or None."""
    if content is None:
        if current is None or current.is_removed:
            return Conflict(
                _("Duty %(code)s is not in force, so it cannot be removed.") % {"code": code},
                code="not_in_force",
            )
        return None
    errors = content.validate(duty_list, agencies=agencies, classifications=classifications)
    if errors:
        return ApplicationError(
            _("The duty %(code)s is not valid.") % {"code": code}, code="invalid_duty", extra=errors
        )
    if pushes_down(current, content, agencies) and not is_delegation:
        return ApplicationError(
            _(
                "Moving duty %(code)s from a district agency down to a street needs an approved "
                "delegation amendment."
            )
            % {"code": code},
            code="delegation_requires_approval",
        )
    return None


def edition_publish(
    *, actor: Any, duty_list: DutyList, note: str = "", effective_date: date | None = None, reason: str = ""
) -> Edition:
    """Publish every pending revision of the list as the next edition.

    1. Lock the list: two officers publishing at once get consecutive editions, never a shared number.
    2. At one instant ``now``: close the superseded revisions, put the pending ones in force.
    3. Mark the amendments they came from published, with a history row each; the delegations they grant
       or withdraw enter the register of delegated powers.
    4. Audit; after commit, announce the edition (grievances re-route open cases).
    """
    require_registry_keeper(actor)
    with transaction.atomic():
        duty_list = DutyList.objects.select_for_update().get(pk=duty_list.pk)
        pending = list(
            DutyRevision.objects.select_for_update().filter(duty_list=duty_list, edition__isnull=True)
        )
        if not pending:
            raise Conflict(_("Nothing in this list awaits publication."), code="nothing_to_publish")
        number = (Edition.objects.filter(duty_list=duty_list).aggregate(n=Max("number"))["n"] or 0) + 1
        now = timezone.now()
        edition = Edition.objects.create(
            duty_list=duty_list,
            number=number,
            published_at=now,
            effective_date=effective_date or timezone.localdate(now),
            note=note,
            published_by=actor if actor.is_authenticated else None,
        )
        duty_ids = [r.duty_id for r in pending]
        DutyRevision.objects.filter(
            duty_id__in=duty_ids, edition__isnull=False, valid_until__isnull=True
        ).update(valid_until=now)
        DutyRevision.objects.filter(pk__in=[r.pk for r in pending]).update(edition=edition, valid_from=now)
        published: list[Amendment] = []
        for amendment in Amendment.objects.select_for_update().filter(
            pending_revision__in=pending, state=AmendmentState.APPROVED
        ):
            amendment.state = AmendmentState.PUBLISHED
            amendment.published_in = edition
            amendment.save(update_fields=["state", "published_in", "updated_at"])
            AmendmentEvent.objects.create(
                amendment=amendment,
                action="publish",
                from_state=AmendmentState.APPROVED,
                to_state=AmendmentState.PUBLISHED,
                actor=edition.published_by,
                actor_repr=actor.get_username(),
                reason=_("Published in edition %(n)d") % {"n": number},
                at=now,
            )
            published.append(amendment)
        # The register of delegated powers follows the amendments it publishes (services/delegations.py).
        delegations_apply(actor=actor, amendments=published)
        audit_record(
            actor=actor,
            action="duty_lists.edition.published",
            target=edition,
            reason=reason or note,
            after={
                "list": duty_list.code,
                "number": number,
                "revisions": len(pending),
                "amendments": len(published),
            },
        )
        transaction.on_commit(invalidate_user_dictionary)
        transaction.on_commit(lambda: edition_published.send(sender=Edition, edition=edition))
    return edition
