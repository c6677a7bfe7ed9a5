"""Working days of the Chinese official calendar, with local overrides.

A day is a working day, in this order of precedence:

1. if an administrator recorded a ``CalendarOverride`` for it (an extra day off for a local event, or a
   Saturday worked), as that override says;
2. else, for a year the ``chinese_calendar`` package knows, as the State Council's arrangement says:
   weekdays minus public holidays, plus the make-up working days (调休) that fall on weekends;
3. else Monday to Friday. The package learns each year only when the State Council publishes it (usually
   in the autumn before), so this fallback is expected around New Year; it is logged and shown to officers
   (``calendar_warning``) rather than silently pretending to be exact.

Dates are calendar days in Asia/Shanghai: a datetime is converted there first, so a complaint received at
23:30 on a Friday local time counts from that Friday whatever the server's clock says.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import overload
from zoneinfo import ZoneInfo

import chinese_calendar
from django.utils import timezone
from django.utils.translation import gettext

from core.models import CalendarOverride

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The package raises NotImplementedError outside the years it has data for; it decides that from the years
# of its holiday table, and so do we (a new release extends the range without a change here).
_KNOWN_YEARS = range(
    min(d.year for d in chinese_calendar.holidays),
    max(d.year for d in chinese_calendar.holidays) + 1,
)

# Years for which the Monday-to-Friday fallback has been logged in this process: once is a signal, once per
# day looked at would drown the log.
_warned_years: set[int] = set()

# Overrides are read for a span of days at a time. A deadline of n working days rarely spans more than
# 2n + 31 calendar days (weekends, plus the longest holiday with its neighbouring weekends), so one query
# almost always suffices; if administrators declared a long stretch off, the walk reads the next span.
_SPAN_SLACK_DAYS = 31


def known_years() -> range:
    """The years for which the official holiday arrangement is known."""
    return _KNOWN_YEARS


def is_year_known(year: int) -> bool:
    return year in _KNOWN_YEARS


def calendar_warning(today: date | None = None) -> str | None:
    """A message for officers when deadlines are being counted on the Monday-to-Friday fallback, else None.

    The current year matters always. The next year matters from December 1st: from then on a deadline of
    a few weeks reaches into January, whose New Year and often Spring Festival holidays the fallback would
    count as working days — giving a deadline days too early. The State Council publishes the next year's
    arrangement in October or November, so a warning in December means "upgrade chinesecalendar", whereas
    warning all year round about next year would teach officers to ignore the banner.
    """
    if today is None:
        today = timezone.localdate(timezone=SHANGHAI)
    years = [today.year, today.year + 1] if today.month == 12 else [today.year]
    for year in years:
        if not is_year_known(year):
            return gettext(
                "The official holiday calendar for %(year)s is not known yet: "
                "deadlines count Monday to Friday only."
            ) % {"year": year}
    return None


def is_working_day(d: date | datetime) -> bool:
    day = _local_date(d)
    return _is_working(day, _overrides_between(day, day))


@overload
def add_working_days(start: datetime, n: int) -> datetime: ...
@overload
def add_working_days(start: date, n: int) -> date: ...
def add_working_days(start: date | datetime, n: int) -> date | datetime:
    """The n-th working day after ``start`` (before it when n is negative).

    ``start`` itself never counts, as for statutory time limits ("期间开始的日不计算在期间内"): from a
    working Monday, +1 is Tuesday; from a Saturday, +1 is the next working day (Monday, unless a holiday
    or an override says otherwise); -1 from a Monday is the working day before it. Whenever n != 0 the
    result is therefore a working day, so a deadline never falls on a day off. n == 0 returns ``start``
    unchanged.

    For a datetime (timezone-aware only), counting uses its local date in Asia/Shanghai and the result is
    an aware datetime in Asia/Shanghai with the same local clock time on the target day: received Friday
    16:00, three working days later is Wednesday 16:00. Whether a deadline is that instant or the end of
    that day is the caller's rule, not this function's.
    """
    local_day = _local_date(start)  # validates a datetime even when n == 0
    if n == 0:
        return start
    day = _nth_working_day(local_day, n)
    if isinstance(start, datetime):
        clock = start.astimezone(SHANGHAI).time()
        return datetime.combine(day, clock, tzinfo=SHANGHAI)
    return day


def working_days_between(a: date | datetime, b: date | datetime) -> int:
    """The number of working days stepped onto going from ``a`` to ``b``, negative when going backwards.

    Forwards (a <= b) it counts the working days d with a < d <= b; backwards it counts those with
    b <= d < a and negates. Either way the starting day is left out and the arrival day counted, exactly as
    in ``add_working_days``, so that ``working_days_between(a, add_working_days(a, n)) == n`` for every n.
    (The price: the count is not antisymmetric when a or b is a day off — Friday to Saturday is 0 working
    days, Saturday back to Friday is -1.)
    """
    first, last = _local_date(a), _local_date(b)
    if first <= last:
        return _count_working(first + timedelta(days=1), last)
    return -_count_working(last, first - timedelta(days=1))


def _local_date(d: date | datetime) -> date:
    if isinstance(d, datetime):
        if timezone.is_naive(d):
            raise ValueError(f"A naive datetime has no calendar day in Asia/Shanghai: {d!r}")
        return d.astimezone(SHANGHAI).date()
    return d


def _overrides_between(lo: date, hi: date) -> dict[date, bool]:
    """The local overrides for lo..hi inclusive, in one query. Deliberately not cached across calls: an
    administrator's edit must count from the next computation on, in every process."""
    return dict(CalendarOverride.objects.filter(date__range=(lo, hi)).values_list("date", "is_working_day"))


def _count_working(lo: date, hi: date) -> int:
    """The number of working days in lo..hi inclusive (0 when the range is empty)."""
    overrides = _overrides_between(lo, hi)
    return sum(_is_working(lo + timedelta(days=i), overrides) for i in range((hi - lo).days + 1))


def _nth_working_day(start: date, n: int) -> date:
    step = 1 if n > 0 else -1
    remaining = abs(n)
    for day, working in _walk(start, step, span=2 * remaining + _SPAN_SLACK_DAYS):
        if working:
            remaining -= 1
            if remaining == 0:
                return day
    raise AssertionError("unreachable: _walk never ends")


def _walk(start: date, step: int, span: int) -> Iterator[tuple[date, bool]]:
    """The days after (step=1) or before (step=-1) ``start``, each with whether it is a working day,
    reading the overrides one span of days at a time."""
    day = start
    while True:
        span_end = day + timedelta(days=step * span)
        overrides = _overrides_between(*sorted((day + timedelta(days=step), span_end)))
        for _ in range(span):
            day += timedelta(days=step)
            yield day, _is_working(day, overrides)


def _is_working(day: date, overrides: dict[date, bool]) -> bool:
    if day in overrides:
        return overrides[day]
    if is_year_known(day.year):
        return bool(chinese_calendar.is_workday(day))
    if day.year not in _warned_years:
        _warned_years.add(day.year)
        logger.warning(
            "The official holiday calendar for %s is not known (chinesecalendar covers %s-%s): "
            "counting Monday to Friday. Upgrade chinesecalendar once the State Council has published it.",
            day.year,
            _KNOWN_YEARS.start,
            _KNOWN_YEARS.stop - 1,
        )
    return day.weekday() < 5
