"""A dispute in a real browser, from filing to the duty-list amendment it causes: agency staff file it
against another agency over a duty in force; the negotiation deadline passes and the real sweep task
escalates it; the editorial officer finds it in the work queue, takes it up and rules on the class of
matters; the duty list then holds the amendment, in legal review.

Screenshots go to var/screenshots/arbitration-*.png for people to look at.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from arbitration.models import Dispute, Domain, OfficeStep, Outcome, Ruling, Stage, Urgency
from arbitration.services import dispute_file, dispute_transition
from arbitration.tasks import sweep_disputes
from duty_lists.demo import DEMO_PASSWORD
from duty_lists.models import Agency, AmendmentState
from tests import registry
from tests.browser import OFFICER, screenshot

pytestmark = [pytest.mark.browser]

STAFF = "staff_zhzf"  # duty_lists.demo: 王磊, staff of 511602-zhzf
DUTY = "01-01-0001"


def sign_in(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_staff_file_the_sweep_escalates_the_officer_rules_and_the_list_awaits_the_amendment(
    live_server: Any, page: Any, demo_officer: Any
) -> None:
    base = live_server.url
    # Data migrations' rows do not survive a transactional test's flush: make sure the domain is there.
    Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})
    zhzf = Agency.objects.get(code="511602-zhzf")
    duty_list = registry.make_list("ms-arb")
    registry.stage(duty_list, DUTY, "占道经营", zhzf)
    registry.publish(duty_list)

    # 1. Agency staff file the dispute against the market regulator, over the duty their agency leads.
    sign_in(page, base, STAFF)
    page.goto(f"{base}/disputes/new/")
    assert page.input_value("#id_filing_agency") == "511602-zhzf"
    page.click("main form.dispute-form button[type=submit]")  # nothing chosen: the form says what is missing
    assert page.locator("#form-errors").count() == 1 and page.locator(".field--error").count() >= 2
    screenshot(page, "arbitration-file-errors.png")
    assert not Dispute.objects.exists()
    page.fill("#id_title", "人行道占道经营的查处")
    page.fill(
        "#id_description",
        "建设路人行道上长期有商户摆摊经营食品。我局认为涉及食品经营许可，应由市监局查处；市监局认为属占道经营。",
    )
    page.select_option("#id_kind", "overlap")
    page.select_option("#id_domain", "urban")
    page.fill("[data-picker=checkboxes] input.picker__search", "511602-sjj")  # the agency picker
    page.locator("[data-picker=checkboxes] [role=option]", has_text="511602-sjj").click()
    page.select_option("#id_duty_list", duty_list.code)
    page.fill("#id_duty_codes", DUTY)
    page.fill("#id_evidence_links", "https://example.org/jianshelu-photo.jpg")
    screenshot(page, "arbitration-file.png")
    page.click("main form.dispute-form button[type=submit]")
    page.wait_for_url(re.compile(r"/disputes/\d+/$"))
    dispute = Dispute.objects.get()
    assert dispute.stage == Stage.NEGOTIATION and [d.code for d in dispute.duties.all()] == [DUTY]
    assert "人行道占道经营的查处" in page.inner_text("main")
    # … and state their agency's position.
    page.check("input[name=stance][value=proposes]")
    page.select_option("select[name=proposed_agency]", "511602-sjj")
    page.fill(
        "details.position-form textarea[name=statement]", "无证经营食品属市场监管范围，应由市监局牵头查处。"
    )
    page.click("details.position-form button[type=submit]")
    page.wait_for_url(re.compile(r"/disputes/\d+/#parties$"))
    assert dispute.positions.get().stance == "proposes"
    screenshot(page, "arbitration-dispute-negotiation.png")

    # 2. The negotiation deadline passes; the beat's sweep task escalates it to the editorial office.
    Dispute.objects.filter(pk=dispute.pk).update(deadline_at=timezone.now() - timedelta(minutes=1))
    result = sweep_disputes.apply().get()
    assert result["escalated"] == 1
    dispute.refresh_from_db()
    assert dispute.stage == Stage.EDITORIAL_OFFICE and dispute.office_step == OfficeStep.ASSESS

    # 3. The officer finds it in the work queue, below an urgent one already past its deadline.
    officer = demo_officer
    urgent = dispute_file(
        actor=officer,
        title="小区化粪池外溢无人处置",
        description="居民反映化粪池外溢两天，住建局与水务局互相推诿。",
        kind="pushback",
        urgency=Urgency.URGENT,
        domain=Domain.objects.get(code="urban"),
        filing_agency=Agency.objects.get(code="511602-zjj"),
        respondents=[Agency.objects.get(code="511602-sw")],
    )
    dispute_transition(actor=officer, dispute=urgent, action="escalate", reason="协商超时")
    Dispute.objects.filter(pk=urgent.pk).update(deadline_at=timezone.now() - timedelta(minutes=12))
    sign_in(page, base, OFFICER[0])
    assert page.locator("[data-testid=inbox-link] .inbox-link__count").count() == 1  # told of the escalation
    page.goto(f"{base}/disputes/queue/")
    row = page.locator(f"tr[data-dispute='{dispute.pk}']")
    assert row.count() == 1 and "人行道占道经营的查处" in row.inner_text()
    assert page.locator("tbody tr").first.get_attribute("data-dispute") == str(urgent.pk)
    assert "is-overdue" in (page.locator(f"tr[data-dispute='{urgent.pk}']").get_attribute("class") or "")
    screenshot(page, "arbitration-queue.png")

    # 4. … takes it up, and rules: the market regulator leads, for the whole class of matters.
    row.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/disputes/{dispute.pk}/$"))
    page.click("form[data-step=accept_scope] button[type=submit]")
    page.wait_for_url(re.compile(rf"/disputes/{dispute.pk}/$"))
    page.locator("a.ruling-link").first.wait_for()
    screenshot(page, "arbitration-dispute-office.png")
    page.click("a.ruling-link[href$='/ruling/']")
    page.wait_for_url(re.compile(rf"/disputes/{dispute.pk}/ruling/$"))
    page.select_option("#id_lead_agency", "511602-sjj")
    page.fill("#id_lead_responsibility", "负责人行道无证食品摊贩的查处，牵头组织联合执法。")
    page.fill(
        "#id_rationale",
        "摊贩经营食品未取得许可，依《食品安全法》由市场监管部门查处；占道部分由综合执法局配合。",
    )
    page.fill("#id_legal_bases", "《中华人民共和国食品安全法》第一百二十二条")
    page.check("input[name=scope][value=class]")
    page.select_option("#id_coop-0-agency", "511602-zhzf")
    page.fill("#id_coop-0-responsibility", "配合清理占道摊点。")
    page.select_option("#id_follow-0-agency", "511602-sjj")
    page.fill("#id_follow-0-description", "一个月内完成建设路沿线排查并报送结果。")
    page.fill("#id_follow-0-due_date", (timezone.localdate() + timedelta(days=30)).isoformat())
    screenshot(page, "arbitration-ruling-form.png")
    page.click("main form.ruling-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/disputes/{dispute.pk}/(#rulings)?$"))
    ruling = Ruling.objects.get(dispute=dispute)
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.RULED and ruling.lead_agency.code == "511602-sjj"
    assert ruling.amendment is not None
    screenshot(page, "arbitration-ruled.png")

    # 5. The duty list holds the amendment, awaiting legal review.
    page.click(".amendment-link a")
    page.wait_for_url(re.compile(rf"/amendments/{ruling.amendment.pk}/$"))
    assert "法制审核中" in page.inner_text("main")
    assert ruling.amendment.state == AmendmentState.LEGAL_REVIEW
    screenshot(page, "arbitration-amendment.png")

    page.goto(f"{base}/amendments/")
    assert f"#{ruling.amendment.pk}" in page.inner_text("main")

    page.goto(f"{base}/disputes/?state=all")
    assert page.locator("tbody tr").count() == 2
    screenshot(page, "arbitration-list.png")

    page.goto(f"{base}/inbox/")
    screenshot(page, "arbitration-inbox.png")
