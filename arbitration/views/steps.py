"""The POSTs behind the dispute page's buttons and small forms: one step, one service call.

Each handler first finds the dispute among those the person may see (404 otherwise), then asks whether
they may take this step at all (403 otherwise), then lets the service decide the rest. A refusal the person
can fix (a missing reason or statement) re-renders the page with the form's errors (400); a refusal they
cannot (the dispute moved on meanwhile) comes back as a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from arbitration.forms import AgreementForm, FollowUpReportForm, MeetingForm, PositionForm, ReasonForm
from arbitration.models import FollowUp
from arbitration.services import (
    TRANSITIONS,
    agreement_report,
    dispute_transition,
    followup_close,
    followup_report,
    meeting_record,
    position_record,
)
from arbitration.services.disputes import is_party_staff
from arbitration.views.common import active_agencies, refuse_if_forbidden, visible_dispute
from arbitration.views.detail import own_party_agencies, render_detail
from core.errors import ApplicationError
from duty_lists import permissions

STEP_DONE = {
    "escalate": gettext_lazy("The dispute is escalated to the next level."),
    "accept_scope": gettext_lazy("The editorial office has taken the dispute up."),
    "reject_scope": gettext_lazy("The dispute is closed as not a responsibility dispute."),
    "request_legal_review": gettext_lazy("Legal review is requested."),
    "give_legal_opinion": gettext_lazy("The legal opinion is recorded."),
    "give_feedback": gettext_lazy("The feedback is sent to the parties."),
    "pause": gettext_lazy("The clock is paused."),
    "resume": gettext_lazy("The clock runs again."),
    "withdraw": gettext_lazy("The dispute is withdrawn."),
}


def _back(pk: int, anchor: str = "") -> HttpResponse:
    return redirect(
        reverse("arbitration:dispute_detail", kwargs={"pk": pk}) + (f"#{anchor}" if anchor else "")
    )


def _fix_or_report(
    request: HttpRequest, pk: int, error: ApplicationError, key: str, form: Form, anchor: str = ""
) -> HttpResponse:
    """Field errors the person can fix go back onto the form on the page; anything else is a message."""
    refuse_if_forbidden(error)
    fixable = {k: v for k, v in error.extra.items() if k in form.fields}
    if fixable:
        for name, value in fixable.items():
            for message in value if isinstance(value, list) else [value]:
                form.add_error(name, str(message))
        return render_detail(request, pk, bound={key: form}, status=400)
    messages.error(request, error.message)
    return _back(pk, anchor)


@login_required
@require_POST
def dispute_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """A move of ``TRANSITIONS``: escalate, take up or reject, legal review and opinion, feedback, pause,
    resume, withdraw."""
    if step not in TRANSITIONS:
        raise Http404("no such step")
    user = request.user
    dispute = visible_dispute(request, pk)
    if not (user.is_superuser or TRANSITIONS[step].who(user, dispute)):
        raise PermissionDenied(_("You may not take this step on this dispute."))
    form = ReasonForm(request.POST, auto_id=f"id_{step}_%s")
    reason = form.cleaned_data["reason"].strip() if form.is_valid() else ""
    try:
        dispute_transition(actor=user, dispute=dispute, action=step, reason=reason)
    except ApplicationError as error:
        return _fix_or_report(request, pk, error, f"step:{step}", form, "actions")
    messages.success(request, str(STEP_DONE[step]))
    return _back(pk)


@login_required
@require_POST
def position(request: HttpRequest, pk: int) -> HttpResponse:
    """A party states or revises its position; each revision is a new version."""
    user = request.user
    dispute = visible_dispute(request, pk)
    own = {a.code: a for a in own_party_agencies(user, dispute)}
    agency = own.get(request.POST.get("agency", ""))
    if agency is None:
        raise PermissionDenied(_("You may state positions only for your own agency, when it is a party."))
    form = PositionForm(
        request.POST,
        own_agencies=[agency],
        agencies=active_agencies(),
        auto_id=f"id_position_{agency.pk}_%s",
    )
    if not form.is_valid():
        return render_detail(request, pk, bound={"position": form}, status=400)
    data = form.cleaned_data
    try:
        position_record(
            actor=user,
            dispute=dispute,
            agency=agency,
            stance=data["stance"],
            statement=data["statement"].strip(),
            legal_basis=data["legal_basis"].strip(),
            proposed_agency=form.agencies.get(data["proposed_agency"]) if data["proposed_agency"] else None,
        )
    except ApplicationError as error:
        return _fix_or_report(request, pk, error, "position", form, "parties")
    messages.success(request, _("The position of %(agency)s is recorded.") % {"agency": agency.name})
    return _back(pk, "parties")


@login_required
@require_POST
def agreement(request: HttpRequest, pk: int) -> HttpResponse:
    """A party reports that the parties have agreed; the editorial office confirms it."""
    user = request.user
    dispute = visible_dispute(request, pk)
    if not (user.is_superuser or is_party_staff(user, dispute)):
        raise PermissionDenied(_("Only the parties report an agreement."))
    form = AgreementForm(request.POST, auto_id="id_agreement_%s")
    statement = form.cleaned_data["statement"].strip() if form.is_valid() else ""
    try:
        agreement_report(actor=user, dispute=dispute, statement=statement)
    except ApplicationError as error:
        return _fix_or_report(request, pk, error, "agreement", form, "actions")
    messages.success(request, _("The agreement is reported to the editorial office for confirmation."))
    return _back(pk)


@login_required
@require_POST
def meeting(request: HttpRequest, pk: int) -> HttpResponse:
    """The editorial office records a coordination meeting."""
    user = request.user
    dispute = visible_dispute(request, pk)
    if not (user.is_superuser or permissions.is_editorial_officer(user)):
        raise PermissionDenied(_("Only the editorial office records coordination meetings."))
    form = MeetingForm(request.POST, auto_id="id_meeting_%s")
    if not form.is_valid():
        return render_detail(request, pk, bound={"meeting": form}, status=400)
    data = form.cleaned_data
    try:
        meeting_record(
            actor=user,
            dispute=dispute,
            held_on=data["held_on"],
            attendees=data["attendees"].strip(),
            minutes=data["minutes"].strip(),
        )
    except ApplicationError as error:
        return _fix_or_report(request, pk, error, "meeting", form, "meetings")
    messages.success(request, _("The meeting is recorded."))
    return _back(pk, "meetings")


def _follow_up(request: HttpRequest, pk: int, item: int) -> FollowUp:
    dispute = visible_dispute(request, pk)
    return get_object_or_404(FollowUp.objects.select_related("agency"), pk=item, ruling__dispute=dispute)


@login_required
@require_POST
def follow_up_report(request: HttpRequest, pk: int, item: int) -> HttpResponse:
    """The designated agency reports what it has done on a follow-up item."""
    user = request.user
    follow_up = _follow_up(request, pk, item)
    if not (user.is_superuser or permissions.may_act_for_agency(user, follow_up.agency_id)):
        raise PermissionDenied(_("Only the designated agency reports on this item."))
    form = FollowUpReportForm(request.POST, auto_id=f"id_followup_{follow_up.pk}_%s")
    report = form.cleaned_data["report"].strip() if form.is_valid() else ""
    try:
        followup_report(actor=user, follow_up=follow_up, report=report)
    except ApplicationError as error:
        return _fix_or_report(request, pk, error, f"followup:{follow_up.pk}", form, "rulings")
    messages.success(request, _("The implementation report is recorded."))
    return _back(pk, "rulings")


@login_required
@require_POST
def follow_up_close(request: HttpRequest, pk: int, item: int) -> HttpResponse:
    """The editorial office closes a follow-up item it is satisfied with."""
    user = request.user
    follow_up = _follow_up(request, pk, item)
    if not (user.is_superuser or permissions.is_editorial_officer(user)):
        raise PermissionDenied(_("Only the editorial office closes follow-up items."))
    try:
        followup_close(actor=user, follow_up=follow_up)
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
    else:
        messages.success(request, _("The follow-up item is closed."))
    return _back(pk, "rulings")
