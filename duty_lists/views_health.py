"""The list-health page (清单体检): overlaps, gaps, stale legal bases, quiet and often-returned duties, and
the splits by domain — of every list, or of one (``?list=code``).

For the editorial office, which may also recompute the expensive findings; leaders and auditors read it;
anyone else is refused. Gaps, legal bases and splits are read live (a few grouped queries); overlaps and the
grievance figures come from the newest ``ListHealthReport``, computed by a Celery task whose progress the
page follows (static/duty_lists/health_progress.js, or a <noscript> refresh).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from duty_lists import health, permissions, selectors, services
from duty_lists.health_models import ListHealthState
from duty_lists.models import DutyList
from duty_lists.services.health import may_compute, stage_label


def _require_reader(request: HttpRequest) -> None:
    if not permissions.may_read_list_health(request.user):
        raise PermissionDenied(_("The list health is for the editorial office, leaders and auditors."))


class UnknownList(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.message = _("There is no duty list with the code “%(code)s”. Choose one from the list.") % {
            "code": code[:50]
        }


def _chosen(code: str) -> DutyList | None:
    """The list named by ``code``; None for all lists; UnknownList for a code that names none."""
    code = code.strip()
    if not code:
        return None
    duty_list = selectors.duty_lists_public().filter(code=code).first()
    if duty_list is None:
        raise UnknownList(code)
    return duty_list


def _page_url(duty_list: DutyList | None) -> str:
    url = reverse("duty_lists:health")
    return f"{url}?list={duty_list.code}" if duty_list is not None else url


def headline(stats: health.SplitStats) -> str:
    """ "96 splits in 9 domains", as the field counts them."""
    splits = ngettext("%(n)d split", "%(n)d splits", stats.splits) % {"n": stats.splits}
    domains = ngettext("%(n)d domain", "%(n)d domains", stats.domains) % {"n": stats.domains}
    return _("%(splits)s in %(domains)s") % {"splits": splits, "domains": domains}


def _context(duty_list: DutyList | None) -> dict[str, Any]:
    gaps = list(health.classification_gaps(duty_list))
    bases = health.legal_bases_to_review(duty_list)
    legal_bases = list(bases[: health.LEGAL_BASIS_LIMIT])
    stats = health.split_stats(duty_list)
    report = health.latest_report(duty_list)
    failed = health.latest_report(duty_list, state=ListHealthState.FAILED)
    pending = health.pending_report(duty_list)
    return {
        "gaps": gaps,
        "legal_bases": legal_bases,
        "legal_basis_count": len(legal_bases)
        if len(legal_bases) < health.LEGAL_BASIS_LIMIT
        else bases.count(),
        "stats": stats,
        "headline": headline(stats),
        "report": report,
        "found": health.findings(report, duty_list) if report is not None else None,
        "failed": failed
        if failed is not None and (report is None or failed.created_at > report.created_at)
        else None,
        "pending": pending,
        "pending_stage": stage_label(pending) if pending is not None else "",
        "published": health.published_lists(duty_list).exists(),
    }


def _render(
    request: HttpRequest, *, duty_list: DutyList | None, error: str = "", status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "duty_lists": list(selectors.duty_lists_public()),
        "chosen": duty_list,
        "chosen_code": duty_list.code if duty_list is not None else "",
        "error": error,
        "may_recompute": may_compute(request.user),
        "thresholds": {
            "similarity": round(health.similarity_threshold() * 100),
            "rate": round(health.RETURN_RATE * 100),
            "orders": health.MIN_ORDERS,
        },
    }
    if not error:
        context.update(_context(duty_list))
    return render(request, "duty_lists/browse/health.html", context, status=status)


@login_required
def list_health(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    try:
        duty_list = _chosen(request.GET.get("list", ""))
    except UnknownList as unknown:
        return _render(request, duty_list=None, error=unknown.message, status=400)
    return _render(request, duty_list=duty_list)


@login_required
def list_health_status(request: HttpRequest) -> JsonResponse:
    """What the page's script polls while a report is computed."""
    _require_reader(request)
    try:
        duty_list = _chosen(request.GET.get("list", ""))
    except UnknownList as unknown:
        return JsonResponse({"running": False, "error": unknown.message}, status=400)
    pending = health.pending_report(duty_list)
    if pending is None:
        return JsonResponse({"running": False})
    return JsonResponse(
        {
            "running": True,
            "id": pending.pk,
            "state": pending.state,
            "progress": pending.progress,
            "stage": stage_label(pending),
        }
    )


@login_required
@require_POST
def list_health_recompute(request: HttpRequest) -> HttpResponse:
    if not may_compute(request.user):
        raise PermissionDenied(_("Only the editorial office recomputes the list health."))
    try:
        duty_list = _chosen(request.POST.get("list", ""))
    except UnknownList as unknown:
        return _render(request, duty_list=None, error=unknown.message, status=400)
    try:
        report = services.list_health_compute_request(
            actor=request.user, duty_list=duty_list, reason=_("Requested by an officer")
        )
    except ApplicationError as error:
        if error.status_code == 403:
            raise PermissionDenied(error.message) from error
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("Report #%(id)s is being computed: this page follows it.") % {"id": report.pk}
        )
    return redirect(_page_url(duty_list))
