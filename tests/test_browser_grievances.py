"""A grievance in a real browser, around the loop once: a dispatcher records 「小区门口流动摊贩占道经营」 and
reads the router's explanation, but sends it to the market regulator under the noise duty; the regulator's
staff return it citing duty 占道经营 with the return form's duty picker; the cited agency is now the top
suggestion in the queue, the dispatcher sends it there with one click, and its staff accept it.

Screenshots go to var/screenshots/grievances-*.png for people to look at.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from duty_lists.models import Agency
from grievances.models import Grievance, GrievanceState, OrderRole, OrderState
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.grievance_helpers import build_world

pytestmark = [pytest.mark.browser]

TITLE = "小区门口流动摊贩占道经营"


def sign_in(page: Any, base: str, user: Any) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_a_wrong_dispatch_is_returned_citing_the_list_and_the_cited_agency_accepts(
    live_server: Any,
    page: Any,
    settings: Any,
    dispatcher: Any,
    member_a: Any,
    member_b: Any,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    # The router would dispatch this one by itself; here the dispatcher decides, and decides wrongly.
    settings.ZHIZE_AUTO_DISPATCH_CONFIDENCE = 1.01
    world = build_world(agency_a, agency_b)
    base = live_server.url

    # 1. The dispatcher records the grievance and reads whose the list says it is, and why.
    sign_in(page, base, dispatcher)
    page.click("nav.site-nav a[href='/grievances/queue/']")
    page.click("a[href='/grievances/new/']")
    page.fill("#id_title", TITLE)
    page.fill("#id_details", "每天傍晚有流动摊贩在北辰小区东门摆摊，堵住消防通道。")
    page.select_option("#id_street", str(world.street.pk))
    page.fill("#id_address", "北辰小区东门")
    page.fill("#id_contact_name", "张三")
    page.fill("#id_contact_phone", "13812345678")
    screenshot(page, "grievances-intake.png")
    page.click("main form.grievance-form button[type=submit]")
    page.wait_for_url(re.compile(r"/grievances/\d+/$"))
    grievance = Grievance.objects.get()
    assert grievance.state == GrievanceState.RECEIVED
    top = page.locator("#suggestions .suggestion").first
    assert "区综合执法局" in top.inner_text() and "01-01-0001" in top.inner_text()
    assert top.locator("mark.match").count() >= 2  # the citizen's words that matched the duty
    assert "13812345678" in page.inner_text("[data-testid=contact]")
    screenshot(page, "grievances-detail-suggestions.png")

    # … and sends it to the market regulator under the noise duty, with the form for another agency.
    page.click("details#dispatch > summary")
    page.select_option("#id_dispatch_agency", str(agency_b.pk))
    page.fill("#id_dispatch_duty_search", "噪音")  # the duty picker searches the duties API
    page.locator("#dispatch [role=option]", has_text="02-01-0001").click()
    page.click("details#dispatch button[type=submit]")
    page.wait_for_url(re.compile(rf"/grievances/{grievance.pk}/$"))
    grievance.refresh_from_db()
    assert grievance.handling_agency == agency_b and grievance.state == GrievanceState.DISPATCHED

    # 2. The regulator's staff return it, citing 占道经营 from the duty picker.
    sign_in(page, base, member_b)
    page.goto(f"{base}/grievances/inbox/")
    first = grievance.orders.get(role=OrderRole.LEAD)
    card = page.locator(f"#order-{first.pk}")
    assert TITLE in card.inner_text()
    card.locator("details[data-action=return] > summary").click()
    picker = f"#id_return_{first.pk}_cited_duty"
    page.fill(f"{picker}_search", "占道")
    page.locator(f"#order-{first.pk} [role=option]", has_text="01-01-0001 占道经营 — 区综合执法局").click()
    assert page.input_value(picker) == str(world.vending.pk)
    page.fill(f"#id_return_{first.pk}_reason", "流动摊贩占道经营，清单01-01-0001列明由区综合执法局牵头。")
    screenshot(page, "grievances-inbox-return.png")
    card.locator("details[data-action=return] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/grievances/inbox/"))
    first.refresh_from_db()
    assert first.state == OrderState.RETURNED and first.cited_agency == agency_a

    # 3. Back in the queue, the cited agency is the top suggestion: one click sends it there.
    sign_in(page, base, dispatcher)
    page.goto(f"{base}/grievances/queue/")
    row = page.locator(f"li[data-grievance='{grievance.pk}']")
    assert "区市监局" in row.locator(".g-return").inner_text()
    assert "区综合执法局" in row.locator(".suggestion").inner_text()
    screenshot(page, "grievances-queue-returned.png")
    row.locator(f"form[data-quick-dispatch='{agency_a.pk}'] button").click()
    page.wait_for_url(re.compile(r"/grievances/queue/$"))
    assert page.locator(f"li[data-grievance='{grievance.pk}']").count() == 0
    grievance.refresh_from_db()
    assert grievance.handling_agency == agency_a and grievance.dispatch_count == 2

    # 4. The comprehensive enforcement bureau accepts it.
    sign_in(page, base, member_a)
    page.goto(f"{base}/grievances/inbox/")
    second = grievance.orders.get(role=OrderRole.LEAD, round=2)
    page.locator(f"#order-{second.pk} form[data-action=accept] button").click()
    page.wait_for_url(re.compile(r"/grievances/inbox/"))
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.ACCEPTED and grievance.first_dispatch_accepted is False
    page.goto(f"{base}/grievances/{grievance.pk}/")
    assert page.locator("[data-testid=grievance-state]").first.inner_text().strip() != ""
    screenshot(page, "grievances-detail-accepted.png")


def test_a_street_blows_the_whistle_the_department_reports_and_the_citizen_rates(
    live_server: Any, page: Any, dispatcher: Any, member_a: Any, agency_a: Agency, agency_b: Agency
) -> None:
    from grievances.services import grievance_receive, grievance_resolve, order_accept

    world = build_world(agency_a, agency_b)
    base = live_server.url

    # 1. The street's staff summon the enforcement bureau; its staff report (报到).
    sign_in(page, base, world.street_staff)
    page.click("nav.site-nav a[href='/grievances/whistles/']")
    page.click("a[href='/grievances/whistles/new/']")
    page.fill("#id_title", "北辰小区东门流动摊贩聚集，堵塞消防通道")
    page.fill("#id_description", "傍晚六点起约二十个摊位，居民多次投诉。")
    page.fill("#id_address", "北辰小区东门")
    page.check(f"input[name=agencies][value='{agency_a.pk}']")
    page.click("main form.whistle-form button[type=submit]")
    page.wait_for_url(re.compile(r"/grievances/whistles/\d+/$"))
    assert "待报到" in page.inner_text("#summonses")  # awaiting report
    sign_in(page, base, member_a)
    page.goto(f"{base}/grievances/inbox/")
    page.click(".summons-alert a")
    page.fill("textarea, input[name=note]", "两名执法队员已到场")
    page.click("form[data-action=report] button[type=submit]")
    page.wait_for_url(re.compile(r"/grievances/whistles/\d+/#summonses$"))
    assert page.locator(".summons--on_time").count() == 1
    screenshot(page, "grievances-whistle.png")

    # 2. A grievance is handled; the citizen opens the status link, without signing in, and rates it.
    grievance, _created = grievance_receive(
        actor=dispatcher, title="小区门口有流动摊贩占道经营", street=world.street, contact_phone="13812345678"
    )
    assert grievance.handling_agency == agency_a  # sure enough: dispatched at intake
    order_accept(actor=member_a, order=grievance.orders.get())
    grievance_resolve(actor=member_a, grievance=grievance, resolution="已清理摊点，并安排每日巡查。")
    page.context.clear_cookies()
    page.goto(f"{base}/g/{grievance.token}/")
    assert "13812345678" not in page.content() and "已清理摊点" in page.inner_text("main")
    page.check("input[name=rating][value='4']")
    screenshot(page, "grievances-citizen.png")
    page.click("form.citizen-feedback button[type=submit]")
    page.wait_for_url(f"{base}/g/{grievance.token}/")
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.CLOSED and grievance.rating == 4

    # 3. The figures count it.
    sign_in(page, base, dispatcher)
    page.click("nav.site-nav a[href='/grievances/figures/']")
    page.select_option("#id_group", "day")
    page.click("form.figures-filter button[type=submit]")
    page.wait_for_url(re.compile(r"/grievances/figures/\?"))
    assert page.locator(".figures-table").count() == 3
    screenshot(page, "grievances-figures.png")
