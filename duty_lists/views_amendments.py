"""The amendment pages (动态调整): a work queue, the proposal form, the detail page with its review buttons.

Who sees what is the selector's answer (``amendments_visible_to``): an amendment outside it is a 404, so a
URL does not even confirm it exists. Who may take a step is the state machine's answer (``TRANSITIONS``):
the detail page offers exactly those steps, and a POST for any other is a 403. Every step is one service
call; the services' ``ApplicationError`` comes back as field errors or a message, never as a half-saved row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from duty_lists import hooks, permissions, selectors, services
from duty_lists.amendment_comparison import comparison
from duty_lists.forms import (
    AmendmentForm,
    AmendmentStartForm,
    CooperatingFormSet,
    LegalBasisFormSet,
    OpinionForm,
    ReasonForm,
    cooperating_initial,
    legal_bases_initial,
    proposal_from_forms,
)
from duty_lists.models import (
    Agency,
    Amendment,
    AmendmentKind,
    AmendmentState,
    Classification,
    Duty,
    DutyList,
    DutyRevision,
    JointReviewOpinion,
    Role,
)
from duty_lists.proposals import DutyContent
from duty_lists.views_browse import may_propose

S = AmendmentState
OPEN_STATES = (S.DRAFT, S.LEGAL_REVIEW, S.JOINT_REVIEW, S.APPROVED, S.RETURNED)
EDITABLE_STATES = (S.DRAFT, S.RETURNED)
QUEUE_PAGE_SIZE = 50

STEPS: dict[str, Callable[..., Amendment]] = {
    "submit": services.amendment_submit,
    "pass_legal_review": services.amendment_pass_legal_review,
    "approve": services.amendment_approve,
    "return": services.amendment_return,
    "withdraw": services.amendment_withdraw,
}
STEP_LABELS = {
    "submit": gettext_lazy("Submit for review"),
    "pass_legal_review": gettext_lazy("Pass legal review"),
    "approve": gettext_lazy("Approve"),
    "return": gettext_lazy("Return to the proposer"),
    "withdraw": gettext_lazy("Withdraw"),
}
STEP_REASON_LABELS = {
    "return": gettext_lazy("Why it goes back to the proposer"),
    "withdraw": gettext_lazy("Why it is withdrawn"),
}
STEP_DONE = {
    "submit": gettext_lazy("The amendment is submitted for legal review."),
    "pass_legal_review": gettext_lazy("Legal review passed: the amendment is in joint review."),
    "approve": gettext_lazy("Approved: the change awaits the next edition."),
    "return": gettext_lazy("The amendment is returned to its proposer."),
    "withdraw": gettext_lazy("The amendment is withdrawn."),
}
# Codes of business errors that concern one field of the proposal form rather than the whole proposal.
FIELD_OF_ERROR_CODE = {
    "not_a_transfer": "lead_agency",
    "delegation_requires_approval": "lead_agency",
    "not_in_force": "duty",
}


def _refuse_if_forbidden(error: ApplicationError) -> None:
    if error.status_code == 403:
        raise PermissionDenied(error.message) from error


# --- The work queue --------------------------------------------------------------------------------------


def _queue_condition(user: Any) -> Q:
    """What waits for this person: officers everything under review or approved, legal reviewers what is
    in legal review, agency staff their agency's open amendments and the joint reviews their agency sits
    on. Someone with several roles gets the union."""
    overseer = user.is_superuser or permissions.is_leader(user)
    condition = Q(state__in=OPEN_STATES) if overseer else Q(pk__in=[])
    if permissions.is_editorial_officer(user):
        condition |= Q(state__in=[S.LEGAL_REVIEW, S.JOINT_REVIEW, S.APPROVED])
    if permissions.is_legal_reviewer(user):
        condition |= Q(state=S.LEGAL_REVIEW)
    if own := permissions.agencies_of(user):
        condition |= Q(proposing_agency_id__in=own, state__in=OPEN_STATES)
        condition |= Q(state=S.JOINT_REVIEW, duty_list__reviewing_agencies__in=own)
    return condition


@login_required
def amendment_queue(request: HttpRequest) -> HttpResponse:
    user = request.user
    amendments: QuerySet[Amendment] = selectors.amendments_visible_to(user)
    state = request.GET.get("state", "")
    if state == "all":
        pass
    elif state in S.values:
        amendments = amendments.filter(state=state)
    else:
        state = ""
        amendments = amendments.filter(_queue_condition(user))
    duty_lists = list(selectors.duty_lists_public())
    list_code = request.GET.get("list", "")
    if list_code:
        amendments = amendments.filter(duty_list__code=list_code)
    amendments = amendments.distinct().order_by("-updated_at", "-pk")
    page = Paginator(amendments, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "state": state,
        "states": S.choices,
        "list_code": list_code,
        "duty_lists": duty_lists,
        "may_propose": may_propose(user),
    }
    return render(request, "duty_lists/amendments/queue.html", context)


# --- Proposing and revising ------------------------------------------------------------------------------


def _proposing_agencies(user: Any) -> list[Agency]:
    """On whose behalf this person may propose: their own agencies; officers also for the editorial
    office they sit in."""
    active = Agency.objects.filter(is_active=True).order_by("code")
    if user.is_superuser:
        return list(active)
    ids = permissions.agencies_of(user) | permissions.agencies_of(user, Role.EDITORIAL_OFFICER)
    return list(active.filter(pk__in=ids))


@dataclass
class ProposalForms:
    form: AmendmentForm
    cooperating: Any
    legal_bases: Any
    group_errors: dict[str, list[str]]
    needs_content: bool = True

    def is_valid(self) -> bool:
        if not self.needs_content:  # a removal: only the why, the formsets are not on the page
            return self.form.is_valid()
        # Evaluate all three so that every error shows at once.
        results = [self.form.is_valid(), self.cooperating.is_valid(), self.legal_bases.is_valid()]
        return all(results)

    def proposal(self) -> dict[str, Any]:
        return proposal_from_forms(self.form, self.cooperating, self.legal_bases)


def _proposal_forms(
    request: HttpRequest,
    *,
    duty_list: DutyList,
    proposing: list[Agency],
    content: DutyContent | None,
    needs_content: bool,
    justification: str = "",
) -> ProposalForms:
    agencies = list(Agency.objects.filter(is_active=True).order_by("level", "code"))
    classifications = Classification.objects.filter(duty_list=duty_list).select_related("category")
    classifications_ordered = sorted(
        classifications, key=lambda c: (c.category.position, c.category.code, c.position, c.code)
    )
    initial: dict[str, Any] = {"justification": justification}
    if content is not None:
        initial |= AmendmentForm.initial_from(content)
    data = request.POST if request.method == "POST" else None
    form = AmendmentForm(
        data,
        initial=initial,
        proposing_agencies=proposing,
        agencies=agencies,
        classifications=classifications_ordered,
    )
    agency_choices = form.fields["lead_agency"].choices  # type: ignore[attr-defined]
    cooperating = CooperatingFormSet(
        data,
        prefix="coop",
        initial=cooperating_initial(content) if content else None,
        form_kwargs={"agency_choices": agency_choices},
    )
    legal_bases = LegalBasisFormSet(
        data, prefix="basis", initial=legal_bases_initial(content) if content else None
    )
    return ProposalForms(
        form, cooperating, legal_bases, {"participants": [], "legal_bases": []}, needs_content
    )


def _place_errors(error: ApplicationError, forms: ProposalForms, start: Form | None = None) -> None:
    """Put a service's refusal where the person will look: each ``extra`` entry on its field, the rest
    at the top of the form."""
    form = forms.form
    form.add_error(None, error.message)
    field = FIELD_OF_ERROR_CODE.get(error.code)
    if field and not error.extra:
        if field in form.fields:
            form.add_error(field, error.message)
        elif start is not None and field in start.fields:
            start.add_error(field, error.message)
    for key, value in error.extra.items():
        for message in value if isinstance(value, list) else [value]:
            if key in forms.group_errors:
                forms.group_errors[key].append(str(message))
            elif key in form.fields:
                form.add_error(key, str(message))
            elif start is not None and key in start.fields:
                start.add_error(key, str(message))
            else:
                form.add_error(None, str(message))


@login_required
def amendment_new(request: HttpRequest) -> HttpResponse:
    """Step one (GET): list, kind, duty. Step two: the proposal, prefilled from the duty's current text
    for a change, transfer or delegation; POST creates the draft through ``amendment_create``."""
    user = request.user
    if not may_propose(user):
        raise PermissionDenied(_("Only agency staff and editorial-office officers propose amendments."))
    proposing = _proposing_agencies(user)
    if not proposing:
        raise PermissionDenied(_("You do not act for any active agency."))
    duty_lists = list(selectors.duty_lists_public())
    # A link may preselect the list (?list=…); the form is only checked once its kind has been chosen, so
    # the first view shows no errors.
    if "kind" in request.GET:
        start = AmendmentStartForm(request.GET, duty_lists=duty_lists)
    else:
        start = AmendmentStartForm(initial=request.GET.dict(), duty_lists=duty_lists)
    context: dict[str, Any] = {"start": start, "forms": None, "duty_lists": duty_lists}
    if not start.is_bound or not start.is_valid():
        return render(request, "duty_lists/amendments/new.html", context)

    duty_list = next(d for d in duty_lists if d.code == start.cleaned_data["list"])
    kind = start.cleaned_data["kind"]
    duty: Duty | None = None
    current: DutyRevision | None = None
    if kind != AmendmentKind.ADD:
        duty = Duty.objects.filter(duty_list=duty_list, code=start.cleaned_data["duty"]).first()
        current = (
            selectors.revisions_in_force(duty_list=duty_list).filter(duty=duty).first() if duty else None
        )
        if current is None:
            start.add_error("duty", _("No duty with this code is in force in this list."))
            return render(request, "duty_lists/amendments/new.html", context)
    content = DutyContent.from_revision(current) if current is not None else None
    needs_content = kind != AmendmentKind.REMOVE
    forms = _proposal_forms(
        request, duty_list=duty_list, proposing=proposing, content=content, needs_content=needs_content
    )
    if kind == AmendmentKind.ADD:
        # A new duty: start from the classification the person came from, led by their own agency.
        forms.form.initial["classification"] = request.GET.get("classification", "")
        if len(proposing) == 1:
            forms.form.initial["lead_agency"] = proposing[0].code
    context |= {
        "forms": forms,
        "duty_list": duty_list,
        "kind": kind,
        "kind_label": AmendmentKind(kind).label,
        "duty": duty,
        "current": current,
        "needs_content": needs_content,
    }
    if request.method == "POST" and forms.is_valid():
        agency = next(a for a in proposing if a.code == forms.form.cleaned_data["proposing_agency"])
        try:
            amendment = services.amendment_create(
                actor=user,
                duty_list=duty_list,
                kind=kind,
                proposing_agency=agency,
                justification=forms.form.cleaned_data["justification"],
                duty=duty,
                proposal=forms.proposal() if needs_content else {},
            )
        except ApplicationError as error:
            _refuse_if_forbidden(error)
            _place_errors(error, forms, start)
        else:
            messages.success(
                request,
                _("Amendment #%(id)d is saved as a draft. Submit it when it is ready.")
                % {"id": amendment.pk},
            )
            return redirect("duty_lists:amendment_detail", pk=amendment.pk)
    return render(request, "duty_lists/amendments/new.html", context)


@login_required
def amendment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Revise a draft or a returned amendment (its proposer only) through ``amendment_update``."""
    user = request.user
    amendment = get_object_or_404(selectors.amendments_visible_to(user), pk=pk)
    if not (user.is_superuser or services.TRANSITIONS["submit"].who(user, amendment)):
        raise PermissionDenied(_("You may not change this amendment."))
    if amendment.state not in EDITABLE_STATES:
        messages.error(request, _("Only a draft or a returned amendment can be changed."))
        return redirect("duty_lists:amendment_detail", pk=amendment.pk)
    content = DutyContent.from_dict(amendment.proposal) if amendment.proposal else None
    needs_content = amendment.kind != AmendmentKind.REMOVE
    forms = _proposal_forms(
        request,
        duty_list=amendment.duty_list,
        proposing=[amendment.proposing_agency],
        content=content,
        needs_content=needs_content,
        justification=amendment.justification,
    )
    if request.method == "POST" and forms.is_valid():
        try:
            services.amendment_update(
                actor=user,
                amendment=amendment,
                justification=forms.form.cleaned_data["justification"],
                proposal=forms.proposal() if needs_content else None,
            )
        except ApplicationError as error:
            _refuse_if_forbidden(error)
            _place_errors(error, forms)
        else:
            messages.success(request, _("The amendment is updated."))
            return redirect("duty_lists:amendment_detail", pk=amendment.pk)
    context = {
        "amendment": amendment,
        "forms": forms,
        "duty_list": amendment.duty_list,
        "kind": amendment.kind,
        "kind_label": amendment.get_kind_display(),
        "duty": amendment.duty,
        "needs_content": needs_content,
    }
    return render(request, "duty_lists/amendments/edit.html", context)


# --- The detail page -------------------------------------------------------------------------------------


def available_steps(user: Any, amendment: Amendment, missing: list[Agency]) -> list[str]:
    """The steps of TRANSITIONS this person may take on this amendment now. Approval waits until every
    reviewing agency concurred, so it is not offered before."""
    steps = []
    for name, transition in services.TRANSITIONS.items():
        if amendment.state not in transition.sources:
            continue
        if not (user.is_superuser or transition.who(user, amendment)):
            continue
        if name == "approve" and missing:
            continue
        steps.append(name)
    return steps


def _opinion_forms(
    user: Any, amendment: Amendment, opinions: list[JointReviewOpinion], bound: OpinionForm | None
) -> list[tuple[Agency, OpinionForm, JointReviewOpinion | None]]:
    """One opinion form per reviewing agency this person is staff of, during the joint review."""
    if amendment.state != S.JOINT_REVIEW:
        return []
    own = permissions.agencies_of(user)
    if not own:
        return []
    result = []
    for agency in amendment.duty_list.reviewing_agencies.filter(pk__in=own).order_by("code"):
        mine = next((o for o in opinions if o.agency_id == agency.pk), None)
        if bound is not None and bound.data.get("agency") == agency.code:
            form = bound
        else:
            initial = {"agency": agency.code}
            if mine is not None:
                initial |= {"concurs": "yes" if mine.concurs else "no", "opinion": mine.opinion}
            form = OpinionForm(initial=initial, auto_id=f"id_opinion_{agency.pk}_%s")
        result.append((agency, form, mine))
    return result


def _render_detail(
    request: HttpRequest,
    amendment: Amendment,
    *,
    reason_form: tuple[str, ReasonForm] | None = None,
    opinion_form: OpinionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    rows, before_revision, is_prior_text = comparison(amendment)
    round_number = amendment.review_round
    opinions = list(
        amendment.opinions.select_related("agency", "reviewer").order_by("-review_round", "agency__code")
    )
    current_opinions = [o for o in opinions if o.review_round == round_number]
    missing = services.missing_concurrences(amendment) if amendment.state == S.JOINT_REVIEW else []
    steps = available_steps(user, amendment, missing)
    reason_forms = {
        name: ReasonForm(auto_id=f"id_{name}_%s") for name in steps if services.TRANSITIONS[name].needs_reason
    }
    if reason_form is not None:
        reason_forms[reason_form[0]] = reason_form[1]
    context = {
        "amendment": amendment,
        "rows": rows,
        "before_revision": before_revision,
        "is_prior_text": is_prior_text,
        "events": amendment.events.select_related("actor", "agency").order_by("at", "id"),
        "current_opinions": current_opinions,
        "earlier_opinions": [o for o in opinions if o.review_round != round_number],
        "missing": missing,
        "steps": [
            {
                "name": name,
                "label": STEP_LABELS[name],
                "reason_form": reason_forms.get(name),
                "reason_label": STEP_REASON_LABELS.get(name, ""),
            }
            for name in steps
        ],
        "opinion_forms": _opinion_forms(user, amendment, current_opinions, opinion_form),
        "may_edit": amendment.state in EDITABLE_STATES
        and (user.is_superuser or services.TRANSITIONS["submit"].who(user, amendment)),
        "may_publish": amendment.state == S.APPROVED
        and (user.is_superuser or permissions.is_editorial_officer(user)),
        "extra_actions": hooks.actions_for_amendment(user, amendment),
    }
    return render(request, "duty_lists/amendments/detail.html", context, status=status)


def _visible_or_404(request: HttpRequest, pk: int) -> Amendment:
    return get_object_or_404(
        selectors.amendments_visible_to(request.user).select_related("pending_revision"), pk=pk
    )


@login_required
def amendment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _visible_or_404(request, pk))


@login_required
@require_POST
def amendment_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """One step of the state machine, by the service that owns it."""
    if step not in STEPS:
        raise Http404("no such step")
    user = request.user
    amendment = _visible_or_404(request, pk)
    if not (user.is_superuser or services.TRANSITIONS[step].who(user, amendment)):
        raise PermissionDenied(_("You may not take this step on this amendment."))
    form = ReasonForm(request.POST, auto_id=f"id_{step}_%s")
    reason = form.cleaned_data["reason"].strip() if form.is_valid() else ""
    try:
        STEPS[step](actor=user, amendment=amendment, reason=reason)
    except ApplicationError as error:
        _refuse_if_forbidden(error)
        if "reason" in error.extra:
            for message in error.extra["reason"]:
                form.add_error("reason", str(message))
            amendment.refresh_from_db()
            return _render_detail(request, amendment, reason_form=(step, form), status=400)
        messages.error(request, error.message)
    else:
        messages.success(request, str(STEP_DONE[step]))
    return redirect("duty_lists:amendment_detail", pk=amendment.pk)


@login_required
@require_POST
def amendment_opinion(request: HttpRequest, pk: int) -> HttpResponse:
    """A reviewing agency's concurrence or objection in the joint review."""
    user = request.user
    amendment = _visible_or_404(request, pk)
    form = OpinionForm(request.POST)
    agency = Agency.objects.filter(code=request.POST.get("agency", "")).first()
    if agency is None or not (user.is_superuser or permissions.may_act_for_agency(user, agency)):
        raise PermissionDenied(_("You may give opinions only for your own agency."))
    if not form.is_valid():
        return _render_detail(request, amendment, opinion_form=form, status=400)
    try:
        services.amendment_give_opinion(
            actor=user,
            amendment=amendment,
            agency=agency,
            concurs=form.cleaned_data["concurs"],
            opinion=form.cleaned_data["opinion"].strip(),
        )
    except ApplicationError as error:
        _refuse_if_forbidden(error)
        if "opinion" in error.extra:
            for message in error.extra["opinion"]:
                form.add_error("opinion", str(message))
            return _render_detail(request, amendment, opinion_form=form, status=400)
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(agency)s concurs.") % {"agency": agency.name}
            if form.cleaned_data["concurs"]
            else _("%(agency)s objects.") % {"agency": agency.name},
        )
    return redirect("duty_lists:amendment_detail", pk=amendment.pk)
