"""The hotline dispatchers' pages: the intake form, the queue of what nobody handles yet, and the POSTs
behind the grievance page's dispatcher buttons (dispatch, route again, cancel, feedback, close)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.views.common import Countdown, refuse_if_forbidden
from arbitration.views.paging import ListPaginator
from core.errors import ApplicationError
from duty_lists.models import Agency, AgencyLevel, Duty
from grievances import routing, selectors
from grievances.forms import (
    DispatchForm,
    FeedbackForm,
    IntakeForm,
    PublishForm,
    QuickDispatchForm,
    ReasonForm,
    duties_in_force,
)
from grievances.models import (
    Channel,
    Grievance,
    GrievanceKind,
    GrievanceState,
    GrievanceUrgency,
    OrderState,
    WorkOrder,
)
from grievances.services import (
    grievance_cancel,
    grievance_close,
    grievance_dispatch,
    grievance_feedback,
    grievance_publish,
    grievance_receive,
    grievance_route,
    grievance_unpublish,
)
from grievances.views.common import (
    Clock,
    active_agencies,
    fix_or_report,
    require_dispatcher,
    returned_agency_ids,
    show_refusal,
    visible_grievance,
)
from grievances.views.detail import SuggestionView, render_detail, suggestion_views

PAGE_SIZE = 50


def _detail_url(grievance: Grievance | int, anchor: str = "") -> str:
    pk = grievance.pk if isinstance(grievance, Grievance) else grievance
    return reverse("grievances:detail", kwargs={"pk": pk}) + (f"#{anchor}" if anchor else "")


# --- Intake ------------------------------------------------------------------------------------------------


@login_required
def intake(request: HttpRequest) -> HttpResponse:
    """Record what a citizen asks. The router suggests whose it is; when it is sure enough the grievance is
    dispatched at once, else it waits in the queue with its suggestions."""
    user = request.user
    require_dispatcher(user)
    streets = Agency.objects.filter(level=AgencyLevel.STREET, is_active=True).order_by("code")
    form = IntakeForm(request.POST if request.method == "POST" else None, streets=streets)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            grievance, created = grievance_receive(
                actor=user,
                title=data["title"],
                details=data["details"],
                channel=data["channel"],
                kind=data["kind"],
                urgency=data["urgency"],
                street=data["street_obj"],
                address=data["address"],
                contact_name=data["contact_name"],
                contact_phone=data["contact_phone"],
                idempotency_key=data["idempotency_key"],
            )
        except ApplicationError as error:
            show_refusal(form, error)
        else:
            _announce_intake(request, grievance, created)
            return redirect(_detail_url(grievance))
    return render(request, "grievances/intake.html", {"form": form}, status=400 if form.errors else 200)


def _announce_intake(request: HttpRequest, grievance: Grievance, created: bool) -> None:
    if not created:
        messages.info(
            request,
            _("This form was already sent: here is grievance %(ref)s.") % {"ref": grievance.reference},
        )
    elif grievance.state == GrievanceState.DISPATCHED and grievance.handling_agency is not None:
        messages.success(
            request,
            _("Grievance %(ref)s is recorded and was dispatched automatically to %(agency)s.")
            % {"ref": grievance.reference, "agency": grievance.handling_agency.name},
        )
    else:
        messages.success(
            request,
            _("Grievance %(ref)s is recorded. Choose whom to dispatch it to.") % {"ref": grievance.reference},
        )


# --- The queue ----------------------------------------------------------------------------------------------


@dataclass
class QueueRow:
    """One grievance of the queue, with what its entry shows already worked out (fifty a page; a template
    resolving each label, link and date itself costs more than the queries: see bench/lists.py)."""

    grievance: Grievance
    countdown: Countdown
    top: SuggestionView | None
    others: int
    returns: list[WorkOrder] = field(default_factory=list)
    url: str = ""
    state_label: str = ""
    urgent_label: str = ""  # the urgency's label, when urgent
    meta: str = ""  # reference · channel · kind · street
    deadline_iso: str = ""
    deadline_text: str = ""


class _Labels:
    """The labels of the queue's coded fields, worked out once per page (``get_FOO_display`` rebuilds its
    choices and translates on every call: three of them for each of fifty rows cost more than the page's
    queries)."""

    def __init__(self) -> None:
        coded = {
            "state": GrievanceState,
            "channel": Channel,
            "kind": GrievanceKind,
            "urgency": GrievanceUrgency,
        }
        self.of = {
            name: {value: str(label) for value, label in codes.choices} for name, codes in coded.items()
        }

    def __call__(self, grievance: Grievance, name: str) -> str:
        value = getattr(grievance, name)
        return self.of[name].get(value, str(value))


def _queue_row(
    grievance: Grievance, clock: Clock, labels: _Labels, top: SuggestionView | None, others: int
) -> QueueRow:
    countdown = clock.of(grievance.deadline_at)
    at = timezone.localtime(countdown.at) if countdown.at else None
    street = grievance.street
    meta = [grievance.reference, labels(grievance, "channel"), labels(grievance, "kind")]
    return QueueRow(
        grievance=grievance,
        countdown=countdown,
        top=top,
        others=others,
        returns=getattr(grievance, "returns", []),
        url=_detail_url(grievance),
        state_label=labels(grievance, "state"),
        urgent_label=labels(grievance, "urgency") if grievance.urgency == GrievanceUrgency.URGENT else "",
        meta=" · ".join(meta + ([street.name] if street else [])),
        deadline_iso=at.isoformat() if at else "",
        deadline_text=at.strftime("%Y-%m-%d %H:%M") if at else "",
    )


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Received, returned and reopened grievances, the soonest deadline first, each with the router's top
    suggestion and a one-click dispatch of it."""
    require_dispatcher(request.user)
    returned = (
        WorkOrder.objects.filter(state=OrderState.RETURNED)
        .select_related("agency", "cited_duty", "cited_agency")
        .order_by("-returned_at")
    )
    grievances = selectors.dispatch_queue().prefetch_related(
        Prefetch("orders", queryset=returned, to_attr="returns")
    )
    page = ListPaginator(grievances, PAGE_SIZE).get_page(request.GET.get("page"))
    clock, labels = Clock(), _Labels()
    rows = []
    for grievance in page.object_list:
        sent_back = {order.agency_id for order in getattr(grievance, "returns", [])}
        # Only the top suggestion is shown, so only it gets a one-click form (fifty rows of three forms
        # each would cost the page more than its queries).
        suggestions = suggestion_views(grievance, dispatchable=False, back="queue", returned=sent_back)
        # The one-click choice is the best suggestion that did not already send it back.
        top = next(
            (s for s in suggestions if s.data.get("agency_id") and s.data["agency_id"] not in sent_back), None
        )
        if top is not None:
            top.quick_form = QuickDispatchForm(
                initial={"agency": top.data["agency_id"], "duty": top.data.get("duty_id"), "back": "queue"}
            )
        elif suggestions:
            top = suggestions[0]
        rows.append(_queue_row(grievance, clock, labels, top, max(len(suggestions) - 1, 0)))
    context = {
        "page": page,
        "rows": rows,
        "overdue_count": sum(r.countdown.is_overdue for r in rows),
        "router": routing.status(),
    }
    return render(request, "grievances/queue.html", context)


# --- The dispatcher's steps on one grievance ----------------------------------------------------------------


def _back(grievance: Grievance, back: str) -> str:
    return reverse("grievances:queue") if back == "queue" else _detail_url(grievance)


@login_required
@require_POST
def dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the grievance to a lead agency: a suggestion's one-click button (``quick``), or the form on the
    grievance page with any agency, duty and cooperating agencies."""
    user = request.user
    grievance = visible_grievance(request, pk)
    require_dispatcher(user)
    if "quick" in request.POST:
        return _quick_dispatch(request, grievance)
    form = DispatchForm(
        request.POST, agencies=active_agencies(), duties=duties_in_force(), auto_id="id_dispatch_%s"
    )

    def again(status: int) -> HttpResponse:
        return render_detail(request, pk, bound={"dispatch": form}, status=status)

    if not form.is_valid():
        return again(400)
    data = form.cleaned_data
    try:
        grievance = grievance_dispatch(
            actor=user,
            grievance=grievance,
            agency=data["agency_obj"],
            duty=Duty.objects.filter(pk=data["duty"]).first() if data["duty"] else None,
            cooperating=data["cooperating_objs"],
            note=data["note"].strip(),
        )
    except ApplicationError as error:
        return fix_or_report(request, error, form, again, _detail_url(pk))
    _dispatched(request, grievance)
    return redirect(_detail_url(grievance))


def _quick_dispatch(request: HttpRequest, grievance: Grievance) -> HttpResponse:
    form = QuickDispatchForm(request.POST)
    back = request.POST.get("back", "detail")
    agency = duty = None
    if form.is_valid():
        agency = Agency.objects.filter(pk=form.cleaned_data["agency"]).first()
        duty_id = form.cleaned_data["duty"]
        duty = Duty.objects.filter(pk=duty_id).first() if duty_id else None
    if agency is None:
        messages.error(request, _("That suggestion is no longer valid: route the grievance again."))
        return redirect(_back(grievance, back))
    if agency.pk in returned_agency_ids(grievance):
        # The queue never offers this button; a stale page or a forged post must not resend it either.
        messages.error(
            request,
            _("%(agency)s returned this grievance: to send it back there, use the dispatch form.")
            % {"agency": agency.name},
        )
        return redirect(_detail_url(grievance, "dispatch"))
    try:
        grievance = grievance_dispatch(actor=request.user, grievance=grievance, agency=agency, duty=duty)
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
    else:
        _dispatched(request, grievance)
    return redirect(_back(grievance, back))


def _dispatched(request: HttpRequest, grievance: Grievance) -> None:
    messages.success(
        request,
        _("Grievance %(ref)s is dispatched to %(agency)s.")
        % {
            "ref": grievance.reference,
            "agency": grievance.handling_agency.name if grievance.handling_agency else "—",
        },
    )


@login_required
@require_POST
def route(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the router again (after the list changed, or to see fresh suggestions). Nothing is dispatched:
    the page shows the new suggestion and the dispatcher confirms it with its button."""
    grievance = visible_grievance(request, pk)
    require_dispatcher(request.user)
    try:
        grievance = grievance_route(actor=request.user, grievance=grievance)
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
        return redirect(_detail_url(grievance, "suggestions"))
    top = next((s for s in grievance.suggestions if isinstance(s, dict) and s.get("agency_id")), None)
    if top is None:
        messages.warning(request, _("The list in force suggests no agency: choose one in the dispatch form."))
        return redirect(_detail_url(grievance, "dispatch"))
    messages.info(
        request,
        _("The list in force now suggests %(agency)s (%(code)s). Nothing was dispatched: confirm below.")
        % {"agency": top.get("agency_name") or "—", "code": top.get("duty_code") or "—"},
    )
    return redirect(reverse("grievances:detail", kwargs={"pk": grievance.pk}) + "?rematched=1#suggestions")


@login_required
@require_POST
def feedback(request: HttpRequest, pk: int) -> HttpResponse:
    """The citizen's rating, taken on the phone by a dispatcher."""
    grievance = visible_grievance(request, pk)
    require_dispatcher(request.user)
    form = FeedbackForm(request.POST, auto_id="id_feedback_%s")

    def again(status: int) -> HttpResponse:
        return render_detail(request, pk, bound={"feedback": form}, status=status)

    if not form.is_valid():
        return again(400)
    data = form.cleaned_data
    try:
        given = grievance_feedback(
            actor=request.user,
            grievance=grievance,
            rating=data["rating"],
            comment=data["comment"],
            reopen=data["reopen"],
            via="dispatcher",
        )
    except ApplicationError as error:
        return fix_or_report(request, error, form, again, _detail_url(pk))
    if given.reopened:
        messages.success(request, _("The grievance is reopened and back in the queue."))
    else:
        messages.success(request, _("The rating is recorded and the grievance is closed."))
    return redirect(_detail_url(pk))


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """A duplicate, or a call that was no grievance: open orders are withdrawn."""
    return _reason_step(request, pk, "cancel", grievance_cancel, _("Grievance %(ref)s is cancelled."))


@login_required
@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a resolved grievance whose citizen could not be reached for feedback."""
    return _reason_step(request, pk, "close", grievance_close, _("Grievance %(ref)s is closed."))


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Publish the grievance on Open311 with the text and address the dispatcher reviewed."""
    grievance = visible_grievance(request, pk)
    require_dispatcher(request.user)
    form = PublishForm(request.POST, auto_id="id_publish_%s")
    values = form.cleaned_data if form.is_valid() else {"description": "", "address": ""}
    try:
        grievance_publish(
            actor=request.user,
            grievance=grievance,
            description=values["description"],
            address=values["address"],
        )
    except ApplicationError as error:
        return fix_or_report(
            request,
            error,
            form,
            lambda status: render_detail(request, pk, bound={"publish": form}, status=status),
            _detail_url(pk),
        )
    messages.success(request, _("Grievance %(ref)s is public on Open311.") % {"ref": grievance.reference})
    return redirect(f"{_detail_url(pk)}#publication")


@login_required
@require_POST
def unpublish(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw the grievance from Open311."""
    return _reason_step(
        request, pk, "unpublish", grievance_unpublish, _("Grievance %(ref)s is no longer public.")
    )


def _reason_step(
    request: HttpRequest, pk: int, name: str, service: Callable[..., object], done: str
) -> HttpResponse:
    """A dispatcher's step that needs only a reason. An empty reason goes to the service, which refuses it
    with the message the page shows beside the field."""
    grievance = visible_grievance(request, pk)
    require_dispatcher(request.user)
    form = ReasonForm(request.POST, auto_id=f"id_{name}_%s")
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        service(actor=request.user, grievance=grievance, reason=reason)
    except ApplicationError as error:
        return fix_or_report(
            request,
            error,
            form,
            lambda status: render_detail(request, pk, bound={name: form}, status=status),
            _detail_url(pk),
        )
    messages.success(request, done % {"ref": grievance.reference})
    return redirect(_detail_url(pk))
