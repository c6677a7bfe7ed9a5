"""Rulings (裁决), leadership decisions, confirmed agreements, and their follow-up (抓落实).

A ruling closes its dispute and, when it settles a class of matters (从一件事到一类事), drafts an amendment
to the duty list and submits it to the registry's review: the list changes only through the registry's
own approval flow, and the published duty then records the ruling that caused it (``source_ref``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from arbitration.models import (
    Dispute,
    DisputeState,
    FollowUp,
    FollowUpState,
    OfficeStep,
    Outcome,
    Ruling,
    RulingKind,
    RulingParticipant,
    RulingScope,
    Stage,
)
from arbitration.services.disputes import _announce, _close, _event, _locked, is_party_staff
from arbitration.services.notifications import notify, people_of
from core.actors import SYSTEM
from core.audit import audit_record
from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists import permissions, selectors
from duty_lists.models import Agency, Amendment, AmendmentKind, Role
from duty_lists.proposals import DutyContent, LegalBasisSpec, ParticipantSpec
from duty_lists.services import amendment_create, amendment_submit
from duty_lists.services.registry import pushes_down


@dataclass(frozen=True)
class FollowUpSpec:
    agency: Agency
    description: str
    due_date: date


@dataclass(frozen=True)
class NewDuty:
    """For a gap: where the ruled duty goes in the list and what it is called."""

    classification: str
    title: str
    description: str = ""
    duty_list: Any = None  # the list it goes in; defaults to the dispute's list


RULING_STAGE = {
    RulingKind.RULING: Stage.EDITORIAL_OFFICE,
    RulingKind.DECISION: Stage.LEADERSHIP,
    RulingKind.AGREEMENT: Stage.NEGOTIATION,
}
OUTCOME = {
    RulingKind.RULING: Outcome.RULED,
    RulingKind.DECISION: Outcome.DECIDED,
    RulingKind.AGREEMENT: Outcome.AGREED,
}


def _may_issue(actor: Any, kind: str) -> bool:
    if actor.is_superuser:
        return True
    if kind == RulingKind.DECISION:
        return permissions.is_leader(actor)
    return permissions.is_editorial_officer(actor)


def ruling_issue(
    *,
    actor: Any,
    dispute: Dispute,
    lead_agency: Agency,
    lead_responsibility: str,
    rationale: str,
    effective_date: date,
    cooperating: Iterable[tuple[Agency, str]] = (),
    legal_bases: str = "",
    keywords: Iterable[str] = (),
    scope: str = RulingScope.CASE,
    kind: str = RulingKind.RULING,
    is_internal: bool = False,
    new_duty: NewDuty | None = None,
    follow_ups: Iterable[FollowUpSpec] = (),
) -> Ruling:
    """Issue the ruling (editorial office, at its stage), record the decision (leadership, at its stage), or
    confirm the parties' agreement (editorial office, during negotiation) — one current ruling per dispute.

    1. Check every field; lock the dispute; re-check its stage and that it is still open.
    2. Write the ruling, its cooperating agencies and follow-up items; close the dispute.
    3. For a class of matters, draft the amendment and submit it for legal review (same transaction: if the
       registry refuses the change, nothing of the ruling is kept and the officer sees why).
    4. Audit; notify the parties and the designated agencies after commit.
    """
    if not _may_issue(actor, kind):
        raise PermissionRefused(_("You may not issue this ruling."))
    cooperating = [(a, text) for a, text in cooperating if a.pk != lead_agency.pk]
    keywords = list(dict.fromkeys(k.strip() for k in keywords if k.strip()))
    follow_ups = list(follow_ups)
    errors: dict[str, list[str]] = {}
    for name, value in (("lead_responsibility", lead_responsibility), ("rationale", rationale)):
        if not value.strip():
            errors[name] = [_("Required.")]
    if any(not text.strip() for _a, text in cooperating):
        errors["cooperating"] = [_("Give each cooperating agency its responsibility.")]
    if len({a.pk for a, _t in cooperating}) != len(cooperating):
        errors["cooperating"] = [_("An agency appears twice.")]
    if scope not in RulingScope.values:
        errors["scope"] = [_("Unknown scope.")]
    if any(not f.description.strip() for f in follow_ups):
        errors["follow_ups"] = [_("Say what each follow-up item is.")]
    if errors:
        raise ApplicationError(_("The ruling is not complete."), code="invalid_ruling", extra=errors)
    now = timezone.now()
    with transaction.atomic():
        dispute = _locked(dispute)
        if dispute.state == DisputeState.CLOSED:
            raise Conflict(_("The dispute is already closed."), code="closed")
        if dispute.stage != RULING_STAGE[RulingKind(kind)] or (
            kind == RulingKind.RULING and dispute.office_step == OfficeStep.ASSESS
        ):
            raise Conflict(
                _("The dispute is not at the stage for this."),
                code="invalid_state",
                extra={"stage": dispute.stage, "step": dispute.office_step},
            )
        ruling = Ruling.objects.create(
            dispute=dispute,
            kind=kind,
            lead_agency=lead_agency,
            lead_responsibility=lead_responsibility,
            rationale=rationale,
            legal_bases=legal_bases,
            keywords=keywords,
            scope=scope,
            effective_date=effective_date,
            is_internal=is_internal,
            issued_by=actor if actor.is_authenticated else None,
            issued_at=now,
        )
        RulingParticipant.objects.bulk_create(
            RulingParticipant(ruling=ruling, agency=a, responsibility=text) for a, text in cooperating
        )
        FollowUp.objects.bulk_create(
            FollowUp(ruling=ruling, agency=f.agency, description=f.description, due_date=f.due_date)
            for f in follow_ups
        )
        if scope == RulingScope.CLASS:
            ruling.amendment = _draft_amendment(dispute, ruling, cooperating, new_duty)
            ruling.save(update_fields=["amendment"])
        from_stage, from_state = dispute.stage, dispute.state
        _close(dispute, OUTCOME[RulingKind(kind)], now)
        dispute.save()
        _event(dispute, kind, actor, rationale[:500], from_stage=from_stage, from_state=from_state)
        audit_record(
            actor=actor,
            action=f"arbitration.ruling.{kind}",
            target=ruling,
            reason=rationale[:500],
            after={
                "dispute": dispute.pk,
                "lead": lead_agency.code,
                "scope": scope,
                "cooperating": [a.code for a, _t in cooperating],
                "amendment": ruling.amendment_id,
            },
        )
        _announce(
            dispute,
            f"ruling:{ruling.pk}",
            _("%(kind)s on: %(title)s") % {"kind": ruling.get_kind_display(), "title": dispute.title},
            roles=[Role.EDITORIAL_OFFICER] if kind == RulingKind.DECISION else (),
        )
        designated = {f.agency.pk for f in follow_ups}
        if designated:
            transaction.on_commit(
                lambda: notify(
                    recipients=people_of(agencies=designated),
                    key=f"ruling:{ruling.pk}:follow-ups",
                    title=_("Follow-up items of a ruling: %(title)s") % {"title": dispute.title},
                    url=f"/disputes/{dispute.pk}/",
                )
            )
    return ruling


def _draft_amendment(
    dispute: Dispute, ruling: Ruling, cooperating: list[tuple[Agency, str]], new_duty: NewDuty | None
) -> Amendment:
    """The change to the list the ruling implies: a new duty for a gap, the ruled lead and cooperating
    agencies for a duty in dispute (a delegation when that moves it down to a street)."""
    participants = [ParticipantSpec(ruling.lead_agency.code, "lead", ruling.lead_responsibility)] + [
        ParticipantSpec(a.code, "cooperating", text) for a, text in cooperating
    ]
    justification = _("Ruling #%(ruling)d on dispute #%(dispute)d: %(rationale)s") % {
        "ruling": ruling.pk,
        "dispute": dispute.pk,
        "rationale": ruling.rationale,
    }
    source_ref = f"arbitration.ruling:{ruling.pk}"
    proposer = (
        dispute.duty_list.owner if dispute.duty_list and dispute.duty_list.owner else dispute.filing_agency
    )
    duty = dispute.duties.select_related("duty_list").order_by("code").first()
    if duty is None:
        if new_duty is None or (dispute.duty_list is None and not new_duty.classification):
            raise ApplicationError(
                _("Say where the new duty goes in the list."),
                code="invalid_ruling",
                extra={"new_duty": [_("Required for a gap.")]},
            )
        duty_list = (
            new_duty.duty_list or dispute.duty_list or _list_of_classification(new_duty.classification)
        )
        content = DutyContent(
            classification=new_duty.classification,
            title=new_duty.title,
            description=new_duty.description or ruling.rationale,
            participants=participants,
        )
        _write_back(content, ruling)
        amendment = amendment_create(
            actor=SYSTEM,
            duty_list=duty_list,
            kind=AmendmentKind.ADD,
            proposing_agency=proposer,
            justification=justification,
            proposal=content.to_dict(),
            source_ref=source_ref,
        )
    else:
        current = selectors.revisions_in_force(duty_list=duty.duty_list).filter(duty=duty).first()
        if current is None:
            raise Conflict(_("Duty %(code)s is not in force.") % {"code": duty.code}, code="not_in_force")
        content = DutyContent.from_revision(current)
        content.participants = participants
        _write_back(content, ruling)
        agencies = {a.code: a for a in [ruling.lead_agency, *(a for a, _t in cooperating)]}
        if pushes_down(current, content, agencies):
            kind = AmendmentKind.DELEGATE
        elif current.lead is None or current.lead.agency_id != ruling.lead_agency.pk:
            kind = AmendmentKind.TRANSFER
        else:
            kind = AmendmentKind.CHANGE
        amendment = amendment_create(
            actor=SYSTEM,
            duty_list=duty.duty_list,
            kind=kind,
            duty=duty,
            proposing_agency=proposer,
            justification=justification,
            proposal=content.to_dict(),
            source_ref=source_ref,
        )
    return amendment_submit(actor=SYSTEM, amendment=amendment, reason=justification)


# "《城市市容和环境卫生管理条例》第十四条": the law's title in book-title marks, then its article.
_BASIS = re.compile(r"^(《[^》]+》)\s*(.*)$")


def legal_basis_specs(text: str) -> list[LegalBasisSpec]:
    """The ruling's legal bases, one a line (or separated by ；), as the list's legal-basis rows."""
    specs = []
    for line in re.split(r"[\n；;]+", text):
        line = line.strip()
        if not line:
            continue
        match = _BASIS.match(line)
        title, article = (match.group(1), match.group(2).strip()) if match else (line, "")
        specs.append(LegalBasisSpec(title=title[:300], article=article[:200]))
    return specs


def _write_back(content: DutyContent, ruling: Ruling) -> None:
    """Add the ruling's legal bases and keywords to the duty it rewrites (从一件事到一类事): the published
    duty then cites the ruling's law, and the router matches the words of the grievances it settled.
    What the duty already says is kept; what the ruling repeats is not doubled."""
    have = {(b.title, b.article) for b in content.legal_bases}
    for spec in legal_basis_specs(ruling.legal_bases):
        if (spec.title, spec.article) not in have:
            content.legal_bases.append(spec)
            have.add((spec.title, spec.article))
    content.keywords = list(dict.fromkeys([*content.keywords, *ruling.keywords]))


def _list_of_classification(code: str) -> Any:
    from duty_lists.models import Classification

    found = Classification.objects.filter(code=code).select_related("duty_list")[:2]
    if len(found) != 1:
        raise ApplicationError(
            _("Name the list of the new duty."),
            code="invalid_ruling",
            extra={"new_duty": [_("Classification %(code)s is ambiguous or unknown.") % {"code": code}]},
        )
    return found[0].duty_list


def ruling_correct(*, actor: Any, ruling: Ruling, rationale: str, **changes: Any) -> Ruling:
    """A correction is a new ruling that supersedes the old one; the old one stays, no longer current."""
    if not _may_issue(actor, ruling.kind):
        raise PermissionRefused(_("You may not correct this ruling."))
    if not rationale.strip():
        raise ApplicationError(_("Say what the correction corrects."), extra={"rationale": [_("Required.")]})
    with transaction.atomic():
        _locked(ruling.dispute_id)
        old = Ruling.objects.select_for_update().get(pk=ruling.pk)
        if not old.is_current:
            raise Conflict(_("This ruling has already been superseded."), code="superseded")
        Ruling.objects.filter(pk=old.pk).update(is_current=False)
        fields = {
            name: getattr(old, name)
            for name in (
                "kind",
                "lead_agency",
                "lead_responsibility",
                "legal_bases",
                "keywords",
                "scope",
                "effective_date",
                "is_internal",
            )
        }
        fields.update({k: v for k, v in changes.items() if k in fields})
        new = Ruling.objects.create(
            dispute_id=old.dispute_id,
            rationale=rationale,
            supersedes=old,
            issued_by=actor if actor.is_authenticated else None,
            issued_at=timezone.now(),
            **fields,
        )
        RulingParticipant.objects.bulk_create(
            RulingParticipant(ruling=new, agency=p.agency, responsibility=p.responsibility)
            for p in old.cooperating.all()
        )
        audit_record(
            actor=actor,
            action="arbitration.ruling.corrected",
            target=new,
            reason=rationale,
            before={"ruling": old.pk},
            after={"ruling": new.pk},
        )
    return new


def agreement_report(*, actor: Any, dispute: Dispute, statement: str) -> None:
    """A party tells the editorial office the parties have agreed (协商一致报编办备案); the office confirms it
    with ``ruling_issue(kind=AGREEMENT)``."""
    if not (actor.is_superuser or is_party_staff(actor, dispute)):
        raise PermissionRefused(_("Only the parties report an agreement."))
    if not statement.strip():
        raise ApplicationError(_("Say what the parties agreed."), extra={"statement": [_("Required.")]})
    with transaction.atomic():
        dispute = _locked(dispute)
        if dispute.state == DisputeState.CLOSED or dispute.stage != Stage.NEGOTIATION:
            raise Conflict(_("Agreements are reported during negotiation."), code="invalid_state")
        _event(dispute, "agreement_reported", actor, statement)
        _announce(
            dispute,
            "agreement",
            _("The parties report an agreement: %(title)s") % {"title": dispute.title},
            roles=[Role.EDITORIAL_OFFICER],
            body=statement,
        )


def followup_report(*, actor: Any, follow_up: FollowUp, report: str) -> FollowUp:
    if not (actor.is_superuser or permissions.may_act_for_agency(actor, follow_up.agency_id)):
        raise PermissionRefused(_("Only the designated agency reports on this item."))
    if not report.strip():
        raise ApplicationError(_("Say what was done."), extra={"report": [_("Required.")]})
    with transaction.atomic():
        item = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if item.state == FollowUpState.CLOSED:
            raise Conflict(_("This item is closed."), code="closed")
        item.state = FollowUpState.REPORTED
        item.report = report
        item.reported_at = timezone.now()
        item.save(update_fields=["state", "report", "reported_at"])
        audit_record(actor=actor, action="arbitration.follow_up.reported", target=item, reason=report[:500])
    return item


def followup_close(*, actor: Any, follow_up: FollowUp, reason: str = "") -> FollowUp:
    if not (actor.is_superuser or permissions.is_editorial_officer(actor)):
        raise PermissionRefused(_("Only the editorial office closes follow-up items."))
    with transaction.atomic():
        item = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if item.state == FollowUpState.CLOSED:
            return item
        item.state = FollowUpState.CLOSED
        item.closed_at = timezone.now()
        item.save(update_fields=["state", "closed_at"])
        audit_record(actor=actor, action="arbitration.follow_up.closed", target=item, reason=reason)
    return item
