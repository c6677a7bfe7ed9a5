"""The amendment flow (动态调整): every step, who may take it, from which state, and its history."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError, Conflict, PermissionRefused
from core.models import AuditEntry
from duty_lists import selectors
from duty_lists.models import AgencyLevel, AmendmentEvent, AmendmentState, Duty
from duty_lists.services import (
    TRANSITIONS,
    amendment_approve,
    amendment_create,
    amendment_give_opinion,
    amendment_pass_legal_review,
    amendment_return,
    amendment_submit,
    amendment_update,
    amendment_withdraw,
)
from tests.factories import AgencyFactory
from tests.registry import content, make_list, publish, stage

S = AmendmentState


@pytest.fixture
def justice(db):
    return AgencyFactory(code="J-sfj", name="区司法局")


@pytest.fixture
def justice_staff(justice):
    from tests.conftest import _person

    return _person("justice_staff", justice, "agency_staff")


@pytest.fixture
def registry(agency_a, justice):
    duty_list = make_list(reviewing=(justice,))
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    publish(duty_list)
    return duty_list


def _transfer(registry, member_a, agency_a, agency_b):
    duty = Duty.objects.get(code="01-01-0001")
    return amendment_create(
        actor=member_a,
        duty_list=registry,
        kind="transfer",
        duty=duty,
        proposing_agency=agency_a,
        justification="占道经营属市场监管范畴",
        proposal=content("占道经营", agency_b).to_dict(),
    )


def _walk_to(state, amendment, *, member_a, legal_reviewer, justice_staff, justice, officer):
    if state == S.DRAFT:
        return amendment
    amendment = amendment_submit(actor=member_a, amendment=amendment)
    if state == S.LEGAL_REVIEW:
        return amendment
    amendment = amendment_pass_legal_review(actor=legal_reviewer, amendment=amendment, reason="合法")
    if state == S.JOINT_REVIEW:
        return amendment
    amendment_give_opinion(actor=justice_staff, amendment=amendment, agency=justice, concurs=True)
    return amendment_approve(actor=officer, amendment=amendment)


@pytest.fixture
def people(member_a, legal_reviewer, justice_staff, justice, officer):
    return {
        "member_a": member_a,
        "legal_reviewer": legal_reviewer,
        "justice_staff": justice_staff,
        "justice": justice,
        "officer": officer,
    }


@pytest.mark.django_db
def test_full_flow_publishes_the_new_lead_with_history(registry, people, agency_a, agency_b) -> None:
    amendment = _transfer(registry, people["member_a"], agency_a, agency_b)
    amendment = _walk_to(S.APPROVED, amendment, **people)
    assert amendment.state == S.APPROVED and amendment.pending_revision is not None
    # approved is not yet published: the public list still shows the old lead
    assert selectors.revisions_in_force(duty_list=registry).get().lead.agency == agency_a
    edition = publish(registry, "调整占道经营牵头单位")
    amendment.refresh_from_db()
    assert amendment.state == S.PUBLISHED and amendment.published_in == edition
    in_force = selectors.revisions_in_force(duty_list=registry).get()
    assert in_force.lead.agency == agency_b and in_force.amendment == amendment
    actions = list(AmendmentEvent.objects.filter(amendment=amendment).values_list("action", flat=True))
    assert actions == ["create", "submit", "pass_legal_review", "concur", "approve", "publish"]
    assert AuditEntry.objects.filter(action="duty_lists.amendment.approve", actor=people["officer"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "step", "actor"),
    [
        (S.LEGAL_REVIEW, "pass_legal_review", "member_a"),  # staff cannot pass legal review
        (S.LEGAL_REVIEW, "pass_legal_review", "justice_staff"),
        (S.JOINT_REVIEW, "approve", "legal_reviewer"),  # a legal reviewer cannot approve
        (S.JOINT_REVIEW, "approve", "member_a"),
        (S.DRAFT, "submit", "justice_staff"),  # an outsider agency cannot submit another's draft
        (S.JOINT_REVIEW, "return", "member_a"),
    ],
)
def test_wrong_role_is_refused(registry, people, agency_a, agency_b, state, step, actor) -> None:
    amendment = _walk_to(state, _transfer(registry, people["member_a"], agency_a, agency_b), **people)
    service = {
        "submit": amendment_submit,
        "pass_legal_review": amendment_pass_legal_review,
        "approve": amendment_approve,
        "return": amendment_return,
    }[step]
    with pytest.raises(PermissionRefused):
        service(actor=people[actor], amendment=amendment, reason="理由")
    amendment.refresh_from_db()
    assert amendment.state == state


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "step", "actor"),
    [
        (S.DRAFT, "pass_legal_review", "legal_reviewer"),
        (S.DRAFT, "approve", "officer"),
        (S.LEGAL_REVIEW, "approve", "officer"),
        (S.APPROVED, "withdraw", "member_a"),
        (S.DRAFT, "return", "officer"),
    ],
)
def test_wrong_state_is_refused(registry, people, agency_a, agency_b, state, step, actor) -> None:
    amendment = _walk_to(state, _transfer(registry, people["member_a"], agency_a, agency_b), **people)
    service = {
        "pass_legal_review": amendment_pass_legal_review,
        "approve": amendment_approve,
        "withdraw": amendment_withdraw,
        "return": amendment_return,
    }[step]
    with pytest.raises(Conflict):
        service(actor=people[actor], amendment=amendment, reason="理由")


def test_transition_table_is_the_documented_flow() -> None:
    assert {name: (sorted(t.sources), t.target) for name, t in TRANSITIONS.items()} == {
        "submit": (["draft", "returned"], "legal_review"),
        "pass_legal_review": (["legal_review"], "joint_review"),
        "approve": (["joint_review"], "approved"),
        "return": (["approved", "joint_review", "legal_review"], "returned"),
        "withdraw": (["draft", "joint_review", "legal_review", "returned"], "withdrawn"),
    }


@pytest.mark.django_db
def test_each_step_is_safe_to_repeat(registry, people, agency_a, agency_b) -> None:
    amendment = _transfer(registry, people["member_a"], agency_a, agency_b)
    amendment_submit(actor=people["member_a"], amendment=amendment)
    amendment_submit(actor=people["member_a"], amendment=amendment)
    amendment.refresh_from_db()
    assert amendment.review_round == 1
    assert AmendmentEvent.objects.filter(amendment=amendment, action="submit").count() == 1


@pytest.mark.django_db
def test_approval_waits_for_every_reviewing_agency(registry, people, agency_a, agency_b) -> None:
    amendment = _walk_to(
        S.JOINT_REVIEW, _transfer(registry, people["member_a"], agency_a, agency_b), **people
    )
    with pytest.raises(Conflict) as waiting:
        amendment_approve(actor=people["officer"], amendment=amendment)
    assert waiting.value.extra == {"agencies": ["J-sfj"]}
    with pytest.raises(ApplicationError):  # an objection needs its reasons
        amendment_give_opinion(
            actor=people["justice_staff"], amendment=amendment, agency=people["justice"], concurs=False
        )
    with pytest.raises(PermissionRefused):  # only the reviewing agency's own staff give its opinion
        amendment_give_opinion(
            actor=people["member_a"], amendment=amendment, agency=people["justice"], concurs=True
        )


@pytest.mark.django_db
def test_approval_refuses_a_lead_agency_dissolved_during_review(registry, people, agency_a, agency_b) -> None:
    amendment = _walk_to(
        S.JOINT_REVIEW, _transfer(registry, people["member_a"], agency_a, agency_b), **people
    )
    amendment_give_opinion(
        actor=people["justice_staff"], amendment=amendment, agency=people["justice"], concurs=True
    )
    type(agency_b).objects.filter(pk=agency_b.pk).update(is_active=False)

    with pytest.raises(ApplicationError) as refused:
        amendment_approve(actor=people["officer"], amendment=amendment)
    assert agency_b.code in str(refused.value.extra)
    amendment.refresh_from_db()
    assert amendment.state == S.JOINT_REVIEW and amendment.pending_revision is None


@pytest.mark.django_db
def test_returning_an_approved_amendment_unstages_it_and_allows_resubmission(
    registry, people, agency_a, agency_b
) -> None:
    amendment = _walk_to(S.APPROVED, _transfer(registry, people["member_a"], agency_a, agency_b), **people)
    with pytest.raises(ApplicationError):
        amendment_return(actor=people["officer"], amendment=amendment, reason="  ")
    amendment = amendment_return(actor=people["officer"], amendment=amendment, reason="依据不足")
    assert amendment.state == S.RETURNED and amendment.pending_revision is None
    assert not selectors.pending_revisions(registry).exists()
    amendment = amendment_update(
        actor=people["member_a"], amendment=amendment, justification="补充：依据《无证无照经营查处办法》"
    )
    amendment = amendment_submit(actor=people["member_a"], amendment=amendment)
    assert amendment.review_round == 2
    # the first round's concurrence does not count in the second
    amendment = amendment_pass_legal_review(actor=people["legal_reviewer"], amendment=amendment)
    with pytest.raises(Conflict):
        amendment_approve(actor=people["officer"], amendment=amendment)


@pytest.mark.django_db
def test_staff_propose_only_for_their_own_agency(registry, member_b, agency_a, agency_b) -> None:
    with pytest.raises(PermissionRefused):
        _transfer(registry, member_b, agency_a, agency_b)


@pytest.mark.django_db
def test_a_push_down_must_be_filed_as_a_delegation_and_then_passes(registry, people, agency_a) -> None:
    street = AgencyFactory(code="S-bc", name="北辰街道", level=AgencyLevel.STREET)
    duty = Duty.objects.get(code="01-01-0001")
    proposal = content("占道经营", street, layer="street").to_dict()
    with pytest.raises(ApplicationError) as refused:
        amendment_create(
            actor=people["member_a"],
            duty_list=registry,
            kind="change",
            duty=duty,
            proposing_agency=agency_a,
            justification="下沉街道",
            proposal=proposal,
        )
    assert refused.value.code == "delegation_requires_approval"
    delegation = amendment_create(
        actor=people["member_a"],
        duty_list=registry,
        kind="delegate",
        duty=duty,
        proposing_agency=agency_a,
        justification="下沉街道",
        proposal=proposal,
    )
    _walk_to(S.APPROVED, delegation, **people)
    publish(registry)
    assert selectors.revisions_in_force(duty_list=registry).get().lead.agency == street


@pytest.mark.django_db
def test_adding_and_removing_duties(registry, people, agency_a) -> None:
    added = amendment_create(
        actor=people["officer"],
        duty_list=registry,
        kind="add",
        proposing_agency=agency_a,
        justification="新增职责",
        proposal=content("噪音扰民", agency_a, classification="02-01").to_dict(),
    )
    _walk_to(S.APPROVED, added, **people)
    removed = amendment_create(
        actor=people["officer"],
        duty_list=registry,
        kind="remove",
        duty=Duty.objects.get(code="01-01-0001"),
        proposing_agency=agency_a,
        justification="职责取消",
    )
    _walk_to(S.APPROVED, removed, **people)
    publish(registry)
    assert [r.code for r in selectors.revisions_in_force(duty_list=registry)] == ["02-01-0001"]


@pytest.mark.django_db
def test_a_proposal_reports_all_its_problems_at_once(registry, member_a, agency_a) -> None:
    with pytest.raises(ApplicationError) as refused:
        amendment_create(
            actor=member_a,
            duty_list=registry,
            kind="add",
            proposing_agency=agency_a,
            justification=" ",
            proposal={"classification": "09-09", "title": "", "participants": []},
        )
    assert {"justification", "classification", "title", "participants"} <= set(refused.value.extra)
