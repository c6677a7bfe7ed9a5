"""Whistles (吹哨报到): a street summons departments to a matter; each must report within minutes. The list,
the street's form, a whistle's page with each summons' report-by time, and the department's report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.views.common import refuse_if_forbidden
from core.errors import ApplicationError
from duty_lists import permissions
from duty_lists.models import AgencyLevel
from grievances import selectors
from grievances.forms import SummonsReportForm, WhistleForm
from grievances.models import Summons, Whistle
from grievances.services import summons_report, whistle_blow
from grievances.views.common import active_agencies, acts_for, put_errors, show_refusal, street_agencies_of

PAGE_SIZE = 50


@dataclass
class SummonsView:
    summons: Summons
    status: str  # on_time, late, waiting, overdue
    report_form: SummonsReportForm | None = None


def summons_status(summons: Summons, now: Any) -> str:
    if summons.reported_at is not None:
        return "late" if summons.is_late else "on_time"
    return "overdue" if summons.due_at < now else "waiting"


def _may_see_whistles(user: Any) -> bool:
    return bool(selectors.sees_everything(user) or permissions.agencies_of(user))


@login_required
def whistle_list(request: HttpRequest) -> HttpResponse:
    """The whistles of the person's street, those summoning their department, or all for oversight."""
    user = request.user
    if not _may_see_whistles(user):
        raise PermissionDenied(_("Whistles are for streets, the departments they summon, and oversight."))
    page = Paginator(selectors.whistles_visible_to(user), PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(w, [(s, summons_status(s, now)) for s in w.summonses.all()]) for w in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "may_blow": bool(street_agencies_of(user)),
        "summonses": list(selectors.open_summonses_of(user)),
    }
    return render(request, "grievances/whistle_list.html", context)


@login_required
def whistle_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    streets = street_agencies_of(user)
    if not streets:
        raise PermissionDenied(_("Only a street's staff blow its whistle."))
    departments = [a for a in active_agencies() if a.level not in (AgencyLevel.STREET, AgencyLevel.COMMUNITY)]
    form = WhistleForm(
        request.POST if request.method == "POST" else None, streets=streets, agencies=departments
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            whistle = whistle_blow(
                actor=user,
                street=data["street_obj"],
                title=data["title"],
                agencies=data["agency_objs"],
                description=data["description"],
                address=data["address"],
            )
        except ApplicationError as error:
            show_refusal(form, error)
        else:
            due = whistle.summonses.values_list("due_at", flat=True).first()
            messages.success(
                request,
                _("The whistle is blown: the summoned departments must report by %(time)s.")
                % {"time": f"{timezone.localtime(due):%H:%M}" if due else "—"},
            )
            return redirect("grievances:whistle_detail", pk=whistle.pk)
    status = 400 if form.errors else 200
    return render(request, "grievances/whistle_new.html", {"form": form}, status=status)


def _visible_whistle(request: HttpRequest, pk: int) -> Whistle:
    whistle = selectors.whistles_visible_to(request.user).filter(pk=pk).first()
    if whistle is None:
        raise Http404("no such whistle")
    return whistle


def render_whistle(
    request: HttpRequest, pk: int, *, bound: dict[int, SummonsReportForm] | None = None, status: int = 200
) -> HttpResponse:
    whistle = _visible_whistle(request, pk)
    now = timezone.now()
    views = []
    for summons in whistle.summonses.all():
        view = SummonsView(summons, summons_status(summons, now))
        if summons.reported_at is None and acts_for(request.user, summons.agency_id):
            view.report_form = (bound or {}).get(summons.pk) or SummonsReportForm(
                auto_id=f"id_report_{summons.pk}_%s"
            )
        views.append(view)
    context = {
        "whistle": whistle,
        "summonses": views,
        "reported": sum(1 for v in views if v.summons.reported_at is not None),
    }
    return render(request, "grievances/whistle_detail.html", context, status=status)


@login_required
def whistle_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_whistle(request, pk)


@login_required
@require_POST
def report(request: HttpRequest, pk: int, summons_id: int) -> HttpResponse:
    """报到: the summoned department reports. Late is recorded as late, not refused."""
    whistle = _visible_whistle(request, pk)
    summons = Summons.objects.filter(pk=summons_id, whistle=whistle).select_related("agency").first()
    if summons is None:
        raise Http404("no such summons")
    if not acts_for(request.user, summons.agency_id):
        raise PermissionDenied(_("Only the summoned department reports."))
    form = SummonsReportForm(request.POST, auto_id=f"id_report_{summons.pk}_%s")
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        done = summons_report(actor=request.user, summons=summons, note=note)
    except ApplicationError as error:
        refuse_if_forbidden(error)
        if put_errors(form, error):
            return render_whistle(request, pk, bound={summons.pk: form}, status=400)
        messages.error(request, error.message)
    else:
        if done.is_late:
            messages.warning(request, _("%(agency)s has reported, late.") % {"agency": summons.agency.name})
        else:
            messages.success(request, _("%(agency)s has reported.") % {"agency": summons.agency.name})
    return redirect(reverse("grievances:whistle_detail", kwargs={"pk": pk}) + "#summonses")
