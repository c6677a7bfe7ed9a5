"""Searchable pickers in a real browser: the dispatcher types 噪音 in the duty picker of the dispatch form,
picks the duty and the grievance goes under it; agency staff filing a dispute type the other agency's name
and pick it instead of hunting through a box of checkboxes. The page lists no long run of options."""

from __future__ import annotations

import re
from typing import Any

import pytest

from arbitration.models import Dispute, Domain
from duty_lists.demo import DEMO_PASSWORD
from duty_lists.models import Agency
from grievances.models import GrievanceState
from grievances.services import grievance_receive
from tests import registry
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.grievance_helpers import build_world

pytestmark = [pytest.mark.browser]


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_the_dispatcher_types_noise_picks_the_duty_and_the_grievance_goes_under_it(
    live_server: Any, page: Any, settings: Any, dispatcher: Any, agency_a: Agency, agency_b: Agency
) -> None:
    settings.ZHIZE_AUTO_DISPATCH_CONFIDENCE = 1.01  # it waits for the dispatcher
    world = build_world(agency_a, agency_b)
    for n in range(2, 122):  # a list long enough that a select of every duty would show
        registry.stage(
            world.duty_list, f"02-01-{n:04d}", f"油烟扰民第{n}项", agency_b, classification="02-01"
        )
    registry.publish(world.duty_list)
    grievance, _ = grievance_receive(
        actor=dispatcher, title="楼下商铺油烟", details="每天傍晚油烟很大", street=world.street
    )
    base = live_server.url

    sign_in(page, base, dispatcher.username, PASSWORD)
    page.goto(f"{base}/grievances/{grievance.pk}/")
    assert page.content().count("<option") <= 100
    page.click("details#dispatch > summary")
    page.select_option("#id_dispatch_agency", str(agency_b.pk))
    page.fill("#id_dispatch_duty_search", "噪音")
    option = page.locator("#dispatch [role=option]", has_text="02-01-0001 噪音扰民")
    option.wait_for()
    option.click()
    assert page.input_value("#id_dispatch_duty") == str(world.noise.pk)
    assert "02-01-0001 噪音扰民" in page.inner_text("#dispatch [data-picker-current]")
    screenshot(page, "pickers-dispatch-duty.png")
    page.click("details#dispatch button[type=submit]")
    page.wait_for_url(re.compile(rf"/grievances/{grievance.pk}/$"))
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.DISPATCHED
    assert grievance.handling_agency == agency_b and grievance.duty == world.noise


def test_staff_filing_a_dispute_type_the_other_agencys_name_and_pick_it(
    live_server: Any, page: Any, demo_officer: Any
) -> None:
    Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})
    sjj = Agency.objects.get(code="511602-sjj")
    duty_list = registry.make_list("cg")
    registry.stage(duty_list, "01-01-0001", "占道经营的查处", Agency.objects.get(code="511602-zhzf"))
    registry.stage(duty_list, "01-01-0002", "户外广告设置", sjj)
    registry.publish(duty_list)
    base = live_server.url

    sign_in(page, base, "staff_zhzf", DEMO_PASSWORD)
    page.goto(f"{base}/disputes/new/")
    picker = page.locator("[data-picker=checkboxes]")
    assert picker.locator("[data-picker-options]").is_hidden()  # no box of 44 checkboxes to scan
    page.fill("#id_title", "人行道占道经营的查处")
    page.fill("#id_description", "建设路人行道上长期有商户摆摊经营食品，两局对由谁查处意见不一。")
    page.select_option("#id_kind", "overlap")
    page.select_option("#id_domain", "urban")
    picker.locator("input.picker__search").fill(sjj.name[:4])
    option = picker.locator("[role=option]", has_text=sjj.code)
    option.wait_for()
    option.click()
    assert sjj.code in picker.locator(".picker__chips").inner_text()
    # The duty codes are picked too, from the list chosen above, not typed from memory.
    codes = page.locator("[data-picker=codes] input.picker__search")
    codes.fill("占道")
    duty = page.locator("[data-picker=codes] [role=option]").first
    duty.wait_for()
    assert "01-01-0001 占道经营的查处" in duty.inner_text()
    duty.click()
    assert page.input_value("#id_duty_codes") == "01-01-0001"
    screenshot(page, "pickers-dispute-agency.png")
    page.click("main form.dispute-form button[type=submit]")
    page.wait_for_url(re.compile(r"/disputes/\d+/$"))
    dispute = Dispute.objects.get()
    assert list(
        dispute.parties.exclude(agency__code="511602-zhzf").values_list("agency__code", flat=True)
    ) == ["511602-sjj"]
