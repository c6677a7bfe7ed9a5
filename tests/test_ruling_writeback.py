"""A ruling for a class of matters is written back into the duty list whole: its legal bases and keywords
reach the duty in force, the duty page links the ruling by a human name, and the next grievance of that
kind routes to the agency the ruling named."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from arbitration.services import dispute_transition, ruling_issue
from duty_lists import selectors
from duty_lists.models import Duty
from duty_lists.services import amendment_approve, amendment_pass_legal_review
from grievances import routing
from tests.arbitration_helpers import file_dispute
from tests.registry import make_list, publish, stage


@pytest.fixture
def ruled(officer: Any, legal_reviewer: Any, member_a: Any, agency_a: Any, agency_b: Any) -> Any:
    duty_list = make_list("ms")
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    publish(duty_list)
    duty = Duty.objects.get(code="01-01-0001")
    dispute = file_dispute(member_a, agency_a, agency_b, kind="overlap", duties=(duty,))
    dispute = dispute_transition(actor=member_a, dispute=dispute, action="escalate", reason="协商不成")
    dispute = dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    ruling = ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=agency_b,
        lead_responsibility="查处流动摊贩无照经营",
        rationale="属市场主体经营行为",
        legal_bases="《无证无照经营查处办法》第二条\n《城市市容和环境卫生管理条例》第十四条",
        keywords=["流动摊贩", "马路市场"],
        scope="class",
        effective_date=date(2025, 12, 1),
    )
    return ruling, duty_list


@pytest.mark.django_db
def test_the_drafted_amendment_carries_the_rulings_legal_bases_and_keywords(ruled: Any) -> None:
    ruling, _duty_list = ruled
    proposal = ruling.amendment.proposal
    assert {"流动摊贩", "马路市场"} <= set(proposal["keywords"])
    bases = {(b["title"], b["article"]) for b in proposal["legal_bases"]}
    assert ("《无证无照经营查处办法》", "第二条") in bases
    # the duty's own basis is kept, and one the ruling repeats is not doubled
    assert [b for b in bases if b[0] == "《城市市容和环境卫生管理条例》"] == [
        ("《城市市容和环境卫生管理条例》", "第十四条")
    ]


def _approve_and_publish(ruling: Any, duty_list: Any, officer: Any, legal_reviewer: Any) -> None:
    amendment_pass_legal_review(actor=legal_reviewer, amendment=ruling.amendment)
    amendment_approve(actor=officer, amendment=ruling.amendment)
    publish(duty_list)


@pytest.mark.django_db
def test_published_ruling_reaches_the_duty_in_force_and_the_router(
    ruled: Any, officer: Any, legal_reviewer: Any, agency_b: Any
) -> None:
    ruling, duty_list = ruled
    _approve_and_publish(ruling, duty_list, officer, legal_reviewer)

    revision = selectors.revisions_in_force(duty_list=duty_list).get(code="01-01-0001")
    assert {"流动摊贩", "马路市场"} <= set(revision.keywords)
    assert "《无证无照经营查处办法》" in {b.title for b in revision.legal_bases.all()}

    routing.forget()
    suggestions = routing.route("小区门口流动摊贩天天摆马路市场")
    assert suggestions and suggestions[0].agency_id == agency_b.pk


@pytest.mark.django_db
def test_the_duty_page_links_the_ruling_that_rewrote_it_by_name(
    ruled: Any, officer: Any, legal_reviewer: Any
) -> None:
    ruling, duty_list = ruled
    _approve_and_publish(ruling, duty_list, officer, legal_reviewer)
    page = Client().get("/duty-lists/ms/duties/01-01-0001/")
    html = page.content.decode()
    assert page.status_code == 200
    name = f"{ruling.get_kind_display()} #{ruling.pk}：占道经营归谁管"  # 编办裁决 #1：…
    assert f'<a href="/rulings/{ruling.pk}/">{name}</a>' in html
    assert "arbitration.ruling:" not in html


@pytest.mark.django_db
def test_an_internal_rulings_title_stays_off_the_public_duty_page(
    officer: Any, legal_reviewer: Any, member_a: Any, agency_a: Any, agency_b: Any
) -> None:
    duty_list = make_list("ms")
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    publish(duty_list)
    dispute = file_dispute(
        member_a, agency_a, agency_b, kind="overlap", duties=(Duty.objects.get(code="01-01-0001"),)
    )
    dispute = dispute_transition(actor=member_a, dispute=dispute, action="escalate", reason="协商不成")
    dispute = dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    ruling = ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=agency_b,
        lead_responsibility="查处",
        rationale="内部裁决",
        scope="class",
        is_internal=True,
        effective_date=date(2025, 12, 1),
    )
    amendment_pass_legal_review(actor=legal_reviewer, amendment=ruling.amendment)
    amendment_approve(actor=officer, amendment=ruling.amendment)
    publish(duty_list)
    html = Client().get("/duty-lists/ms/duties/01-01-0001/").content.decode()
    assert "占道经营归谁管" not in html and f'href="/rulings/{ruling.pk}/"' not in html
