from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from core.audit import verify_chain
from duty_lists.demo import DEMO_PASSWORD, PEOPLE
from duty_lists.models import Agency, AgencyLevel, DutyList, Membership, Role
from duty_lists.selectors import revisions_in_force


@pytest.mark.django_db
def test_demo_data_has_district_and_street_agencies_and_every_role() -> None:
    call_command("load_demo", quiet_logins=True)
    assert Agency.objects.filter(level=AgencyLevel.DISTRICT).count() >= 5
    assert Agency.objects.filter(level=AgencyLevel.STREET).count() >= 3
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)
    assert verify_chain().ok


@pytest.mark.django_db
def test_demo_registry_publishes_the_real_taxonomy_and_service_items() -> None:
    call_command("load_demo", quiet_logins=True)
    livelihood = DutyList.objects.get(code="ga-livelihood")
    services = DutyList.objects.get(code="ga-services")
    assert revisions_in_force(duty_list=livelihood, with_content=False).count() == 517
    assert livelihood.categories.count() == 15 and livelihood.classifications.count() == 118
    assert revisions_in_force(duty_list=services, with_content=False).count() == 1135
    # every duty has exactly one lead, and the service items are led by their real departments
    for revision in revisions_in_force(duty_list=services).filter(title__startswith="适龄儿童"):
        assert revision.lead.agency.short_name == "区教科体局"
    assert livelihood.is_demo and livelihood.editions.count() == 1


@pytest.mark.django_db
def test_loading_the_demo_twice_duplicates_nothing() -> None:
    call_command("load_demo", quiet_logins=True)
    counts = (Agency.objects.count(), get_user_model().objects.count(), Membership.objects.count())
    call_command("load_demo", quiet_logins=True)
    assert (Agency.objects.count(), get_user_model().objects.count(), Membership.objects.count()) == counts


@pytest.mark.django_db
def test_every_demo_login_works() -> None:
    call_command("load_demo", quiet_logins=True)
    for person in PEOPLE:
        client = Client()
        response = client.post("/accounts/login/", {"username": person.username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, person.username


@pytest.mark.django_db
def test_demo_disputes_sit_on_every_stage_and_one_is_due() -> None:
    from arbitration.models import Dispute
    from arbitration.services import sweep

    call_command("load_demo", quiet_logins=True)
    open_stages = set(Dispute.objects.filter(state="open").values_list("stage", flat=True))
    assert open_stages == {"negotiation", "editorial_office", "leadership"}
    ruled = Dispute.objects.get(outcome="ruled")
    assert ruled.rulings.get().amendment.state == "legal_review"
    assert sweep()["escalated"] == 1  # the one whose negotiation time ran out
