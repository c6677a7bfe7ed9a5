"""The dashboard's grievance figures, read from the daily summary: three grouped sums over its rows (per
day, per category, per agency first asked), from which the totals and the trend are added up here. Each
figure is ``kpis.figures_from_counts`` of summed counts, so it means exactly what ``grievance_stats``
computes from the grievances themselves (tests/test_dashboard.py checks that they agree)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from duty_lists.models import Agency
from grievances import kpis
from grievances.kpis import Figures
from grievances.models import GrievanceDailySummary

SUMS = {name: Sum(name) for name in kpis.COUNT_FIELDS}
PERIODS = ("day", "week", "month")


def period_for(since: date, until: date) -> str:
    """The trend's period when none is asked for: a point a day up to six weeks, a week up to half a
    year, else a month."""
    days = (until - since).days + 1
    return "day" if days <= 42 else "week" if days <= 183 else "month"


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())  # Monday, as the Chinese working week starts
    if period == "month":
        return day.replace(day=1)
    return day


@dataclass
class GrievanceDashboard:
    since: date
    until: date
    period: str
    overall: Figures
    per_day: list[Figures] = field(default_factory=list)  # every day since … until, key: the date
    per_category: list[Figures] = field(default_factory=list)  # most received first
    per_agency: list[Figures] = field(default_factory=list)  # most received first; key: agency id
    trend: list[Figures] = field(default_factory=list)  # key: first day of the period

    @property
    def empty(self) -> bool:
        return self.overall.received == 0


def summary_rows(
    *, since: date, until: date, agencies: Iterable[int] | None = None
) -> QuerySet[GrievanceDailySummary]:
    rows = GrievanceDailySummary.objects.filter(day__gte=since, day__lte=until)
    if agencies is not None:
        rows = rows.filter(agency_id__in=sorted(agencies))
    return rows.order_by()


Sums = tuple[dict[date, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def _sums(*, since: date, until: date, agencies: Iterable[int] | None, one_scan: bool | None = None) -> Sums:
    """The summary's counts summed per day, per category and per agency (with its name). On PostgreSQL in
    one scan of the rows (GROUPING SETS: at two years of a million grievances, 45 ms instead of 115 ms
    for three scans); elsewhere in three queries."""
    if one_scan is None:
        one_scan = connection.vendor == "postgresql"
    if not one_scan:
        rows = summary_rows(since=since, until=until, agencies=agencies)
        return (
            {row["day"]: _counts(row) for row in rows.values("day").annotate(**SUMS)},
            [dict(row) for row in rows.values("category").annotate(**SUMS)],
            [dict(row) for row in rows.values("agency_id", "agency__name").annotate(**SUMS)],
        )
    sums = ", ".join(f"SUM({name}) AS {name}" for name in kpis.COUNT_FIELDS)
    where = "day >= %s AND day <= %s"
    params: list[Any] = [since, until]
    if agencies is not None:
        where += " AND agency_id = ANY(%s)"
        params.append(sorted(agencies))
    # The table and column names come from the models; every value is a parameter.
    sql = (
        f"SELECT GROUPING(day), GROUPING(category), day, category, agency_id, {sums} "  # noqa: S608
        f"FROM {GrievanceDailySummary._meta.db_table} WHERE {where} "
        "GROUP BY GROUPING SETS ((day), (category), (agency_id))"
    )
    by_day: dict[date, dict[str, Any]] = {}
    by_category: list[dict[str, Any]] = []
    by_agency: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for no_day, no_category, day, category, agency_id, *counts in cursor.fetchall():
            row = dict(zip(kpis.COUNT_FIELDS, counts, strict=True))
            if not no_day:
                by_day[day] = row
            elif not no_category:
                by_category.append({"category": category, **row})
            else:
                by_agency.append({"agency_id": agency_id, **row})
    # The names apart: a join in the grouping would cost more than this query of a few dozen rows.
    names = dict(
        Agency.objects.filter(pk__in=[r["agency_id"] for r in by_agency if r["agency_id"]]).values_list(
            "pk", "name"
        )
    )
    for row in by_agency:
        row["agency__name"] = names.get(row["agency_id"])
    return by_day, by_category, by_agency


def _counts(row: Any) -> dict[str, Any]:
    return {name: row[name] for name in kpis.COUNT_FIELDS}


def _agency_label(agency_id: int | None, name: str | None) -> str:
    if agency_id is None:
        return _("(not dispatched)")
    return name or str(agency_id)


def grievance_dashboard(
    *, since: date, until: date, agencies: Iterable[int] | None = None, period: str | None = None
) -> GrievanceDashboard:
    """The figures of grievances received ``since`` … ``until`` (local dates, both included), of the agencies
    first asked in ``agencies`` (None: all, the never dispatched included)."""
    period = period or period_for(since, until)
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    by_day, by_category, by_agency = _sums(since=since, until=until, agencies=agencies)

    total: dict[str, int] = {}
    buckets: dict[date, dict[str, int]] = {}
    per_day = []
    for n in range((until - since).days + 1):
        day = since + timedelta(days=n)
        counts = by_day.get(day) or {}
        kpis.add_counts(total, counts)
        kpis.add_counts(buckets.setdefault(period_start(day, period), {}), counts)
        per_day.append(kpis.figures_from_counts(counts, key=day, label=day.isoformat()))

    def most_first(figures: list[Figures]) -> list[Figures]:
        return sorted(figures, key=lambda f: (-f.received, f.label))

    return GrievanceDashboard(
        since=since,
        until=until,
        period=period,
        overall=kpis.figures_from_counts(total, label=_("All grievances")),
        per_day=per_day,
        per_category=most_first(
            [
                kpis.figures_from_counts(
                    row, key=row["category"], label=row["category"] or _("(no category)")
                )
                for row in by_category
            ]
        ),
        per_agency=most_first(
            [
                kpis.figures_from_counts(
                    row, key=row["agency_id"], label=_agency_label(row["agency_id"], row["agency__name"])
                )
                for row in by_agency
            ]
        ),
        trend=[
            kpis.figures_from_counts(counts, key=start, label=_period_label(start, period))
            for start, counts in sorted(buckets.items())
        ],
    )


def _period_label(start: date, period: str) -> str:
    return start.strftime("%Y-%m") if period == "month" else start.isoformat()


def summary_extent() -> dict[str, Any]:
    """The first and last day the summary holds (None when it is empty)."""
    from django.db.models import Max, Min

    return GrievanceDailySummary.objects.aggregate(first=Min("day"), last=Max("day"))
