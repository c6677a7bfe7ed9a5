"""Two-way dispatch (双向派单): the handovers a street and a district agency send each other. The list of what
the person's agencies sent and received, the form that reports a matter, and a handover's page with its
timeline and the steps of the receiving agency: complete the handover, report back done, or — a street
given a matter too complex for it — hand it back up. Every write goes through ``grievances.services``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, Q, QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from arbitration.views.common import Countdown
from core.errors import ApplicationError
from duty_lists import permissions
from duty_lists.models import Agency
from grievances import selectors
from grievances.forms import (
    HandoverBackUpForm,
    HandoverCompleteForm,
    HandoverForm,
    HandoverReportBackForm,
    duties_in_force,
)
from grievances.models import Handover, HandoverDirection, HandoverState
from grievances.services import handover_complete, handover_report, handover_report_back
from grievances.views.common import (
    Clock,
    active_agencies,
    acts_for,
    fix_or_report,
    is_dispatcher,
    show_refusal,
)

PAGE_SIZE = 50
BOXES = ("received", "sent")
OPEN_STATES = (HandoverState.REPORTED, HandoverState.COMPLETED)


@dataclass
class HandoverView:
    """A handover with what the pages say about its deadlines."""

    handover: Handover
    countdown: Countdown  # to the handover due, while it waits to be taken over

    @property
    def reported_late(self) -> bool:
        return self.handover.reported_late

    @property
    def handed_over_late(self) -> bool:
        """Flagged by the sweep, overdue now (the sweep may not have run yet), or taken over after its due."""
        h = self.handover
        if h.late_flagged_at is not None or self.countdown.is_overdue:
            return True
        return h.completed_at is not None and h.completed_at > h.handover_due

    @property
    def is_late(self) -> bool:
        return self.reported_late or self.handed_over_late


def view_of(handover: Handover, clock: Clock) -> HandoverView:
    return HandoverView(
        handover, clock.of(handover.handover_due, running=handover.state == HandoverState.REPORTED)
    )


def _own_agencies(user: Any) -> list[Agency]:
    """The agencies this person hands matters over for (a superuser: any)."""
    agencies = Agency.objects.filter(is_active=True).order_by("code")
    if user.is_superuser:
        return list(agencies)
    return list(agencies.filter(pk__in=permissions.agencies_of(user)))


def _may_see_handovers(user: Any) -> bool:
    return bool(selectors.sees_everything(user) or permissions.agencies_of(user))


# --- The list -----------------------------------------------------------------------------------------------


def _filtered(user: Any, box: str, state: str) -> QuerySet[Handover]:
    handovers = selectors.handovers_visible_to(user)
    own = permissions.agencies_of(user)
    if box == "received":
        handovers = handovers.filter(to_agency_id__in=own)
    elif box == "sent":
        handovers = handovers.filter(from_agency_id__in=own)
    if state == "late":
        # Late either way: reported after the day it was found, or not taken over in 3 working days.
        now = timezone.now()
        handovers = handovers.filter(
            Q(reported_at__gt=F("report_due"))
            | Q(late_flagged_at__isnull=False)
            | Q(state=HandoverState.REPORTED, handover_due__lt=now)
            | Q(completed_at__gt=F("handover_due"))
        )
    elif state in HandoverState.values:
        handovers = handovers.filter(state=state)
    return handovers.order_by("-reported_at", "-pk")  # newest first, stable across pages


@login_required
def handover_list(request: HttpRequest) -> HttpResponse:
    """What the person's agencies handed over and were handed, newest first; oversight sees all."""
    user = request.user
    if not _may_see_handovers(user):
        raise PermissionDenied(_("Handovers are for streets, district agencies and oversight."))
    box = request.GET.get("box", "")
    box = box if box in BOXES else ""
    state = request.GET.get("state", "")
    state = state if state in HandoverState.values or state == "late" else ""
    page = Paginator(_filtered(user, box, state), PAGE_SIZE).get_page(request.GET.get("page"))
    clock = Clock()
    own = permissions.agencies_of(user)
    context = {
        "page": page,
        "rows": [view_of(h, clock) for h in page.object_list],
        "box": box,
        "state": state,
        "states": HandoverState.choices,
        "has_boxes": bool(own),
        "own": own,
        "awaiting": selectors.handovers_awaiting(user).count() if own else 0,
        "may_report": bool(user.is_superuser or own),
        "show_tabs": is_dispatcher(user),
    }
    return render(request, "grievances/handover_list.html", context)


# --- Reporting a handover -----------------------------------------------------------------------------------


@login_required
def handover_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    own = _own_agencies(user)
    if not own:
        raise PermissionDenied(_("Only the staff of a street or an agency hand matters over."))
    initial = {"grievance": request.GET.get("grievance", "")}
    form = HandoverForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        own=own,
        agencies=active_agencies(),
        duties=duties_in_force(),
        grievances=selectors.grievances_visible_to(user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            handover = handover_report(
                actor=user,
                direction=data["direction"],
                from_agency=data["from_agency_obj"],
                to_agency=data["to_agency_obj"],
                matter=data["matter"],
                found_at=data["found_at"],
                grievance=data["grievance"],
                duty=data["duty"],
            )
        except ApplicationError as error:
            show_refusal(form, error)
        else:
            messages.success(
                request,
                _("Handed over to %(agency)s: it must complete the handover by %(time)s.")
                % {
                    "agency": handover.to_agency.name,
                    "time": f"{timezone.localtime(handover.handover_due):%Y-%m-%d}",
                },
            )
            if handover.reported_late:
                messages.warning(request, _("Reported late: a matter is reported the same day it is found."))
            return redirect("grievances:handover_detail", pk=handover.pk)
    status = 400 if form.errors else 200
    return render(request, "grievances/handover_new.html", {"form": form}, status=status)


# --- A handover's page and its steps ------------------------------------------------------------------------


def _visible_handover(request: HttpRequest, pk: int) -> Handover:
    """The handover if this person may see it; else 404 (not 403: the URL must not confirm it exists)."""
    handover = selectors.handovers_visible_to(request.user).select_related("grievance").filter(pk=pk).first()
    if handover is None:
        raise Http404("no such handover")
    return handover


@dataclass
class Steps:
    """The receiving agency's forms, each only when the service would allow the step now."""

    complete: Form | None = None
    report_back: Form | None = None
    back_up: Form | None = None

    def any(self) -> bool:
        return any((self.complete, self.report_back, self.back_up))


def _steps(user: Any, handover: Handover, bound: dict[str, Form]) -> Steps:
    steps = Steps()
    if not acts_for(user, handover.to_agency_id) or handover.state not in OPEN_STATES:
        return steps
    pk = handover.pk
    if handover.state == HandoverState.REPORTED:
        steps.complete = bound.get("complete") or HandoverCompleteForm(auto_id=f"id_complete_{pk}_%s")
    steps.report_back = bound.get("report_back") or HandoverReportBackForm(auto_id=f"id_report_back_{pk}_%s")
    if handover.direction == HandoverDirection.DOWN:
        steps.back_up = bound.get("back_up") or HandoverBackUpForm(
            initial={"matter": handover.matter}, auto_id=f"id_back_up_{pk}_%s"
        )
    return steps


@dataclass
class Moment:
    """One line of the timeline: what happened (or is due) when, and whether it was late."""

    label: str
    at: datetime | None
    due: datetime | None = None
    late: bool = False
    text: str = ""
    tone: str = "done"  # done, due, refused


def _timeline(view: HandoverView) -> list[Moment]:
    h = view.handover
    moments = [
        Moment(_("Found"), h.found_at),
        Moment(pgettext("handover", "Reported"), h.reported_at, due=h.report_due, late=view.reported_late),
    ]
    if h.completed_at is not None:
        moments.append(
            Moment(_("Handover completed"), h.completed_at, due=h.handover_due, late=view.handed_over_late)
        )
    elif h.state == HandoverState.REPORTED:
        moments.append(
            Moment(_("Handover due"), None, due=h.handover_due, late=view.handed_over_late, tone="due")
        )
    if h.done_at is not None:
        moments.append(Moment(_("Done and reported back"), h.done_at, text=h.report_back))
    if h.state == HandoverState.REFUSED:
        moments.append(Moment(_("Refused"), None, text=h.report_back, tone="refused"))
    return moments


def render_handover(
    request: HttpRequest, pk: int, *, bound: dict[str, Form] | None = None, status: int = 200
) -> HttpResponse:
    handover = _visible_handover(request, pk)
    view = view_of(handover, Clock())
    grievance = None
    if handover.grievance_id is not None:
        # Linked, but shown only to those who see the grievance itself.
        grievance = selectors.grievances_visible_to(request.user).filter(pk=handover.grievance_id).first()
    context = {
        "handover": handover,
        "view": view,
        "timeline": _timeline(view),
        "steps": _steps(request.user, handover, bound or {}),
        "grievance": grievance,
        # Between the same two agencies as this one, so visible to whoever sees this one.
        "came_down_as": handover.parent,
        "handed_back_as": handover.back_ups.first(),
    }
    return render(request, "grievances/handover_detail.html", context, status=status)


@login_required
def handover_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_handover(request, pk)


def _step(
    request: HttpRequest,
    pk: int,
    name: str,
    form_class: type[Form],
    perform: Callable[[Handover, dict[str, Any]], tuple[str, int]],
) -> HttpResponse:
    """One POST step of the receiving agency: 404 when the handover is not visible, 403 when the person
    does not act for the receiving agency, the service's refusals back on the form or as a message (a
    handover settled meanwhile). ``perform`` says what was done and which handover's page to go to."""
    handover = _visible_handover(request, pk)
    if not acts_for(request.user, handover.to_agency_id):
        raise PermissionDenied(_("Only the receiving agency takes this step."))
    form = form_class(request.POST, auto_id=f"id_{name}_{pk}_%s")
    if not form.is_valid():
        return render_handover(request, pk, bound={name: form}, status=400)
    try:
        done, go_to = perform(handover, form.cleaned_data)
    except ApplicationError as error:
        return fix_or_report(
            request,
            error,
            form,
            lambda status: render_handover(request, pk, bound={name: form}, status=status),
            reverse("grievances:handover_detail", kwargs={"pk": pk}),
        )
    messages.success(request, done)
    return redirect("grievances:handover_detail", pk=go_to)


@login_required
@require_POST
def complete(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(handover: Handover, data: dict[str, Any]) -> tuple[str, int]:
        handover_complete(actor=request.user, handover=handover, note=data["note"])
        return _("The handover is completed: the matter is your agency's now."), handover.pk

    return _step(request, pk, "complete", HandoverCompleteForm, perform)


@login_required
@require_POST
def report_back(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(handover: Handover, data: dict[str, Any]) -> tuple[str, int]:
        handover_report_back(actor=request.user, handover=handover, report=data["report"])
        return _("Reported back as done to %(agency)s.") % {"agency": handover.from_agency.name}, handover.pk

    return _step(request, pk, "report_back", HandoverReportBackForm, perform)


@login_required
@require_POST
def back_up(request: HttpRequest, pk: int) -> HttpResponse:
    """A street returns a matter that came down as too complex: a new handover up to the agency that passed
    it down (its page is where the street goes next); the one that came down is closed as refused."""

    def perform(handover: Handover, data: dict[str, Any]) -> tuple[str, int]:
        up = handover_report(
            actor=request.user,
            direction=HandoverDirection.BACK_UP,
            from_agency=handover.to_agency,
            to_agency=handover.from_agency,
            matter=data["matter"],
            grievance=handover.grievance,
            duty=handover.duty,
            parent=handover,
        )
        return _("Handed back up to %(agency)s as too complex.") % {
            "agency": handover.from_agency.name
        }, up.pk

    return _step(request, pk, "back_up", HandoverBackUpForm, perform)
