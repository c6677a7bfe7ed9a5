"""The arbitration pages through real URLs: filing, the dispute page and its steps, the work queues, the
ruling and decision forms, the inbox; then the rows each request left behind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from arbitration.models import (
    Dispute,
    DisputeEvent,
    DisputeState,
    Domain,
    FollowUp,
    FollowUpState,
    Meeting,
    Notification,
    OfficeStep,
    Outcome,
    Position,
    Ruling,
    RulingKind,
    Stage,
    Urgency,
)
from arbitration.services import dispute_file, dispute_transition, ruling_issue
from duty_lists.models import Agency, Amendment, AmendmentKind, AmendmentState, Duty, Role
from tests import registry
from tests.factories import AgencyFactory, MembershipFactory, UserFactory

DUTY = "01-01-0001"


# --- Fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def urban(db: None) -> Domain:
    # The data migration makes it; a transactional test elsewhere may have flushed it.
    return Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})[0]


@pytest.fixture
def agency_c(db: None) -> Any:
    return AgencyFactory(code="C-zjj", name="区住房和城乡建设局", short_name="区住建局")


@pytest.fixture
def outsider(agency_c: Agency) -> Any:
    """Staff of a third agency, party to none of the disputes below."""
    user = UserFactory(username="outsider")
    MembershipFactory(user=user, agency=agency_c, role=Role.AGENCY_STAFF)
    return user


@pytest.fixture
def duty_list(agency_a: Agency) -> Any:
    """A published list whose duty 01-01-0001 (占道经营) agency A leads."""
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, DUTY, "占道经营", agency_a)
    registry.publish(duty_list)
    return duty_list


def file(member: Any, filer: Agency, respondents: list[Agency], urban: Domain, **extra: Any) -> Dispute:
    fields: dict[str, Any] = {
        "title": "占道经营由谁查处",
        "description": "商户在人行道上摆摊，综合执法局与市监局都认为不归自己管。",
        "kind": "pushback",
    }
    fields |= extra
    return dispute_file(actor=member, domain=urban, filing_agency=filer, respondents=respondents, **fields)


@pytest.fixture
def dispute(member_a: Any, agency_a: Agency, agency_b: Agency, urban: Domain) -> Dispute:
    """Agency A against agency B, in negotiation."""
    return file(member_a, agency_a, [agency_b], urban)


def at_office(dispute: Dispute, officer: Any, *, take_up: bool = False) -> Dispute:
    dispute = dispute_transition(actor=officer, dispute=dispute, action="escalate", reason="协商未果")
    if take_up:
        dispute = dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    return dispute


def detail(dispute: Dispute) -> str:
    return reverse("arbitration:dispute_detail", kwargs={"pk": dispute.pk})


def step(dispute: Dispute, name: str) -> str:
    return reverse("arbitration:step", kwargs={"pk": dispute.pk, "step": name})


def html(response: Any) -> str:
    return response.content.decode()


def ruling_data(lead: Agency, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "lead_agency": lead.code,
        "lead_responsibility": "负责人行道占道经营的查处",
        "rationale": "人行道属市政设施，占道经营的查处依条例由综合执法部门负责。",
        "legal_bases": "《城市市容和环境卫生管理条例》第十四条",
        "scope": "case",
        "effective_date": timezone.localdate().isoformat(),
        "coop-TOTAL_FORMS": "2",
        "coop-INITIAL_FORMS": "0",
        "coop-MIN_NUM_FORMS": "0",
        "coop-MAX_NUM_FORMS": "30",
        "follow-TOTAL_FORMS": "2",
        "follow-INITIAL_FORMS": "0",
        "follow-MIN_NUM_FORMS": "0",
        "follow-MAX_NUM_FORMS": "30",
    }
    return data | extra


# --- Filing ----------------------------------------------------------------------------------------------


def test_staff_file_a_dispute_for_their_agency(login, member_a, agency_a, agency_b, duty_list, urban) -> None:
    staff = login(member_a)
    page = staff.get(reverse("arbitration:dispute_new"))
    assert page.status_code == 200
    form = page.context["form"]
    assert form["filing_agency"].value() == agency_a.code  # their own agency, preselected
    assert [code for code, _label in form.fields["filing_agency"].choices] == [agency_a.code]

    response = staff.post(
        reverse("arbitration:dispute_new"),
        {
            "title": "人行道占道经营",
            "description": "商户长期在人行道摆摊经营。",
            "kind": "overlap",
            "domain": "urban",
            "urgency": "normal",
            "filing_agency": agency_a.code,
            "respondents": [agency_b.code],
            "duty_list": duty_list.code,
            "duty_codes": DUTY,
            "evidence_links": "https://example.org/photo-1.jpg\nhttps://example.org/letter.pdf",
        },
    )
    dispute = Dispute.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(dispute)
    assert dispute.filing_agency == agency_a and dispute.filed_by == member_a
    assert {p.agency.code: p.role for p in dispute.parties.all()} == {
        "A-zhzf": "filer",
        "B-sjj": "respondent",
    }
    assert [d.code for d in dispute.duties.all()] == [DUTY] and dispute.duty_list == duty_list
    assert dispute.evidence_links == ["https://example.org/photo-1.jpg", "https://example.org/letter.pdf"]
    assert dispute.stage == Stage.NEGOTIATION and dispute.deadline_at is not None

    page = staff.get(detail(dispute))
    assert page.status_code == 200
    assert "占道经营" in html(page) and "https://example.org/letter.pdf" in html(page)
    assert page.context["countdown"].tone in {"ok", "soon"}


def test_filing_with_errors_shows_them_and_saves_nothing(login, member_a, agency_a, duty_list, urban) -> None:
    staff = login(member_a)
    # What the form parses: an unknown duty code and a link that is not a web address.
    response = staff.post(
        reverse("arbitration:dispute_new"),
        {
            "title": "占道经营",
            "description": "……",
            "kind": "overlap",
            "domain": "urban",
            "urgency": "normal",
            "filing_agency": agency_a.code,
            "duty_list": duty_list.code,
            "duty_codes": f"{DUTY}, 09-09-9999",
            "evidence_links": "javascript:alert(1)",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "09-09-9999" in errors["duty_codes"][0] and DUTY not in errors["duty_codes"][0]
    assert "javascript:alert(1)" in errors["evidence_links"][0]

    # Missing fields: every one at once, each on its field, however few were filled.
    response = staff.post(
        reverse("arbitration:dispute_new"),
        {
            "title": " ",
            "description": "",
            "kind": "overlap",
            "domain": "urban",
            "urgency": "normal",
            "filing_agency": agency_a.code,
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"title", "description", "respondents"}
    assert 'id="form-errors"' in html(response) and "field--error" in html(response)
    assert not Dispute.objects.exists() and not DisputeEvent.objects.exists()


def test_filing_for_another_agency_is_refused(login, member_a, agency_b, agency_c, urban) -> None:
    response = login(member_a).post(
        reverse("arbitration:dispute_new"),
        {
            "title": "t",
            "description": "d",
            "kind": "pushback",
            "domain": "urban",
            "urgency": "normal",
            "filing_agency": agency_b.code,
            "respondents": [agency_c.code],
        },
    )
    assert response.status_code == 200  # not a choice of theirs: a form error, nothing filed
    assert "filing_agency" in response.context["form"].errors
    assert not Dispute.objects.exists()


def test_people_without_an_agency_or_office_role_may_not_file(login, leader) -> None:
    assert login(leader).get(reverse("arbitration:dispute_new")).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, dispute) -> None:
    for url in (reverse("arbitration:dispute_list"), detail(dispute), reverse("arbitration:inbox")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- Who sees what ---------------------------------------------------------------------------------------


def test_staff_see_only_their_agencys_disputes(
    login, member_a, member_b, officer, agency_a, agency_b, agency_c, dispute, urban
) -> None:
    other = file(member_a, agency_a, [agency_c], urban, title="施工围挡占道")

    listed = login(member_b).get(reverse("arbitration:dispute_list"))
    assert [r.dispute.pk for r in listed.context["rows"]] == [dispute.pk]
    assert "施工围挡占道" not in html(listed)
    assert login(member_b).get(detail(other)).status_code == 404

    mine = login(member_a).get(reverse("arbitration:dispute_list"))
    assert {r.dispute.pk for r in mine.context["rows"]} == {dispute.pk, other.pk}
    office = login(officer).get(reverse("arbitration:dispute_list"))
    assert {r.dispute.pk for r in office.context["rows"]} == {dispute.pk, other.pk}


def test_outsider_gets_404_on_the_dispute_page_and_every_step(login, outsider, officer, dispute) -> None:
    at_office(dispute, officer, take_up=True)
    ruling = ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=dispute.filing_agency,
        lead_responsibility="负责",
        rationale="依清单",
        effective_date=timezone.localdate(),
        follow_ups=[],
    )
    item = FollowUp.objects.create(
        ruling=ruling, agency=dispute.filing_agency, description="整改", due_date=timezone.localdate()
    )
    client = login(outsider)
    pk = dispute.pk
    gets = [
        detail(dispute),
        reverse("arbitration:ruling", kwargs={"pk": pk}),
        reverse("arbitration:decision", kwargs={"pk": pk}),
        reverse("arbitration:confirm_agreement", kwargs={"pk": pk}),
    ]
    posts = [
        *(
            step(dispute, name)
            for name in (
                "escalate",
                "accept_scope",
                "reject_scope",
                "request_legal_review",
                "give_legal_opinion",
                "give_feedback",
                "pause",
                "resume",
                "withdraw",
            )
        ),
        reverse("arbitration:position", kwargs={"pk": pk}),
        reverse("arbitration:agreement", kwargs={"pk": pk}),
        reverse("arbitration:meeting", kwargs={"pk": pk}),
        reverse("arbitration:follow_up_report", kwargs={"pk": pk, "item": item.pk}),
        reverse("arbitration:follow_up_close", kwargs={"pk": pk, "item": item.pk}),
        *gets[1:],
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, {"reason": "x", "statement": "x", "report": "x"}).status_code == 404, url
    assert client.get(reverse("arbitration:dispute_detail", kwargs={"pk": 999_999})).status_code == 404
    assert FollowUp.objects.get().state == FollowUpState.OPEN


# --- The dispute page and its steps ----------------------------------------------------------------------


def test_parties_state_and_revise_positions_and_every_version_is_shown(
    login, member_a, member_b, agency_a, agency_b, dispute
) -> None:
    staff_b = login(member_b)
    page = staff_b.get(detail(dispute))
    forms = [v.form for v in page.context["parties"] if v.form is not None]
    assert len(forms) == 1 and forms[0]["agency"].value() == agency_b.code  # only for their own agency

    url = reverse("arbitration:position", kwargs={"pk": dispute.pk})
    response = staff_b.post(url, {"agency": agency_b.code, "stance": "proposes", "statement": "不归我局"})
    assert response.status_code == 400  # proposing names an agency
    assert "proposed_agency" in response.context["parties"][1].form.errors
    assert not Position.objects.exists()

    staff_b.post(url, {"agency": agency_b.code, "stance": "declines", "statement": "不属于市场监管范围"})
    staff_b.post(
        url,
        {
            "agency": agency_b.code,
            "stance": "proposes",
            "proposed_agency": agency_a.code,
            "statement": "应由综合执法局查处",
        },
    )
    versions = list(
        Position.objects.filter(agency=agency_b).order_by("version").values_list("version", "stance")
    )
    assert versions == [(1, "declines"), (2, "proposes")]

    page = staff_b.get(detail(dispute))
    party_b = next(v for v in page.context["parties"] if v.party.agency == agency_b)
    assert party_b.latest.version == 2 and [p.version for p in party_b.earlier] == [1]
    assert "不属于市场监管范围" in html(page) and "应由综合执法局查处" in html(page)

    # Staff of B may not speak for A.
    assert (
        staff_b.post(url, {"agency": agency_a.code, "stance": "accepts", "statement": "x"}).status_code == 403
    )


def test_the_page_offers_each_person_only_their_steps(
    login, member_a, member_b, officer, leader, legal_reviewer, dispute
) -> None:
    def offered(user: Any) -> list[str]:
        return [s["name"] for s in login(user).get(detail(dispute)).context["steps"]]

    assert offered(member_a) == ["escalate", "withdraw"]  # the filer
    assert offered(member_b) == ["escalate"]  # a respondent
    assert offered(officer) == ["escalate", "pause", "withdraw"]
    assert offered(leader) == []

    at_office(dispute, officer)
    assert offered(officer) == ["escalate", "accept_scope", "reject_scope", "pause", "withdraw"]
    assert login(officer).get(detail(dispute)).context["ruling_links"] == []  # not before taking it up
    dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    assert offered(legal_reviewer) == ["give_legal_opinion"]
    page = login(officer).get(detail(dispute))
    assert [url for url, _label in page.context["ruling_links"]] == [
        reverse("arbitration:ruling", kwargs={"pk": dispute.pk})
    ]
    assert page.context["meeting_form"] is not None


def test_a_step_the_person_may_not_take_is_refused(login, member_b, leader, dispute) -> None:
    assert login(member_b).post(step(dispute, "withdraw"), {"reason": "算了"}).status_code == 403
    assert login(leader).post(step(dispute, "pause"), {"reason": "等等"}).status_code == 403
    assert login(member_b).post(step(dispute, "no_such_step")).status_code == 404
    assert login(member_b).get(step(dispute, "escalate")).status_code == 405  # one POST per step
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.OPEN and dispute.stage == Stage.NEGOTIATION


def test_escalating_needs_a_reason_and_then_moves_up_the_ladder(login, member_b, dispute) -> None:
    staff = login(member_b)
    response = staff.post(step(dispute, "escalate"), {"reason": "  "})
    assert response.status_code == 400
    form = next(s for s in response.context["steps"] if s["name"] == "escalate")["reason_form"]
    assert form.errors["reason"]
    dispute.refresh_from_db()
    assert dispute.stage == Stage.NEGOTIATION

    response = staff.post(step(dispute, "escalate"), {"reason": "协商三次未果"})
    assert response.status_code == 302 and response["Location"] == detail(dispute)
    dispute.refresh_from_db()
    assert dispute.stage == Stage.EDITORIAL_OFFICE and dispute.office_step == OfficeStep.ASSESS
    page = staff.get(detail(dispute))
    assert "协商三次未果" in html(page)
    assert [s.status for s in page.context["ladder"]] == ["done", "current", "todo"]


def test_officer_pauses_and_resumes_the_clock(login, officer, dispute) -> None:
    client = login(officer)
    client.post(step(dispute, "pause"), {"reason": "等待现场勘查"})
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.PAUSED
    page = client.get(detail(dispute))
    assert page.context["countdown"].tone == "paused"
    assert [s["name"] for s in page.context["steps"]] == ["resume", "withdraw"]
    client.post(step(dispute, "resume"))
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.OPEN


def test_agreement_reported_by_a_party_is_confirmed_by_the_office(
    login, member_a, member_b, officer, agency_a, agency_b, dispute
) -> None:
    login(member_a).post(
        reverse("arbitration:position", kwargs={"pk": dispute.pk}),
        {"agency": agency_a.code, "stance": "accepts", "statement": "我局牵头"},
    )
    assert not login(officer).get(detail(dispute)).context["ruling_links"]  # nothing to confirm yet
    response = login(member_b).post(
        reverse("arbitration:agreement", kwargs={"pk": dispute.pk}),
        {"statement": "综合执法局牵头，市监局配合"},
    )
    assert response.status_code == 302

    page = login(officer).get(detail(dispute))
    [(url, _label)] = page.context["ruling_links"]
    assert url == reverse("arbitration:confirm_agreement", kwargs={"pk": dispute.pk})
    form = login(officer).get(url).context["forms"].form
    assert (
        form["rationale"].value() == "综合执法局牵头，市监局配合"
        and form["lead_agency"].value() == agency_a.code
    )

    response = login(officer).post(url, ruling_data(agency_a))
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.AGREED
    assert Ruling.objects.get().kind == RulingKind.AGREEMENT


def test_officer_records_a_meeting(login, officer, dispute) -> None:
    at_office(dispute, officer, take_up=True)
    url = reverse("arbitration:meeting", kwargs={"pk": dispute.pk})
    response = login(officer).post(url, {"held_on": "2026-03-02", "attendees": "", "minutes": ""})
    assert response.status_code == 400
    assert set(response.context["meeting_form"].errors) == {"attendees", "minutes"}
    login(officer).post(
        url, {"held_on": "2026-03-02", "attendees": "综合执法局、市监局", "minutes": "议定分工"}
    )
    meeting = Meeting.objects.get()
    assert meeting.minutes == "议定分工"
    dispute.refresh_from_db()
    assert dispute.office_step == OfficeStep.COORDINATE


# --- The work queue --------------------------------------------------------------------------------------


def test_officer_queue_is_sorted_by_deadline_with_overdue_and_urgent_highlighted(
    login, officer, member_a, agency_a, agency_b, urban
) -> None:
    later = at_office(file(member_a, agency_a, [agency_b], urban, title="later"), officer)
    overdue = at_office(file(member_a, agency_a, [agency_b], urban, title="overdue"), officer)
    urgent = at_office(
        file(member_a, agency_a, [agency_b], urban, title="urgent", urgency=Urgency.URGENT), officer
    )
    negotiating = file(member_a, agency_a, [agency_b], urban, title="still negotiating")
    now = timezone.now()
    Dispute.objects.filter(pk=overdue.pk).update(deadline_at=now - timedelta(days=3))
    Dispute.objects.filter(pk=urgent.pk).update(deadline_at=now + timedelta(minutes=25))
    Dispute.objects.filter(pk=later.pk).update(deadline_at=now + timedelta(days=20))

    page = login(officer).get(reverse("arbitration:queue"))
    rows = page.context["rows"]
    assert [r.dispute.pk for r in rows] == [overdue.pk, urgent.pk, later.pk]
    assert negotiating.pk not in [r.dispute.pk for r in rows]
    assert [r.countdown.tone for r in rows] == ["overdue", "ok", "ok"]
    assert "25" in rows[1].countdown.text  # counted in minutes
    assert page.context["overdue_count"] == 1
    body = html(page)
    assert f'class="is-overdue" data-dispute="{overdue.pk}"' in body
    assert f'class=" is-urgent" data-dispute="{urgent.pk}"' in body


def test_the_queue_and_the_list_run_the_same_queries_for_two_disputes_or_six(
    login, officer, member_a, agency_a, agency_b, urban
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(officer)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    for _ in range(2):
        at_office(file(member_a, agency_a, [agency_b], urban), officer)
    before = {
        url: queries(url) for url in (reverse("arbitration:queue"), reverse("arbitration:dispute_list"))
    }
    for _ in range(4):
        at_office(file(member_a, agency_a, [agency_b], urban), officer)
    after = {url: queries(url) for url in before}
    assert after == before


def test_staff_queue_is_their_agencys_open_disputes(
    login, member_b, dispute, officer, urban, member_a, agency_a, agency_c
) -> None:
    file(member_a, agency_a, [agency_c], urban, title="not B's")
    rows = login(member_b).get(reverse("arbitration:queue")).context["rows"]
    assert [r.dispute.pk for r in rows] == [dispute.pk]


# --- Rulings and decisions -------------------------------------------------------------------------------


def test_officer_rules_on_a_class_of_matters_and_the_amendment_is_drafted_and_linked(
    login, member_a, officer, agency_a, agency_b, duty_list, urban
) -> None:
    duty = Duty.objects.get(duty_list=duty_list, code=DUTY)
    dispute = file(member_a, agency_a, [agency_b], urban, kind="overlap", duties=[duty])
    at_office(dispute, officer, take_up=True)
    client = login(officer)
    url = reverse("arbitration:ruling", kwargs={"pk": dispute.pk})
    page = client.get(url)
    assert page.status_code == 200 and not page.context["has_new_duty"]

    response = client.post(
        url,
        ruling_data(
            agency_b,
            scope="class",
            **{
                "coop-0-agency": agency_a.code,
                "coop-0-responsibility": "配合开展联合执法",
                "follow-0-agency": agency_b.code,
                "follow-0-description": "一个月内完成辖区排查",
                "follow-0-due_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
            },
        ),
    )
    ruling = Ruling.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(dispute) + "#rulings"
    assert ruling.kind == RulingKind.RULING and ruling.lead_agency == agency_b
    assert [(p.agency, p.responsibility) for p in ruling.cooperating.all()] == [
        (agency_a, "配合开展联合执法")
    ]
    assert FollowUp.objects.get().agency == agency_b
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.CLOSED and dispute.outcome == Outcome.RULED

    amendment = Amendment.objects.get()
    assert ruling.amendment == amendment and amendment.kind == AmendmentKind.TRANSFER
    assert (
        amendment.state == AmendmentState.LEGAL_REVIEW
        and amendment.source_ref == f"arbitration.ruling:{ruling.pk}"
    )
    page = client.get(detail(dispute))
    assert reverse("duty_lists:amendment_detail", kwargs={"pk": amendment.pk}) in html(page)
    assert page.context["steps"] == [] and page.context["ruling_links"] == []
    assert client.get(reverse("duty_lists:amendment_detail", kwargs={"pk": amendment.pk})).status_code == 200


def test_an_incomplete_ruling_shows_its_errors_and_keeps_nothing(login, officer, agency_b, dispute) -> None:
    at_office(dispute, officer, take_up=True)
    url = reverse("arbitration:ruling", kwargs={"pk": dispute.pk})
    response = login(officer).post(
        url,
        ruling_data(
            agency_b,
            rationale="",
            **{"coop-0-agency": dispute.filing_agency.code, "follow-0-agency": agency_b.code},
        ),
    )
    assert response.status_code == 200
    forms = response.context["forms"]
    assert forms.follow_ups.forms[0].errors["due_date"]  # parsed by the form: no service call yet
    response = login(officer).post(
        url, ruling_data(agency_b, rationale="", **{"coop-0-agency": dispute.filing_agency.code})
    )
    forms = response.context["forms"]
    assert forms.form.errors["rationale"] and forms.group_errors["cooperating"]
    twice = {
        f"coop-{i}-{k}": v for i in (0, 1) for k, v in (("agency", agency_b.code), ("responsibility", "配合"))
    }
    response = login(officer).post(url, ruling_data(dispute.filing_agency, **twice))
    assert response.status_code == 200 and response.context["forms"].group_errors["cooperating"]
    assert not Ruling.objects.exists()
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.OPEN


def test_a_gap_ruled_as_a_class_drafts_a_new_duty(
    login, member_a, officer, agency_a, agency_b, duty_list, urban
) -> None:
    dispute = file(member_a, agency_a, [agency_b], urban, kind="gap", title="共享单车乱停放")
    at_office(dispute, officer, take_up=True)
    url = reverse("arbitration:ruling", kwargs={"pk": dispute.pk})
    client = login(officer)
    assert client.get(url).context["has_new_duty"]
    response = client.post(url, ruling_data(agency_a, scope="class"))
    assert response.status_code == 200
    assert response.context["forms"].form.errors["new_duty_classification"]
    assert not Ruling.objects.exists() and not Amendment.objects.exists()

    response = client.post(
        url,
        ruling_data(
            agency_a, scope="class", new_duty_classification="02-01", new_duty_title="共享单车乱停放的查处"
        ),
    )
    assert response.status_code == 302
    amendment = Amendment.objects.get()
    assert amendment.kind == AmendmentKind.ADD and amendment.proposal["title"] == "共享单车乱停放的查处"


def test_leader_sees_leaderships_queue_and_decides(
    login, officer, leader, member_a, agency_a, agency_b, dispute
) -> None:
    at_office(dispute, officer)
    dispute_transition(actor=officer, dispute=dispute, action="escalate", reason="编办协调未果")
    rows = login(leader).get(reverse("arbitration:queue")).context["rows"]
    assert [r.dispute.pk for r in rows] == [dispute.pk]
    assert login(officer).get(reverse("arbitration:queue")).context["rows"] == []

    url = reverse("arbitration:decision", kwargs={"pk": dispute.pk})
    assert login(officer).get(url).status_code == 403  # decisions are leadership's
    assert login(member_a).post(url, ruling_data(agency_a)).status_code == 403
    page = login(leader).get(detail(dispute))
    assert [u for u, _label in page.context["ruling_links"]] == [url]

    response = login(leader).post(url, ruling_data(agency_a))
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.DECIDED
    ruling = Ruling.objects.get()
    assert ruling.kind == RulingKind.DECISION and ruling.issued_by == leader


def test_designated_agency_reports_and_the_office_closes_a_follow_up(
    login, member_a, member_b, officer, agency_b, dispute
) -> None:
    at_office(dispute, officer, take_up=True)
    login(officer).post(
        reverse("arbitration:ruling", kwargs={"pk": dispute.pk}),
        ruling_data(
            agency_b,
            **{
                "follow-0-agency": agency_b.code,
                "follow-0-description": "设置便民摊点",
                "follow-0-due_date": (timezone.localdate() + timedelta(days=10)).isoformat(),
            },
        ),
    )
    item = FollowUp.objects.get()
    report = reverse("arbitration:follow_up_report", kwargs={"pk": dispute.pk, "item": item.pk})
    close = reverse("arbitration:follow_up_close", kwargs={"pk": dispute.pk, "item": item.pk})
    assert login(member_a).post(report, {"report": "x"}).status_code == 403  # not the designated agency
    assert login(member_b).post(close).status_code == 403  # only the office closes
    assert login(member_b).post(report, {"report": ""}).status_code == 400
    login(member_b).post(report, {"report": "已设置三处便民摊点"})
    item.refresh_from_db()
    assert item.state == FollowUpState.REPORTED and item.report == "已设置三处便民摊点"
    login(officer).post(close)
    item.refresh_from_db()
    assert item.state == FollowUpState.CLOSED


# --- Precedents ------------------------------------------------------------------------------------------


def test_the_page_shows_similar_past_rulings_the_reader_may_see(
    login, member_a, member_b, officer, agency_a, agency_b, agency_c, dispute, urban, monkeypatch
) -> None:
    public = file(member_a, agency_a, [agency_c], urban, title="早市占道")
    internal = file(member_a, agency_a, [agency_c], urban, title="夜市占道")
    for earlier, is_internal in ((public, False), (internal, True)):
        at_office(earlier, officer, take_up=True)
        ruling_issue(
            actor=officer,
            dispute=earlier,
            lead_agency=agency_a,
            lead_responsibility="负责",
            rationale="市政道路上的占道经营由综合执法局查处。",
            effective_date=timezone.localdate(),
            is_internal=is_internal,
        )
    calls: list[dict[str, Any]] = []

    def similar_rulings(
        text: str, *, exclude_dispute: int | None = None, limit: int = 5, visible_to: Any = None
    ) -> list[Any]:
        # Ignores ``visible_to`` on purpose: the page itself must keep internal rulings from staff.
        calls.append({"text": text, "exclude": exclude_dispute, "limit": limit})
        return [(r, 0.9 - i / 10) for i, r in enumerate(Ruling.objects.order_by("pk"))]

    monkeypatch.setattr("arbitration.views.detail.similar_rulings", similar_rulings)

    page = login(member_b).get(detail(dispute))
    assert calls[-1]["exclude"] == dispute.pk and dispute.title in calls[-1]["text"]
    shown = [(r.dispute.title, linkable) for r, _score, linkable in page.context["precedents"]]
    assert shown == [("早市占道", False)]  # B sees neither the internal one nor a page it cannot open
    assert "0.90" in html(page) and "市政道路上的占道经营" in html(page)
    assert len(login(member_a).get(detail(dispute)).context["precedents"]) == 2


def test_the_precedent_search_finds_an_earlier_ruling_on_the_same_matter(
    login, member_a, officer, agency_a, agency_b, agency_c, dispute, urban
) -> None:
    earlier = file(
        member_a, agency_a, [agency_c], urban, title="人行道占道经营摆摊", description="商户占道经营摆摊"
    )
    at_office(earlier, officer, take_up=True)
    ruling_issue(
        actor=officer,
        dispute=earlier,
        lead_agency=agency_a,
        lead_responsibility="负责人行道占道经营的查处",
        rationale="人行道占道经营由综合执法局查处。",
        effective_date=timezone.localdate(),
    )
    page = login(officer).get(detail(dispute))
    [(ruling, score, linkable)] = page.context["precedents"]
    assert ruling.dispute == earlier and 0 < score <= 1 and linkable
    assert "人行道占道经营摆摊" in html(page)


def test_a_dispute_without_a_similar_ruling_says_so(login, member_a, dispute) -> None:
    page = login(member_a).get(detail(dispute))
    assert page.context["precedents"] == []
    assert "未找到类似裁决。" in html(page)  # "No similar ruling found.", in Chinese as the page is


# --- The inbox -------------------------------------------------------------------------------------------


def test_inbox_shows_notifications_unread_first_and_marks_them_read(
    login, member_a, member_b, agency_a, agency_b, urban, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = file(member_a, agency_a, [agency_b], urban, title="第一件")
    with django_capture_on_commit_callbacks(execute=True):
        second = file(member_a, agency_a, [agency_b], urban, title="第二件")
    assert Notification.objects.filter(recipient=member_b).count() == 2
    newest = Notification.objects.get(recipient=member_b, url=detail(second))
    Notification.objects.filter(pk=newest.pk).update(read_at=timezone.now())

    client = login(member_b)
    page = client.get(reverse("arbitration:inbox"))
    assert page.status_code == 200 and page.context["unread"] == 1
    urls = [n.url for n in page.context["page"].object_list]
    assert urls == [detail(first), detail(second)]  # unread first, though older
    assert "第一件" in html(page) and "第二件" in html(page)
    assert 'class="inbox-link__count">1' in html(page)

    older = Notification.objects.get(recipient=member_b, url=detail(first))
    response = client.get(reverse("arbitration:notification_open", kwargs={"pk": older.pk}))
    assert response.status_code == 302 and response["Location"] == detail(first)
    older.refresh_from_db()
    assert older.read_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        file(member_a, agency_a, [agency_b], urban, title="第三件")
    response = client.post(reverse("arbitration:mark_all_read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=member_b, read_at__isnull=True).exists()
    assert "inbox-link__count" not in html(client.get(reverse("arbitration:inbox")))


def test_nobody_opens_anothers_notification(
    login, member_a, member_b, agency_a, agency_b, urban, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        file(member_a, agency_a, [agency_b], urban)
    theirs = Notification.objects.get(recipient=member_b)
    assert (
        login(member_a).get(reverse("arbitration:notification_open", kwargs={"pk": theirs.pk})).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_parties_attach_documents_that_only_those_who_see_the_dispute_download(
    login, member_a, member_b, agency_a, agency_b, settings, tmp_path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from arbitration.models import Attachment
    from tests.arbitration_helpers import file_dispute
    from tests.conftest import _person

    settings.MEDIA_ROOT = tmp_path
    dispute = file_dispute(member_a, agency_a, agency_b)
    upload = SimpleUploadedFile("现场照片说明.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = login(member_a).post(f"/disputes/{dispute.pk}/attachments/", {"file": upload})
    assert response.status_code == 302
    attachment = Attachment.objects.get(dispute=dispute)
    assert attachment.name == "现场照片说明.pdf"
    download = login(member_b).get(f"/disputes/{dispute.pk}/attachments/{attachment.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 test"
    outsider = _person("outsider", AgencyFactory(code="X-out"), "agency_staff")
    assert login(outsider).get(f"/disputes/{dispute.pk}/attachments/{attachment.pk}/").status_code == 404
    assert (
        login(outsider)
        .post(f"/disputes/{dispute.pk}/attachments/", {"file": SimpleUploadedFile("x.pdf", b"x")})
        .status_code
        == 404
    )
    login(member_a).post(
        f"/disputes/{dispute.pk}/attachments/", {"file": SimpleUploadedFile("run.exe", b"MZ")}
    )
    assert Attachment.objects.filter(dispute=dispute).count() == 1


def test_an_empty_filing_form_names_every_missing_field(login, member_a, urban) -> None:
    response = login(member_a).post(reverse("arbitration:dispute_new"), {})
    assert response.status_code == 200
    assert {"title", "description", "kind", "domain", "respondents"} <= set(response.context["form"].errors)
    assert not Dispute.objects.exists()


def test_the_list_page_and_the_api_filter_disputes_alike(
    login, officer, member_a, agency_a, agency_b, urban
) -> None:
    """One definition of the filters (arbitration.filters): "overdue" selects what the row's badge says —
    open past the deadline, or flagged at leadership — on the page as in the API."""
    late = file(member_a, agency_a, [agency_b], urban, title="期限已过的争议")
    flagged = file(member_a, agency_a, [agency_b], urban, title="领导层超期的争议")
    in_time = file(member_a, agency_a, [agency_b], urban, title="尚在期限内的争议")
    now = timezone.now()
    Dispute.objects.filter(pk=late.pk).update(deadline_at=now - timedelta(hours=2))
    Dispute.objects.filter(pk=flagged.pk).update(overdue=True, stage="leadership")
    Dispute.objects.filter(pk=in_time.pk).update(deadline_at=now + timedelta(days=2))
    client = login(officer)
    page = client.get(reverse("arbitration:dispute_list"), {"overdue": "on"})
    on_page = {r.dispute.pk for r in page.context["rows"]}
    api = client.get("/api/v1/disputes/", {"overdue": "true"}).json()
    in_api = {d["id"] for d in api["results"]}
    assert on_page == in_api == {late.pk, flagged.pk}
    words = client.get(reverse("arbitration:dispute_list"), {"q": "期限内"}).context["rows"]
    assert [r.dispute.pk for r in words] == [in_time.pk]
    found = client.get("/api/v1/disputes/", {"q": "期限内"}).json()["results"]
    assert [d["id"] for d in found] == [in_time.pk]
