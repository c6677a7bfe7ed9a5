"""The agency's side: the inbox of work orders, and the POSTs behind each order's buttons — accept, return
citing the list, answer a cooperating part, start, resolve.

Each POST finds the order among those of grievances the person may see (404 otherwise), asks whether they
act for its agency (403 otherwise), and lets the service decide the rest. The form comes back with its
errors on the page it was sent from: the inbox or the grievance page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from duty_lists.models import Duty
from grievances import selectors
from grievances.forms import AnswerForm, NoteForm, ResolveForm, ReturnForm, duties_in_force
from grievances.models import OrderRole, WorkOrder
from grievances.services import (
    grievance_progress,
    grievance_resolve,
    order_accept,
    order_answer,
    order_return,
)
from grievances.views.common import Clock, acts_for, fix_or_report, is_agency_staff, visible_order
from grievances.views.detail import render_detail
from grievances.views.work import LazyDuties, cooperators_by_round, order_view

PAGE_SIZE = 50


def render_inbox(
    request: HttpRequest, *, bound: dict[str, Form] | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    if not is_agency_staff(user):
        raise PermissionDenied(_("The inbox is for agency staff."))
    page = Paginator(selectors.inbox_of(user), PAGE_SIZE).get_page(request.GET.get("page"))
    orders = list(page.object_list)
    lead_rounds = {(o.grievance_id, o.round) for o in orders if o.role == OrderRole.LEAD}
    cooperators = cooperators_by_round(
        list(
            WorkOrder.objects.filter(
                grievance_id__in={g for g, _r in lead_rounds}, role=OrderRole.COOPERATING
            ).select_related("agency")
        )
        if lead_rounds
        else []
    )
    clock = Clock()
    duties = LazyDuties()
    views = [
        order_view(
            user,
            order,
            clock=clock,
            back="inbox",
            bound=bound or {},
            duties=duties,
            cooperators=(
                cooperators.get((order.grievance_id, order.round), [])
                if order.role == OrderRole.LEAD
                else None
            ),
        )
        for order in orders
    ]
    summonses = list(selectors.open_summonses_of(user))
    context = {
        "page": page,
        "orders": views,
        "overdue_count": sum(v.accept_overdue or v.deadline_countdown.is_overdue for v in views),
        "summonses": summonses,
        "now": clock.now,
    }
    return render(request, "grievances/inbox.html", context, status=status)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The open work orders of the person's agencies: accept by, deadline, and the steps they may take."""
    return render_inbox(request)


# --- The POSTs ----------------------------------------------------------------------------------------------


def _mine(request: HttpRequest, pk: int) -> WorkOrder:
    order = visible_order(request, pk)
    if not acts_for(request.user, order.agency_id):
        raise PermissionDenied(_("Only the agency the order was sent to acts on it."))
    return order


def _pages(
    request: HttpRequest, order: WorkOrder, key: str, form: Form
) -> tuple[Callable[[int], HttpResponse], str]:
    """How to show the form again with its errors, and where to go afterwards: the page it came from."""
    back = request.POST.get("back", "detail")
    if back == "inbox":
        url = reverse("grievances:inbox") + f"#order-{order.pk}"
        return (lambda status: render_inbox(request, bound={key: form}, status=status)), url
    url = reverse("grievances:detail", kwargs={"pk": order.grievance_id}) + f"#order-{order.pk}"
    return (lambda status: render_detail(request, order.grievance_id, bound={key: form}, status=status)), url


@login_required
@require_POST
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    order = _mine(request, pk)
    form = NoteForm(request.POST, auto_id=f"id_accept_{pk}_%s")
    again, back = _pages(request, order, f"accept:{pk}", form)
    note = form.cleaned_data["note"].strip() if form.is_valid() else ""
    try:
        order_accept(actor=request.user, order=order, note=note)
    except ApplicationError as error:
        return fix_or_report(request, error, form, again, back)
    messages.success(request, _("Grievance %(ref)s is accepted by %(agency)s.") % _names(order))
    return redirect(back)


@login_required
@require_POST
def return_order(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Not ours": cite the duty that names the responsible agency, or declare the matter unlisted."""
    order = _mine(request, pk)
    form = ReturnForm(request.POST, duties=duties_in_force(), auto_id=f"id_return_{pk}_%s")
    again, back = _pages(request, order, f"return:{pk}", form)
    if not form.is_valid():
        return again(400)
    data = form.cleaned_data
    try:
        order_return(
            actor=request.user,
            order=order,
            reason=data["reason"],
            cited_duty=Duty.objects.filter(pk=data["cited_duty"]).first() if data["cited_duty"] else None,
            unlisted=data["unlisted"],
        )
    except ApplicationError as error:
        return fix_or_report(request, error, form, again, back)
    messages.success(
        request, _("Grievance %(ref)s is returned to the dispatchers.") % {"ref": order.grievance.reference}
    )
    return redirect(back)


@login_required
@require_POST
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    """A cooperating agency reports its part done."""
    order = _mine(request, pk)
    form = AnswerForm(request.POST, auto_id=f"id_answer_{pk}_%s")
    again, back = _pages(request, order, f"answer:{pk}", form)
    text = form.cleaned_data["answer"] if form.is_valid() else ""
    try:
        order_answer(actor=request.user, order=order, answer=text)
    except ApplicationError as error:
        return fix_or_report(request, error, form, again, back)
    messages.success(
        request, _("Your agency's part of %(ref)s is reported.") % {"ref": order.grievance.reference}
    )
    return redirect(back)


@login_required
@require_POST
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    order = _mine(request, pk)
    form = NoteForm(request.POST, auto_id=f"id_progress_{order.grievance_id}_%s")
    again, back = _pages(request, order, f"progress:{order.grievance_id}", form)
    note = form.cleaned_data["note"].strip() if form.is_valid() else ""
    try:
        grievance_progress(actor=request.user, grievance=order.grievance, note=note)
    except ApplicationError as error:
        return fix_or_report(request, error, form, again, back)
    messages.success(request, _("Grievance %(ref)s is in progress.") % {"ref": order.grievance.reference})
    return redirect(back)


@login_required
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """The lead agency reports the grievance resolved; refused while a cooperating agency has not
    answered its part."""
    order = _mine(request, pk)
    if order.role != OrderRole.LEAD or order.grievance.handling_agency_id != order.agency_id:
        raise PermissionDenied(_("Only the lead agency resolves the grievance."))
    key = f"resolve:{order.grievance_id}"
    form = ResolveForm(request.POST, auto_id=f"id_resolve_{order.grievance_id}_%s")
    again, back = _pages(request, order, key, form)
    resolution = form.cleaned_data["resolution"] if form.is_valid() else ""
    try:
        grievance_resolve(actor=request.user, grievance=order.grievance, resolution=resolution)
    except ApplicationError as error:
        return fix_or_report(request, error, form, again, back)
    messages.success(
        request,
        _("Grievance %(ref)s is resolved; the citizen is asked for feedback.")
        % {"ref": order.grievance.reference},
    )
    return redirect(back)


def _names(order: WorkOrder) -> dict[str, Any]:
    return {"ref": order.grievance.reference, "agency": order.agency.name}
