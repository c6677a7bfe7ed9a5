"""The monthly agency ranking: a page with its chart and table, the same table as an Excel file, and the
office's weights. The oversight roles and dispatchers see every agency; agency staff see their own agency's
row and rank among all (an agency sees only its own figures); anyone else is refused."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.views.common import refuse_if_forbidden
from core.errors import ApplicationError
from grievances.dashboard.charts import Chart, Column
from grievances.dashboard.excel import CONTENT_TYPE, chart_workbook
from grievances.dashboard.scope import Scope, scope_of
from grievances.ratings.models import RankingMetric
from grievances.ratings.ranking import Ranking, monthly_ranking
from grievances.ratings.results import parse_month
from grievances.ratings.selectors import previous_month
from grievances.services.ranking import may_set_weights, ranking_weights_set
from grievances.views.dashboard import echarts_url

M = RankingMetric


def _scope(request: HttpRequest) -> Scope:
    scope = scope_of(request.user)
    if scope is None:
        raise PermissionDenied(
            _("The ranking is for the editorial office, leaders, auditors, dispatchers and agency staff.")
        )
    return scope


def last_month() -> date:
    """The month ranked when none is asked for: the last one finished."""
    return previous_month(timezone.localdate())


def _month(request: HttpRequest) -> tuple[date, str]:
    """The month asked for, or last month and why the asked one was refused."""
    raw = request.GET.get("month", "").strip()
    if not raw:
        return last_month(), ""
    try:
        month = parse_month(raw)
    except ValueError as error:
        return last_month(), str(error)
    if month > timezone.localdate().replace(day=1):
        return last_month(), _("%(month)s has not begun: there is nothing to rank yet.") % {"month": raw}
    return month, ""


def ranking_chart(ranking: Ranking, *, agencies: frozenset[int] | None = None) -> Chart:
    """The ranking as one table (``agencies``: only these rows, as agency staff see it)."""
    labels = dict(M.choices)
    columns = [
        Column(_("Agency"), "text"),
        Column(_("Rank"), "int"),
        Column(_("Score"), "number", plotted=True),
        Column(_("Figures counted"), "int"),
        Column(_("Received"), "int"),
        *(Column(str(labels[m]), "rate") for m in M.values if m != M.MUTUAL),
        Column(str(labels[M.MUTUAL]), "number"),
        Column(_("Ratings received"), "int"),
    ]
    rows = []
    for row in ranking.rows:
        if agencies is not None and row.agency_id not in agencies:
            continue
        mutual = row.values.get(M.MUTUAL)
        rows.append(
            [
                row.name,
                row.rank,
                row.score,
                row.figures_used,
                row.received,
                *(row.values.get(m) for m in M.values if m != M.MUTUAL),
                None if mutual is None else round(mutual * 100, 2),
                row.ratings,
            ]
        )
    return Chart(
        "ranking",
        _("Agency ranking, %(month)s") % {"month": f"{ranking.month:%Y-%m}"},
        "hbar",
        columns,
        rows,
        about=_(
            "Score out of 100: the weighted mean of the figures each agency has this month. Returns and "
            "redos count reversed (fewer is better); a figure an agency has no value for is left out and "
            "the other weights scaled up."
        ),
        empty=not rows,
        empty_text=_("No agency has figures for this month yet."),
    )


def _weight_rows(weights: dict[str, Any], errors: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Each figure with its weight and its share of the total (the share only while every weight is a
    number: a form sent back with errors shows what was typed)."""
    numbers = {m: w for m, w in weights.items() if isinstance(w, int)}
    total = sum(numbers.values()) if len(numbers) == len(weights) else 0
    return [
        {
            "metric": metric,
            "label": label,
            "weight": weights.get(metric, ""),
            "share": round(100 * numbers[metric] / total) if total else None,
            "errors": (errors or {}).get(metric, []),
        }
        for metric, label in M.choices
    ]


def _render(
    request: HttpRequest,
    *,
    month: date,
    problem: str = "",
    weights: dict[str, Any] | None = None,
    weight_errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    scope = _scope(request)
    ranking = monthly_ranking(month)
    own = scope.grievance_agencies
    chart = ranking_chart(ranking, agencies=own)
    query = f"month={month:%Y-%m}"
    context = {
        "month": month,
        "month_value": f"{month:%Y-%m}",
        "this_month": f"{timezone.localdate():%Y-%m}",
        "last_month": f"{last_month():%Y-%m}",
        "problem": problem,
        "chart": chart,
        "export_url": f"{reverse('grievances:ranking_export')}?{query}",
        "echarts": echarts_url() if own is None else None,
        "limited": own is not None,
        "ranked_total": sum(1 for r in ranking.rows if r.rank is not None),
        "weights": _weight_rows(weights or ranking.weights, weight_errors),
        "weight_errors": (weight_errors or {}).get("__all__", []),
        "may_set_weights": may_set_weights(request.user),
    }
    return render(request, "grievances/ranking.html", context, status=status)


@login_required
def ranking(request: HttpRequest) -> HttpResponse:
    _scope(request)
    month, problem = _month(request)
    return _render(request, month=month, problem=problem, status=400 if problem else 200)


@login_required
def export(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    month, problem = _month(request)
    if problem:
        return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
    ranking = monthly_ranking(month)
    chart = ranking_chart(ranking, agencies=scope.grievance_agencies)
    labels = dict(M.choices)
    about = [
        (_("Month"), f"{month:%Y-%m}"),
        *((f"{_('Weight')}: {labels[m]}", str(w)) for m, w in ranking.weights.items()),
        (_("Made at"), timezone.localtime().strftime("%Y-%m-%d %H:%M")),
    ]
    response = HttpResponse(chart_workbook(chart, about=about), content_type=CONTENT_TYPE)
    name = f"{_('Agency ranking')}-{month:%Y%m}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@login_required
@require_POST
def weights(request: HttpRequest) -> HttpResponse:
    _scope(request)
    month, _problem = _month(request)
    if not may_set_weights(request.user):
        raise PermissionDenied(_("Only the editorial office sets the ranking's weights."))
    asked = {metric: request.POST.get(metric, "") for metric in M.values}
    try:
        ranking_weights_set(actor=request.user, weights=asked, reason=request.POST.get("reason", "").strip())
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
        return _render(request, month=month, weights=asked, weight_errors=error.extra, status=400)
    messages.success(request, _("The ranking's weights are saved; the ranking below uses them."))
    return redirect(f"{reverse('grievances:ranking')}?month={month:%Y-%m}")
