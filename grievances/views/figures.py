"""The loop's figures: first-dispatch success, returns, redo, on-time acceptance and completion,
satisfaction — overall, per agency first asked, per category, and optionally as a trend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grievances.forms import FiguresForm
from grievances.selectors import Figures, grievance_stats
from grievances.views.common import may_see_figures

# (attribute, column heading, what the rate is over) in the order the field reads them.
RATES = (
    ("first_dispatch_success_rate", gettext_lazy("First dispatch accepted"), "first_decided"),
    ("return_rate", gettext_lazy("Returned at least once"), "dispatched"),
    ("redo_rate", gettext_lazy("Redone at least once"), "ever_resolved"),
    ("on_time_acceptance_rate", gettext_lazy("Accepted on time"), "accepted_lead_orders"),
    ("on_time_completion_rate", gettext_lazy("Resolved on time"), "resolved"),
    ("satisfaction_rate", gettext_lazy("Satisfied"), "ratings"),
)
PERIOD_FORMATS = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}


@dataclass
class Row:
    label: str
    received: int
    dispatched: int
    rates: list[tuple[str, str]]  # (shown value, "n of m" for the title)
    mean_rating: str


def _shown(figures: Figures, label: str) -> Row:
    rates = []
    for name, _heading, denominator in RATES:
        value = getattr(figures, name)
        over = figures.counts.get(denominator, figures.dispatched if denominator == "dispatched" else 0)
        rates.append(("—" if value is None else f"{value * 100:.1f}%", _("of %(n)d") % {"n": over}))
    return Row(
        label=label,
        received=figures.received,
        dispatched=figures.dispatched,
        rates=rates,
        mean_rating="—" if figures.mean_rating is None else f"{figures.mean_rating:.2f}",
    )


def _label(figures: Figures, group: str) -> str:
    if isinstance(figures.key, datetime):
        return f"{timezone.localtime(figures.key):{PERIOD_FORMATS.get(group, '%Y-%m-%d')}}"
    if figures.key in (None, ""):
        return _("(not dispatched)") if group == "agency" else _("(no category)")
    return figures.label


@login_required
def figures(request: HttpRequest) -> HttpResponse:
    if not may_see_figures(request.user):
        raise PermissionDenied(
            _("The figures are for dispatchers, the editorial office, leaders and auditors.")
        )
    form = FiguresForm(request.GET or None)
    window: dict[str, Any] = {"since": None, "until": None}
    group = ""
    if form.is_bound and form.is_valid():
        window = {"since": form.cleaned_data["since_at"], "until": form.cleaned_data["until_at"]}
        group = form.cleaned_data["group"]
    tables = [
        (
            _("Per agency first asked"),
            [_shown(f, _label(f, "agency")) for f in grievance_stats(group_by="agency", **window)],
        ),
        (
            _("Per category"),
            [_shown(f, _label(f, "category")) for f in grievance_stats(group_by="category", **window)],
        ),
    ]
    if group:
        tables.append(
            (_("Trend"), [_shown(f, _label(f, group)) for f in grievance_stats(group_by=group, **window)])
        )
    overall = _shown(grievance_stats(**window)[0], _("All grievances"))
    headings = [heading for _name, heading, _over in RATES]
    context = {
        "form": form,
        "overall": overall,
        "tiles": [
            (heading, value, over) for heading, (value, over) in zip(headings, overall.rates, strict=True)
        ],
        "headings": headings,
        "tables": tables,
    }
    return render(request, "grievances/figures.html", context, status=400 if form.errors else 200)
