"""The daily digest in a real browser: the officer opens it from the Chinese navigation, builds yesterday,
watches the worker's progress in the page and then reads the day's figures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from config.celery_app import app as celery_app
from core import jobs
from core.models import Job
from duty_lists.models import Agency
from grievances import routing, services
from grievances.models import DailyDigest, Grievance
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.grievance_helpers import build_world
from tests.test_browser_pickers import sign_in
from tests.test_digest import zh

pytestmark = [pytest.mark.browser]


@pytest.fixture
def gated_worker(monkeypatch: Any) -> Iterator[threading.Event]:
    """Jobs run in a thread of this process, as a Celery worker would, but only once the test opens the
    gate: the page is seen while the job still waits, then when it is done."""
    gate = threading.Event()
    threads: list[threading.Thread] = []
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the digest's e-mail task runs in the worker thread too

    def work(job_id: int) -> None:
        try:
            gate.wait(timeout=60)
            jobs.job_run(job_id=job_id)
        finally:
            connection.close()

    def enqueue(job_id: int) -> None:
        threads.append(threading.Thread(target=work, args=(job_id,)))
        threads[-1].start()

    monkeypatch.setattr(jobs, "_enqueue", enqueue)
    yield gate
    gate.set()
    for thread in threads:
        thread.join(timeout=30)
    celery_app.conf.task_always_eager = previous


def test_the_officer_builds_yesterdays_digest_and_follows_it(
    request: Any,
    live_server: Any,
    page: Any,
    gated_worker: threading.Event,
    officer: Any,
    dispatcher: Any,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    world = build_world(agency_a, agency_b)
    request.addfinalizer(routing.forget)  # the router's index of this world must not outlive its rows
    yesterday = timezone.localdate() - timedelta(days=1)
    noon = datetime.combine(yesterday, time(10), tzinfo=timezone.get_default_timezone())
    for n, (title, category) in enumerate([("流动摊贩占道经营", "市容环境"), ("夜间施工噪音扰民", "噪音")]):
        services.grievance_receive(
            actor=dispatcher,
            title=title,
            details="请相关部门处理",
            street=world.street,
            category=category,
            received_at=noon + timedelta(minutes=n),
            idempotency_key=f"digest-{n}",
            route=False,
        )
    late, _created = services.grievance_receive(
        actor=dispatcher, title="小区垃圾清运不及时", street=world.street, idempotency_key="late", route=False
    )
    Grievance.objects.filter(pk=late.pk).update(
        received_at=noon - timedelta(days=9), deadline_at=noon - timedelta(days=2)
    )
    base = live_server.url

    sign_in(page, base, officer.username, PASSWORD)
    page.click(f"nav >> text={zh('Daily digest')}")  # 每日通报
    assert zh(
        "No digest has been built yet. The first one arrives tomorrow morning at 7:00."
    ) in page.inner_text("main")
    assert page.input_value("#id_day") == yesterday.isoformat()
    page.click("[data-digest-build] button[type=submit]")

    page.wait_for_url(f"{base}/grievances/digests/{yesterday.isoformat()}/")
    progress = page.locator("[data-job-status]")
    progress.wait_for()
    assert zh("Waiting for a worker") in progress.inner_text()
    screenshot(page, "daily-digest-progress.png")

    gated_worker.set()
    page.locator("[data-digest-figures]").wait_for(timeout=60_000)
    assert page.inner_text('[data-figure="new"] .figure-tile__value') == "2"
    assert page.inner_text('[data-figure="overdue"] .figure-tile__value') == "1"
    assert late.reference in page.inner_text("main") and "市容环境" in page.inner_text("main")
    assert page.locator("[data-job-status]").count() == 0
    screenshot(page, "daily-digest.png")

    digest = DailyDigest.objects.get(day=yesterday)
    assert digest.mailed_to == 1
    assert Job.objects.get(kind="grievances.digest").state == "done"

    page.click(f"text={zh('All digests')}")
    assert page.locator(f'[data-digest="{yesterday.isoformat()}"]').count() == 1
