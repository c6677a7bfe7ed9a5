"""Amendments (动态调整): proposed by an agency or the editorial office, reviewed, approved, published.

    draft ─submit→ legal_review ─pass_legal_review→ joint_review ─approve→ approved ─(edition)→ published
      ▲                │                                │                        │
      └── returned ◄───┴────────── return ──────────────┴────────────────────────┘
    draft / legal_review / joint_review / returned ─withdraw→ withdrawn

The table below is the whole state machine; each step is one service call that locks the amendment,
re-checks its state, writes a history row and an audit entry, and does nothing when repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists import permissions
from duty_lists.models import (
    Agency,
    Amendment,
    AmendmentEvent,
    AmendmentKind,
    AmendmentState,
    Duty,
    DutyList,
    JointReviewOpinion,
)
from duty_lists.proposals import DutyContent
from duty_lists.services.delegations import delegation_check
from duty_lists.services.registry import in_force_revision, next_duty_code, pushes_down, revision_stage

S = AmendmentState


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    who: Callable[[Any, Amendment], bool]
    needs_reason: bool = False


def _proposer(actor: Any, amendment: Amendment) -> bool:
    return permissions.may_act_for_agency(
        actor, amendment.proposing_agency_id
    ) or permissions.is_editorial_officer(actor)


def _legal_reviewer_or_officer(actor: Any, amendment: Amendment) -> bool:
    return permissions.is_legal_reviewer(actor) or permissions.is_editorial_officer(actor)


def _officer(actor: Any, amendment: Amendment) -> bool:
    return permissions.is_editorial_officer(actor)


def _returner(actor: Any, amendment: Amendment) -> bool:
    if amendment.state == S.LEGAL_REVIEW:
        return _legal_reviewer_or_officer(actor, amendment)
    return permissions.is_editorial_officer(actor)


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({S.DRAFT, S.RETURNED}), S.LEGAL_REVIEW, _proposer),
    "pass_legal_review": Transition(frozenset({S.LEGAL_REVIEW}), S.JOINT_REVIEW, _legal_reviewer_or_officer),
    "approve": Transition(frozenset({S.JOINT_REVIEW}), S.APPROVED, _officer),
    "return": Transition(
        frozenset({S.LEGAL_REVIEW, S.JOINT_REVIEW, S.APPROVED}), S.RETURNED, _returner, True
    ),
    "withdraw": Transition(
        frozenset({S.DRAFT, S.LEGAL_REVIEW, S.JOINT_REVIEW, S.RETURNED}), S.WITHDRAWN, _proposer, True
    ),
}


def _event(
    amendment: Amendment, action: str, from_state: str, actor: Any, reason: str, agency: Agency | None = None
) -> None:
    AmendmentEvent.objects.create(
        amendment=amendment,
        action=action,
        from_state=from_state,
        to_state=amendment.state,
        actor=actor if actor.is_authenticated else None,
        actor_repr=actor.get_username(),
        agency=agency,
        reason=reason,
        at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action=f"duty_lists.amendment.{action}",
        target=amendment,
        reason=reason,
        before={"state": from_state},
        after={"state": amendment.state},
    )


def _transition(
    *,
    actor: Any,
    amendment: Amendment,
    action: str,
    reason: str,
    before_save: Callable[[Amendment], None] | None = None,
) -> Amendment:
    transition = TRANSITIONS[action]
    with transaction.atomic():
        amendment = (
            Amendment.objects.select_for_update(of=("self",))
            .select_related("duty_list", "duty")
            .get(pk=amendment.pk)
        )
        if not (actor.is_superuser or transition.who(actor, amendment)):
            raise PermissionRefused(_("You may not take this step on this amendment."))
        if amendment.state == transition.target:
            return amendment  # already done: a repeated call, or a race another caller won
        if amendment.state not in transition.sources:
            raise Conflict(
                _("This step is not open to an amendment that is %(state)s.")
                % {"state": amendment.get_state_display()},
                code="invalid_state",
                extra={"state": amendment.state},
            )
        if transition.needs_reason and not reason.strip():
            raise ApplicationError(
                _("Give a reason."), code="reason_required", extra={"reason": [_("Required.")]}
            )
        from_state = amendment.state
        if before_save is not None:
            before_save(amendment)
        amendment.state = transition.target
        amendment.save()
        _event(amendment, action, from_state, actor, reason)
    return amendment


def _check_proposal(
    duty_list: DutyList, kind: str, duty: Duty | None, proposal: dict[str, Any]
) -> DutyContent | None:
    """Validate what an amendment proposes, by kind, and enforce delegation admission at the door."""
    if kind not in AmendmentKind.values:
        raise ApplicationError(_("Unknown kind of amendment."), extra={"kind": [_("Unknown kind.")]})
    if kind != AmendmentKind.ADD and duty is None:
        raise ApplicationError(_("Name the duty to change."), extra={"duty": [_("Required.")]})
    if duty is not None and duty.duty_list_id != duty_list.pk:
        raise ApplicationError(_("That duty is in another list."), extra={"duty": [_("Not in this list.")]})
    if kind == AmendmentKind.REMOVE:
        return None
    try:
        content = DutyContent.from_dict(proposal)
    except TypeError as exc:
        raise ApplicationError(
            _("The proposal is not a duty: %(e)s") % {"e": exc}, code="invalid_duty"
        ) from exc
    agencies = {
        a.code: a
        for a in Agency.objects.filter(code__in=[p.agency for p in content.participants], is_active=True)
    }
    errors = content.validate(duty_list, agencies=agencies)
    if errors:
        raise ApplicationError(_("The proposed duty is not valid."), code="invalid_duty", extra=errors)
    current = in_force_revision(duty) if duty is not None else None
    if duty is not None and (current is None or current.is_removed):
        raise Conflict(_("That duty is not in force."), code="not_in_force")
    down = pushes_down(current, content, agencies)
    if down and kind != AmendmentKind.DELEGATE:
        raise ApplicationError(
            _(
                "This moves the duty from a district agency down to a street: file it as a delegation, which "
                "needs approval."
            ),
            code="delegation_requires_approval",
        )
    if kind == AmendmentKind.DELEGATE and not down:
        raise ApplicationError(
            _("A delegation moves a duty down to a street; this one does not."), code="not_a_delegation"
        )
    if (
        kind == AmendmentKind.TRANSFER
        and current is not None
        and current.lead is not None
        and current.lead.agency.code == content.lead_code
    ):
        raise ApplicationError(
            _("A transfer changes the lead agency; this one keeps it."), code="not_a_transfer"
        )
    return content


def _stored(kind: str, duty: Duty | None, content: DutyContent | None, block: Any) -> dict[str, Any]:
    """The proposal as kept: the duty's content, and a delegation's streets and decision
    (services/delegations.py)."""
    delegation = delegation_check(kind=kind, duty=duty, content=content, block=block)
    stored = content.to_dict() if content else {}
    return {**stored, "delegation": delegation} if delegation is not None else stored


def _affected_agencies(duty: Duty | None, content: DutyContent | None) -> set[int]:
    """The lead and cooperating agencies of the duty as it stands and as the amendment would have it: the
    agencies whose duties change, who may read the amendment."""
    codes = {p.agency for p in content.participants} if content is not None else set()
    ids = set(Agency.objects.filter(code__in=codes).values_list("pk", flat=True))
    current = in_force_revision(duty) if duty is not None else None
    if current is not None:
        ids |= {p.agency_id for p in current.participations.all()}
    return ids


def amendment_create(
    *,
    actor: Any,
    duty_list: DutyList,
    kind: str,
    proposing_agency: Agency,
    justification: str,
    duty: Duty | None = None,
    proposal: dict[str, Any] | None = None,
    source_ref: str = "",
) -> Amendment:
    """An agency (its staff) or the editorial office drafts a change. Nothing in the list changes yet."""
    if not (
        actor.is_superuser
        or permissions.may_act_for_agency(actor, proposing_agency)
        or permissions.is_editorial_officer(actor)
    ):
        raise PermissionRefused(_("You may propose amendments only for your own agency."))
    # Every problem at once, so a form shows them all on the first submit.
    missing_reason = {"justification": [_("Required.")]} if not justification.strip() else {}
    try:
        content = _check_proposal(duty_list, kind, duty, proposal or {})
    except ApplicationError as refused:
        if missing_reason and refused.code == "invalid_duty":
            refused.extra = {**refused.extra, **missing_reason}
        raise
    if missing_reason:
        raise ApplicationError(_("Say why the list should change."), extra=missing_reason)
    stored = _stored(kind, duty, content, (proposal or {}).get("delegation"))
    with transaction.atomic():
        amendment = Amendment.objects.create(
            duty_list=duty_list,
            kind=kind,
            duty=duty,
            proposal=stored,
            justification=justification,
            proposing_agency=proposing_agency,
            proposed_by=actor if actor.is_authenticated else None,
            source_ref=source_ref,
        )
        amendment.affected_agencies.set(_affected_agencies(duty, content))
        _event(amendment, "create", "", actor, justification, agency=proposing_agency)
    return amendment


def amendment_update(
    *,
    actor: Any,
    amendment: Amendment,
    justification: str | None = None,
    proposal: dict[str, Any] | None = None,
) -> Amendment:
    """Revise a draft or a returned amendment before (re)submitting it."""
    with transaction.atomic():
        amendment = Amendment.objects.select_for_update().get(pk=amendment.pk)
        if not (actor.is_superuser or _proposer(actor, amendment)):
            raise PermissionRefused(_("You may not change this amendment."))
        if amendment.state not in {S.DRAFT, S.RETURNED}:
            raise Conflict(_("Only a draft or a returned amendment can be changed."), code="invalid_state")
        if proposal is not None:
            content = _check_proposal(amendment.duty_list, amendment.kind, amendment.duty, proposal)
            # A form that edits only the duty keeps the delegation the amendment already carries.
            block = proposal.get("delegation", amendment.proposal.get("delegation"))
            amendment.proposal = _stored(amendment.kind, amendment.duty, content, block)
            amendment.affected_agencies.set(_affected_agencies(amendment.duty, content))
        if justification is not None:
            if not justification.strip():
                raise ApplicationError(
                    _("Say why the list should change."), extra={"justification": [_("Required.")]}
                )
            amendment.justification = justification
        amendment.save()
        _event(amendment, "update", amendment.state, actor, "")
    return amendment


def amendment_submit(*, actor: Any, amendment: Amendment, reason: str = "") -> Amendment:
    def next_round(a: Amendment) -> None:
        a.review_round += 1

    return _transition(
        actor=actor, amendment=amendment, action="submit", reason=reason, before_save=next_round
    )


def amendment_pass_legal_review(*, actor: Any, amendment: Amendment, reason: str = "") -> Amendment:
    return _transition(actor=actor, amendment=amendment, action="pass_legal_review", reason=reason)


def amendment_give_opinion(
    *, actor: Any, amendment: Amendment, agency: Agency, concurs: bool, opinion: str = ""
) -> JointReviewOpinion:
    """A reviewing agency's staff record its opinion in the joint review; a later opinion in the same round
    replaces theirs."""
    with transaction.atomic():
        amendment = Amendment.objects.select_for_update().select_related("duty_list").get(pk=amendment.pk)
        if not (actor.is_superuser or permissions.may_act_for_agency(actor, agency)):
            raise PermissionRefused(_("You may give opinions only for your own agency."))
        if not amendment.duty_list.reviewing_agencies.filter(pk=agency.pk).exists():
            raise PermissionRefused(
                _("%(agency)s is not a reviewing agency of this list.") % {"agency": agency}
            )
        if amendment.state != S.JOINT_REVIEW:
            raise Conflict(_("Opinions are given during the joint review."), code="invalid_state")
        if not concurs and not opinion.strip():
            raise ApplicationError(_("Say why your agency objects."), extra={"opinion": [_("Required.")]})
        record, _created = JointReviewOpinion.objects.update_or_create(
            amendment=amendment,
            agency=agency,
            review_round=amendment.review_round,
            defaults={
                "concurs": concurs,
                "opinion": opinion,
                "reviewer": actor if actor.is_authenticated else None,
                "at": timezone.now(),
            },
        )
        _event(amendment, "concur" if concurs else "object", amendment.state, actor, opinion, agency=agency)
    return record


def missing_concurrences(amendment: Amendment) -> list[Agency]:
    """Reviewing agencies that have not (yet) concurred in the current round."""
    concurred = set(
        JointReviewOpinion.objects.filter(
            amendment=amendment, review_round=amendment.review_round, concurs=True
        ).values_list("agency_id", flat=True)
    )
    return [a for a in amendment.duty_list.reviewing_agencies.order_by("code") if a.pk not in concurred]


def amendment_approve(*, actor: Any, amendment: Amendment, reason: str = "") -> Amendment:
    """The editorial office approves after every reviewing agency concurred; the change is staged as the
    duty's pending revision and waits for the next edition."""

    def stage(a: Amendment) -> None:
        missing = missing_concurrences(a)
        if missing:
            raise Conflict(
                _("Still waiting for the joint review of: %(agencies)s")
                % {"agencies": "、".join(str(x) for x in missing)},
                code="joint_review_incomplete",
                extra={"agencies": [x.code for x in missing]},
            )
        content = None if a.kind == AmendmentKind.REMOVE else DutyContent.from_dict(a.proposal)
        if a.duty is None:
            assert content is not None
            from duty_lists.models import Classification

            classification = Classification.objects.get(duty_list=a.duty_list, code=content.classification)
            code = next_duty_code(a.duty_list, classification)
        else:
            code = a.duty.code
        revision = revision_stage(duty_list=a.duty_list, code=code, content=content, amendment=a)
        a.duty = revision.duty
        a.pending_revision = revision

    return _transition(actor=actor, amendment=amendment, action="approve", reason=reason, before_save=stage)


def amendment_return(*, actor: Any, amendment: Amendment, reason: str) -> Amendment:
    """Send it back to the proposer with reasons; an approved one loses its staged revision."""

    def unstage(a: Amendment) -> None:
        if a.pending_revision is not None:
            revision = a.pending_revision
            a.pending_revision = None
            a.save(update_fields=["pending_revision"])
            revision.delete()
            if a.kind == AmendmentKind.ADD and not a.duty.revisions.exists():  # type: ignore[union-attr]
                duty = a.duty
                a.duty = None
                a.save(update_fields=["duty"])
                duty.delete()  # type: ignore[union-attr]

    return _transition(actor=actor, amendment=amendment, action="return", reason=reason, before_save=unstage)


def amendment_withdraw(*, actor: Any, amendment: Amendment, reason: str) -> Amendment:
    return _transition(actor=actor, amendment=amendment, action="withdraw", reason=reason)
