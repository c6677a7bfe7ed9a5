"""The registry in a real browser: an officer uploads the organiser's real taxonomy, sees the check's
preview, confirms, publishes an edition, and the public list shows it. The import runs as a Celery task on
a real worker against Redis, as in production."""

from __future__ import annotations

import re
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery_app import app as celery_app
from core.actors import SYSTEM
from duty_lists.demo import DEMO_PASSWORD
from duty_lists.models import DutyList, Edition
from duty_lists.services import duty_list_create
from tests.browser import OFFICER, screenshot
from tests.data import shared_file

pytestmark = [pytest.mark.browser, pytest.mark.redis]


@pytest.fixture
def worker(transactional_db: None) -> Any:
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


def test_officer_imports_checks_confirms_and_publishes_and_the_public_sees_it(
    live_server: Any, page: Any, demo_officer: Any, worker: Any
) -> None:
    taxonomy = shared_file("tipdm2020", "taxonomy_3level.xlsx")
    duty_list = duty_list_create(
        actor=SYSTEM, code="ms-test", name="民生诉求职责清单（测试）", kind="livelihood"
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", OFFICER[0])
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/duty-lists/import/")
    page.select_option("#id_duty_list", duty_list.code)
    page.set_input_files("#id_file", str(taxonomy))
    page.select_option("#id_default_lead", "511602-zhzf")
    screenshot(page, "import-upload.png")
    page.click("main form.form button[type=submit]")

    # The check runs on the worker; the page follows its progress and then shows the preview.
    confirm = page.locator("form[action$='/confirm/'] button[type=submit]")
    confirm.wait_for(timeout=60_000)
    preview = page.inner_text("main")
    assert "517" in preview and "118" in preview and "15" in preview
    screenshot(page, "import-preview.png")
    assert not Edition.objects.filter(duty_list=duty_list).exists()  # nothing written before confirming

    confirm.click()
    publish = page.locator("form[action$='/publish/'] button[type=submit]")
    publish.wait_for(timeout=60_000)
    page.fill("#id_note", "导入问政留言分类作为民生诉求职责清单")
    publish.click()
    page.wait_for_url(re.compile(r"/duty-lists/ms-test/editions/1/$"))
    screenshot(page, "import-published-edition.png")
    edition = Edition.objects.get(duty_list=duty_list)
    assert edition.number == 1 and edition.published_by == demo_officer

    # The public, signed out, reads the published list.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/duty-lists/ms-test/")
    body = page.inner_text("main")
    assert "城乡建设" in body and "劳动和社会保障" in body
    screenshot(page, "public-list.png")
    assert DutyList.objects.get(code="ms-test").editions.count() == 1
