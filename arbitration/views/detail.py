"""The dispute page: where it stands and how long it has left, the parties and every version of their
positions, the timeline, meetings, rulings with their follow-up, the most similar past rulings, and the
steps this reader may take now.

The steps offered are read from the same rules the services apply (``TRANSITIONS``, ``RULING_STAGE``), so
the page offers exactly what a POST would be allowed to do; the services still decide.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy

from arbitration import selectors
from arbitration.forms import AgreementForm, FollowUpReportForm, MeetingForm, PositionForm, ReasonForm
from arbitration.models import (
    LADDER,
    Dispute,
    DisputeEvent,
    DisputeParty,
    DisputeState,
    FollowUp,
    FollowUpState,
    OfficeStep,
    Position,
    Ruling,
    RulingKind,
    Stage,
)
from arbitration.precedents import similar_rulings
from arbitration.services import TRANSITIONS
from arbitration.services.disputes import is_party_staff
from arbitration.services.rulings import RULING_STAGE
from arbitration.views.common import Countdowns, active_agencies, full_dispute, user_names
from core.actors import display_name
from duty_lists import permissions
from duty_lists import selectors as registry
from duty_lists.models import Agency

STEP_LABELS = {
    "escalate": gettext_lazy("Escalate to the next level"),
    "accept_scope": gettext_lazy("Take the dispute up"),
    "reject_scope": gettext_lazy("Not a responsibility dispute: close it"),
    "request_legal_review": gettext_lazy("Request legal review"),
    "give_legal_opinion": gettext_lazy("Give the legal opinion"),
    "give_feedback": gettext_lazy("Send feedback to the parties"),
    "pause": gettext_lazy("Pause the clock"),
    "resume": gettext_lazy("Resume the clock"),
    "withdraw": gettext_lazy("Withdraw the dispute"),
}
STEP_REASON_LABELS = {
    "escalate": gettext_lazy("Why it cannot be settled at this level"),
    "reject_scope": gettext_lazy("Why it is not a responsibility dispute"),
    "give_legal_opinion": gettext_lazy("Legal opinion"),
    "give_feedback": gettext_lazy("Feedback to the parties"),
    "pause": gettext_lazy("Why the clock stops"),
    "withdraw": gettext_lazy("Why the dispute is withdrawn"),
}
PRIMARY_STEPS = frozenset({"accept_scope", "give_legal_opinion", "resume"})
DANGER_STEPS = frozenset({"withdraw", "reject_scope"})
EVENT_LABELS = {
    "file": gettext_lazy("Filed the dispute"),
    "position": gettext_lazy("Stated a position"),
    "escalate": gettext_lazy("Escalated"),
    "accept_scope": gettext_lazy("Took the dispute up"),
    "reject_scope": gettext_lazy("Closed as not a responsibility dispute"),
    "request_legal_review": gettext_lazy("Requested legal review"),
    "give_legal_opinion": gettext_lazy("Gave the legal opinion"),
    "give_feedback": gettext_lazy("Sent feedback to the parties"),
    "pause": gettext_lazy("Paused the clock"),
    "resume": gettext_lazy("Resumed the clock"),
    "withdraw": gettext_lazy("Withdrew the dispute"),
    "meeting": gettext_lazy("Recorded a coordination meeting"),
    "agreement_reported": gettext_lazy("Reported an agreement of the parties"),
    "overdue": gettext_lazy("Overdue at leadership"),
    RulingKind.RULING.value: gettext_lazy("Issued the ruling"),
    RulingKind.DECISION.value: gettext_lazy("Recorded leadership's decision"),
    RulingKind.AGREEMENT.value: gettext_lazy("Confirmed the parties' agreement"),
}
PRECEDENTS = 5
RULING_LINKS = (
    (RulingKind.RULING, "ruling", gettext_lazy("Issue the ruling")),
    (RulingKind.DECISION, "decision", gettext_lazy("Record leadership's decision")),
    (RulingKind.AGREEMENT, "confirm_agreement", gettext_lazy("Confirm the parties' agreement")),
)


@dataclass
class PartyView:
    party: DisputeParty
    positions: list[Position]  # newest first
    form: PositionForm | None = None

    @property
    def latest(self) -> Position | None:
        return self.positions[0] if self.positions else None

    @property
    def earlier(self) -> list[Position]:
        return self.positions[1:]


@dataclass
class LadderStep:
    stage: str
    label: Any
    status: str  # done, current, todo
    entered_at: Any = None
    deadline_at: Any = None


@dataclass
class FollowUpView:
    item: FollowUp
    report_form: FollowUpReportForm | None = None
    may_close: bool = False


@dataclass
class RulingView:
    ruling: Ruling
    follow_ups: list[FollowUpView] = field(default_factory=list)
    amendment_visible: bool = False
    issued_by: str = ""


def available_steps(user: Any, dispute: Dispute) -> list[str]:
    """The moves of ``TRANSITIONS`` this person may make on this dispute now. While the clock is paused
    only resuming and withdrawing are offered: everything else waits for the clock."""
    if dispute.state == DisputeState.CLOSED:
        return []
    steps = []
    for name, transition in TRANSITIONS.items():
        if dispute.stage not in transition.stages:
            continue
        if transition.steps is not None and dispute.office_step not in transition.steps:
            continue
        if dispute.state == DisputeState.PAUSED and name not in {"resume", "withdraw"}:
            continue
        if dispute.state == DisputeState.OPEN and name == "resume":
            continue
        if not (user.is_superuser or transition.who(user, dispute)):
            continue
        steps.append(name)
    return steps


def may_issue(user: Any, kind: str) -> bool:
    if user.is_superuser:
        return True
    if kind == RulingKind.DECISION:
        return permissions.is_leader(user)
    return permissions.is_editorial_officer(user)


def ruling_open(dispute: Dispute, kind: str) -> bool:
    """Whether the dispute is at the stage where a ``kind`` may be issued (``ruling_issue`` re-checks)."""
    return (
        dispute.state != DisputeState.CLOSED
        and dispute.stage == RULING_STAGE[RulingKind(kind)]
        and not (kind == RulingKind.RULING and dispute.office_step == OfficeStep.ASSESS)
    )


def meeting_open(dispute: Dispute) -> bool:
    return (
        dispute.state != DisputeState.CLOSED
        and dispute.stage == Stage.EDITORIAL_OFFICE
        and dispute.office_step != OfficeStep.ASSESS
    )


def own_party_agencies(user: Any, dispute: Dispute) -> list[Agency]:
    """The parties this person is staff of (usually one)."""
    return [p.agency for p in dispute.parties.all() if permissions.may_act_for_agency(user, p.agency_id)]


def _ladder(dispute: Dispute) -> list[LadderStep]:
    entered = {s.stage: s for s in dispute.stages.all()}
    current = LADDER.index(Stage(dispute.stage))
    result = []
    for index, stage in enumerate(LADDER):
        row = entered.get(stage)
        status = "done" if index < current else ("current" if index == current else "todo")
        if dispute.state == DisputeState.CLOSED and index == current:
            status = "done"
        result.append(
            LadderStep(
                stage,
                stage.label,
                status,
                row.entered_at if row else None,
                row.deadline_at if row else None,
            )
        )
    return result


def _office_steps(dispute: Dispute) -> list[tuple[Any, str]]:
    if dispute.stage != Stage.EDITORIAL_OFFICE or not dispute.office_step:
        return []
    values = list(OfficeStep.values)
    current = values.index(dispute.office_step)
    closed = dispute.state == DisputeState.CLOSED  # then the step it closed at is done, none under way
    return [
        (
            OfficeStep(v).label,
            "done" if i < current or (closed and i == current) else ("current" if i == current else "todo"),
        )
        for i, v in enumerate(values)
    ]


def _duties(dispute: Dispute) -> list[tuple[Any, str]]:
    duties = list(dispute.duties.all())
    if not duties:
        return []
    titles = dict(
        registry.revisions_in_force(with_content=False)
        .filter(duty__in=duties)
        .values_list("duty_id", "title")
    )
    return [(d, titles.get(d.pk, "")) for d in sorted(duties, key=lambda d: d.code)]


def _precedents(user: Any, dispute: Dispute) -> list[tuple[Ruling, float, bool]]:
    """The past rulings most like this dispute (``arbitration.precedents``), among those this person may
    see, each with whether this person may open its dispute (every one links to its ruling's page)."""
    found = similar_rulings(
        f"{dispute.title}\n{dispute.description}",
        exclude_dispute=dispute.pk,
        limit=PRECEDENTS,
        visible_to=user,
    )
    if not found:
        return []
    # Internal rulings stay with those who see their dispute: the search is asked to filter, and its answer
    # is checked against the selector here all the same — this page must not be the one that leaks them.
    visible = set(
        selectors.rulings_visible_to(user)
        .filter(pk__in=[r.pk for r, _s in found])
        .values_list("pk", flat=True)
    )
    shown = [(r, score) for r, score in found if r.pk in visible]
    rulings = {
        r.pk: r
        for r in Ruling.objects.filter(pk__in=[r.pk for r, _s in shown]).select_related(
            "dispute", "lead_agency"
        )
    }
    linkable = set(
        selectors.disputes_visible_to(user)
        .filter(pk__in=[r.dispute_id for r in rulings.values()])
        .values_list("pk", flat=True)
    )
    return [
        (rulings[r.pk], score, rulings[r.pk].dispute_id in linkable) for r, score in shown if r.pk in rulings
    ]


def _rulings(user: Any, dispute: Dispute, bound: dict[str, Form], names: dict[int, str]) -> list[RulingView]:
    rulings = list(dispute.rulings.all())
    amendment_ids = [r.amendment_id for r in rulings if r.amendment_id]
    visible_amendments = (
        set(registry.amendments_visible_to(user).filter(pk__in=amendment_ids).values_list("pk", flat=True))
        if amendment_ids
        else set()
    )
    officer = user.is_superuser or permissions.is_editorial_officer(user)
    views = []
    for ruling in rulings:
        view = RulingView(
            ruling,
            amendment_visible=ruling.amendment_id in visible_amendments,
            issued_by=names.get(ruling.issued_by_id or 0, ""),
        )
        for item in ruling.follow_ups.all():
            item_view = FollowUpView(item)
            if item.state != FollowUpState.CLOSED:
                if user.is_superuser or permissions.may_act_for_agency(user, item.agency_id):
                    key = f"followup:{item.pk}"
                    form = bound.get(key)
                    item_view.report_form = (
                        form
                        if isinstance(form, FollowUpReportForm)
                        else FollowUpReportForm(
                            initial={"report": item.report}, auto_id=f"id_followup_{item.pk}_%s"
                        )
                    )
                item_view.may_close = officer
            view.follow_ups.append(item_view)
        views.append(view)
    return views


def _parties(
    user: Any, dispute: Dispute, bound: dict[str, Form], agencies: list[Agency]
) -> tuple[list[PartyView], bool]:
    by_agency: dict[int, list[Position]] = defaultdict(list)
    for position in dispute.positions.all():
        by_agency[position.agency_id].append(position)
    for positions in by_agency.values():
        positions.sort(key=lambda p: -p.version)
    parties = [PartyView(p, by_agency.get(p.agency_id, [])) for p in dispute.parties.all()]
    if dispute.state == DisputeState.CLOSED:
        return parties, False
    own = own_party_agencies(user, dispute)
    has_form = False
    for view in parties:
        if view.party.agency not in own:
            continue
        bound_form = bound.get("position")
        if isinstance(bound_form, PositionForm) and bound_form.data.get("agency") == view.party.agency.code:
            view.form = bound_form
        else:
            latest = view.latest
            initial: dict[str, Any] = {"agency": view.party.agency.code}
            if latest is not None:
                initial |= {
                    "stance": latest.stance,
                    "proposed_agency": latest.proposed_agency.code if latest.proposed_agency else "",
                    "statement": latest.statement,
                    "legal_basis": latest.legal_basis,
                }
            view.form = PositionForm(
                initial=initial,
                own_agencies=[view.party.agency],
                agencies=agencies,
                auto_id=f"id_position_{view.party.agency_id}_%s",
            )
        has_form = True
    return parties, has_form


def _event_label(event: DisputeEvent) -> str:
    label = str(EVENT_LABELS.get(event.action, event.action))
    if event.action == "escalate" and event.to_stage in Stage.values:
        return f"{label}: {Stage(event.to_stage).label}"
    return label


def _who(event: DisputeEvent, actors: dict[int, Any]) -> str:
    """The person by full name and agency; events without one (the sweep) as the system."""
    return display_name(actors.get(event.actor_id or 0), event.actor_repr)


def _reported_agreement(events: list[DisputeEvent]) -> DisputeEvent | None:
    reported = [e for e in events if e.action == "agreement_reported"]
    return reported[-1] if reported else None


def detail_context(request: HttpRequest, dispute: Dispute, bound: dict[str, Form]) -> dict[str, Any]:
    user = request.user
    events = list(dispute.events.all())
    meetings = list(dispute.meetings.all())
    actors = get_user_model().objects.in_bulk({e.actor_id for e in events if e.actor_id})
    names = user_names(
        [e.actor_id for e in events]
        + [p.author_id for p in dispute.positions.all()]
        + [m.recorded_by_id for m in meetings]
        + [r.issued_by_id for r in dispute.rulings.all()]
        + [dispute.filed_by_id]
    )
    needs_agencies = dispute.state != DisputeState.CLOSED and bool(own_party_agencies(user, dispute))
    agencies = active_agencies() if needs_agencies else []
    parties, has_position_form = _parties(user, dispute, bound, agencies)
    steps = available_steps(user, dispute)
    step_forms = []
    for name in steps:
        form = bound.get(f"step:{name}")
        if not isinstance(form, ReasonForm) and TRANSITIONS[name].needs_reason:
            form = ReasonForm(auto_id=f"id_{name}_%s")
        step_forms.append(
            {
                "name": name,
                "label": STEP_LABELS[name],
                "reason_form": form if TRANSITIONS[name].needs_reason else None,
                "reason_label": STEP_REASON_LABELS.get(name, ""),
                "tone": "primary" if name in PRIMARY_STEPS else ("danger" if name in DANGER_STEPS else ""),
            }
        )
    reported = _reported_agreement(events)
    open_negotiation = dispute.state != DisputeState.CLOSED and dispute.stage == Stage.NEGOTIATION
    may_report_agreement = open_negotiation and (user.is_superuser or is_party_staff(user, dispute))
    may_meet = meeting_open(dispute) and (user.is_superuser or permissions.is_editorial_officer(user))
    precedents = _precedents(user, dispute)
    ruling_links = [
        (reverse(f"arbitration:{name}", kwargs={"pk": dispute.pk}), label)
        for kind, name, label in RULING_LINKS
        if may_issue(user, kind)
        and ruling_open(dispute, kind)
        and (kind != RulingKind.AGREEMENT or reported is not None)
    ]
    agreement_form = bound.get("agreement")
    meeting_form = bound.get("meeting")
    return {
        "dispute": dispute,
        "countdown": Countdowns().of(dispute),
        "ladder": _ladder(dispute),
        "office_steps": _office_steps(dispute),
        "duties": _duties(dispute),
        "duty_list": dispute.duty_list if dispute.duty_list_id else None,
        "evidence": [
            (link, str(link).startswith(("http://", "https://"))) for link in dispute.evidence_links
        ],
        "may_attach": dispute.state != "closed"
        and (permissions.is_editorial_officer(request.user) or is_party_staff(request.user, dispute)),
        "filed_by": names.get(dispute.filed_by_id or 0, ""),
        "parties": parties,
        "has_position_form": has_position_form,
        "events": [(e, _event_label(e), _who(e, actors)) for e in events],
        "meetings": [(m, names.get(m.recorded_by_id or 0, "")) for m in meetings],
        "rulings": _rulings(user, dispute, bound, names),
        "steps": step_forms,
        "ruling_links": ruling_links,
        "has_plain_steps": any(s["reason_form"] is None for s in step_forms),
        "reported_agreement": reported,
        "agreement_form": (
            (
                agreement_form
                if isinstance(agreement_form, AgreementForm)
                else AgreementForm(auto_id="id_agreement_%s")
            )
            if may_report_agreement
            else None
        ),
        "meeting_form": (
            (meeting_form if isinstance(meeting_form, MeetingForm) else MeetingForm(auto_id="id_meeting_%s"))
            if may_meet
            else None
        ),
        "precedents": precedents,
    }


def render_detail(
    request: HttpRequest, pk: int, *, bound: dict[str, Form] | None = None, status: int = 200
) -> HttpResponse:
    dispute = full_dispute(request, pk)
    context = detail_context(request, dispute, bound or {})
    return render(request, "arbitration/dispute_detail.html", context, status=status)


@login_required
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_detail(request, pk)
