"""The gap finder and the what-if replay in a real browser: the officer starts a search, the page follows
the worker to the groups it found; the replay of a draft amendment shows who would get the grievances."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from core import jobs
from duty_lists.models import Agency
from grievances import routing
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.grievance_helpers import build_world
from tests.test_browser_pickers import sign_in
from tests.test_gap_finder import BIKES, PARKING, _grievance
from tests.test_replay import _received, _transfer_vending

pytestmark = [pytest.mark.browser]


@pytest.fixture
def worker(monkeypatch: Any) -> Iterator[list[threading.Thread]]:
    """Jobs run in a thread of this process, as a Celery worker would run them."""
    threads: list[threading.Thread] = []

    def work(job_id: int) -> None:
        try:
            jobs.job_run(job_id=job_id)
        finally:
            connection.close()

    def enqueue(job_id: int) -> None:
        threads.append(threading.Thread(target=work, args=(job_id,)))
        threads[-1].start()

    monkeypatch.setattr(jobs, "_enqueue", enqueue)
    yield threads
    for thread in threads:
        thread.join(timeout=30)


def test_the_officer_finds_the_gaps_and_replays_an_amendment(
    live_server: Any,
    page: Any,
    worker: Any,
    officer: Any,
    dispatcher: Any,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    world = build_world(agency_a, agency_b)
    routing.forget()
    for i, title in enumerate(BIKES):
        _grievance(
            dispatcher, world, title, f"b{i}", days_ago=2 + i * 7, unlisted=True, handling_agency=agency_a
        )
    for i, title in enumerate(PARKING):
        _grievance(
            dispatcher, world, title, f"p{i}", days_ago=30 + i, return_count=2, handling_agency=agency_b
        )
    base = live_server.url

    sign_in(page, base, officer.username, PASSWORD)
    page.click("nav >> text=职责空白查找")
    assert "还没有运行过查找" in page.inner_text("main")
    page.click("text=查找职责空白")
    page.locator('[data-cluster="0"]').wait_for(timeout=60_000)
    text = page.inner_text("main")
    assert BIKES[0] in text and "最接近的职责" in text and "提起职责空白争议" in text
    screenshot(page, "gap-finder.png")

    for i in range(2):
        _received(dispatcher, world, f"流动摊贩占道经营{i}", f"v{i}", final=agency_b, days_ago=5 + i)
    amendment = _transfer_vending(world, officer, agency_a, agency_b)
    page.goto(f"{base}/amendments/{amendment.pk}/")
    page.click("text=假设回放：重新分派诉求")
    page.click("main button[type=submit]")
    page.locator("[data-moved]").wait_for(timeout=60_000)
    assert page.inner_text("[data-moved] .figure-tile__value") == "2"
    assert agency_b.name in page.inner_text("main")
    screenshot(page, "what-if-replay.png")
