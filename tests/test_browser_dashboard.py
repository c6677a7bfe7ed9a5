"""The dashboard in a real browser (Debian's Chromium, CJK fonts): ECharts draws every chart from the data
beside its table, in Chinese by default; agency staff see their own agency only; a bad date is explained
on the page; a rebuild of the summary is followed to its end. Screenshots of the page and of each chart
go to var/screenshots/ for people to look at."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from arbitration.models import Dispute, FollowUp, Ruling
from duty_lists.models import Agency
from grievances.models import SummaryRebuild
from grievances.services import summary
from grievances.views.dashboard import echarts_url
from tests.arbitration_helpers import file_dispute
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.grievance_helpers import build_world
from tests.test_browser_pickers import sign_in
from tests.test_dashboard import rebuild, the_loop

pytestmark = [pytest.mark.browser]

CHARTS = ("daily", "categories", "agency_rates", "trends")
DISPUTE_CHARTS = ("dispute_stages", "dispute_kinds", "time_to_ruling", "overdue_stages", "follow_ups")


@pytest.fixture
def figures(dispatcher: Any, member_a: Any, member_b: Any, agency_a: Agency, agency_b: Agency) -> None:
    if echarts_url() is None:
        pytest.fail("ECharts is not installed: run `make install` (npm ci) first", pytrace=False)
    world = build_world(agency_a, agency_b)
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    gap = file_dispute(member_a, agency_a, agency_b, kind="gap", title="井盖缺失归谁管")
    stalled = file_dispute(member_a, agency_a, agency_b, kind="pushback")
    Dispute.objects.filter(pk=stalled.pk).update(deadline_at=timezone.now() - timedelta(hours=3))
    ruling = Ruling.objects.create(
        dispute=gap,
        lead_agency=agency_a,
        lead_responsibility="负责井盖巡查",
        rationale="依清单",
        effective_date=timezone.localdate(),
        issued_at=timezone.now() + timedelta(days=2),
    )
    today = timezone.localdate()
    FollowUp.objects.create(
        ruling=ruling, agency=agency_a, description="补充清单", due_date=today - timedelta(days=1)
    )
    FollowUp.objects.create(
        ruling=ruling, agency=agency_b, description="配合巡查", due_date=today + timedelta(days=3)
    )
    rebuild()


def test_an_officer_sees_every_chart_drawn_beside_its_table_in_chinese(
    live_server: Any, page: Any, officer: Any, figures: None
) -> None:
    base = live_server.url
    sign_in(page, base, officer.username, PASSWORD)
    page.goto(f"{base}/dashboard/")
    page.wait_for_selector("[data-chart='daily'] canvas")
    for slug in (*CHARTS, *DISPUTE_CHARTS):
        page.wait_for_selector(f"[data-chart='{slug}'] canvas")
        assert page.locator(f"[data-table='{slug}'] caption").count() == 1
    assert page.locator("[data-chart] canvas").count() == len(CHARTS) + len(DISPUTE_CHARTS)
    assert page.locator("[data-table='follow_up_list'] tbody tr").count() == 2  # a table, no chart
    # The chart's words are the server's, in the page's language: Chinese first.
    names = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector(\"[data-chart='daily']\")).getOption()"
        ".series.map(s => s.name)"
    )
    assert names == ["已受理", "已派单"]
    assert "民生诉求" in page.inner_text("main")
    screenshot(page, "dashboard-officer.png")
    for slug in (*CHARTS, *DISPUTE_CHARTS):
        section = page.locator(f"[data-chart-section='{slug}']")
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(_path(f"dashboard-{slug}.png")))

    with page.expect_download() as download:
        page.click("[data-export='agency_rates']")
    assert download.value.suggested_filename.endswith(".xlsx")


def test_agency_staff_see_their_own_agency_and_a_bad_date_is_explained(
    live_server: Any, page: Any, member_b: Any, agency_a: Agency, agency_b: Agency, figures: None
) -> None:
    base = live_server.url
    sign_in(page, base, member_b.username, PASSWORD)
    page.click("button[lang=en]")  # the language switch, as a person would
    page.goto(f"{base}/dashboard/")
    page.wait_for_selector("[data-chart='agency_rates'] canvas")
    options = page.locator("#id_agency option").all_inner_texts()
    assert options == [agency_b.name]
    labels = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector(\"[data-chart='agency_rates']\")).getOption()"
        ".yAxis[0].data"
    )
    assert labels == [agency_b.name]
    screenshot(page, "dashboard-agency-staff.png")

    response = page.goto(f"{base}/dashboard/?agency={agency_a.pk}")
    assert response is not None and response.status == 403
    assert "You see only your own agency's figures" in page.inner_text("[data-refusal]")

    response = page.goto(f"{base}/dashboard/?since=2026-02-30")
    assert response is not None and response.status == 400
    assert "“2026-02-30” is not a date" in page.inner_text("[data-filter-errors]")
    screenshot(page, "dashboard-bad-date.png")


def test_an_officer_rebuilds_the_summary_and_the_page_follows_it(
    live_server: Any, page: Any, monkeypatch: Any, officer: Any, figures: None
) -> None:
    workers: list[threading.Thread] = []
    rebuild_days = summary.summary_days_rebuild

    def slow(**kwargs: Any) -> int:
        time.sleep(0.4)  # long enough for the page to show a step
        return rebuild_days(**kwargs)

    def work(job_id: int) -> None:
        try:
            summary.summary_rebuild_run(job_id=job_id)
        finally:
            connection.close()  # the thread's own connection: the test database is dropped after the test

    def enqueue(job_id: int) -> None:  # the worker: a thread of this process, as Celery would run it
        workers.append(threading.Thread(target=work, args=(job_id,)))
        workers[-1].start()

    monkeypatch.setattr(summary, "summary_days_rebuild", slow)
    monkeypatch.setattr(summary, "_enqueue", enqueue)
    base = live_server.url
    sign_in(page, base, officer.username, PASSWORD)
    page.goto(f"{base}/dashboard/")
    page.click("form[action$='/dashboard/rebuild/'] button")
    page.locator("[data-rebuild-progress] progress").wait_for()
    screenshot(page, "dashboard-rebuilding.png")
    page.locator("[data-rebuild-progress]").wait_for(state="detached", timeout=60_000)
    workers[0].join(timeout=30)
    assert SummaryRebuild.objects.filter(reason__isnull=False).latest("created_at").state == "done"
    page.wait_for_selector("[data-chart='daily'] canvas")


def _path(name: str) -> Any:
    from tests.browser import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
