"""The router page in a real browser: an officer retrains, the page follows the worker's progress by itself
and shows the new version in force with what it measured; the dispatcher's queue says where automatic
dispatch stands."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from core.actors import SYSTEM
from duty_lists.models import Agency
from grievances.models import RouterModel
from grievances.services import training
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.grievance_helpers import build_world
from tests.test_browser_pickers import sign_in
from tests.test_router_versions import _history

pytestmark = [pytest.mark.browser]


def test_an_officer_retrains_and_the_page_follows_the_training_to_the_version_in_force(
    live_server: Any,
    page: Any,
    monkeypatch: Any,
    officer: Any,
    dispatcher: Any,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    world = build_world(agency_a, agency_b)
    _history(dispatcher, world, agency_b)
    seen: list[int] = []
    progress = training._progress

    def slow_progress(model_id: int, percent: int, stage: str) -> None:
        progress(model_id, percent, stage)
        seen.append(percent)
        time.sleep(0.7)  # long enough for the page to show a stage

    monkeypatch.setattr(training, "_progress", slow_progress)
    workers: list[threading.Thread] = []

    def work(model_id: int) -> None:
        try:
            training.router_train(actor=SYSTEM, model=RouterModel.objects.get(pk=model_id))
        finally:
            connection.close()  # the thread's own connection: the test database is dropped after the test

    def enqueue(model_id: int) -> None:
        # The worker: the queued version is trained in a thread of this process, as a Celery worker would.
        workers.append(threading.Thread(target=work, args=(model_id,)))
        workers[-1].start()

    monkeypatch.setattr(training, "_enqueue", enqueue)
    base = live_server.url

    sign_in(page, base, officer.username, PASSWORD)
    page.goto(f"{base}/grievances/router/")
    assert "没有启用学习版本" in page.inner_text("main")
    page.click("text=立即重新训练")
    page.locator("[data-router-progress] progress").wait_for()
    screenshot(page, "router-training.png")
    model = RouterModel.objects.get()
    page.locator(f'[data-router-in-force="{model.pk}"]').wait_for(timeout=60_000)
    workers[0].join(timeout=30)
    model.refresh_from_db()
    assert model.in_force and seen and max(seen) >= 65
    text = page.inner_text("main")
    assert "首选建议命中最终办理部门" in text and f"{model.metrics['top1'] * 100:.1f}%" in text
    screenshot(page, "router-in-force.png")

    sign_in(page, base, dispatcher.username, PASSWORD)
    page.goto(f"{base}/grievances/queue/")
    coverage = round(model.metrics["coverage"] * 100)
    assert f"{coverage}%" in page.inner_text("[data-auto-dispatch]")
