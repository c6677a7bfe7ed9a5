"""The README's loop can be walked with the demo accounts alone: the ruled demo dispute's amendment is
readable by the agencies whose duty it changes, each joint reviewer of its list signs in and concurs, and
the office approves — while an agency it does not touch still gets a 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from arbitration.models import Dispute
from duty_lists.demo import DEMO_PASSWORD, PEOPLE
from duty_lists.models import Agency, AmendmentState, Role
from duty_lists.services import (
    amendment_approve,
    amendment_give_opinion,
    amendment_pass_legal_review,
    edition_publish,
)
from grievances import routing
from grievances.models import Grievance


def _signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, username
    return client


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


@pytest.fixture
def demo_amendment(db: None) -> Any:
    call_command("load_demo", quiet_logins=True)
    return Dispute.objects.get(outcome="ruled").rulings.get().amendment


@pytest.mark.django_db
def test_agencies_the_rulings_amendment_touches_can_open_it_and_others_cannot(demo_amendment: Any) -> None:
    url = f"/amendments/{demo_amendment.pk}/"
    # 区综合执法局 leads the new duty, 区交通运输局 cooperates: staff_zhzf is of the first.
    assert _signed_in("staff_zhzf").get(url).status_code == 200
    # 区市监局 is neither party to the duty nor a reviewer of the list.
    assert _signed_in("staff_sjj").get(url).status_code == 404
    assert Client().get(url).status_code in {302, 404}


@pytest.mark.django_db
def test_every_joint_reviewer_of_the_demo_lists_has_a_demo_account(demo_amendment: Any) -> None:
    staff = {(p.agency_code, p.role) for p in PEOPLE}
    for code in ("ga-livelihood", "ga-services"):
        reviewers = Agency.objects.filter(reviewed_duty_lists__code=code)
        assert reviewers.exists()
        for agency in reviewers:
            assert (agency.code, Role.AGENCY_STAFF) in staff, (code, agency.short_name)


@pytest.mark.django_db
def test_the_demo_accounts_take_the_rulings_amendment_through_joint_review_to_approval(
    demo_amendment: Any,
) -> None:
    amendment = amendment_pass_legal_review(actor=_user("legal"), amendment=demo_amendment, reason="合法")
    assert amendment.state == AmendmentState.JOINT_REVIEW
    for username in ("staff_sfj", "staff_czj"):
        person = next(p for p in PEOPLE if p.username == username)
        client = _signed_in(username)
        assert client.get(f"/amendments/{amendment.pk}/").status_code == 200
        amendment_give_opinion(
            actor=_user(username),
            amendment=amendment,
            agency=Agency.objects.get(code=person.agency_code),
            concurs=True,
            opinion="同意",
        )
    amendment = amendment_approve(actor=_user("officer"), amendment=amendment)
    assert amendment.state == AmendmentState.APPROVED

    # The loop closes: the next edition carries the ruling, and the demo's grievance about the matter the
    # ruling settled (shared bicycles) now goes first to the duty it wrote and the agency it named.
    grievance = Grievance.objects.get(external_id="demo-09")
    before = routing.route(grievance.title, grievance.details, street=grievance.street)
    edition_publish(actor=_user("officer"), duty_list=amendment.duty_list, note="裁决写回")
    routing.forget()
    after = routing.route(grievance.title, grievance.details, street=grievance.street)[0]
    lead = amendment.duty.revisions.get(valid_until__isnull=True).participations.get(role="lead").agency
    assert amendment.duty_id not in {s.duty_id for s in before}  # a gap until the ruling
    assert (after.duty_id, after.agency_id) == (amendment.duty_id, lead.pk)


@pytest.mark.django_db
def test_the_printed_demo_logins_name_the_joint_reviewers_and_their_agencies() -> None:
    from io import StringIO

    out = StringIO()
    call_command("load_demo", stdout=out)
    printed = out.getvalue()
    assert "staff_sfj" in printed and "区司法局" in printed
    assert "staff_czj" in printed and "区财政局" in printed
    assert re.search(r"First-dispatch success: \d+ of \d+ \(\d+%\)", printed)
