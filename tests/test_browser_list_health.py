"""List health in a real Chromium: the officer opens the page (Chinese first, CJK glyphs drawn), asks for a
recompute, watches the worker's progress move without reloading, and reads the findings once the page
reloads itself; an unknown list gets a clear message. Screenshots: var/screenshots/list-health*.png."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from duty_lists import services
from duty_lists.demo import DEMO_PASSWORD
from duty_lists.models import Agency, DutyList, LegalBasis
from duty_lists.services import health as health_services
from tests import registry
from tests.browser import OFFICER, screenshot

pytestmark = [pytest.mark.browser]


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def a_list_with_findings(officer: Any) -> DutyList:
    zhzf, sjj = Agency.objects.get(code="511602-zhzf"), Agency.objects.get(code="511602-sjj")
    duty_list = registry.make_list("cg")  # 01-01 城市管理, 02-01 噪音污染 (left empty: a gap)
    registry.stage(duty_list, "01-01-0001", "占道经营的查处", zhzf, cooperating=(sjj,))
    registry.stage(duty_list, "01-01-0002", "占道经营查处", sjj)
    registry.stage(duty_list, "01-01-0003", "户外广告设置", zhzf)
    registry.publish(duty_list)
    basis = LegalBasis.objects.filter(revision__code="01-01-0003").get()
    services.legal_basis_mark(
        actor=officer, legal_basis=basis, status="repealed", review_date=None, reason="条例已废止"
    )
    return duty_list


def cjk_glyphs(page: Any, selector: str) -> int:
    """How many glyphs of the element's text Chromium drew with a CJK font (the rest would be empty
    boxes): asked of the DevTools protocol, which reports the platform fonts a node was rendered with."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return sum(font["glyphCount"] for font in fonts if "CJK" in font["familyName"])


@pytest.mark.postgres  # the worker thread needs its own connection to the test database
def test_the_officer_recomputes_follows_the_progress_and_reads_the_findings(
    live_server: Any, page: Any, demo_officer: Any, monkeypatch: Any
) -> None:
    a_list_with_findings(demo_officer)
    queued: list[int] = []
    monkeypatch.setattr(health_services, "_enqueue", queued.append)  # the test plays the worker
    reached, release = threading.Event(), threading.Event()
    progress = health_services._progress

    def pausing(report_id: int, percent: int, stage: str) -> None:
        progress(report_id, percent, stage)
        if stage == "grievances":  # hold the worker here, so the page can be seen following it
            reached.set()
            release.wait(timeout=30)

    monkeypatch.setattr(health_services, "_progress", pausing)
    base = live_server.url

    sign_in(page, base, OFFICER[0], DEMO_PASSWORD)
    page.goto(f"{base}/duty-lists/health/?list=cg")
    assert page.evaluate("document.documentElement.lang") == "zh-hans"
    assert cjk_glyphs(page, ".breadcrumbs a") == len("职责清单")  # the breadcrumb, in Chinese
    page.locator("[data-testid=health-not-computed]").wait_for()
    assert page.inner_text("[data-count=gaps]") == "1"
    assert page.inner_text("[data-count=legal-bases]") == "1"
    page.click("[data-testid=health-recompute]")
    page.locator("[data-testid=health-progress]").wait_for()
    assert page.is_disabled("[data-testid=health-recompute]")
    (report_id,) = queued

    def worker() -> None:
        try:
            health_services.list_health_compute(report_id=report_id)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert reached.wait(timeout=20)
        # The script updates the bar from the status endpoint, without reloading the page.
        page.wait_for_function("document.querySelector('[data-health-percent]').textContent === '80%'")
        assert page.input_value("#health-list") == "cg"
        screenshot(page, "list-health-progress.png")
    finally:
        release.set()
        thread.join(timeout=30)

    # Done: the script reloads the page, which now shows the findings.
    page.locator("[data-testid=overlaps]").wait_for()
    assert page.locator("[data-testid=health-progress]").count() == 0
    assert page.inner_text("[data-count=overlaps]") == "1"
    row = page.locator("[data-testid=overlaps] tbody tr")
    assert row.count() == 1 and "占道经营的查处" in row.inner_text() and "占道经营查处" in row.inner_text()
    assert "100%" in row.inner_text()
    assert cjk_glyphs(page, "[data-testid=overlaps] tbody td a") >= len("占道经营的查处")
    assert "1 个领域中的 1 项分工" in page.inner_text("[data-testid=split-headline]")
    screenshot(page, "list-health.png")

    row.locator("a").first.click()
    page.wait_for_url(f"{base}/duty-lists/cg/duties/01-01-0001/")


def test_an_unknown_list_gets_a_clear_message_and_no_list_an_empty_state(
    live_server: Any, page: Any, demo_officer: Any
) -> None:
    base = live_server.url
    sign_in(page, base, OFFICER[0], DEMO_PASSWORD)
    page.goto(f"{base}/duty-lists/health/")
    assert page.locator("[data-testid=health-empty]").is_visible()  # demo people, but no list yet
    screenshot(page, "list-health-empty.png")

    response = page.goto(f"{base}/duty-lists/health/?list=nope")
    assert response is not None and response.status == 400
    assert "nope" in page.inner_text("[data-testid=health-error]")
    screenshot(page, "list-health-unknown-list.png")
