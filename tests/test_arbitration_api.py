"""The arbitration REST API: filing, filters, every step of the ladder through its POST endpoint, rulings
public unless internal — and an outsider agency refused on every read and write."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from arbitration import services
from arbitration.models import (
    Dispute,
    DisputeEvent,
    DisputeStage,
    DisputeState,
    Domain,
    FollowUp,
    Meeting,
    Outcome,
    Position,
    Ruling,
    Stage,
)
from duty_lists.models import Amendment, AmendmentState, Duty, Role
from tests.factories import AgencyFactory, MembershipFactory, UserFactory
from tests.registry import make_list, publish, stage

# --- Fixtures and helpers ----------------------------------------------------------------------------------


@pytest.fixture
def agency_c(db: None) -> Any:
    return AgencyFactory(code="C-wjj", name="区卫健局")


@pytest.fixture
def member_c(agency_c: Any) -> Any:
    """Staff of a third agency: party to none of the disputes below — the outsider."""
    user = UserFactory(username="member_c")
    MembershipFactory(user=user, agency=agency_c, role=Role.AGENCY_STAFF)
    return user


@pytest.fixture
def registry(agency_a: Any, agency_b: Any) -> Any:
    duty_list = make_list("ms")
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    stage(duty_list, "02-01-0001", "噪音扰民", agency_b, classification="02-01")
    publish(duty_list, "首版")
    return duty_list


def file_dispute(actor: Any, filer: Any, respondent: Any, *, duty: str | None = "01-01-0001", **extra: Any):
    defaults: dict[str, Any] = {
        "title": "夜市占道经营归谁管",
        "description": "综合执法局认为属市场监管，市监局认为属占道。",
        "kind": "overlap" if duty else "gap",
        "domain": Domain.objects.get(code="urban"),
    }
    return services.dispute_file(
        actor=actor,
        filing_agency=filer,
        respondents=[respondent],
        duties=[Duty.objects.get(code=duty, duty_list__code="ms")] if duty else [],
        **(defaults | extra),
    )


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def url(dispute: Dispute, step: str = "") -> str:
    return f"/api/v1/disputes/{dispute.pk}/" + (f"{step}/" if step else "")


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [d["id"] for d in response.json()["results"]]


def ruling_body(lead: Any, **extra: Any) -> dict[str, Any]:
    return {
        "lead_agency": lead.code,
        "lead_responsibility": "负责查处夜市占道经营",
        "rationale": "占道经营属市容管理范畴",
        "legal_bases": "《城市市容和环境卫生管理条例》第十四条",
        "effective_date": "2026-03-01",
        **extra,
    }


def at_editorial_office(dispute: Dispute, officer: Any) -> None:
    services.dispute_transition(actor=officer, dispute=dispute, action="escalate", reason="协商未果")
    services.dispute_transition(actor=officer, dispute=dispute, action="accept_scope")


# --- Filing ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_file_a_dispute_through_the_api(login, registry, member_a, agency_a, agency_b) -> None:
    response = post(
        login(member_a),
        "/api/v1/disputes/",
        {
            "title": "夜市占道经营归谁管",
            "description": "双方对夜市摊点的监管职责有争议。",
            "kind": "overlap",
            "domain": "urban",
            "urgency": "urgent",
            "filing_agency": agency_a.code,
            "respondents": [agency_b.code],
            "duties": [{"list": "ms", "code": "01-01-0001"}],
            "evidence_links": ["https://example.org/photo/1"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    dispute = Dispute.objects.get(pk=body["id"])
    assert {(p.agency.code, p.role) for p in dispute.parties.all()} == {
        (agency_a.code, "filer"),
        (agency_b.code, "respondent"),
    }
    assert [d.code for d in dispute.duties.all()] == ["01-01-0001"]
    assert dispute.stage == Stage.NEGOTIATION and dispute.deadline_at is not None
    assert body["duties"] == [{"list": "ms", "code": "01-01-0001", "title": "占道经营"}]
    assert body["domain"] == "urban" and body["urgency"] == "urgent"
    assert body["stages"][0]["stage"] == "negotiation" and body["stages"][0]["deadline_at"]
    assert body["deadline_at"] and [e["action"] for e in body["events"]] == ["file"]
    assert body["evidence_links"] == ["https://example.org/photo/1"]


@pytest.mark.django_db
def test_invalid_filing_is_a_400_with_field_details_and_nothing_saved(login, registry, member_a, agency_a):
    staff = login(member_a)
    malformed = post(
        staff,
        "/api/v1/disputes/",
        {
            "title": "",
            "description": "说明",
            "kind": "quarrel",
            "domain": "nowhere",
            "filing_agency": agency_a.code,
            "respondents": ["NO-SUCH"],
            "duties": [{"list": "ms", "code": "09-09-0009"}],
            "evidence_links": ["not a link"],
        },
    )
    assert malformed.status_code == 400
    error = malformed.json()["error"]
    assert error["code"] == "validation_error"
    assert {"title", "kind", "domain", "respondents", "duties", "evidence_links"} <= set(error["details"])
    assert error["details"]["duties"]["0"]["code"]  # per item, by its index

    # Well-formed, but against the rules of filing: the service reports every problem at once.
    unruly = post(
        staff,
        "/api/v1/disputes/",
        {
            "title": "交叉",
            "description": "说明",
            "kind": "overlap",
            "domain": "urban",
            "filing_agency": agency_a.code,
            "respondents": [agency_a.code],
        },
    )
    assert unruly.status_code == 400
    assert unruly.json()["error"]["code"] == "invalid_dispute"
    assert {"respondents", "duties"} <= set(unruly.json()["error"]["details"])
    assert not Dispute.objects.exists() and not DisputeEvent.objects.exists()


@pytest.mark.django_db
def test_staff_file_only_for_their_own_agency(login, registry, member_c, agency_a, agency_b) -> None:
    response = post(
        login(member_c),
        "/api/v1/disputes/",
        {
            "title": "代别人立案",
            "description": "说明",
            "kind": "gap",
            "domain": "urban",
            "filing_agency": agency_a.code,
            "respondents": [agency_b.code],
        },
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert not Dispute.objects.exists()


@pytest.mark.django_db
def test_domains_are_listed_for_filing(client) -> None:
    codes = [d["code"] for d in client.get("/api/v1/domains/").json()]
    assert "urban" in codes and "market" in codes


# --- Reading and filtering --------------------------------------------------------------------------------


@pytest.fixture
def disputes(registry, member_a, member_b, officer, agency_a, agency_b, agency_c) -> dict[str, Dispute]:
    overlap = file_dispute(member_a, agency_a, agency_b)
    gap = file_dispute(
        member_b, agency_b, agency_c, duty=None, domain=Domain.objects.get(code="market"), urgency="urgent"
    )
    escalated = file_dispute(member_a, agency_a, agency_b, title="升级的争议")
    services.dispute_transition(actor=officer, dispute=escalated, action="escalate", reason="协商未果")
    withdrawn = file_dispute(member_a, agency_a, agency_c, duty="02-01-0001", kind="vague")
    services.dispute_transition(actor=member_a, dispute=withdrawn, action="withdraw", reason="已协商解决")
    return {"overlap": overlap, "gap": gap, "escalated": escalated, "withdrawn": withdrawn}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["withdrawn", "escalated", "gap", "overlap"]),
        ({"stage": "editorial_office"}, ["escalated"]),
        ({"state": "closed"}, ["withdrawn"]),
        ({"kind": "gap"}, ["gap"]),
        ({"kind": "vague"}, ["withdrawn"]),
        ({"domain": "market"}, ["gap"]),
        ({"urgency": "urgent"}, ["gap"]),
        ({"agency": "C-wjj"}, ["withdrawn", "gap"]),
        ({"agency": "C-wjj", "state": "open"}, ["gap"]),
        ({"overdue": "false"}, ["withdrawn", "escalated", "gap", "overlap"]),
    ],
)
def test_dispute_filters(login, officer, disputes, params, expected) -> None:
    names = {d.pk: name for name, d in disputes.items()}
    assert [names[pk] for pk in _ids(login(officer).get("/api/v1/disputes/", params))] == expected


@pytest.mark.django_db
def test_overdue_filter_finds_open_disputes_past_their_deadline(login, officer, disputes) -> None:
    def overdue(value: str) -> Any:
        # Signed in afresh at each moment: a session idle past its timeout would answer 401.
        return login(officer).get("/api/v1/disputes/", {"overdue": value})

    assert _ids(overdue("true")) == []
    # The urgent gap's 30 minutes have passed, the normal disputes' 5 working days not yet; no sweep has run.
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        late = overdue("true")
        assert _ids(late) == [disputes["gap"].pk]
        assert late.json()["results"][0]["overdue"] is True
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        assert set(_ids(overdue("true"))) == {disputes[n].pk for n in ("overlap", "gap", "escalated")}
        assert _ids(overdue("false")) == [disputes["withdrawn"].pk]


@pytest.mark.django_db
def test_a_dispute_flagged_overdue_at_leadership_stays_overdue_while_paused(
    login, registry, member_a, officer, agency_a, agency_b
) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    for reason in ("协商未果", "编办协调未果"):
        services.dispute_transition(actor=officer, dispute=dispute, action="escalate", reason=reason)
    dispute.refresh_from_db()
    with time_machine.travel(dispute.deadline_at + timedelta(minutes=1)):
        assert services.escalate_due(dispute.pk, timezone.now()) == "overdue"
        services.dispute_transition(actor=officer, dispute=dispute, action="pause", reason="等待领导批示")
        listed = login(officer).get("/api/v1/disputes/", {"overdue": "true"})
        assert _ids(listed) == [dispute.pk] and listed.json()["results"][0]["state"] == "paused"


@pytest.mark.django_db
def test_parties_see_their_agencys_disputes_only(login, member_b, disputes) -> None:
    seen = _ids(login(member_b).get("/api/v1/disputes/"))
    assert seen == [disputes["escalated"].pk, disputes["gap"].pk, disputes["overlap"].pk]


@pytest.mark.django_db
def test_keyset_pages_walk_every_dispute_once(login, officer, disputes) -> None:
    client = login(officer)
    seen: list[int] = []
    next_url: str | None = "/api/v1/disputes/?page_size=3"
    while next_url:
        body = client.get(next_url).json()
        seen += [d["id"] for d in body["results"]]
        next_url = body["next"]
    assert seen == sorted((d.pk for d in disputes.values()), reverse=True)


@pytest.mark.django_db
def test_list_page_runs_a_fixed_number_of_queries(login, officer, registry, member_a, agency_a, agency_b):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(officer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/disputes/").status_code == 200
        return len(queries)

    file_dispute(member_a, agency_a, agency_b)
    few = count()
    for _ in range(5):
        file_dispute(member_a, agency_a, AgencyFactory())
    assert count() == few


# --- The outsider, and the anonymous caller ----------------------------------------------------------------


def every_action(agency: Any) -> list[tuple[str, dict[str, Any]]]:
    ruling = ruling_body(agency, scope="class")
    return [
        ("position", {"agency": agency.code, "stance": "declines", "statement": "不是我们的"}),
        ("escalate", {"reason": "协商未果"}),
        ("pause", {"reason": "等待材料"}),
        ("resume", {}),
        ("withdraw", {"reason": "撤回"}),
        ("accept-scope", {}),
        ("reject-scope", {"reason": "不属于职责争议"}),
        ("request-legal-review", {}),
        ("legal-opinion", {"reason": "合法"}),
        ("feedback", {"reason": "反馈"}),
        ("meeting", {"held_on": "2026-02-01", "attendees": "双方", "minutes": "纪要"}),
        ("report-agreement", {"statement": "已达成一致"}),
        ("agree", ruling),
        ("rule", ruling),
        ("decide", ruling),
    ]


@pytest.mark.django_db
def test_an_outsider_agency_is_refused_on_every_read_and_write(
    client, login, registry, member_a, member_c, agency_a, agency_b, agency_c
) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    outsider = login(member_c)

    assert _ids(outsider.get("/api/v1/disputes/")) == []
    assert _ids(outsider.get("/api/v1/disputes/", {"agency": agency_a.code})) == []
    detail = outsider.get(url(dispute))
    assert detail.status_code == 404 and detail.json()["error"]["code"] == "not_found"
    for step, body in every_action(agency_c):
        refused = post(outsider, url(dispute, step), body)
        assert refused.status_code == 404, (step, refused.status_code, refused.content)
        assert refused.json()["error"]["code"] == "not_found"

    dispute.refresh_from_db()
    assert (dispute.stage, dispute.state) == (Stage.NEGOTIATION, DisputeState.OPEN)
    assert [e.action for e in dispute.events.all()] == ["file"]
    assert not Position.objects.exists() and not Meeting.objects.exists() and not Ruling.objects.exists()


@pytest.mark.django_db
def test_anonymous_callers_get_401_on_every_dispute_endpoint(client, registry, member_a, agency_a, agency_b):
    dispute = file_dispute(member_a, agency_a, agency_b)
    for read in ("/api/v1/disputes/", url(dispute)):
        response = client.get(read)
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    filing = post(client, "/api/v1/disputes/", {"title": "x"})
    assert filing.status_code == 401
    for step, body in every_action(agency_a):
        assert post(client, url(dispute, step), body).status_code == 401, step
    assert [e.action for e in DisputeEvent.objects.all()] == ["file"]


@pytest.mark.django_db
def test_a_party_may_not_take_the_offices_steps(login, registry, member_a, member_b, agency_a, agency_b):
    dispute = file_dispute(member_a, agency_a, agency_b)
    respondent = login(member_b)
    for step, body in [
        ("pause", {"reason": "x"}),
        ("withdraw", {"reason": "x"}),  # only the filing agency withdraws
        ("agree", ruling_body(agency_b)),
        ("rule", ruling_body(agency_b)),
        ("decide", ruling_body(agency_b)),
        ("position", {"agency": agency_a.code, "stance": "accepts", "statement": "替对方表态"}),
    ]:
        refused = post(respondent, url(dispute, step), body)
        assert refused.status_code == 403, (step, refused.content)
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.OPEN and not Ruling.objects.exists()


# --- Positions and the ladder ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_positions_are_versioned(login, registry, member_a, member_b, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    respondent = login(member_b)
    first = post(
        respondent,
        url(dispute, "position"),
        {"agency": agency_b.code, "stance": "declines", "statement": "夜市属占道，不属我局"},
    )
    assert first.status_code == 201 and first.json()["version"] == 1
    revised_body = {
        "agency": agency_b.code,
        "stance": "proposes",
        "statement": "建议由综合执法局牵头",
        "legal_basis": "《城市市容和环境卫生管理条例》",
        "proposed_agency": agency_a.code,
    }
    revised = post(respondent, url(dispute, "position"), revised_body)
    assert revised.status_code == 201 and revised.json()["version"] == 2
    assert revised.json()["proposed_agency"] == agency_a.code
    again = post(respondent, url(dispute, "position"), revised_body)
    assert again.status_code == 200 and again.json()["version"] == 2
    incomplete = post(
        respondent,
        url(dispute, "position"),
        {"agency": agency_b.code, "stance": "proposes", "statement": "x"},
    )
    assert incomplete.status_code == 400 and "proposed_agency" in incomplete.json()["error"]["details"]

    assert list(Position.objects.filter(dispute=dispute).values_list("version", flat=True)) == [2, 1]
    detail = login(member_a).get(url(dispute)).json()
    assert [(p["agency"], p["version"]) for p in detail["positions"]] == [
        (agency_b.code, 2),
        (agency_b.code, 1),
    ]
    assert [(p["agency"], p["stance"]) for p in detail["latest_positions"]] == [(agency_b.code, "proposes")]
    assert [e["action"] for e in detail["events"]] == ["file", "position", "position"]


@pytest.mark.django_db
def test_a_party_escalates_by_hand(login, registry, member_a, member_b, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    respondent = login(member_b)
    bare = post(respondent, url(dispute, "escalate"))
    assert bare.status_code == 400 and bare.json()["error"]["code"] == "reason_required"
    response = post(respondent, url(dispute, "escalate"), {"reason": "三次协商未果"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stage"], body["office_step"]) == ("editorial_office", "assess")
    assert [s["stage"] for s in body["stages"]] == ["negotiation", "editorial_office"]
    assert all(s["deadline_at"] for s in body["stages"])
    assert body["events"][-1] | {"at": None} == {
        "action": "escalate",
        "from_stage": "negotiation",
        "to_stage": "editorial_office",
        "from_state": "open",
        "to_state": "open",
        "actor": "member_b",
        "reason": "三次协商未果",
        "at": None,
    }
    assert DisputeStage.objects.filter(dispute=dispute, stage="editorial_office", by_sweep=False).exists()


@pytest.mark.django_db
def test_the_editorial_offices_steps_walk_through_the_api(
    login, registry, member_a, officer, legal_reviewer, agency_a, agency_b
) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    office = login(officer)
    assert post(office, url(dispute, "escalate"), {"reason": "协商未果"}).json()["office_step"] == "assess"
    early = post(
        office, url(dispute, "meeting"), {"held_on": "2026-02-01", "attendees": "双方", "minutes": "纪要"}
    )
    assert early.status_code == 409
    assert post(office, url(dispute, "accept-scope")).json()["office_step"] == "review"
    assert post(office, url(dispute, "request-legal-review")).json()["office_step"] == "review"
    opinion = post(login(legal_reviewer), url(dispute, "legal-opinion"), {"reason": "职责划分合法"})
    assert opinion.json()["office_step"] == "coordinate"
    meeting = post(
        office,
        url(dispute, "meeting"),
        {"held_on": "2026-02-01", "attendees": "综合执法局、市监局", "minutes": "议定"},
    )
    assert meeting.status_code == 201 and meeting.json()["attendees"] == "综合执法局、市监局"
    paused = post(office, url(dispute, "pause"), {"reason": "等待现场核查"})
    assert paused.json()["state"] == "paused" and paused.json()["pause_reason"] == "等待现场核查"
    assert post(office, url(dispute, "resume")).json()["state"] == "open"
    assert (
        post(office, url(dispute, "feedback"), {"reason": "请双方补充依据"}).json()["office_step"]
        == "feedback"
    )
    detail = login(member_a).get(url(dispute)).json()
    assert detail["meetings"][0]["minutes"] == "议定"
    assert [e["action"] for e in detail["events"]] == [
        "file",
        "escalate",
        "accept_scope",
        "request_legal_review",
        "give_legal_opinion",
        "meeting",
        "pause",
        "resume",
        "give_feedback",
    ]


@pytest.mark.django_db
def test_the_office_may_find_a_dispute_out_of_scope(login, registry, member_a, officer, agency_a, agency_b):
    dispute = file_dispute(member_a, agency_a, agency_b)
    office = login(officer)
    post(office, url(dispute, "escalate"), {"reason": "协商未果"})
    body = post(office, url(dispute, "reject-scope"), {"reason": "属个案执法问题"}).json()
    assert (body["state"], body["outcome"]) == ("closed", "rejected")


@pytest.mark.django_db
def test_the_filing_agency_withdraws(login, registry, member_a, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    body = post(login(member_a), url(dispute, "withdraw"), {"reason": "已自行解决"}).json()
    assert (body["state"], body["outcome"], body["deadline_at"]) == ("closed", "withdrawn", None)


# --- Rulings, decisions, agreements ------------------------------------------------------------------------


@pytest.mark.django_db
def test_officer_rules_for_a_class_of_matters_and_the_amendment_is_drafted(
    login, registry, member_a, officer, agency_a, agency_b
) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    at_editorial_office(dispute, officer)
    body = ruling_body(
        agency_b,
        scope="class",
        cooperating=[{"agency": agency_a.code, "responsibility": "配合清理占道摊点"}],
        follow_ups=[{"agency": agency_b.code, "description": "制定夜市监管方案", "due_date": "2026-04-01"}],
    )
    response = post(login(officer), url(dispute, "rule"), body)
    assert response.status_code == 201, response.content
    ruling = response.json()
    assert ruling["kind"] == "ruling" and ruling["scope"] == "class" and ruling["is_current"] is True
    assert ruling["lead_agency"] == {"code": agency_b.code, "name": agency_b.name}
    assert ruling["cooperating"] == [
        {"agency": {"code": agency_a.code, "name": agency_a.name}, "responsibility": "配合清理占道摊点"}
    ]
    assert ruling["follow_ups"][0]["agency"] == agency_b.code and ruling["follow_ups"][0]["state"] == "open"
    assert ruling["effective_date"] == "2026-03-01" and ruling["dispute"]["id"] == dispute.pk

    amendment = Amendment.objects.get(pk=ruling["amendment"])
    assert amendment.state == AmendmentState.LEGAL_REVIEW
    assert amendment.source_ref == f"arbitration.ruling:{ruling['id']}"
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == (DisputeState.CLOSED, Outcome.RULED)
    assert FollowUp.objects.get().due_date == date(2026, 4, 1)
    detail = login(member_a).get(url(dispute)).json()
    assert detail["rulings"][0]["amendment"] == amendment.pk and detail["deadline_at"] is None

    again = post(login(officer), url(dispute, "rule"), body)
    assert again.status_code == 409 and Ruling.objects.count() == 1


@pytest.mark.django_db
def test_an_incomplete_ruling_is_a_400_and_nothing_is_issued(
    login, registry, member_a, officer, agency_a, agency_b
):
    dispute = file_dispute(member_a, agency_a, agency_b)
    at_editorial_office(dispute, officer)
    response = post(
        login(officer),
        url(dispute, "rule"),
        {
            "lead_agency": "NO-SUCH",
            "rationale": "",
            "scope": "everything",
            "cooperating": [{"agency": agency_a.code}],
        },
    )
    assert response.status_code == 400
    assert {"lead_agency", "lead_responsibility", "rationale", "scope", "cooperating"} <= set(
        response.json()["error"]["details"]
    )
    assert not Ruling.objects.exists()


@pytest.mark.django_db
def test_a_gap_ruled_for_a_class_adds_a_duty(login, registry, member_a, officer, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b, duty=None)
    at_editorial_office(dispute, officer)
    office = login(officer)
    missing = post(office, url(dispute, "rule"), ruling_body(agency_b, scope="class"))
    assert missing.status_code == 400 and "new_duty" in missing.json()["error"]["details"]
    assert not Ruling.objects.exists()
    ruled = post(
        office,
        url(dispute, "rule"),
        ruling_body(agency_b, scope="class", new_duty={"classification": "01-01", "title": "夜市摊点管理"}),
    )
    assert ruled.status_code == 201, ruled.content
    amendment = Amendment.objects.get(pk=ruled.json()["amendment"])
    assert amendment.kind == "add" and amendment.proposal["title"] == "夜市摊点管理"


@pytest.mark.django_db
def test_leader_decides_at_leadership(login, registry, member_a, officer, leader, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    office = login(officer)
    early = post(login(leader), url(dispute, "decide"), ruling_body(agency_a))
    assert early.status_code == 409
    post(office, url(dispute, "escalate"), {"reason": "协商未果"})
    escalated = post(office, url(dispute, "escalate"), {"reason": "编办协调未果"})
    assert escalated.json()["stage"] == "leadership"
    assert post(office, url(dispute, "decide"), ruling_body(agency_a)).status_code == 403
    decided = post(login(leader), url(dispute, "decide"), ruling_body(agency_a, is_internal=True))
    assert decided.status_code == 201, decided.content
    assert decided.json()["kind"] == "decision" and decided.json()["is_internal"] is True
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == (DisputeState.CLOSED, Outcome.DECIDED)


@pytest.mark.django_db
def test_officer_confirms_the_parties_agreement(
    login, registry, member_a, member_b, officer, agency_a, agency_b
):
    dispute = file_dispute(member_a, agency_a, agency_b)
    reported = post(login(member_b), url(dispute, "report-agreement"), {"statement": "由市监局牵头"})
    assert reported.status_code == 200 and reported.json()["events"][-1]["action"] == "agreement_reported"
    agreed = post(login(officer), url(dispute, "agree"), ruling_body(agency_b))
    assert agreed.status_code == 201 and agreed.json()["kind"] == "agreement"
    assert agreed.json()["amendment"] is None  # this case only: the list is not changed
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.AGREED


# --- The rulings endpoint ----------------------------------------------------------------------------------


@pytest.fixture
def two_rulings(registry, member_a, member_b, officer, agency_a, agency_b) -> tuple[Ruling, Ruling]:
    public = file_dispute(member_a, agency_a, agency_b)
    at_editorial_office(public, officer)
    published = services.ruling_issue(
        actor=officer,
        dispute=public,
        lead_agency=agency_b,
        lead_responsibility="负责",
        rationale="公开裁决",
        effective_date=date(2026, 3, 1),
        cooperating=[(agency_a, "配合")],
    )
    agency_d = AgencyFactory(code="D-jd", name="某街道办")
    private = file_dispute(member_b, agency_b, agency_d, duty="02-01-0001")
    at_editorial_office(private, officer)
    internal = services.ruling_issue(
        actor=officer,
        dispute=private,
        lead_agency=agency_d,
        lead_responsibility="负责",
        rationale="内部裁决",
        effective_date=date(2026, 3, 1),
        is_internal=True,
    )
    return published, internal


def _ruling_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


@pytest.mark.django_db
def test_rulings_are_public_unless_internal(
    client, login, member_a, member_b, member_c, officer, two_rulings
):
    published, internal = two_rulings
    assert _ruling_ids(client.get("/api/v1/rulings/")) == [published.pk]
    public = client.get(f"/api/v1/rulings/{published.pk}/").json()
    assert public["rationale"] == "公开裁决" and public["cooperating"][0]["responsibility"] == "配合"
    assert public["dispute"]["title"] and public["supersedes"] is None

    for outsider in (client, login(member_a), login(member_c)):  # A and C: no party to the internal one
        assert _ruling_ids(outsider.get("/api/v1/rulings/")) == [published.pk]
        assert outsider.get(f"/api/v1/rulings/{internal.pk}/").status_code == 404
    for insider in (login(member_b), login(officer)):
        assert _ruling_ids(insider.get("/api/v1/rulings/")) == [internal.pk, published.pk]
        assert insider.get(f"/api/v1/rulings/{internal.pk}/").json()["is_internal"] is True


@pytest.mark.django_db
def test_ruling_filters(client, agency_a, agency_b, officer, login, two_rulings) -> None:
    published, internal = two_rulings
    office = login(officer)
    assert _ruling_ids(office.get("/api/v1/rulings/", {"agency": agency_a.code})) == [published.pk]
    assert _ruling_ids(office.get("/api/v1/rulings/", {"agency": "D-jd"})) == [internal.pk]
    assert _ruling_ids(office.get("/api/v1/rulings/", {"kind": "decision"})) == []
    assert _ruling_ids(office.get("/api/v1/rulings/", {"scope": "case", "current": "true"})) == [
        internal.pk,
        published.pk,
    ]


@pytest.mark.django_db
def test_a_correction_is_listed_with_what_it_supersedes(client, officer, agency_a, two_rulings) -> None:
    published, _internal = two_rulings
    corrected = services.ruling_correct(
        actor=officer, ruling=published, rationale="更正牵头单位", lead_agency=agency_a
    )
    body = client.get(f"/api/v1/rulings/{corrected.pk}/").json()
    assert body["supersedes"] == published.pk and body["is_current"] is True
    assert client.get(f"/api/v1/rulings/{published.pk}/").json()["is_current"] is False


# --- The schema --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_documents_the_filters_and_every_step(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    names = {p["name"] for p in schema["paths"]["/api/v1/disputes/"]["get"]["parameters"]}
    assert {
        "stage",
        "state",
        "kind",
        "domain",
        "urgency",
        "agency",
        "overdue",
        "cursor",
        "page_size",
    } <= names
    ruling_names = {p["name"] for p in schema["paths"]["/api/v1/rulings/"]["get"]["parameters"]}
    assert {"kind", "scope", "agency", "current"} <= ruling_names
    for step, _body in every_action(AgencyFactory.build(code="x")):
        assert "post" in schema["paths"][f"/api/v1/disputes/{{id}}/{step}/"], step
