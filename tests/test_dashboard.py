"""The dashboard: its grievance figures (from the daily summary) equal grievance_stats' (from the
grievances) on the same data; the summary is rebuilt idempotently and follows a grievance changed later;
who sees whose figures; bad filters; empty states; the Excel export; the dispute figures."""

from __future__ import annotations

import io
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Any

import openpyxl
import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from arbitration.dashboard import dispute_dashboard
from arbitration.models import FollowUp, Ruling
from core.actors import SYSTEM
from duty_lists.models import Agency
from grievances import selectors, services
from grievances.dashboard.figures import grievance_dashboard
from grievances.kpis import Figures
from grievances.models import (
    Grievance,
    GrievanceDailySummary,
    OrderRole,
    OrderState,
    SummaryRebuild,
    WorkOrder,
)
from grievances.services import summary
from tests.arbitration_helpers import file_dispute
from tests.grievance_helpers import World, build_world

pytestmark = pytest.mark.django_db

URL = "/dashboard/"
# A Wednesday morning: far from midnight, so "today" and "yesterday" cannot move during a test.
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=timezone.get_default_timezone())


@pytest.fixture(autouse=True)
def _wednesday_morning() -> Any:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def today() -> date:
    return timezone.localdate()


def days_ago(n: int, hour: int = 10) -> datetime:
    return datetime.combine(today() - timedelta(days=n), time(hour), tzinfo=timezone.get_default_timezone())


def lead_order(grievance: Grievance) -> WorkOrder:
    return grievance.orders.get(role=OrderRole.LEAD, state__in=[OrderState.PENDING, OrderState.ACCEPTED])


def received(
    dispatcher: Any, n: int, key: str, *, category: str, title: str = "小区门口流动摊贩占道"
) -> Grievance:
    grievance, _created = services.grievance_receive(
        actor=dispatcher,
        title=title,
        category=category,
        received_at=days_ago(n),
        idempotency_key=key,
        route=False,
    )
    return grievance


def sent(dispatcher: Any, grievance: Grievance, agency: Agency, duty: Any) -> Grievance:
    return services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency, duty=duty)


def the_loop(dispatcher: Any, world: World, a: Agency, b: Agency, member_a: Any, member_b: Any) -> dict:
    """Grievances over several days, two agencies and two categories, through every step the figures
    count: accepted first time, returned then accepted elsewhere, resolved, rated, redone, not dispatched,
    cancelled, and one outside a 30-day window."""
    made: dict[str, Grievance] = {}
    for key, n in (("one", 3), ("two", 3)):
        g = sent(dispatcher, received(dispatcher, n, key, category="市容环境"), a, world.vending)
        services.order_accept(actor=member_a, order=lead_order(g))
        services.grievance_resolve(actor=member_a, grievance=g, resolution="已劝离")
        made[key] = g
    services.grievance_feedback(actor=dispatcher, grievance=made["one"], rating=5)
    services.grievance_feedback(actor=dispatcher, grievance=made["two"], rating=1, reopen=True)
    three = sent(dispatcher, received(dispatcher, 2, "three", category="噪声扰民"), b, world.noise)
    services.order_return(actor=member_b, order=lead_order(three), reason="不归我", cited_duty=world.vending)
    sent(dispatcher, three, a, world.vending)
    services.order_accept(actor=member_a, order=lead_order(three))
    four = sent(
        dispatcher, received(dispatcher, 1, "four", category="噪声扰民", title="夜间噪音"), b, world.noise
    )
    services.order_accept(actor=member_b, order=lead_order(four))
    services.grievance_resolve(actor=member_b, grievance=four, resolution="已处理")
    services.grievance_feedback(actor=dispatcher, grievance=four, rating=4)
    made["five"] = received(dispatcher, 0, "five", category="")  # waits for a dispatcher
    cancelled = received(dispatcher, 1, "six", category="市容环境")
    services.grievance_cancel(actor=dispatcher, grievance=cancelled, reason="重复来电")
    old = sent(dispatcher, received(dispatcher, 40, "old", category="市容环境"), a, world.vending)
    services.order_accept(actor=member_a, order=lead_order(old))
    made.update(three=three, four=four, old=old)
    return made


def rebuild() -> SummaryRebuild:
    job = summary.summary_rebuild_request(actor=SYSTEM, reason="test", enqueue=False)
    done = summary.summary_rebuild_run(job_id=job.pk)
    assert done is not None and done.state == "done"
    return done


def window(since: date, until: date) -> dict[str, datetime]:
    tz = timezone.get_default_timezone()
    return {
        "since": datetime.combine(since, time.min, tzinfo=tz),
        "until": datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz),
    }


def plain(figures: Figures) -> dict[str, Any]:
    values = asdict(figures)
    values.pop("key"), values.pop("label")
    return values


def summary_rows() -> list[tuple]:
    fields = [f.name for f in GrievanceDailySummary._meta.fields if f.name != "id"]
    names = [f"{name}_id" if name == "agency" else name for name in fields]
    return sorted(GrievanceDailySummary.objects.values_list(*names), key=str)


# --- The same figures as grievance_stats -----------------------------------------------------------------


def test_the_dashboards_figures_equal_grievance_stats(
    dispatcher, world, agency_a, agency_b, member_a, member_b
):
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    rebuild()
    since, until = today() - timedelta(days=29), today()
    dash = grievance_dashboard(since=since, until=until)
    stats = window(since, until)

    (overall,) = selectors.grievance_stats(**stats)
    assert plain(dash.overall) == plain(overall)
    assert dash.overall.received == 5  # not the cancelled one, nor the one 40 days ago
    assert dash.overall.first_dispatch_success_rate == 0.75  # one, two, four; not three (returned)
    for group, mine in (("agency", dash.per_agency), ("category", dash.per_category)):
        theirs = {f.key: plain(f) for f in selectors.grievance_stats(group_by=group, **stats)}
        assert {f.key: plain(f) for f in mine} == theirs
    by_day = {timezone.localdate(f.key): plain(f) for f in selectors.grievance_stats(group_by="day", **stats)}
    assert {f.key: plain(f) for f in dash.per_day if f.received} == by_day
    assert len(dash.per_day) == 30  # every day of the range, the quiet ones as zeros

    # One agency's own figures are grievance_stats' for that agency, the 40-day-old one included when the
    # range reaches it.
    wider = today() - timedelta(days=60)
    own = grievance_dashboard(since=wider, until=until, agencies={agency_a.pk})
    (stats_a,) = selectors.grievance_stats(agency_id=agency_a.pk, **window(wider, until))
    assert plain(own.overall) == plain(stats_a) and own.overall.received == 3  # one, two, old


@pytest.mark.postgres  # GROUPING SETS; elsewhere the three queries are the only way
def test_one_scan_and_three_queries_sum_the_same(dispatcher, world, agency_a, agency_b, member_a, member_b):
    from grievances.dashboard.figures import _sums

    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    rebuild()
    for agencies in (None, {agency_b.pk}):
        window_ = {"since": today() - timedelta(days=60), "until": today(), "agencies": agencies}
        one, three = _sums(**window_, one_scan=True), _sums(**window_, one_scan=False)
        assert one[0] == three[0]
        for mine, theirs in zip(one[1:], three[1:], strict=True):
            assert sorted(mine, key=str) == sorted(theirs, key=str)


def test_the_trend_adds_the_days_up_into_weeks_and_months(
    dispatcher, world, agency_a, agency_b, member_a, member_b
):
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    rebuild()
    since, until = today() - timedelta(days=89), today()
    for period in ("week", "month"):
        dash = grievance_dashboard(since=since, until=until, period=period)
        assert sum(f.received for f in dash.trend) == dash.overall.received == 6
    assert grievance_dashboard(since=since, until=until).period == "week"  # 90 days: weekly by default


# --- The summary ---------------------------------------------------------------------------------------


def test_rebuilding_twice_writes_the_same_rows(dispatcher, world, agency_a, agency_b, member_a, member_b):
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    first = rebuild()
    rows = summary_rows()
    assert first.days_total == 41 and first.days_done == 41 and first.progress == 100
    rebuild()
    assert summary_rows() == rows
    summary.summary_refresh()
    assert summary_rows() == rows  # the refresh of unchanged days changes nothing either
    undispatched = GrievanceDailySummary.objects.get(agency__isnull=True, day=today())
    assert undispatched.received == 1 and undispatched.dispatched == 0


def test_the_refresh_picks_up_a_grievance_changed_later(
    dispatcher, world, agency_a, agency_b, member_a, member_b
):
    with time_machine.travel(NOW - timedelta(hours=2), tick=True):
        made = the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
        rebuild()
    with time_machine.travel(NOW - timedelta(hours=1), tick=True):
        summary.summary_refresh()  # the loop's own changes, seen once

    three = made["three"]  # received two days ago: not today's or yesterday's row
    services.grievance_resolve(actor=member_a, grievance=three, resolution="已劝离")
    three.refresh_from_db()
    services.grievance_feedback(actor=dispatcher, grievance=three, rating=2)
    before = GrievanceDailySummary.objects.get(day=today() - timedelta(days=2), agency=agency_b)
    assert before.ratings == 0

    result = summary.summary_refresh()
    assert result.marked == 3 and result.left == 0  # today, yesterday and the day it was received
    after = GrievanceDailySummary.objects.get(day=today() - timedelta(days=2), agency=agency_b)
    assert (after.ratings, after.satisfied, after.rating_sum, after.resolved) == (1, 0, 2, 1)
    since, until = today() - timedelta(days=29), today()
    (overall,) = selectors.grievance_stats(**window(since, until))
    assert plain(grievance_dashboard(since=since, until=until).overall) == plain(overall)


def test_the_first_refresh_builds_every_day_within_its_budget(dispatcher, world):
    received(dispatcher, 20, "x", category="市容环境")
    received(dispatcher, 5, "y", category="市容环境")
    first = summary.summary_refresh(budget_seconds=0)  # one run of days (the newest), then out of time
    # The first grievance's day to the last (16), today and yesterday.
    assert (first.marked, first.days, first.left) == (18, 2, 16)
    assert not GrievanceDailySummary.objects.filter(day=today() - timedelta(days=20)).exists()
    second = summary.summary_refresh()
    assert second.left == 0 and second.days == 16 + 2  # what was left, and today and yesterday again
    assert GrievanceDailySummary.objects.get(day=today() - timedelta(days=20)).received == 1


def test_a_rebuild_job_runs_once_however_often_it_is_delivered(dispatcher, world):
    received(dispatcher, 5, "x", category="市容环境")
    job = summary.summary_rebuild_request(actor=SYSTEM, enqueue=False)
    assert summary.summary_rebuild_request(actor=SYSTEM, enqueue=False) == job  # one pending at a time
    assert summary.summary_rebuild_run(job_id=job.pk).state == "done"
    assert summary.summary_rebuild_run(job_id=job.pk) is None  # a second delivery does nothing
    assert GrievanceDailySummary.objects.get().received == 1


def test_runs_of_days_are_consecutive_newest_first_and_bounded() -> None:
    d = date(2026, 5, 1)
    days = [d + timedelta(days=n) for n in (0, 1, 2, 5, 6, 20)]
    assert summary.runs_of(days, longest=2) == [
        (d + timedelta(days=20), d + timedelta(days=20)),
        (d + timedelta(days=5), d + timedelta(days=6)),
        (d + timedelta(days=1), d + timedelta(days=2)),
        (d, d),
    ]


# --- Who sees what ------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    for url in (URL, reverse("grievances:dashboard_export", args=["daily"])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_agency_staff_see_only_their_own_figures_and_are_refused_another_agencys(
    english, dispatcher, world, agency_a, agency_b, member_a, member_b
):
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    rebuild()
    client = english(member_b)
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<option value="{agency_b.pk}"' in page and f'<option value="{agency_a.pk}"' not in page
    by_agency = {c.slug: c for c, _url in response.context["grievance_charts"]}["agency_rates"]
    assert [row[0] for row in by_agency.rows] == [agency_b.name]
    (theirs,) = selectors.grievance_stats(
        agency_id=agency_b.pk, **window(today() - timedelta(days=89), today())
    )
    assert response.context["tiles"][0][1] == str(theirs.received) == "2"

    refused = client.get(URL, {"agency": agency_a.pk})
    assert refused.status_code == 403
    assert "You see only your own agency&#x27;s figures" in refused.content.decode()
    assert "data-chart" not in refused.content.decode()
    export = client.get(
        reverse("grievances:dashboard_export", args=["agency_rates"]), {"agency": agency_a.pk}
    )
    assert export.status_code == 403

    officer_view = english(dispatcher).get(URL, {"agency": agency_a.pk})
    assert officer_view.status_code == 200


def test_overseers_see_disputes_and_dispatchers_only_grievances(
    english, officer, leader, auditor, dispatcher, legal_reviewer
):
    for person in (officer, leader, auditor):
        response = english(person).get(URL)
        assert response.status_code == 200 and response.context["dispute_charts"]
    response = english(dispatcher).get(URL)
    assert response.status_code == 200 and response.context["dispute_charts"] == []
    assert (
        english(dispatcher).get(reverse("grievances:dashboard_export", args=["follow_ups"])).status_code
        == 404
    )
    assert english(legal_reviewer).get(URL).status_code == 403  # no agency of their own, no oversight role


# --- Filters and empty states ----------------------------------------------------------------------------


def test_bad_filters_answer_400_with_a_clear_message(english, officer):
    client = english(officer)
    cases = [
        (
            {"since": "2026-13-45"},
            "“2026-13-45” is not a date: enter one as YYYY-MM-DD, for example 2026-05-01.",
        ),
        ({"until": "yesterday"}, "“yesterday” is not a date"),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "Before the start date."),
        ({"agency": "abc"}, "No such agency: choose one from the list."),
        ({"agency": "999999"}, "No such agency"),
        ({"period": "fortnight"}, "Select a valid choice."),
    ]
    for params, message in cases:
        response = client.get(URL, params)
        page = response.content.decode()
        assert response.status_code == 400, params
        assert message in page and 'role="alert"' in page
        assert "data-chart=" not in page
    bad_export = client.get(reverse("grievances:dashboard_export", args=["daily"]), {"since": "nope"})
    assert bad_export.status_code == 400 and "“nope” is not a date" in bad_export.content.decode()


def test_no_data_gives_empty_states_not_errors(english, officer):
    response = english(officer).get(URL, {"since": "2020-01-01", "until": "2020-01-31"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-empty="') == 10  # every chart says it has nothing, none draws
    assert "No grievance was received in this period." in page and "data-chart=" not in page
    assert 'data-export="' not in page
    assert response.context["tiles"][1][1] == "—"  # no rate of nothing


def test_the_page_speaks_chinese_first(login, officer):
    response = login(officer).get(URL)
    page = response.content.decode()
    assert response.status_code == 200 and '<html lang="zh-hans">' in page
    assert "民生诉求" in page and "职责争议" in page  # the two groups' headings


def test_without_the_chart_library_the_tables_still_show(english, officer, dispatcher, world, monkeypatch):
    received(dispatcher, 1, "x", category="市容环境")
    rebuild()
    monkeypatch.setattr("grievances.views.dashboard.echarts_url", lambda: None)
    response = english(officer).get(URL)
    page = response.content.decode()
    assert response.status_code == 200 and "data-no-charts" in page and "make install" in page
    assert "data-chart=" not in page and 'data-table="daily"' in page and "vendor/echarts" not in page


def test_with_the_library_installed_the_page_loads_it_from_static_files(english, officer, dispatcher, world):
    from grievances.views.dashboard import echarts_url

    if echarts_url() is None:
        pytest.skip("node_modules/echarts is not installed (make install)")
    received(dispatcher, 1, "x", category="市容环境")
    rebuild()
    page = english(officer).get(URL).content.decode()
    assert '<script src="/static/vendor/echarts/echarts.min.js" defer>' in page
    assert 'data-chart="daily"' in page and 'id="chart-data-daily"' in page


def test_the_page_runs_a_fixed_number_of_queries(
    english, officer, dispatcher, world, agency_a, agency_b, member_a, member_b, django_assert_max_num_queries
):
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    rebuild()
    client = english(officer)
    client.get(URL)
    with django_assert_max_num_queries(30):
        assert client.get(URL).status_code == 200


# --- Excel -----------------------------------------------------------------------------------------------


def test_each_chart_exports_its_table_to_excel(
    english, officer, dispatcher, world, agency_a, agency_b, member_a, member_b
):
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    rebuild()
    since, until = today() - timedelta(days=29), today()
    params = {"since": since.isoformat(), "until": until.isoformat()}
    response = english(officer).get(reverse("grievances:dashboard_export", args=["agency_rates"]), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("Agency first asked", "Received", "First dispatch accepted")
    stats = {f.label: f for f in selectors.grievance_stats(group_by="agency", **window(since, until))}
    for row in rows[1:]:
        theirs = stats[row[0]] if row[0] != "(not dispatched)" else stats[""]
        assert row[1] == theirs.received and row[2] == theirs.first_dispatch_success_rate
    assert workbook.worksheets[0]["C2"].number_format == "0.0%"
    about = dict(workbook.worksheets[1].iter_rows(values_only=True))
    assert about["Chart"] == "Rates per agency first asked" and about["Agency"] == "All agencies"

    daily = english(officer).get(reverse("grievances:dashboard_export", args=["daily"]), params)
    sheet = openpyxl.load_workbook(io.BytesIO(daily.content)).worksheets[0]
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(values) == 30 and sum(row[1] for row in values) == 5
    assert english(officer).get(reverse("grievances:dashboard_export", args=["nope"])).status_code == 404


def test_a_name_that_looks_like_a_formula_is_exported_as_text(english, officer, dispatcher, world):
    received(dispatcher, 1, "x", category='=HYPERLINK("http://example.com","点我")')
    rebuild()
    response = english(officer).get(reverse("grievances:dashboard_export", args=["categories"]))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert sheet["A2"].data_type == "s" and sheet["A2"].value.startswith("=HYPERLINK")


# --- Disputes ------------------------------------------------------------------------------------------


def test_dispute_figures_by_stage_kind_ruling_time_and_follow_ups(officer, member_a, agency_a, agency_b):
    gap = file_dispute(member_a, agency_a, agency_b, kind="gap", title="井盖缺失归谁管")
    file_dispute(member_a, agency_a, agency_b, kind="pushback")
    # The read side's test: a ruling row as ruling_issue leaves it, without walking the ladder first.
    ruling = Ruling.objects.create(
        dispute=gap,
        lead_agency=agency_a,
        lead_responsibility="负责井盖巡查",
        rationale="依清单",
        effective_date=today(),
        issued_at=timezone.now() + timedelta(days=2),
    )
    FollowUp.objects.create(
        ruling=ruling, agency=agency_a, description="补充清单", due_date=today() - timedelta(days=1)
    )
    FollowUp.objects.create(
        ruling=ruling, agency=agency_b, description="配合巡查", due_date=today() + timedelta(days=3)
    )
    now = timezone.now()
    figures = dispute_dashboard(
        since=now - timedelta(days=1), until=now + timedelta(days=1), agencies=None, now=now, today=today()
    )
    assert figures.filed == 2
    assert {k.kind: k.total for k in figures.kinds if k.total} == {"gap": 1, "pushback": 1}
    assert figures.all_kinds is not None and figures.all_kinds.ruled == 1
    assert {r.label: (r.overdue, r.due_soon) for r in figures.follow_ups} == {
        agency_a.name: (1, 0),
        agency_b.name: (0, 1),
    }
    mine = dispute_dashboard(
        since=now - timedelta(days=1),
        until=now + timedelta(days=1),
        agencies={agency_b.pk},
        now=now,
        today=today(),
    )
    assert [r.label for r in mine.follow_ups] == [agency_b.name] and mine.filed == 2  # b is a party to both


def test_the_rebuild_command_prints_its_progress_and_can_queue_instead(
    dispatcher, world, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    received(dispatcher, 3, "x", category="市容环境")
    received(dispatcher, 0, "y", category="市容环境")
    out = io.StringIO()
    call_command("rebuild_dashboard_summary", stdout=out)
    assert "4 / 4 days (100%)" in out.getvalue() and "Rebuilt 4 days" in out.getvalue()
    assert GrievanceDailySummary.objects.count() == 2
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("rebuild_dashboard_summary", "--queue", stdout=out)
    assert len(callbacks) == 1 and SummaryRebuild.objects.filter(state="queued").count() == 1


def test_officers_rebuild_from_the_page_and_it_reports_progress(
    english, officer, member_a, django_capture_on_commit_callbacks
):
    assert english(member_a).post(reverse("grievances:dashboard_rebuild")).status_code == 403
    client = english(officer)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("grievances:dashboard_rebuild"), {"query": "since=2026-06-01"})
    assert response.status_code == 302 and response["Location"] == f"{URL}?since=2026-06-01"
    assert len(callbacks) == 1  # the Celery task, sent after the commit
    status = client.get(reverse("grievances:dashboard_rebuild_status")).json()
    assert status["running"] is True and status["progress"] == 0
    page = client.get(URL).content.decode()
    assert "data-rebuild-progress" in page
    job = SummaryRebuild.objects.get()
    summary.summary_rebuild_run(job_id=job.pk)
    assert client.get(reverse("grievances:dashboard_rebuild_status")).json() == {"running": False}
