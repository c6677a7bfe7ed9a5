"""The dashboard's dispute figures, read live (disputes are thousands where grievances are millions): by
stage and kind, the time from filing to the first ruling, stages past their deadline, follow-ups due.

The caller decides whose figures these are: ``agencies`` None counts every dispute; a set counts the
disputes those agencies are a party to and their follow-ups (arbitration.selectors.disputes_visible_to
gives agency staff the same disputes)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet

from arbitration.models import (
    LADDER,
    Dispute,
    DisputeKind,
    DisputeParty,
    DisputeStage,
    DisputeState,
    FollowUp,
    FollowUpState,
    Ruling,
    Stage,
)

DUE_SOON_DAYS = 7
FOLLOW_UP_LIST = 50  # items listed; the counts cover all


@dataclass
class StageRow:
    stage: str
    label: str
    open: int = 0
    closed: int = 0
    open_now: int = 0  # however long ago they were filed
    past_deadline: int = 0  # open now, its stage's deadline passed
    stalled: int = 0  # in the period: escalated by the sweep out of this stage (at leadership: flagged)

    @property
    def total(self) -> int:
        return self.open + self.closed


@dataclass
class KindRow:
    kind: str
    label: str
    open: int = 0
    closed: int = 0
    ruled: int = 0
    median_days: float | None = None
    mean_days: float | None = None

    @property
    def total(self) -> int:
        return self.open + self.closed


@dataclass
class FollowUpRow:
    agency_id: int
    label: str
    overdue: int = 0
    due_soon: int = 0
    later: int = 0

    @property
    def total(self) -> int:
        return self.overdue + self.due_soon + self.later


@dataclass
class DisputeDashboard:
    stages: list[StageRow] = field(default_factory=list)
    kinds: list[KindRow] = field(default_factory=list)
    all_kinds: KindRow | None = None  # the time to ruling over every kind
    follow_ups: list[FollowUpRow] = field(default_factory=list)
    follow_ups_due: list[FollowUp] = field(default_factory=list)  # overdue and due soon, soonest first

    @property
    def filed(self) -> int:
        return sum(row.total for row in self.stages)

    @property
    def open_follow_ups(self) -> int:
        return sum(row.total for row in self.follow_ups)


def _of(agencies: Collection[int] | None) -> QuerySet[Dispute]:
    disputes = Dispute.objects.all()
    if agencies is not None:
        disputes = disputes.filter(
            Exists(DisputeParty.objects.filter(dispute=OuterRef("pk"), agency_id__in=sorted(agencies)))
        )
    return disputes.order_by()


def _days(seconds: float) -> float:
    return round(seconds / 86400, 1)


def dispute_dashboard(
    *,
    since: datetime,
    until: datetime,
    agencies: Collection[int] | None = None,
    now: datetime,
    today: date,
) -> DisputeDashboard:
    """Disputes filed in [since, until) by stage and kind, and their time to the first ruling; stages past
    their deadline and follow-ups as they stand ``now``."""
    every = _of(agencies)
    filed = every.filter(created_at__gte=since, created_at__lt=until)
    stages: dict[str, StageRow] = {str(stage): StageRow(stage, str(stage.label)) for stage in LADDER}
    kinds: dict[str, KindRow] = {str(kind): KindRow(kind, str(kind.label)) for kind in DisputeKind}
    for row in filed.values("stage", "kind", "state").annotate(n=Count("id")):
        side = "closed" if row["state"] == DisputeState.CLOSED else "open"
        for target in (stages.get(row["stage"]), kinds.get(row["kind"])):
            if target is not None:
                setattr(target, side, getattr(target, side) + row["n"])
    _stages_now(every, stages, now=now, since=since, until=until)
    durations = _time_to_ruling(filed)
    for kind, kind_row in kinds.items():
        _summarise(kind_row, durations.get(kind, []))
    all_kinds = _summarise(KindRow("", ""), [d for values in durations.values() for d in values])
    by_agency, due = _follow_ups(agencies, today)
    return DisputeDashboard(
        stages=list(stages.values()),
        kinds=list(kinds.values()),
        all_kinds=all_kinds,
        follow_ups=by_agency,
        follow_ups_due=due,
    )


def _stages_now(
    every: QuerySet[Dispute], stages: dict[str, StageRow], *, now: datetime, since: datetime, until: datetime
) -> None:
    """Stages as they stand, whenever the dispute was filed: open, and open (not paused) past the deadline
    of the stage they are in; and stalled in the period: the sweep escalated out of the stage below the one
    it entered (at leadership, where there is nothing above, it flags the dispute overdue)."""
    for row in every.exclude(state=DisputeState.CLOSED).values("stage").annotate(n=Count("id")):
        if row["stage"] in stages:
            stages[row["stage"]].open_now = row["n"]
    past = every.filter(state=DisputeState.OPEN, deadline_at__lt=now)
    for row in past.values("stage").annotate(n=Count("id")):
        if row["stage"] in stages:
            stages[row["stage"]].past_deadline = row["n"]
    below = {str(upper): str(lower) for lower, upper in pairwise(LADDER)}
    escalations = (
        DisputeStage.objects.filter(by_sweep=True, entered_at__gte=since, entered_at__lt=until)
        .filter(dispute__in=every.values("pk"))
        .values("stage")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in escalations:
        if row["stage"] in below:
            stages[below[row["stage"]]].stalled += row["n"]
    stages[str(Stage.LEADERSHIP)].stalled = every.filter(
        overdue=True, deadline_at__gte=since, deadline_at__lt=until
    ).count()


def _summarise(row: KindRow, seconds: list[float]) -> KindRow:
    row.ruled = len(seconds)
    if seconds:
        row.median_days = _days(statistics.median(seconds))
        row.mean_days = _days(statistics.fmean(seconds))
    return row


def _time_to_ruling(filed: QuerySet[Dispute]) -> dict[str, list[float]]:
    """Seconds from filing to the first ruling (a correction later does not restart the clock), per kind.
    Fetched as pairs, a few thousand at most, and summarised in Python: SQLite has no percentile."""
    firsts = (
        Ruling.objects.filter(dispute__in=filed.values("pk"))
        .values("dispute_id", "dispute__kind", "dispute__created_at")
        .annotate(first=Min("issued_at"))
        .order_by()
    )
    durations: dict[str, list[float]] = defaultdict(list)
    for row in firsts:
        durations[row["dispute__kind"]].append(
            max(0.0, (row["first"] - row["dispute__created_at"]).total_seconds())
        )
    return durations


def _follow_ups(agencies: Collection[int] | None, today: date) -> tuple[list[FollowUpRow], list[FollowUp]]:
    """Open follow-ups per agency: overdue, due within a week, later; and the overdue and soon-due ones."""
    open_items = FollowUp.objects.filter(state=FollowUpState.OPEN)
    if agencies is not None:
        open_items = open_items.filter(agency_id__in=sorted(agencies))
    soon = today + timedelta(days=DUE_SOON_DAYS)
    counts = (
        open_items.values("agency_id", "agency__name")
        .annotate(
            overdue=Count("id", filter=Q(due_date__lt=today)),
            due_soon=Count("id", filter=Q(due_date__gte=today, due_date__lte=soon)),
            later=Count("id", filter=Q(due_date__gt=soon)),
        )
        .order_by()
    )
    rows = [
        FollowUpRow(row["agency_id"], row["agency__name"], row["overdue"], row["due_soon"], row["later"])
        for row in counts
    ]
    rows.sort(key=lambda r: (-r.overdue, -r.due_soon, r.label))
    due = list(
        open_items.filter(due_date__lte=soon)
        .select_related("agency", "ruling__dispute")
        .order_by("due_date", "id")[:FOLLOW_UP_LIST]
    )
    return rows, due
