"""The editorial office's intelligence pages (issue 10): the gap finder and the what-if replay of a draft
amendment. Both run as core.jobs in a Celery worker; the page shows the last run and follows a new one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.views.common import refuse_if_forbidden
from core import jobs
from core.errors import ApplicationError
from core.models import Job
from duty_lists import permissions
from duty_lists.models import Amendment, AmendmentState
from grievances.services.gaps import gap_cluster_file

GAP_DAYS = (30, 90, 180, 365)
REPLAY_MONTHS = range(1, 25)
OPEN_AMENDMENT_STATES = (
    AmendmentState.DRAFT,
    AmendmentState.LEGAL_REVIEW,
    AmendmentState.JOINT_REVIEW,
    AmendmentState.RETURNED,
)


def is_office(user: Any) -> bool:
    return permissions.acts_for_office(user)


def _require_office(user: Any) -> None:
    if not is_office(user):
        raise PermissionDenied(_("These pages are for the editorial office."))


def _bounded(value: str | None, allowed: Any, default: int) -> tuple[int, str]:
    """A whole number from the allowed ones, or the default and a message saying why."""
    if value in (None, ""):
        return default, ""
    try:
        number = int(value)
    except ValueError:
        return default, _("“%(v)s” is not a number.") % {"v": value}
    if number not in allowed:
        return default, _("%(v)s is not one of the choices.") % {"v": number}
    return number, ""


@login_required
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What a page polls while its job runs."""
    job = Job.objects.filter(pk=pk).first()
    if job is None or not jobs.may_see(request.user, job):
        raise Http404
    return JsonResponse(
        {"running": job.is_running, "state": job.state, "progress": job.progress, "stage": job.stage}
    )


# --- Gap finder ---------------------------------------------------------------------------------------------


@login_required
def gaps(request: HttpRequest) -> HttpResponse:
    _require_office(request.user)
    if request.method == "POST":
        days, problem = _bounded(request.POST.get("days"), GAP_DAYS, 90)
        if problem:
            messages.error(request, problem)
        else:
            jobs.job_start(actor=request.user, kind="grievances.gaps", params={"days": days})
        return redirect("grievances:gaps")
    job = jobs.latest("grievances.gaps")
    clusters = []
    for n, cluster in enumerate((job.result or {}).get("clusters", []) if job else []):
        closest = cluster.get("closest_duties") or []
        # "Draft an amendment" starts a new duty beside the closest one, in its list and classification.
        start = (
            urlencode(
                {
                    "list": closest[0]["list"],
                    "kind": "add",
                    "classification": closest[0]["code"].rsplit("-", 1)[0],
                }
            )
            if closest and closest[0].get("list")
            else ""
        )
        clusters.append(
            {
                **cluster,
                "n": n,
                "peak": max(cluster.get("weekly") or [0]) or 1,
                "amendment_url": f"{reverse('duty_lists:amendment_new')}?{start}".rstrip("?"),
            }
        )
    context = {"job": job, "clusters": clusters, "days_choices": GAP_DAYS}
    return render(request, "grievances/gaps.html", context)


@login_required
@require_POST
def gap_file(request: HttpRequest) -> HttpResponse:
    _require_office(request.user)
    try:
        ids = [int(i) for i in request.POST.getlist("grievance")]
    except ValueError:
        ids = []
    try:
        dispute = gap_cluster_file(
            actor=request.user,
            grievance_ids=ids,
            kind=request.POST.get("kind", "gap"),
            words=request.POST.get("words", "")[:60],
        )
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
        return redirect("grievances:gaps")
    messages.success(
        request, _("Dispute #%(id)d is filed with the cluster as evidence.") % {"id": dispute.pk}
    )
    return redirect("arbitration:dispute_detail", pk=dispute.pk)


# --- What-if replay -----------------------------------------------------------------------------------------


@login_required
def replay(request: HttpRequest, amendment_id: int) -> HttpResponse:
    _require_office(request.user)
    amendment = get_object_or_404(
        Amendment.objects.select_related("duty_list", "duty", "proposing_agency"), pk=amendment_id
    )
    target = f"duty_lists.amendment:{amendment.pk}"
    if request.method == "POST":
        months, problem = _bounded(request.POST.get("months"), REPLAY_MONTHS, 6)
        if problem:
            messages.error(request, problem)
        elif amendment.state not in OPEN_AMENDMENT_STATES:
            messages.error(
                request, _("Only an amendment still under review is replayed: this one is settled.")
            )
        else:
            jobs.job_start(
                actor=request.user,
                kind="grievances.replay",
                params={"amendment": amendment.pk, "months": months},
                target=target,
            )
        return redirect("grievances:replay", amendment_id=amendment.pk)
    job = jobs.latest("grievances.replay", target)
    context = {"amendment": amendment, "job": job, "result": job.result if job else {}, "months": 6}
    return render(request, "grievances/replay.html", context)
