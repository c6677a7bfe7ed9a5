"""Disputes: filing, positions, and every move along the ladder.

    NEGOTIATION ──escalate──► EDITORIAL_OFFICE ──escalate──► LEADERSHIP
        │ agreement reported           │ assess → review → coordinate → feedback   │
        ▼                              ▼                                           ▼
     confirmed by the office       ruled (ruling)                            decided (decision)
     (AGREED)                      or not in scope (REJECTED)                (DECIDED)
    any open stage ─pause/resume─ ; ─withdraw─► WITHDRAWN (the filing agency)

``TRANSITIONS`` is the whole state machine. Every step locks the dispute, re-checks it, writes a timeline
event and an audit entry, notifies after commit, and does nothing when it has already happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from arbitration.deadlines import Deadline, resumed_deadline, stage_deadline
from arbitration.models import (
    LADDER,
    Dispute,
    DisputeEvent,
    DisputeKind,
    DisputeParty,
    DisputeStage,
    DisputeState,
    Domain,
    Meeting,
    OfficeStep,
    Outcome,
    PartyRole,
    Position,
    Stage,
    Stance,
    Urgency,
)
from arbitration.services.notifications import Announcement, Message, announce
from core.audit import audit_append, audit_entry, audit_record
from core.errors import ApplicationError, Conflict, PermissionRefused
from core.models import AuditEntry
from duty_lists import permissions
from duty_lists.models import Agency, Duty, Role

S = Stage
OPEN_STATES = frozenset({DisputeState.OPEN, DisputeState.PAUSED})


def is_party_staff(actor: Any, dispute: Dispute) -> bool:
    party_ids = {p.agency_id for p in dispute.parties.all()}
    return any(permissions.may_act_for_agency(actor, agency_id) for agency_id in party_ids)


def _officer(actor: Any, dispute: Dispute) -> bool:
    return permissions.is_editorial_officer(actor)


def _leader(actor: Any, dispute: Dispute) -> bool:
    return permissions.is_leader(actor)


def _party_or_officer(actor: Any, dispute: Dispute) -> bool:
    return is_party_staff(actor, dispute) or permissions.is_editorial_officer(actor)


def _filer(actor: Any, dispute: Dispute) -> bool:
    return permissions.may_act_for_agency(
        actor, dispute.filing_agency_id
    ) or permissions.is_editorial_officer(actor)


def _legal_reviewer(actor: Any, dispute: Dispute) -> bool:
    return permissions.is_legal_reviewer(actor)


@dataclass(frozen=True)
class Transition:
    stages: frozenset[str]
    steps: frozenset[str] | None  # editorial-office steps it may start from (None: any)
    who: Callable[[Any, Dispute], bool]
    needs_reason: bool = False


ANY_STAGE = frozenset(LADDER)
TRANSITIONS: dict[str, Transition] = {
    "escalate": Transition(frozenset({S.NEGOTIATION, S.EDITORIAL_OFFICE}), None, _party_or_officer, True),
    "accept_scope": Transition(frozenset({S.EDITORIAL_OFFICE}), frozenset({OfficeStep.ASSESS}), _officer),
    "reject_scope": Transition(
        frozenset({S.EDITORIAL_OFFICE}), frozenset({OfficeStep.ASSESS}), _officer, True
    ),
    "request_legal_review": Transition(
        frozenset({S.EDITORIAL_OFFICE}), frozenset({OfficeStep.REVIEW, OfficeStep.COORDINATE}), _officer
    ),
    "give_legal_opinion": Transition(
        frozenset({S.EDITORIAL_OFFICE}), frozenset({OfficeStep.REVIEW}), _legal_reviewer, True
    ),
    "give_feedback": Transition(
        frozenset({S.EDITORIAL_OFFICE}), frozenset({OfficeStep.REVIEW, OfficeStep.COORDINATE}), _officer, True
    ),
    "pause": Transition(ANY_STAGE, None, _officer, True),
    "resume": Transition(ANY_STAGE, None, _officer),
    "withdraw": Transition(ANY_STAGE, None, _filer, True),
}


def _event(
    dispute: Dispute, action: str, actor: Any, reason: str = "", *, from_stage: str = "", from_state: str = ""
) -> None:
    event, entry = _event_rows(dispute, action, actor, reason, from_stage=from_stage, from_state=from_state)
    event.save()
    audit_append([entry])


def _event_rows(
    dispute: Dispute, action: str, actor: Any, reason: str = "", *, from_stage: str = "", from_state: str = ""
) -> tuple[DisputeEvent, AuditEntry]:
    """The timeline event and the audit entry of a step, not yet written (the sweep writes many at once)."""
    event = DisputeEvent(
        dispute=dispute,
        action=action,
        from_stage=from_stage,
        to_stage=dispute.stage if from_stage else "",
        from_state=from_state,
        to_state=dispute.state if from_state else "",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_repr=actor.get_username() if actor is not None else "system",
        reason=reason,
        at=timezone.now(),
    )
    entry = audit_entry(
        actor=actor,
        action=f"arbitration.dispute.{action}",
        target=dispute,
        reason=reason,
        before={"stage": from_stage or dispute.stage, "state": from_state or dispute.state},
        after={"stage": dispute.stage, "state": dispute.state, "step": dispute.office_step},
    )
    return event, entry


def dispute_url(dispute: Dispute) -> str:
    return f"/disputes/{dispute.pk}/"


def _announce(dispute: Dispute, key: str, title: str, *, roles: Iterable[str] = (), body: str = "") -> None:
    """Tell the parties (and people holding ``roles``) after the change commits."""
    announcement = _announcement(dispute, key, title, roles=roles, body=body)
    transaction.on_commit(lambda: announce([announcement]))


def _announcement(
    dispute: Dispute,
    key: str,
    title: str,
    *,
    roles: Iterable[str] = (),
    body: str = "",
    agencies: Iterable[int] | None = None,
) -> Announcement:
    """``agencies``: the parties' agency ids, when the caller has read them already."""
    if agencies is None:
        agencies = [p.agency_id for p in dispute.parties.all()]
    return Announcement(
        Message(
            key=f"dispute:{dispute.pk}:{key}"[:200], title=title[:200], body=body, url=dispute_url(dispute)
        ),
        agencies=tuple(agencies),
        roles=tuple(roles),
    )


def _locked(dispute: Dispute | int) -> Dispute:
    pk = dispute.pk if isinstance(dispute, Dispute) else dispute
    return Dispute.objects.select_for_update(of=("self",)).prefetch_related("parties").get(pk=pk)


def _enter_stage(dispute: Dispute, stage: str, now: datetime, *, by_sweep: bool) -> None:
    """Move the locked dispute into ``stage``. The unique (dispute, stage) row makes a second entry fail
    even if two workers got this far: the caller's transaction then rolls back."""
    _move(dispute, stage, now, stage_deadline(stage, dispute.urgency, now), by_sweep=by_sweep).save()


def _move(dispute: Dispute, stage: str, now: datetime, deadline: Deadline, *, by_sweep: bool) -> DisputeStage:
    """Set the dispute's fields for ``stage``; return its stage row, not yet written."""
    for name, value in _stage_fields(stage, now, deadline).items():
        setattr(dispute, name, value)
    return DisputeStage(
        dispute=dispute, stage=stage, entered_at=now, deadline_at=deadline.at, by_sweep=by_sweep
    )


def _stage_fields(stage: str, now: datetime, deadline: Deadline) -> dict[str, Any]:
    return {
        "stage": stage,
        "stage_started_at": now,
        "deadline_at": deadline.at,
        "remind_at": deadline.remind_at,
        "reminded_stage": "",
        "office_step": OfficeStep.ASSESS if stage == S.EDITORIAL_OFFICE else "",
    }


def dispute_file(
    *,
    actor: Any,
    title: str,
    description: str,
    kind: str,
    domain: Domain,
    filing_agency: Agency,
    respondents: Iterable[Agency],
    urgency: str = Urgency.NORMAL,
    duties: Iterable[Duty] = (),
    evidence_links: Iterable[str] = (),
    source_ref: str = "",
) -> Dispute:
    """Agency staff file for their own agency; the editorial office may file for any (when it finds a
    gap). Every field problem is reported at once; the negotiation clock starts now."""
    if not (
        actor.is_superuser
        or permissions.may_act_for_agency(actor, filing_agency)
        or permissions.is_editorial_officer(actor)
    ):
        raise PermissionRefused(_("You may file disputes only for your own agency."))
    respondents = [a for a in respondents if a.pk != filing_agency.pk]
    duties = list(duties)
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = [_("Required.")]
    if not description.strip():
        errors["description"] = [_("Required.")]
    if kind not in DisputeKind.values:
        errors["kind"] = [_("Unknown kind.")]
    if urgency not in Urgency.values:
        errors["urgency"] = [_("Unknown urgency.")]
    if not respondents:
        errors["respondents"] = [_("Name at least one other agency.")]
    if kind == DisputeKind.GAP and duties:
        errors["duties"] = [_("A gap concerns no duty on the list.")]
    if kind in {DisputeKind.OVERLAP, DisputeKind.VAGUE, DisputeKind.DELEGATION} and not duties:
        errors["duties"] = [_("Name the duties concerned.")]
    if len({d.duty_list_id for d in duties}) > 1:
        errors["duties"] = [_("The duties must come from one duty list.")]
    if errors:
        raise ApplicationError(
            _("The dispute cannot be filed as it is."), code="invalid_dispute", extra=errors
        )
    now = timezone.now()
    with transaction.atomic():
        deadline = stage_deadline(S.NEGOTIATION, urgency, now)
        dispute = Dispute.objects.create(
            title=title.strip(),
            description=description,
            kind=kind,
            domain=domain,
            urgency=urgency,
            filing_agency=filing_agency,
            filed_by=actor if actor.is_authenticated else None,
            duty_list=duties[0].duty_list if duties else None,
            evidence_links=list(evidence_links),
            source_ref=source_ref,
            stage=S.NEGOTIATION,
            stage_started_at=now,
            deadline_at=deadline.at,
            remind_at=deadline.remind_at,
        )
        DisputeParty.objects.create(dispute=dispute, agency=filing_agency, role=PartyRole.FILER)
        DisputeParty.objects.bulk_create(
            DisputeParty(dispute=dispute, agency=a, role=PartyRole.RESPONDENT)
            for a in {a.pk: a for a in respondents}.values()
        )
        dispute.duties.set(duties)
        DisputeStage.objects.create(
            dispute=dispute, stage=S.NEGOTIATION, entered_at=now, deadline_at=deadline.at
        )
        _event(dispute, "file", actor, description[:500])
        _announce(
            dispute,
            "filed",
            _("New dispute: %(title)s") % {"title": dispute.title},
            roles=[Role.EDITORIAL_OFFICER] if urgency == Urgency.URGENT else (),
        )
    return dispute


def position_record(
    *,
    actor: Any,
    dispute: Dispute,
    agency: Agency,
    stance: str,
    statement: str,
    legal_basis: str = "",
    proposed_agency: Agency | None = None,
) -> Position:
    """A party states (or revises) its position; every version is kept."""
    if not (actor.is_superuser or permissions.may_act_for_agency(actor, agency)):
        raise PermissionRefused(_("You may state positions only for your own agency."))
    errors: dict[str, list[str]] = {}
    if stance not in Stance.values:
        errors["stance"] = [_("Unknown stance.")]
    if not statement.strip():
        errors["statement"] = [_("Required.")]
    if stance == Stance.PROPOSES and proposed_agency is None:
        errors["proposed_agency"] = [_("Name the agency you propose.")]
    if errors:
        raise ApplicationError(_("The position is not complete."), code="invalid_position", extra=errors)
    with transaction.atomic():
        dispute = _locked(dispute)
        if not dispute.parties.filter(agency=agency).exists():
            raise PermissionRefused(_("%(agency)s is not a party to this dispute.") % {"agency": agency})
        if dispute.state not in OPEN_STATES:
            raise Conflict(_("The dispute is closed."), code="closed")
        latest = Position.objects.filter(dispute=dispute, agency=agency).order_by("-version").first()
        if latest is not None and (
            latest.stance,
            latest.statement,
            latest.legal_basis,
            latest.proposed_agency_id,
        ) == (stance, statement, legal_basis, proposed_agency.pk if proposed_agency else None):
            return latest  # the same position again: nothing new to keep
        position = Position.objects.create(
            dispute=dispute,
            agency=agency,
            version=(latest.version + 1) if latest else 1,
            stance=stance,
            proposed_agency=proposed_agency if stance == Stance.PROPOSES else None,
            statement=statement,
            legal_basis=legal_basis,
            author=actor if actor.is_authenticated else None,
            at=timezone.now(),
        )
        _event(dispute, "position", actor, f"{agency}: {position.get_stance_display()} — {statement[:300]}")
        _announce(
            dispute,
            f"position:{position.pk}",
            _("%(agency)s stated its position on: %(title)s") % {"agency": agency, "title": dispute.title},
        )
    return position


def dispute_transition(*, actor: Any, dispute: Dispute, action: str, reason: str = "") -> Dispute:
    """Every move of ``TRANSITIONS`` except the ones that carry more than a reason (rulings, decisions,
    agreements, meetings: see their own services)."""
    transition = TRANSITIONS[action]
    with transaction.atomic():
        dispute = _locked(dispute)
        if not (actor.is_superuser or transition.who(actor, dispute)):
            raise PermissionRefused(_("You may not take this step on this dispute."))
        if _already_done(dispute, action):
            return dispute
        if (
            dispute.state not in OPEN_STATES
            or dispute.stage not in transition.stages
            or (transition.steps is not None and dispute.office_step not in transition.steps)
        ):
            raise Conflict(
                _("This step is not open to the dispute now (%(stage)s, %(state)s).")
                % {"stage": dispute.get_stage_display(), "state": dispute.get_state_display()},
                code="invalid_state",
                extra={"stage": dispute.stage, "state": dispute.state, "step": dispute.office_step},
            )
        if transition.needs_reason and not reason.strip():
            raise ApplicationError(
                _("Give a reason."), code="reason_required", extra={"reason": [_("Required.")]}
            )
        from_stage, from_state = dispute.stage, dispute.state
        _apply(dispute, action, actor, reason)
        dispute.save()
        _event(dispute, action, actor, reason, from_stage=from_stage, from_state=from_state)
    return dispute


def _already_done(dispute: Dispute, action: str) -> bool:
    return (
        (action == "pause" and dispute.state == DisputeState.PAUSED)
        or (action == "resume" and dispute.state == DisputeState.OPEN)
        or (action == "withdraw" and dispute.outcome == Outcome.WITHDRAWN)
        or (action == "reject_scope" and dispute.outcome == Outcome.REJECTED)
    )


def _apply(dispute: Dispute, action: str, actor: Any, reason: str) -> None:
    now = timezone.now()
    if action == "escalate":
        next_stage = LADDER[LADDER.index(Stage(dispute.stage)) + 1]
        _enter_stage(dispute, next_stage, now, by_sweep=False)
        _announce(
            dispute,
            f"stage:{next_stage}",
            _("Dispute escalated to %(stage)s: %(title)s")
            % {"stage": Stage(next_stage).label, "title": dispute.title},
            roles=[Role.EDITORIAL_OFFICER] if next_stage == S.EDITORIAL_OFFICE else [Role.LEADER],
        )
    elif action == "accept_scope":
        dispute.office_step = OfficeStep.REVIEW
    elif action == "reject_scope":
        _close(dispute, Outcome.REJECTED, now)
        _announce(
            dispute, "rejected", _("Dispute not taken up: %(title)s") % {"title": dispute.title}, body=reason
        )
    elif action == "request_legal_review":
        dispute.office_step = OfficeStep.REVIEW
        _announce(
            dispute,
            f"legal-review:{now.timestamp()}",
            _("Legal review requested: %(title)s") % {"title": dispute.title},
            roles=[Role.LEGAL_REVIEWER],
        )
    elif action == "give_legal_opinion":
        dispute.office_step = OfficeStep.COORDINATE
    elif action == "give_feedback":
        dispute.office_step = OfficeStep.FEEDBACK
        _announce(
            dispute,
            f"feedback:{now.timestamp()}",
            _("Feedback from the editorial office: %(title)s") % {"title": dispute.title},
            body=reason,
        )
    elif action == "pause":
        dispute.state = DisputeState.PAUSED
        dispute.paused_at = now
        dispute.pause_reason = reason
    elif action == "resume":
        assert dispute.paused_at is not None and dispute.deadline_at is not None
        dispute.deadline_at = resumed_deadline(dispute.urgency, dispute.deadline_at, dispute.paused_at, now)
        dispute.remind_at = None if dispute.reminded_stage == dispute.stage else dispute.remind_at
        dispute.state = DisputeState.OPEN
        dispute.paused_at = None
        dispute.pause_reason = ""
    elif action == "withdraw":
        _close(dispute, Outcome.WITHDRAWN, now)
        _announce(
            dispute, "withdrawn", _("Dispute withdrawn: %(title)s") % {"title": dispute.title}, body=reason
        )


def _close(dispute: Dispute, outcome: str, now: datetime) -> None:
    dispute.state = DisputeState.CLOSED
    dispute.outcome = outcome
    dispute.closed_at = now
    dispute.deadline_at = None
    dispute.remind_at = None
    dispute.paused_at = None


def meeting_record(*, actor: Any, dispute: Dispute, held_on: Any, attendees: str, minutes: str) -> Meeting:
    """The editorial office records a coordination meeting; it moves the office to coordinating."""
    if not (actor.is_superuser or permissions.is_editorial_officer(actor)):
        raise PermissionRefused(_("Only the editorial office records coordination meetings."))
    errors = {
        name: [_("Required.")]
        for name, value in (("attendees", attendees), ("minutes", minutes))
        if not value.strip()
    }
    if errors:
        raise ApplicationError(_("The meeting record is not complete."), extra=errors)
    with transaction.atomic():
        dispute = _locked(dispute)
        if (
            dispute.stage != S.EDITORIAL_OFFICE
            or dispute.state not in OPEN_STATES
            or dispute.office_step == OfficeStep.ASSESS
        ):
            raise Conflict(
                _("Meetings are held once the editorial office has taken the dispute up."),
                code="invalid_state",
            )
        meeting = Meeting.objects.create(
            dispute=dispute,
            held_on=held_on,
            attendees=attendees,
            minutes=minutes,
            recorded_by=actor if actor.is_authenticated else None,
            at=timezone.now(),
        )
        dispute.office_step = OfficeStep.COORDINATE
        dispute.save(update_fields=["office_step"])
        _event(dispute, "meeting", actor, f"{held_on}: {minutes[:300]}")
    return meeting


def policy_update(*, actor: Any, policy: Any, reason: str = "", **limits: Any) -> Any:
    """The system administrator or the editorial office sets a stage's time limit (admin)."""
    from arbitration.models import EscalationPolicy

    if not (
        actor.is_superuser or permissions.is_system_admin(actor) or permissions.is_editorial_officer(actor)
    ):
        raise PermissionRefused(_("Only a system administrator or the editorial office sets time limits."))
    fields = ("working_days", "minutes", "remind_working_days", "remind_minutes")
    with transaction.atomic():
        locked = EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
        before = {name: getattr(locked, name) for name in fields}
        for name in fields:
            if name in limits:
                setattr(locked, name, limits[name])
        after = {name: getattr(locked, name) for name in fields}
        if before == after:
            return locked
        if (locked.working_days is None) == (locked.minutes is None):
            raise ApplicationError(
                _("Give the limit in working days or in minutes, not both."),
                extra={"minutes": [_("Either days or minutes.")]},
            )
        locked.save()
        audit_record(
            actor=actor,
            action="arbitration.policy.updated",
            target=locked,
            reason=reason,
            before=before,
            after=after,
        )
    return locked


ATTACHMENT_MAX_MB = 20
ATTACHMENT_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx", ".txt", ".ofd")


def attachment_add(*, actor: Any, dispute: Dispute, upload: Any, name: str = "") -> Any:
    """A party or the editorial office attaches a document. Files are served only through the dispute's
    own page (to those who may see it), never from a public media URL."""
    from pathlib import PurePath

    from arbitration.models import Attachment

    if not (actor.is_superuser or permissions.is_editorial_officer(actor) or is_party_staff(actor, dispute)):
        raise PermissionRefused(_("Only the parties and the editorial office attach documents."))
    filename = PurePath(getattr(upload, "name", "") or "").name
    if not filename.lower().endswith(ATTACHMENT_SUFFIXES):
        raise ApplicationError(
            _("Attach a PDF, OFD, image, Word, Excel or text file."),
            extra={"file": [_("This kind of file is not accepted.")]},
        )
    if upload.size > ATTACHMENT_MAX_MB * 1024 * 1024:
        raise ApplicationError(
            _("The file is larger than %(mb)d MB.") % {"mb": ATTACHMENT_MAX_MB},
            extra={"file": [_("Too large.")]},
        )
    with transaction.atomic():
        dispute = _locked(dispute)
        attachment = Attachment.objects.create(
            dispute=dispute,
            file=upload,
            name=(name or filename)[:200],
            uploaded_by=actor if actor.is_authenticated else None,
            at=timezone.now(),
        )
        _event(dispute, "attachment", actor, attachment.name)
    return attachment
