"""The registry in the admin: visible to the editorial office, changed only through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from duty_lists.models import DutyList, DutyRevision, Edition
from tests.registry import make_list, stage


@pytest.mark.django_db
def test_officer_publishes_from_the_admin(login, officer, agency_a) -> None:
    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    response = login(officer).post(
        reverse("admin:duty_lists_dutylist_changelist"),
        {"action": "publish_edition", "_selected_action": [duty_list.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Edition.objects.get(duty_list=duty_list).published_by == officer


@pytest.mark.django_db
def test_officer_creates_a_list_through_the_service(login, officer, agency_b) -> None:
    response = login(officer).post(
        reverse("admin:duty_lists_dutylist_add"),
        {
            "code": "jd",
            "name": "街道职责清单",
            "kind": "street",
            "description": "",
            "reviewing_agencies": [agency_b.pk],
        },
    )
    assert response.status_code == 302, response.content
    created = DutyList.objects.get(code="jd")
    assert list(created.reviewing_agencies.all()) == [agency_b]


@pytest.mark.django_db
def test_published_revisions_are_read_only_in_the_admin(login, officer, agency_a) -> None:
    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    revision = DutyRevision.objects.get()
    client = login(officer)
    page = client.get(reverse("admin:duty_lists_dutyrevision_change", args=[revision.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert (
        client.post(
            reverse("admin:duty_lists_dutyrevision_delete", args=[revision.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["member_a", "dispatcher"])
def test_people_without_a_registry_role_cannot_reach_it(request, login, persona) -> None:
    response = login(request.getfixturevalue(persona)).get(reverse("admin:duty_lists_dutylist_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_security_administrator_does_not_see_the_registry(login, secadmin) -> None:
    assert login(secadmin).get(reverse("admin:duty_lists_dutylist_changelist")).status_code == 403
