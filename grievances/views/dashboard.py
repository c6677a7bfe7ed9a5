"""The dashboard: charts of the grievance loop (from the daily summary) and of disputes (live), each with
its table and an Excel export, filtered by date range and agency within what the viewer may see
(grievances/dashboard/scope.py); the full rebuild of the summary with its progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.dashboard import dispute_dashboard
from arbitration.views.common import refuse_if_forbidden
from core.audit import audit_access_refused
from core.errors import ApplicationError
from duty_lists.models import Agency
from grievances.dashboard.charts import Chart, dispute_charts, grievance_charts
from grievances.dashboard.excel import CONTENT_TYPE, chart_workbook
from grievances.dashboard.figures import GrievanceDashboard, grievance_dashboard
from grievances.dashboard.forms import DashboardForm, Filters, default_filters
from grievances.dashboard.scope import Scope, narrow, scope_of
from grievances.kpis import Figures
from grievances.models import SummaryDirtyDay
from grievances.services import summary

ECHARTS = "vendor/echarts/echarts.min.js"
GRIEVANCE_CHARTS = frozenset({"daily", "categories", "agency_rates", "trends"})
DISPUTE_CHARTS = frozenset(
    {"dispute_stages", "dispute_kinds", "time_to_ruling", "overdue_stages", "follow_ups", "follow_up_list"}
)


def echarts_url() -> str | None:
    """Where the page loads ECharts from; None when `make install` has not put it in node_modules (the
    page then shows its tables alone, and says why)."""
    if not (finders.find(ECHARTS) or staticfiles_storage.exists(ECHARTS)):
        return None
    try:
        return static(ECHARTS)
    except ValueError:  # a manifest (production) collected without it
        return None


def _scope(request: HttpRequest) -> Scope:
    scope = scope_of(request.user)
    if scope is None:
        raise PermissionDenied(
            _("The dashboard is for the editorial office, leaders, auditors, dispatchers and agency staff.")
        )
    return scope


def _form(request: HttpRequest, scope: Scope) -> DashboardForm:
    agencies = scope.agency_choices()
    kwargs: dict[str, Any] = {"agencies": agencies, "everyone": not scope.limited}
    if scope.limited and len(agencies) > 1:
        kwargs["everyone"] = True  # "all of them": here, all of the viewer's own
    if request.GET:
        return DashboardForm(request.GET, **kwargs)
    default = default_filters()
    return DashboardForm(initial={"since": default.since, "until": default.until}, **kwargs)


def _refusal(scope: Scope, filters: Filters) -> str | None:
    if filters.agency_id is not None and not scope.allows(filters.agency_id):
        return _("You see only your own agency's figures: choose it from the list.")
    return None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


@dataclass
class Built:
    grievances: GrievanceDashboard | None = None
    grievance_charts: list[Chart] = field(default_factory=list)
    dispute_charts: list[Chart] = field(default_factory=list)
    disputes_filed: int = 0
    follow_ups_overdue: int = 0


def build(scope: Scope, filters: Filters, *, grievances: bool = True, disputes: bool = True) -> Built:
    narrowed = narrow(scope, filters.agency_id)
    built = Built()
    if grievances:
        built.grievances = grievance_dashboard(
            since=filters.since, until=filters.until, agencies=narrowed.grievances, period=filters.period
        )
        built.grievance_charts = grievance_charts(built.grievances)
    if disputes and scope.disputes:
        now = timezone.now()
        today = timezone.localdate(now)
        figures = dispute_dashboard(
            since=_day_start(filters.since),
            until=_day_start(filters.until + timedelta(days=1)),
            agencies=narrowed.disputes,
            now=now,
            today=today,
        )
        built.dispute_charts = dispute_charts(figures, today=today)
        built.disputes_filed = figures.filed
        built.follow_ups_overdue = sum(row.overdue for row in figures.follow_ups)
    return built


def _tiles(overall: Figures) -> list[tuple[str, str]]:
    from grievances.dashboard.charts import RATE_HEADINGS, cell_text

    return [
        (_("Received"), cell_text(overall.received, "int")),
        *((str(label), cell_text(getattr(overall, name), "rate")) for name, label in RATE_HEADINGS.items()),
        (_("Mean rating"), cell_text(overall.mean_rating, "number")),
    ]


def _freshness() -> dict[str, Any]:
    cursor = summary.cursor()
    return {
        "refreshed_at": cursor.refreshed_at if cursor else None,
        "never_built": cursor is None or (cursor.refreshed_at is None and cursor.rebuilt_at is None),
        "days_waiting": SummaryDirtyDay.objects.count(),
        "rebuild": summary.pending_rebuild(),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    form = _form(request, scope)
    context: dict[str, Any] = {
        "form": form,
        "scope": scope,
        "echarts": echarts_url(),
        **_freshness(),
    }
    if form.is_bound and not form.is_valid():
        return render(request, "grievances/dashboard.html", context, status=400)
    filters = form.filters() if form.is_bound else default_filters()
    if refusal := _refusal(scope, filters):
        audit_access_refused(request=request, reason=refusal)
        context["refusal"] = refusal
        return render(request, "grievances/dashboard.html", context, status=403)
    built = build(scope, filters)
    assert built.grievances is not None
    query = urlencode(filters.query())
    context.update(
        {
            "filters": filters,
            "query": query,
            "tiles": _tiles(built.grievances.overall),
            "empty": built.grievances.empty,
            "grievance_charts": [(chart, chart.export_url(query)) for chart in built.grievance_charts],
            "dispute_charts": [(chart, chart.export_url(query)) for chart in built.dispute_charts],
            "disputes_filed": built.disputes_filed,
            "follow_ups_overdue": built.follow_ups_overdue,
        }
    )
    return render(request, "grievances/dashboard.html", context)


@login_required
def export(request: HttpRequest, chart: str) -> HttpResponse:
    """One chart's table as an Excel file, under the same filters and scope as the page."""
    scope = _scope(request)
    if chart not in GRIEVANCE_CHARTS and not (chart in DISPUTE_CHARTS and scope.disputes):
        raise Http404("no such chart")
    form = _form(request, scope)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(
            f"{form.fields[name].label if name in form.fields else ''}: {' '.join(map(str, e))}"
            for name, e in form.errors.items()
        )
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    filters = form.filters() if form.is_bound else default_filters()
    if refusal := _refusal(scope, filters):
        raise PermissionDenied(refusal)
    built = build(scope, filters, grievances=chart in GRIEVANCE_CHARTS, disputes=chart in DISPUTE_CHARTS)
    found = next(c for c in [*built.grievance_charts, *built.dispute_charts] if c.slug == chart)
    agency = Agency.objects.filter(pk=filters.agency_id).first() if filters.agency_id else None
    about = [
        (_("Received from"), filters.since),
        (_("Received until"), filters.until),
        (_("Agency"), agency.name if agency else _("All agencies")),
        (_("Made at"), timezone.localtime().strftime("%Y-%m-%d %H:%M")),
    ]
    response = HttpResponse(chart_workbook(found, about=about), content_type=CONTENT_TYPE)
    name = f"{found.title}-{filters.since:%Y%m%d}-{filters.until:%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@login_required
@require_POST
def rebuild(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if not scope.may_rebuild:
        raise PermissionDenied(_("Only the editorial office rebuilds the dashboard's summary."))
    try:
        job = summary.summary_rebuild_request(actor=request.user, reason=_("Requested from the dashboard"))
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("The summary is being rebuilt (job #%(id)s): this page follows it.") % {"id": job.pk}
        )
    # Back to the page as it was filtered (a query string of our own form, onto our own path).
    back = request.POST.get("query", "")
    return redirect(reverse("grievances:dashboard") + (f"?{back}" if back else ""))


@login_required
def rebuild_status(request: HttpRequest) -> JsonResponse:
    """What the page's script polls while the summary is rebuilt."""
    _scope(request)
    job = summary.pending_rebuild()
    if job is None:
        return JsonResponse({"running": False})
    return JsonResponse(
        {
            "running": True,
            "id": job.pk,
            "state": job.state,
            "progress": job.progress,
            "stage": _("%(done)s of %(total)s days") % {"done": job.days_done, "total": job.days_total},
        }
    )
