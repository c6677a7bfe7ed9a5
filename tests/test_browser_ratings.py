"""双向考评 in a real browser, in the Chinese interface: a street rates a department and sees it listed, the
department appeals the rating, the office upholds the appeal and the rating stops counting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from duty_lists.models import Agency
from grievances.ratings import selectors
from grievances.ratings.models import AppealState, MutualRating, RatingAppeal, RatingDirection
from grievances.ratings.results import received_scores
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.test_browser_pickers import sign_in
from tests.test_ratings import criteria_of, seed_criteria, staff_of, street_agency

pytestmark = [pytest.mark.browser]


def test_a_street_rates_a_department_which_appeals_and_the_office_upholds(
    live_server: Any, page: Any, officer: Any, agency_a: Agency
) -> None:
    seed_criteria()  # a transactional test: the migration's rows may have been flushed by an earlier one
    street = street_agency()
    street_staff = staff_of(street, "staff_street")
    department_staff = staff_of(agency_a, "staff_dept")
    month = selectors.today().replace(day=1)
    base = live_server.url

    # The street: through the navigation to the month's page, then the department's rating form.
    sign_in(page, base, street_staff.username, PASSWORD)
    page.click("nav >> text=双向考评")
    row = page.locator(f'[data-counterpart="{agency_a.pk}"]')
    assert row.get_attribute("data-status") == "open"
    row.locator("a.button").click()
    first, second, third = criteria_of(RatingDirection.STREET_RATES_DEPARTMENT)
    assert first.name in page.inner_text("main")  # the criteria in the office's words
    page.fill(f"#id_criterion_{first.pk}", "70")
    page.fill(f"#id_criterion_{second.pk}", "101")  # out of range: said in the page, nothing saved
    page.fill(f"#id_criterion_{third.pk}", "60")
    page.fill("#id_comment", "两次移交均超时办结。")
    page.click("main form.rating-form button[type=submit]")
    page.locator(f"#id_criterion_{second.pk}_error").wait_for()
    screenshot(page, "ratings-form.png")
    assert not MutualRating.objects.exists()
    page.fill(f"#id_criterion_{second.pk}", "50")
    page.click("main form.rating-form button[type=submit]")
    row = page.locator(f'[data-counterpart="{agency_a.pk}"]')
    row.wait_for()
    assert row.get_attribute("data-status") == "rated"
    # (70×30 + 50×40 + 60×30) / 100
    assert "59.00" in row.inner_text()
    screenshot(page, "ratings-street.png")
    rating = MutualRating.objects.get()
    assert rating.score == Decimal("59.00") and rating.month == month

    # The department reads it and appeals.
    sign_in(page, base, department_staff.username, PASSWORD)
    page.goto(f"{base}/ratings/")
    received = page.locator(f'[data-rating="{rating.pk}"]')
    assert "两次移交均超时办结。" in received.inner_text()
    received.locator("summary").click()
    received.locator("textarea").fill("两次移交均在三个工作日内完成，见移交记录。")
    received.locator("button[type=submit]").click()
    state = page.locator(f'[data-rating="{rating.pk}"] [data-appeal-state]')
    state.wait_for()
    assert state.get_attribute("data-appeal-state") == AppealState.OPEN
    assert "待编办处理" in state.inner_text()

    # The office upholds it: the rating no longer counts.
    sign_in(page, base, officer.username, PASSWORD)
    page.goto(f"{base}/ratings/")
    appeal = RatingAppeal.objects.get()
    item = page.locator(f'[data-appeal="{appeal.pk}"]')
    assert "两次移交均在三个工作日内完成" in item.inner_text()
    screenshot(page, "ratings-office.png")
    item.locator('input[value="upheld"]').check()
    item.locator("textarea").fill("核对移交记录，均按时完成，评价不予计分。")
    item.locator("button[type=submit]").click()
    page.locator(f'[data-appeal="{appeal.pk}"]').wait_for(state="detached")
    appeal.refresh_from_db()
    rating.refresh_from_db()
    assert appeal.state == AppealState.UPHELD and rating.voided
    assert agency_a.pk not in received_scores(month)
    screenshot(page, "ratings.png")
