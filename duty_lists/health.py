"""List health (清单体检): what is wrong with the duty lists in force, for the editorial office.

- **overlaps** (交叉): two duties in force in the same area with near-identical titles but different leads;
- **gaps** (空白): a classification with no duty in force;
- **staleness** (过时): legal bases marked repealed or past their review date; duties no grievance came
  under for a year; duties whose dispatches are often returned ("not ours");
- **splits by domain**: duties shared between agencies (more than one participating agency), per category
  — the list's domain — and the headline "N splits in M domains".

Pure reads and no permission checks (the page and the services check those). The cheap findings (gaps,
legal bases, splits) are read live; the expensive ones (overlaps over 100,000 duties, and everything that
reads the grievance tables) are computed by ``compute_findings`` in a Celery task and kept in a
``ListHealthReport`` (see duty_lists/services/health.py).

"The same area" is the same list, the same layer (district / street), and, for duties led by a street or
community, the same street: ten streets each leading 市容环境卫生 in their own territory is the two-layer
list working as meant, not an overlap; two district departments leading 占道经营的查处 is one.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from duty_lists.health_grievances import grievance_figures
from duty_lists.health_models import HEALTH_PENDING, ListHealthReport, ListHealthState
from duty_lists.models import (
    AgencyLevel,
    Classification,
    DutyList,
    DutyRevision,
    Edition,
    LegalBasis,
    LegalBasisStatus,
    Participation,
    ParticipationRole,
)
from duty_lists.selectors import revisions_in_force
from duty_lists.similarity import similar_pairs, title_key

WINDOW = timedelta(days=365)  # "no grievance in the last 12 months"
# Jaccard of the titles' character bigrams; override with ZHIZE_LIST_HEALTH_SIMILARITY.
DEFAULT_SIMILARITY = 0.8
# Often returned: at least 30% of the lead orders decided, over at least 5 of them — fewer is chance.
RETURN_RATE = 0.3
MIN_ORDERS = 5
# What a report keeps per list (the counts are always complete): enough to act on, small enough to show.
PAIR_LIMIT = 200
DUTY_LIMIT = 200
LEGAL_BASIS_LIMIT = 300


def similarity_threshold() -> float:
    return float(getattr(settings, "ZHIZE_LIST_HEALTH_SIMILARITY", DEFAULT_SIMILARITY))


def published_lists(duty_list: DutyList | None = None) -> QuerySet[DutyList]:
    """The lists in scope that have a list in force (one edition at least)."""
    queryset = DutyList.objects.filter(Exists(Edition.objects.filter(duty_list=OuterRef("pk"))))
    if duty_list is not None:
        queryset = queryset.filter(pk=duty_list.pk)
    return queryset.order_by("code")


# --- Gaps ------------------------------------------------------------------------------------------------


def classification_gaps(duty_list: DutyList | None = None) -> QuerySet[Classification]:
    """Classifications of published lists with no duty in force (never had one, or all were removed)."""
    in_force = revisions_in_force(with_content=False).filter(classification=OuterRef("pk"))
    return (
        Classification.objects.filter(duty_list__in=published_lists(duty_list))
        .exclude(Exists(in_force))
        .select_related("category", "duty_list")
        .order_by("duty_list__code", "category__position", "category__code", "position", "code")
    )


# --- Legal bases -----------------------------------------------------------------------------------------


def legal_bases_to_review(
    duty_list: DutyList | None = None, *, today: date | None = None
) -> QuerySet[LegalBasis]:
    """Legal bases of duties in force that are repealed, or whose review date has passed."""
    today = today or timezone.localdate()
    revisions = revisions_in_force(duty_list=duty_list, with_content=False)
    return (
        LegalBasis.objects.filter(revision__in=revisions)
        .filter(Q(status=LegalBasisStatus.REPEALED) | Q(review_date__lt=today))
        .select_related("revision__duty_list")
        .order_by("-status", "review_date", "title", "revision__duty_list__code", "revision__code")
    )


# --- Splits by domain ------------------------------------------------------------------------------------


@dataclass
class DomainRow:
    name: str
    duties: int = 0
    splits: int = 0
    categories: list[tuple[str, str, str]] = field(default_factory=list)  # (list code, list name, category)


@dataclass
class SplitStats:
    rows: list[DomainRow]

    @property
    def splits(self) -> int:
        return sum(row.splits for row in self.rows)

    @property
    def domains(self) -> int:
        return sum(1 for row in self.rows if row.splits)


def split_stats(duty_list: DutyList | None = None) -> SplitStats:
    """Per domain (a category, by name: the same field of work in several lists is one domain), the duties
    in force and how many of them are split between agencies (a lead and at least one other agency)."""
    several = (
        Participation.objects.filter(revision=OuterRef("pk"))
        .order_by()
        .values("revision")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    grouped = (
        revisions_in_force(duty_list=duty_list, with_content=False)
        .order_by()
        .values(
            "classification__category__name",
            "classification__category__code",
            "duty_list__code",
            "duty_list__name",
        )
        .annotate(duties=Count("id"), splits=Count("id", filter=Exists(several)))
    )
    rows: dict[str, DomainRow] = {}
    for entry in grouped:
        row = rows.setdefault(
            entry["classification__category__name"], DomainRow(entry["classification__category__name"])
        )
        row.duties += entry["duties"]
        row.splits += entry["splits"]
        row.categories.append(
            (entry["duty_list__code"], entry["duty_list__name"], entry["classification__category__code"])
        )
    for row in rows.values():
        row.categories.sort()
    return SplitStats(sorted(rows.values(), key=lambda r: (-r.splits, -r.duties, r.name)))


# --- The expensive findings, for the task ----------------------------------------------------------------


@dataclass(frozen=True)
class DutyRow:
    duty_id: int
    list_id: int
    code: str
    title: str
    layer: str
    lead_id: int | None
    lead_name: str
    territory: int | None  # the street a street-led duty belongs to; None: the list's whole area

    def entry(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "lead": self.lead_name}


def _territory(level: str | None, agency_id: int | None, parent_id: int | None) -> int | None:
    if level == AgencyLevel.STREET:
        return agency_id
    if level == AgencyLevel.COMMUNITY:
        return parent_id
    return None


def _rows(lists: Iterable[DutyList]) -> list[DutyRow]:
    """The duties in force of the lists, each with its lead: two queries, read in chunks."""
    revisions = revisions_in_force(with_content=False).filter(duty_list__in=list(lists))
    leads = {
        revision_id: (agency_id, name, level, parent_id)
        for revision_id, agency_id, name, level, parent_id in Participation.objects.filter(
            role=ParticipationRole.LEAD, revision__in=revisions.values("pk")
        )
        .values_list("revision_id", "agency_id", "agency__name", "agency__level", "agency__parent_id")
        .iterator(chunk_size=5000)
    }
    rows = []
    for pk, duty_id, list_id, code, title, layer in (
        revisions.order_by("duty_list_id", "code")
        .values_list("pk", "duty_id", "duty_list_id", "code", "title", "layer")
        .iterator(chunk_size=5000)
    ):
        agency_id, name, level, parent_id = leads.get(pk, (None, "", None, None))
        rows.append(
            DutyRow(
                duty_id, list_id, code, title, layer, agency_id, name, _territory(level, agency_id, parent_id)
            )
        )
    return rows


def _cross_lead_pairs(first: list[DutyRow], second: list[DutyRow] | None) -> int:
    """How many pairs of duties (within ``first``, or one of each) have different leads."""
    leads = Counter(row.lead_id for row in first)
    if second is None:
        n = len(first)
        return n * (n - 1) // 2 - sum(k * (k - 1) // 2 for k in leads.values())
    other = Counter(row.lead_id for row in second)
    return len(first) * len(second) - sum(k * other[lead] for lead, k in leads.items())


def _pairs(first: list[DutyRow], second: list[DutyRow] | None) -> Iterable[tuple[DutyRow, DutyRow]]:
    candidates = itertools.combinations(first, 2) if second is None else itertools.product(first, second)
    return ((a, b) for a, b in candidates if a.lead_id != b.lead_id)


def list_overlaps(
    rows: list[DutyRow], threshold: float, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The overlaps among one list's duties: the count of pairs, and the closest ``PAIR_LIMIT`` of them."""
    areas: dict[tuple[str, int | None], dict[str, list[DutyRow]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.lead_id is not None:
            areas[(row.layer, row.territory)][title_key(row.title)].append(row)
    matches: list[tuple[float, str, list[DutyRow], list[DutyRow] | None]] = []
    done = 0
    for groups in areas.values():
        keys = sorted(groups)
        size = sum(len(g) for g in groups.values())

        def told(joined: int, total: int, base: int = done, size: int = size) -> None:
            if progress is not None:
                progress(base + size * joined // max(total, 1), len(rows))

        matches.extend((1.0, key, groups[key], None) for key in keys if len(groups[key]) > 1)
        for i, j, similarity in similar_pairs(keys, threshold, progress=told):
            matches.append((similarity, keys[i], groups[keys[i]], groups[keys[j]]))
        done += size
    matches.sort(key=lambda m: (-m[0], m[1]))
    count = 0
    pairs: list[dict[str, Any]] = []
    for similarity, _key, first, second in matches:
        count += _cross_lead_pairs(first, second)
        for a, b in _pairs(first, second):
            if len(pairs) >= PAIR_LIMIT:
                break
            a, b = sorted((a, b), key=lambda r: r.code)
            pairs.append({"similarity": similarity, "layer": a.layer, "a": a.entry(), "b": b.entry()})
    pairs.sort(key=lambda p: (-p["similarity"], p["a"]["code"], p["b"]["code"]))
    return {"count": count, "pairs": pairs}


def _first_published(lists: list[DutyList]) -> dict[int, datetime]:
    return dict(
        DutyRevision.objects.filter(duty_list__in=lists, edition__isnull=False)
        .order_by()
        .values("duty_id")
        .annotate(first=Min("valid_from"))
        .values_list("duty_id", "first")
    )


def compute_findings(
    duty_list: DutyList | None = None,
    *,
    now: datetime | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> dict[str, Any]:
    """Overlaps, quiet duties and often-returned duties of the lists in scope, per list, as the JSON a
    ``ListHealthReport`` keeps. ``progress(percent, stage)`` is told how far it got."""
    now = now or timezone.now()
    since = now - WINDOW
    threshold = similarity_threshold()

    def tell(percent: int, stage: str) -> None:
        if progress is not None:
            progress(percent, stage)

    lists = list(published_lists(duty_list))
    tell(5, "reading")
    rows = _rows(lists)
    by_list: dict[int, list[DutyRow]] = defaultdict(list)
    for row in rows:
        by_list[row.list_id].append(row)
    result: dict[str, Any] = {
        "computed_at": now.isoformat(),
        "since": since.isoformat(),
        "threshold": threshold,
        "return_rate": RETURN_RATE,
        "min_orders": MIN_ORDERS,
        "lists": {},
    }
    seen = 0
    for current in lists:
        members = by_list.get(current.pk, [])

        def list_progress(done: int, total: int, base: int = seen) -> None:
            tell(10 + int(65 * (base + done) / max(len(rows), 1)), "overlaps")

        result["lists"][str(current.pk)] = {
            "code": current.code,
            "name": current.name,
            "duties": len(members),
            "overlaps": list_overlaps(members, threshold, progress=list_progress),
        }
        seen += len(members)
    tell(80, "grievances")
    figures = grievance_figures(since)
    result["grievances"] = {"available": figures is not None, "received": figures.received if figures else 0}
    if figures is not None:
        first = _first_published(lists)
        for current in lists:
            members = by_list.get(current.pk, [])
            entry = result["lists"][str(current.pk)]
            entry["quiet"] = _quiet(members, figures.duties_with_grievances, first, since)
            entry["returns"] = _often_returned(members, figures.orders)
    tell(100, "done")
    return result


def _quiet(
    rows: list[DutyRow], heard: set[int], first: dict[int, datetime], since: datetime
) -> dict[str, Any]:
    """Duties in force for the whole window that no grievance came under (newer ones had no chance)."""
    quiet = [
        r for r in rows if r.duty_id not in heard and (f := first.get(r.duty_id)) is not None and f <= since
    ]
    return {"count": len(quiet), "duties": [r.entry() for r in quiet[:DUTY_LIMIT]]}


def _often_returned(rows: list[DutyRow], orders: dict[int, tuple[int, int]]) -> dict[str, Any]:
    found = []
    for row in rows:
        decided, returned = orders.get(row.duty_id, (0, 0))
        if decided >= MIN_ORDERS and returned / decided >= RETURN_RATE:
            found.append(
                {**row.entry(), "orders": decided, "returned": returned, "rate": round(returned / decided, 4)}
            )
    found.sort(key=lambda d: (-d["rate"], -d["orders"], d["code"]))
    return {"count": len(found), "duties": found[:DUTY_LIMIT]}


# --- Reading reports, for the page -------------------------------------------------------------------------


def pending_report(duty_list: DutyList | None = None) -> ListHealthReport | None:
    """The report queued or running that will answer for this scope: the list's own, or one of all lists."""
    scope = (
        Q(duty_list__isnull=True) if duty_list is None else Q(duty_list=duty_list) | Q(duty_list__isnull=True)
    )
    return ListHealthReport.objects.filter(scope, state__in=HEALTH_PENDING).order_by("-created_at").first()


def latest_report(
    duty_list: DutyList | None = None, *, state: str = ListHealthState.DONE
) -> ListHealthReport | None:
    """The newest report in ``state`` that covers the scope: for one list, its own or one of all lists
    that included it; for all lists, one of all lists."""
    reports = ListHealthReport.objects.filter(state=state).select_related("requested_by")
    if duty_list is None:
        return reports.filter(duty_list__isnull=True).first()
    own = reports.filter(duty_list=duty_list).first()
    every = next(
        (
            r
            for r in reports.filter(duty_list__isnull=True)[:5]
            if str(duty_list.pk) in (r.result.get("lists") or {})
        ),
        None,
    )
    candidates = [r for r in (own, every) if r is not None]
    return max(candidates, key=lambda r: (r.created_at, r.pk)) if candidates else None


@dataclass
class Findings:
    """A report's findings for the scope shown (one list, or all the report holds)."""

    overlaps: int = 0
    pairs: list[dict[str, Any]] = field(default_factory=list)
    grievances_available: bool = False
    received: int = 0
    quiet: int = 0
    quiet_duties: list[dict[str, Any]] = field(default_factory=list)
    returns: int = 0
    returned_duties: list[dict[str, Any]] = field(default_factory=list)


def findings(report: ListHealthReport, duty_list: DutyList | None = None) -> Findings:
    result = report.result or {}
    entries = result.get("lists") or {}
    chosen = [entries[str(duty_list.pk)]] if duty_list is not None and str(duty_list.pk) in entries else []
    if duty_list is None:
        chosen = [entries[key] for key in sorted(entries, key=lambda k: entries[k]["code"])]
    grievances = result.get("grievances") or {}
    found = Findings(
        grievances_available=bool(grievances.get("available")), received=grievances.get("received", 0)
    )
    for entry in chosen:
        code = {"list": entry["code"], "list_name": entry["name"]}
        found.overlaps += entry["overlaps"]["count"]
        found.pairs += [{**pair, **code} for pair in entry["overlaps"]["pairs"]]
        if "quiet" in entry:
            found.quiet += entry["quiet"]["count"]
            found.quiet_duties += [{**duty, **code} for duty in entry["quiet"]["duties"]]
            found.returns += entry["returns"]["count"]
            found.returned_duties += [{**duty, **code} for duty in entry["returns"]["duties"]]
    found.pairs.sort(key=lambda p: -p["similarity"])
    found.returned_duties.sort(key=lambda d: (-d["rate"], -d["orders"]))
    return found
