"""The monthly ranking in a real browser (Debian's Chromium, CJK fonts): ECharts draws the scores from the
table beside it, in Chinese; the office re-weighs the figures and the order changes; agency staff see their
own row only. Screenshots go to var/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from duty_lists.models import Agency
from grievances.models import GrievanceDailySummary, RankingMetric
from grievances.views.dashboard import echarts_url
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.test_browser_pickers import sign_in

pytestmark = [pytest.mark.browser]


@pytest.fixture
def month(agency_a: Agency, agency_b: Agency) -> str:
    """This month (the live server runs on real time): A accepts everything first time but satisfies nobody,
    B the reverse."""
    if echarts_url() is None:
        pytest.fail("ECharts is not installed: run `make install` (npm ci) first", pytrace=False)
    first = timezone.localdate().replace(day=1)
    common = {"day": first, "category": "市容环境", "received": 4, "dispatched": 4, "first_decided": 4}
    GrievanceDailySummary.objects.create(agency=agency_a, first_accepted=4, ratings=4, satisfied=0, **common)
    GrievanceDailySummary.objects.create(agency=agency_b, first_accepted=0, ratings=4, satisfied=4, **common)
    return f"{first:%Y-%m}"


def test_the_office_reweighs_the_ranking_and_the_order_changes(
    live_server: Any, page: Any, officer: Any, agency_a: Agency, agency_b: Agency, month: str
) -> None:
    base = live_server.url
    sign_in(page, base, officer.username, PASSWORD)
    page.goto(f"{base}/grievances/ranking/?month={month}")
    page.wait_for_selector("[data-chart='ranking'] canvas")
    assert page.inner_text("h1") == "部门排名"
    first_row = "[data-table='ranking'] tbody tr:first-child th"
    assert page.inner_text(first_row) == agency_b.name  # satisfaction weighs most by default
    labels = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector(\"[data-chart='ranking']\")).getOption()"
        ".yAxis[0].data"
    )
    assert set(labels) == {agency_a.name, agency_b.name}
    page.wait_for_timeout(1200)  # ECharts' bars grow for a second: the screenshot shows them grown
    screenshot(page, "ranking-officer.png")

    page.fill(f"#weight-{RankingMetric.SATISFACTION}", "150")  # novalidate: the server explains
    page.click("[data-weights] button[type=submit]")
    assert "请输入 0 到 100 之间的整数" in page.inner_text("[data-weights]")
    screenshot(page, "ranking-bad-weight.png")

    for metric in RankingMetric.values:
        page.fill(f"#weight-{metric}", "100" if metric == RankingMetric.FIRST_DISPATCH else "0")
    page.fill("#id_reason", "本月考核首派准确率")
    page.click("[data-weights] button[type=submit]")
    page.wait_for_selector(".messages")
    assert page.inner_text(first_row) == agency_a.name
    assert page.input_value(f"#weight-{RankingMetric.FIRST_DISPATCH}") == "100"
    page.wait_for_timeout(1200)
    screenshot(page, "ranking-reweighed.png")

    with page.expect_download() as download:
        page.click("[data-export='ranking']")
    assert download.value.suggested_filename.endswith(".xlsx")


def test_agency_staff_see_their_own_row_only(
    live_server: Any, page: Any, member_a: Any, agency_a: Agency, agency_b: Agency, month: str
) -> None:
    base = live_server.url
    sign_in(page, base, member_a.username, PASSWORD)
    page.goto(f"{base}/grievances/ranking/?month={month}")
    rows = page.locator("[data-table='ranking'] tbody tr th").all_inner_texts()
    assert rows == [agency_a.name]
    assert "本月共有 2 个单位参与排名" in page.inner_text("[data-own-rank]")
    assert page.locator(f"#weight-{RankingMetric.SATISFACTION}").count() == 0
    screenshot(page, "ranking-agency-staff.png")
