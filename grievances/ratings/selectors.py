"""双向考评's reads and calendar: who is a street and who a department, which way a rating goes, the
month's windows, and how much two agencies worked together in a month (the ratings page lists those
first: a street rates best the departments it actually summoned or handed matters to)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from core.workdays import SHANGHAI
from duty_lists.models import Agency, AgencyKind, AgencyLevel
from grievances.models import Handover, Summons
from grievances.ratings.models import RatingCriterion, RatingDirection
from grievances.ratings.results import month_start

# The rating window for a month closes at the end of this day of the next month (the office collects
# the month's ratings in the first ten days); the rated agency may appeal until the end of the 20th.
RATING_WINDOW_CLOSES_DAY = 10
APPEAL_WINDOW_CLOSES_DAY = 20

STREET_LEVELS = (AgencyLevel.STREET, AgencyLevel.COMMUNITY)
DEPARTMENT_LEVELS = (AgencyLevel.CITY, AgencyLevel.DISTRICT)


# --- Who rates whom -----------------------------------------------------------------------------------------


def is_street(agency: Agency) -> bool:
    return agency.level in STREET_LEVELS


def is_department(agency: Agency) -> bool:
    return departments().filter(pk=agency.pk).exists()


def streets() -> QuerySet[Agency]:
    return Agency.objects.filter(is_active=True, level__in=STREET_LEVELS).order_by("code")


def departments() -> QuerySet[Agency]:
    """Government departments at district or city level. Not the editorial office (it sets the criteria
    and decides appeals), and not a people's government itself (区政府 is the parent of the departments,
    not one of them): an agency with district- or city-level agencies under it is left out."""
    has_departments_under = Agency.objects.filter(parent=OuterRef("pk"), level__in=DEPARTMENT_LEVELS)
    return (
        Agency.objects.filter(is_active=True, level__in=DEPARTMENT_LEVELS, kind=AgencyKind.GOVERNMENT)
        .exclude(Exists(has_departments_under))
        .order_by("code")
    )


def direction_between(rater: Agency, rated: Agency) -> str | None:
    """Which way a rating from ``rater`` to ``rated`` goes, or None when the two do not rate each other."""
    if rater.pk == rated.pk:
        return None
    if is_street(rater) and is_department(rated):
        return RatingDirection.STREET_RATES_DEPARTMENT
    if is_department(rater) and is_street(rated):
        return RatingDirection.DEPARTMENT_RATES_STREET
    return None


def direction_of(agency: Agency) -> str | None:
    """The direction in which ``agency`` rates others (None: it takes no part)."""
    if is_street(agency):
        return RatingDirection.STREET_RATES_DEPARTMENT
    if is_department(agency):
        return RatingDirection.DEPARTMENT_RATES_STREET
    return None


def counterparts(agency: Agency) -> list[Agency]:
    """The agencies ``agency`` rates: departments for a street, streets for a department."""
    direction = direction_of(agency)
    if direction == RatingDirection.STREET_RATES_DEPARTMENT:
        return list(departments())
    if direction == RatingDirection.DEPARTMENT_RATES_STREET:
        return list(streets().exclude(pk=agency.pk))
    return []


def criteria(direction: str) -> list[RatingCriterion]:
    return list(
        RatingCriterion.objects.filter(direction=direction, is_active=True).order_by("position", "id")
    )


# --- The calendar -------------------------------------------------------------------------------------------


def today() -> date:
    return timezone.localdate(timezone=SHANGHAI)


def next_month(month: date) -> date:
    start = month_start(month)
    return (start + timedelta(days=32)).replace(day=1)


def previous_month(month: date) -> date:
    return (month_start(month) - timedelta(days=1)).replace(day=1)


def rating_closes(month: date) -> date:
    """The last day a rating of ``month`` may be submitted or changed."""
    return next_month(month).replace(day=RATING_WINDOW_CLOSES_DAY)


def appeal_closes(month: date) -> date:
    """The last day the rated agency may appeal a rating of ``month``."""
    return next_month(month).replace(day=APPEAL_WINDOW_CLOSES_DAY)


def rating_open(month: date, on: date | None = None) -> bool:
    """Ratings of ``month`` may be given from its first day until the 10th of the next month: in the
    current month, and in the previous one until the window closes."""
    on = on or today()
    return month_start(month) <= on <= rating_closes(month)


def appeal_open(month: date, on: date | None = None) -> bool:
    on = on or today()
    return month_start(month) <= on <= appeal_closes(month)


def month_span(month: date) -> tuple[datetime, datetime]:
    """The month's first and next month's first instant, in Shanghai time (the office's months)."""
    start = datetime.combine(month_start(month), time.min, tzinfo=SHANGHAI)
    return start, datetime.combine(next_month(month), time.min, tzinfo=SHANGHAI)


# --- Working together ---------------------------------------------------------------------------------------


def worked_with(agency: Agency, month: date) -> Counter[int]:
    """How many handovers (either way) and whistle summonses linked ``agency`` with each other agency in
    ``month``, by the other agency's id. Three queries, whatever the number of counterparts."""
    start, end = month_span(month)
    counts: Counter[int] = Counter()
    handovers = Handover.objects.filter(reported_at__gte=start, reported_at__lt=end)
    for receiver in handovers.filter(from_agency=agency).values_list("to_agency_id", flat=True):
        counts[receiver] += 1
    for sender in handovers.filter(to_agency=agency).values_list("from_agency_id", flat=True):
        counts[sender] += 1
    summonses = Summons.objects.filter(whistle__blown_at__gte=start, whistle__blown_at__lt=end)
    if is_street(agency):
        for other in summonses.filter(whistle__street=agency).values_list("agency_id", flat=True):
            counts[other] += 1
    else:
        for other in summonses.filter(agency=agency).values_list("whistle__street_id", flat=True):
            counts[other] += 1
    return counts
