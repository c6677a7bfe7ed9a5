"""The register of powers delegated to streets (赋权清单): granted and withdrawn by published amendments,
public as a page and through the API."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from core.actors import SYSTEM
from core.errors import ApplicationError, Conflict, PermissionRefused
from core.models import AuditEntry
from duty_lists.models import AgencyLevel, Amendment, AmendmentState, DelegatedPower, Duty, DutyList
from duty_lists.services import (
    amendment_approve,
    amendment_create,
    amendment_give_opinion,
    amendment_pass_legal_review,
    amendment_submit,
)
from duty_lists.services.delegations import delegated_power_grant, delegated_power_withdraw
from tests.factories import AgencyFactory
from tests.registry import content, make_list, publish, stage

DUTY = "01-01-0001"
DECISION = "区政府令〔2026〕3号"


@pytest.fixture
def justice(db: None) -> Any:
    return AgencyFactory(code="J-sfj", name="区司法局")


@pytest.fixture
def justice_staff(justice: Any) -> Any:
    from tests.conftest import _person

    return _person("justice_staff", justice, "agency_staff")


@pytest.fixture
def street(db: None) -> Any:
    return AgencyFactory(code="S-bc", name="北辰街道", level=AgencyLevel.STREET)


@pytest.fixture
def registry(agency_a: Any, justice: Any) -> DutyList:
    duty_list = make_list(reviewing=(justice,))
    stage(duty_list, DUTY, "占道经营", agency_a)
    publish(duty_list)
    return duty_list


@pytest.fixture
def people(member_a: Any, legal_reviewer: Any, justice_staff: Any, justice: Any, officer: Any) -> Any:
    return {
        "member_a": member_a,
        "legal_reviewer": legal_reviewer,
        "justice_staff": justice_staff,
        "justice": justice,
        "officer": officer,
    }


def _approve(amendment: Amendment, people: dict[str, Any]) -> Amendment:
    amendment = amendment_submit(actor=people["member_a"], amendment=amendment)
    amendment = amendment_pass_legal_review(
        actor=people["legal_reviewer"], amendment=amendment, reason="合法"
    )
    amendment_give_opinion(
        actor=people["justice_staff"], amendment=amendment, agency=people["justice"], concurs=True
    )
    return amendment_approve(actor=people["officer"], amendment=amendment)


def _delegate(registry: DutyList, actor: Any, agency_a: Any, street: Any, **block: Any) -> Amendment:
    proposal = content("占道经营", street, layer="street").to_dict()
    proposal["delegation"] = {"streets": [street.code], "decision": DECISION, **block}
    return amendment_create(
        actor=actor,
        duty_list=registry,
        kind="delegate",
        duty=Duty.objects.get(code=DUTY),
        proposing_agency=agency_a,
        justification="下沉街道，就近处置",
        proposal=proposal,
    )


def _withdraw(registry: DutyList, actor: Any, agency_a: Any) -> Amendment:
    return amendment_create(
        actor=actor,
        duty_list=registry,
        kind="withdraw_delegation",
        duty=Duty.objects.get(code=DUTY),
        proposing_agency=agency_a,
        justification="街道承接能力不足，收回",
        proposal=content("占道经营", agency_a).to_dict(),
    )


@pytest.fixture
def delegated(registry: DutyList, people: Any, agency_a: Any, street: Any) -> DelegatedPower:
    amendment = _approve(
        _delegate(registry, people["member_a"], agency_a, street, granted_on="2026-03-01"), people
    )
    publish(registry)
    return DelegatedPower.objects.get(granting_amendment=amendment)


# --- Granting and withdrawing -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_publishing_an_approved_delegation_adds_the_power_once(
    registry: DutyList, people: Any, agency_a: Any, street: Any
) -> None:
    amendment = _approve(_delegate(registry, people["member_a"], agency_a, street), people)
    assert not DelegatedPower.objects.exists()  # approved is not yet in force
    edition = publish(registry)
    power = DelegatedPower.objects.get()
    assert power.duty.code == DUTY
    assert [s.code for s in power.streets.all()] == [street.code]
    assert power.delegating_agency == agency_a
    assert power.decision == DECISION
    assert power.granted_on == edition.effective_date
    assert "城市市容和环境卫生管理条例" in power.legal_basis
    assert power.granting_amendment == amendment and power.withdrawn_on is None
    again = delegated_power_grant(actor=SYSTEM, amendment=amendment)
    assert again.pk == power.pk
    assert DelegatedPower.objects.count() == 1
    assert AuditEntry.objects.filter(action="duty_lists.delegated_power.granted").count() == 1


@pytest.mark.django_db
def test_a_withdrawal_amendment_ends_the_delegation(
    registry: DutyList, people: Any, agency_a: Any, delegated: DelegatedPower
) -> None:
    withdrawal = _approve(_withdraw(registry, people["member_a"], agency_a), people)
    edition = publish(registry)
    delegated.refresh_from_db()
    assert delegated.withdrawn_on == max(edition.effective_date, delegated.granted_on)
    assert delegated.withdrawing_amendment == withdrawal
    again = delegated_power_withdraw(actor=SYSTEM, amendment=withdrawal)
    assert again is not None and again.pk == delegated.pk
    assert AuditEntry.objects.filter(action="duty_lists.delegated_power.withdrawn").count() == 1
    assert Amendment.objects.get(pk=withdrawal.pk).state == AmendmentState.PUBLISHED


@pytest.mark.django_db
def test_removing_a_delegated_duty_ends_its_delegation(
    registry: DutyList, people: Any, agency_a: Any, delegated: DelegatedPower
) -> None:
    removal = amendment_create(
        actor=people["officer"],
        duty_list=registry,
        kind="remove",
        duty=Duty.objects.get(code=DUTY),
        proposing_agency=agency_a,
        justification="职责取消",
    )
    _approve(removal, people)
    publish(registry)
    delegated.refresh_from_db()
    assert delegated.withdrawing_amendment_id == removal.pk


@pytest.mark.django_db
def test_a_withdrawal_needs_a_delegated_duty_given_back_to_the_district(
    registry: DutyList, people: Any, agency_a: Any, street: Any
) -> None:
    with pytest.raises(Conflict) as refused:
        _withdraw(registry, people["member_a"], agency_a)
    assert refused.value.code == "not_delegated"


@pytest.mark.django_db
def test_a_delegation_names_known_streets(
    registry: DutyList, people: Any, agency_a: Any, street: Any
) -> None:
    with pytest.raises(ApplicationError) as refused:
        _delegate(registry, people["member_a"], agency_a, street, streets=["nowhere"], granted_on="03/01")
    assert refused.value.code == "invalid_delegation"
    assert set(refused.value.extra) == {"streets", "granted_on"}


@pytest.mark.django_db
def test_a_duty_has_one_active_delegation(delegated: DelegatedPower) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        DelegatedPower.objects.create(
            duty=delegated.duty,
            granted_on=date(2026, 4, 1),
            granting_amendment=Amendment.objects.create(
                duty_list=delegated.duty.duty_list,
                kind="delegate",
                duty=delegated.duty,
                justification="再次下沉",
                proposing_agency=delegated.granting_amendment.proposing_agency,
            ),
        )


@pytest.mark.django_db
def test_a_withdrawal_cannot_predate_the_grant(delegated: DelegatedPower) -> None:
    delegated.withdrawn_on = date(2025, 1, 1)
    delegated.withdrawing_amendment = delegated.granting_amendment
    with pytest.raises(IntegrityError), transaction.atomic():
        delegated.save()


@pytest.mark.django_db
def test_an_outsiders_staff_cannot_file_a_delegation(
    registry: DutyList, member_b: Any, agency_a: Any, street: Any
) -> None:
    with pytest.raises(PermissionRefused):
        _delegate(registry, member_b, agency_a, street)


# --- The page and the API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_delegations_to_anonymous_visitors(
    client: Client, delegated: DelegatedPower, street: Any
) -> None:
    response = client.get("/duty-lists/delegations/")
    assert response.status_code == 200
    page = response.content.decode()
    assert DUTY in page and "占道经营" in page and DECISION in page and "北辰街道" in page
    assert f"/amendments/{delegated.granting_amendment_id}/" in page
    assert "2026-03-01" in page
    assert DECISION in client.get("/duty-lists/delegations/", {"street": street.code}).content.decode()
    withdrawn = client.get("/duty-lists/delegations/", {"withdrawn": "1"}).content.decode()
    assert DECISION not in withdrawn


@pytest.mark.django_db
def test_the_page_has_an_empty_state(client: Client) -> None:
    response = client.get("/duty-lists/delegations/")
    assert response.status_code == 200
    assert 'class="empty"' in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_street_is_a_bad_request(client: Client, delegated: DelegatedPower) -> None:
    response = client.get("/duty-lists/delegations/", {"street": "nowhere"})
    assert response.status_code == 400
    assert "nowhere" in response.content.decode()
    assert DECISION not in response.content.decode()


@pytest.mark.django_db
def test_the_api_lists_and_filters_delegations(
    client: Client, delegated: DelegatedPower, street: Any
) -> None:
    other = AgencyFactory(code="S-xh", name="新华街道", level=AgencyLevel.STREET)
    body = client.get("/api/v1/delegations/").json()
    assert [r["duty"] for r in body["results"]] == [DUTY]
    row = body["results"][0]
    assert row["streets"] == [{"code": street.code, "name": "北辰街道"}]
    assert row["decision"] == DECISION and row["granted_on"] == "2026-03-01"
    assert row["title"] == "占道经营" and row["granting_amendment"] == delegated.granting_amendment_id
    assert len(client.get("/api/v1/delegations/", {"street": street.code}).json()["results"]) == 1
    assert client.get("/api/v1/delegations/", {"street": other.code}).json()["results"] == []
    assert client.get("/api/v1/delegations/", {"withdrawn": "true"}).json()["results"] == []


@pytest.mark.django_db
def test_the_api_refuses_bad_filters_in_its_error_shape(client: Client, delegated: DelegatedPower) -> None:
    for params in ({"street": "nowhere"}, {"withdrawn": "maybe"}):
        response = client.get("/api/v1/delegations/", params)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert set(error["details"]) == set(params)


@pytest.mark.django_db
def test_the_page_runs_a_fixed_number_of_queries(
    client: Client, delegated: DelegatedPower, django_assert_num_queries: Any
) -> None:
    # Streets for the filter, the count, the rows with duty and amendments, their streets (+ session).
    with django_assert_num_queries(4):
        assert client.get("/duty-lists/delegations/").status_code == 200


@pytest.mark.django_db
def test_the_page_exports_to_excel(client: Client, delegated: DelegatedPower) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    response = client.get("/duty-lists/delegations/", {"format": "xlsx"})
    assert response.status_code == 200
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "事项编码"
    assert rows[1][:3] == (DUTY, "占道经营", "北辰街道") and rows[1][5] == DECISION


@pytest.mark.django_db
def test_the_amendment_page_shows_the_delegation(
    login: Any, registry: DutyList, member_a: Any, agency_a: Any, street: Any
) -> None:
    amendment = _delegate(registry, member_a, agency_a, street)
    page = login(member_a).get(f"/amendments/{amendment.pk}/").content.decode()
    assert DECISION in page and street.code in page
