"""The monthly agency ranking (Beijing's 月度排名): each agency's rates of the month, read from the
dashboard's daily summary over the grievances it was asked first, and its 双向考评 score, weighed with the
office's weights into one score out of 100.

A figure an agency has no value for (no rating received, no grievance resolved yet) is left out and the
other weights are scaled up, rather than counted as zero: a street that handled no grievance is not ranked
last for it. The number of figures behind each score is shown beside it, so a score made of one figure is
visibly thin. Returns and redos count reversed (1 − rate): fewer is better."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from duty_lists.models import Agency
from grievances.dashboard.figures import grievance_dashboard
from grievances.ratings.models import RankingMetric, RankingWeight
from grievances.ratings.results import received_scores

M = RankingMetric
# What the office starts from: timeliness and satisfaction first, as the 接诉即办 assessment does.
DEFAULT_WEIGHTS: dict[str, int] = {
    M.FIRST_DISPATCH: 20,
    M.ON_TIME: 20,
    M.SATISFACTION: 25,
    M.RETURNS: 15,
    M.REDO: 10,
    M.MUTUAL: 10,
}
REVERSED = frozenset({M.RETURNS, M.REDO})


def current_weights() -> dict[str, int]:
    """The office's weights, every metric present (the default where the office set none)."""
    weights = dict(DEFAULT_WEIGHTS)
    weights.update(dict(RankingWeight.objects.values_list("metric", "weight")))
    return {metric: weights[metric] for metric in M.values}


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, first.replace(day=monthrange(first.year, first.month)[1])


@dataclass
class RankedAgency:
    agency_id: int
    name: str
    received: int = 0
    # metric → its value as a fraction 0–1 as it counts (returns and redos already reversed); None: no value.
    values: dict[str, float | None] = field(default_factory=dict)
    ratings: int = 0  # 双向考评 ratings behind the mutual value
    score: float | None = None  # 0–100
    figures_used: int = 0
    rank: int | None = None


@dataclass
class Ranking:
    month: date
    weights: dict[str, int]
    rows: list[RankedAgency]  # ranked first; agencies with no figure at all are not listed

    @property
    def empty(self) -> bool:
        return not self.rows


def _score(values: dict[str, float | None], weights: dict[str, int]) -> tuple[float | None, int]:
    used = [(weights[m], v) for m, v in values.items() if v is not None and weights.get(m)]
    total = sum(w for w, _v in used)
    if not total:
        return None, 0
    return round(100 * sum(w * v for w, v in used) / total, 2), len(used)


def monthly_ranking(month: date, *, weights: dict[str, int] | None = None) -> Ranking:
    """Every agency with a figure in ``month`` (any day of it), ranked by its weighted score; equal scores
    share a rank (1, 2, 2, 4)."""
    weights = weights or current_weights()
    since, until = month_bounds(month)
    figures = grievance_dashboard(since=since, until=until, period="month")
    rows: dict[int, RankedAgency] = {}
    for f in figures.per_agency:
        if f.key is None:  # never dispatched: nobody's figure
            continue
        values: dict[str, float | None] = {}
        for metric in (M.FIRST_DISPATCH, M.ON_TIME, M.SATISFACTION, M.RETURNS, M.REDO):
            value = getattr(f, metric)
            values[metric] = None if value is None else (1 - value if metric in REVERSED else value)
        rows[f.key] = RankedAgency(agency_id=f.key, name=f.label, received=f.received, values=values)
    mutual = received_scores(since)
    names = dict(Agency.objects.filter(pk__in=set(mutual) - set(rows)).values_list("pk", "name"))
    for agency_id, received in mutual.items():
        row = rows.get(agency_id)
        if row is None:
            row = rows[agency_id] = RankedAgency(
                agency_id=agency_id,
                name=names.get(agency_id, str(agency_id)),
                values=dict.fromkeys((M.FIRST_DISPATCH, M.ON_TIME, M.SATISFACTION, M.RETURNS, M.REDO)),
            )
        row.values[M.MUTUAL] = float(received.score / Decimal(100))
        row.ratings = received.ratings
    for row in rows.values():
        row.values.setdefault(M.MUTUAL, None)
        row.score, row.figures_used = _score(row.values, weights)
    ranked = sorted(
        rows.values(),
        key=lambda r: (r.score is None, -(r.score or 0), -r.figures_used, -r.received, r.name),
    )
    previous: float | None = None
    for position, row in enumerate(ranked, start=1):
        if row.score is None:
            break
        row.rank = ranked[position - 2].rank if position > 1 and row.score == previous else position
        previous = row.score
    return Ranking(month=since, weights=weights, rows=ranked)
