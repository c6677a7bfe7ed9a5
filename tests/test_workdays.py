import logging
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import translation

from core import workdays
from core.models import CalendarOverride
from core.workdays import (
    SHANGHAI,
    add_working_days,
    calendar_warning,
    is_working_day,
    is_year_known,
    known_years,
    working_days_between,
)

# Every public function except the year helpers reads CalendarOverride.
pytestmark = pytest.mark.django_db

# The first year chinesecalendar does not know (2027 with chinesecalendar 1.11). Derived rather than written
# out so that upgrading the package moves the fallback tests along instead of breaking them.
UNKNOWN_YEAR = known_years().stop


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- The official calendar ------------------------------------------------------------------------------


def test_known_years_are_the_packages_years():
    assert 2004 in known_years()
    assert 2026 in known_years()
    assert is_year_known(2025)
    assert not is_year_known(2003)
    assert not is_year_known(UNKNOWN_YEAR)
    assert UNKNOWN_YEAR >= 2027


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 2, 3), False),  # an ordinary Saturday
        (date(2024, 2, 4), True),  # Sunday, make-up working day before the Spring Festival
        (date(2024, 2, 12), False),  # Monday inside the Spring Festival holiday
        (date(2024, 2, 18), True),  # Sunday, make-up working day after it
        (date(2025, 9, 28), True),  # Sunday, make-up working day before National Day
        (date(2025, 10, 11), True),  # Saturday, make-up working day after it
        (date(2025, 10, 12), False),  # the Sunday after that is an ordinary Sunday
        (date(2025, 10, 10), True),  # Friday after the holiday
    ],
)
def test_weekends_and_make_up_days_follow_the_official_calendar(day, working):
    assert is_working_day(day) is working


def test_national_day_2025_is_eight_days_off_including_weekdays():
    holiday = days(date(2025, 10, 1), date(2025, 10, 8))
    assert [d for d in holiday if d.weekday() < 5]  # the holiday does cover weekdays
    assert not any(is_working_day(d) for d in holiday)


def test_a_datetime_is_judged_by_its_date_in_shanghai():
    # 16:30 UTC on Tuesday 30 September is 00:30 on 1 October in Shanghai: a holiday.
    assert not is_working_day(datetime(2025, 9, 30, 16, 30, tzinfo=UTC))
    assert is_working_day(datetime(2025, 9, 30, 15, 30, tzinfo=UTC))


# --- add_working_days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2025, 9, 30), 1, date(2025, 10, 9)),  # over the whole National Day holiday
        (date(2025, 9, 30), 3, date(2025, 10, 11)),  # lands on the make-up Saturday
        (date(2025, 10, 1), 1, date(2025, 10, 9)),  # from inside the holiday
        (date(2025, 9, 27), 1, date(2025, 9, 28)),  # from a Saturday: the make-up Sunday is next
        (date(2025, 9, 20), 1, date(2025, 9, 22)),  # from an ordinary Saturday: Monday
        (date(2025, 9, 22), 1, date(2025, 9, 23)),  # from a working Monday: Tuesday (start never counts)
        (date(2025, 10, 9), -1, date(2025, 9, 30)),  # backwards over the holiday
        (date(2025, 9, 29), -1, date(2025, 9, 28)),  # backwards onto the make-up Sunday
        (date(2025, 9, 20), -1, date(2025, 9, 19)),  # backwards from a Saturday: Friday
        (date(2025, 9, 30), -5, date(2025, 9, 24)),  # 29, 28 (make-up Sunday), 26, 25, 24
        (date(2025, 9, 20), 0, date(2025, 9, 20)),  # 0 leaves even a Saturday alone
    ],
)
def test_add_working_days(start, n, expected):
    assert add_working_days(start, n) == expected


def test_a_datetime_deadline_keeps_its_clock_time_in_shanghai():
    received = datetime(2025, 9, 30, 16, 45, tzinfo=SHANGHAI)

    deadline = add_working_days(received, 3)

    assert deadline == datetime(2025, 10, 11, 16, 45, tzinfo=SHANGHAI)
    assert deadline.tzinfo == SHANGHAI
    assert deadline.utcoffset() == timedelta(hours=8)


def test_a_datetime_in_another_zone_counts_from_its_shanghai_date_and_comes_back_in_shanghai():
    # Monday 29 September 16:30 UTC is Tuesday 30 September 00:30 in Shanghai.
    received = datetime(2025, 9, 29, 16, 30, tzinfo=UTC)

    deadline = add_working_days(received, 1)

    assert deadline.tzinfo == SHANGHAI
    assert (deadline.date(), deadline.hour, deadline.minute) == (date(2025, 10, 9), 0, 30)


def test_zero_working_days_returns_the_datetime_unchanged():
    received = datetime(2025, 10, 4, 9, 0, tzinfo=UTC)
    assert add_working_days(received, 0) is received


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: is_working_day(naive),
        lambda naive: add_working_days(naive, 3),
        lambda naive: add_working_days(naive, 0),
        lambda naive: working_days_between(naive, date(2025, 10, 20)),
        lambda naive: working_days_between(date(2025, 9, 1), naive),
    ],
    ids=["is_working_day", "add_working_days", "add_zero_working_days", "between_from", "between_to"],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="naive"):
        call(datetime(2025, 9, 30, 12, 0))  # noqa: DTZ001 - naive on purpose


# --- working_days_between -----------------------------------------------------------------------------


def test_working_days_between_counts_arrival_not_start():
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 11)) == 3
    assert working_days_between(date(2025, 10, 11), date(2025, 9, 30)) == -3
    assert working_days_between(date(2025, 10, 1), date(2025, 10, 8)) == 0
    assert working_days_between(date(2025, 9, 30), date(2025, 9, 30)) == 0
    # Friday to Saturday steps onto a day off; Saturday back to Friday steps onto a working day.
    assert working_days_between(date(2025, 9, 19), date(2025, 9, 20)) == 0
    assert working_days_between(date(2025, 9, 20), date(2025, 9, 19)) == -1


def test_working_days_between_accepts_aware_datetimes():
    start = datetime(2025, 9, 30, 9, 0, tzinfo=SHANGHAI)
    assert working_days_between(start, add_working_days(start, 3)) == 3


def test_working_days_between_undoes_add_working_days():
    # Starts on working days, weekends, make-up days and holidays around National Day, both directions.
    for start in days(date(2025, 9, 25), date(2025, 10, 14)):
        for n in range(-12, 13):
            assert working_days_between(start, add_working_days(start, n)) == n, (start, n)


# --- Local overrides ----------------------------------------------------------------------------------


def test_an_extra_day_off_moves_the_deadline():
    assert add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)

    CalendarOverride.objects.create(date=date(2025, 10, 10), is_working_day=False, note="Local festival")

    assert not is_working_day(date(2025, 10, 10))
    # 9 October, 11 October (make-up Saturday), then Monday 13 October.
    assert add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 13)
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 13)) == 3


def test_a_saturday_worked_counts():
    assert not is_working_day(date(2025, 10, 18))

    CalendarOverride.objects.create(date=date(2025, 10, 18), is_working_day=True, note="Inspection week")

    assert is_working_day(date(2025, 10, 18))
    assert add_working_days(date(2025, 10, 17), 1) == date(2025, 10, 18)
    assert working_days_between(date(2025, 10, 17), date(2025, 10, 20)) == 2


def test_an_override_can_cancel_an_official_make_up_day():
    CalendarOverride.objects.create(date=date(2025, 10, 11), is_working_day=False, note="Make-up day waived")

    assert not is_working_day(date(2025, 10, 11))
    assert add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 13)


def test_an_override_beyond_the_first_span_of_days_is_still_honoured():
    # A stretch off longer than the span read in one query forces the walk to read the next span.
    CalendarOverride.objects.bulk_create(
        CalendarOverride(date=d, is_working_day=False, note="Office closed")
        for d in days(date(2025, 3, 4), date(2025, 4, 18))
    )
    assert add_working_days(date(2025, 3, 3), 1) == date(2025, 4, 21)
    assert add_working_days(date(2025, 4, 21), -1) == date(2025, 3, 3)


def test_overrides_are_read_in_one_query_per_computation(django_assert_max_num_queries):
    CalendarOverride.objects.create(date=date(2025, 9, 24), is_working_day=False, note="Local festival")
    CalendarOverride.objects.create(date=date(2025, 10, 18), is_working_day=True, note="Inspection week")

    with django_assert_max_num_queries(1):
        deadline = add_working_days(date(2025, 9, 20), 15)
    with django_assert_max_num_queries(1):
        count = working_days_between(date(2025, 9, 20), date(2025, 10, 20))
    with django_assert_max_num_queries(1):
        earlier = add_working_days(date(2025, 10, 20), -15)

    # Both overrides were seen inside those single queries.
    # Forwards: 22-26 minus 24 (4), 28 (5), 29-30 (7), 9-11 (10), 13-17 (15).
    assert deadline == date(2025, 10, 17)
    # Backwards: 18 (1), 13-17 (6), 9-11 (9), 28-30 (12), 26, 25, 23 (15) — the 24th is skipped.
    assert earlier == date(2025, 9, 23)
    assert count == 17  # the 15 above, then Saturday 18 October and Monday 20 October


# --- Years the package does not know ------------------------------------------------------------------


def test_an_unknown_year_counts_monday_to_friday():
    first_weeks = days(date(UNKNOWN_YEAR, 1, 1), date(UNKNOWN_YEAR, 1, 21))

    assert [is_working_day(d) for d in first_weeks] == [d.weekday() < 5 for d in first_weeks]
    # Crossing New Year out of the last known year: the first weekday of January, holiday or not.
    first_weekday = next(d for d in first_weeks if d.weekday() < 5)
    assert add_working_days(date(UNKNOWN_YEAR - 1, 12, 31), 1) == first_weekday
    assert working_days_between(date(UNKNOWN_YEAR, 1, 1), date(UNKNOWN_YEAR, 1, 29)) == sum(
        d.weekday() < 5 for d in days(date(UNKNOWN_YEAR, 1, 2), date(UNKNOWN_YEAR, 1, 29))
    )


def test_overrides_apply_in_an_unknown_year_too():
    new_year = date(UNKNOWN_YEAR, 1, 1)
    monday = new_year + timedelta(days=-new_year.weekday() % 7)  # the first Monday of the year
    assert is_working_day(monday)

    CalendarOverride.objects.create(date=monday, is_working_day=False, note="Announced early")

    assert not is_working_day(monday)


def test_the_fallback_is_logged_once_per_year(caplog, monkeypatch):
    monkeypatch.setattr(workdays, "_warned_years", set())

    with caplog.at_level(logging.WARNING, logger="core.workdays"):
        working_days_between(date(2025, 12, 1), date(2025, 12, 31))
        assert caplog.records == []
        working_days_between(date(UNKNOWN_YEAR, 1, 1), date(UNKNOWN_YEAR, 3, 1))
        add_working_days(date(UNKNOWN_YEAR, 2, 1), 5)

    assert len(caplog.records) == 1
    assert str(UNKNOWN_YEAR) in caplog.records[0].getMessage()


# --- calendar_warning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "warned_year"),
    [
        (date(2025, 12, 15), None),  # next year known
        (date(UNKNOWN_YEAR - 1, 6, 15), None),  # next year unknown, but deadlines do not reach it yet
        (date(UNKNOWN_YEAR - 1, 11, 30), None),
        (date(UNKNOWN_YEAR - 1, 12, 1), UNKNOWN_YEAR),  # deadlines now reach into January
        (date(UNKNOWN_YEAR, 1, 2), UNKNOWN_YEAR),  # the current year is unknown
        (date(UNKNOWN_YEAR, 12, 31), UNKNOWN_YEAR),  # the current year first, not the next
    ],
)
def test_calendar_warning(today, warned_year):
    with translation.override("en"):
        message = calendar_warning(today)

    if warned_year is None:
        assert message is None
    else:
        assert message == (
            f"The official holiday calendar for {warned_year} is not known yet: "
            "deadlines count Monday to Friday only."
        )


def test_calendar_warning_uses_todays_date_in_shanghai():
    # 16:30 UTC on 30 November is already 1 December in Shanghai.
    with time_machine.travel(datetime(UNKNOWN_YEAR - 1, 11, 30, 16, 30, tzinfo=UTC), tick=False):
        assert calendar_warning() is not None
    with time_machine.travel(datetime(UNKNOWN_YEAR - 1, 11, 30, 15, 30, tzinfo=UTC), tick=False):
        assert calendar_warning() is None
