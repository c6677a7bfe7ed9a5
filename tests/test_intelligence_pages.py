"""The gap finder and the what-if replay as the editorial office uses them: start a search, see its groups,
open a dispute from one; replay a draft amendment and read who would get the grievances. Outsiders are
refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from arbitration.models import Dispute
from core import jobs
from core.models import Job
from duty_lists.models import Agency, AmendmentState
from grievances import routing
from grievances.models import Grievance
from tests.grievance_helpers import World, build_world
from tests.test_gap_finder import BIKES, _grievance
from tests.test_replay import _received, _transfer_vending


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def _run_latest(kind: str) -> Job:
    job = Job.objects.filter(kind=kind).first()
    assert job is not None
    done = jobs.job_run(job_id=job.pk)
    assert done is not None
    return done


def _bikes(dispatcher: Any, world: World, agency_a: Agency) -> list[Grievance]:
    routing.forget()
    made = [
        _grievance(dispatcher, world, t, f"b{i}", days_ago=2 + i, unlisted=True, handling_agency=agency_a)
        for i, t in enumerate(BIKES)
    ]
    return made


def test_the_office_searches_for_gaps_and_opens_a_dispute_from_a_group(
    client, officer, dispatcher, world, agency_a, django_capture_on_commit_callbacks
):
    _bikes(dispatcher, world, agency_a)
    client.force_login(officer)
    empty = client.get(reverse("grievances:gaps")).content.decode()
    assert "No search has been run yet" in empty or "还没有运行过查找" in empty

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("grievances:gaps"), {"days": "90"})
    assert response.status_code == 302 and len(callbacks) == 1
    running = client.get(reverse("grievances:gaps")).content.decode()
    assert "data-job-status" in running  # the page follows the job while it runs
    job = _run_latest("grievances.gaps")
    status = client.get(reverse("grievances:job_status", args=[job.pk])).json()
    assert status == {"running": False, "state": "done", "progress": 100, "stage": "done"}

    page = client.get(reverse("grievances:gaps")).content.decode()
    assert 'data-cluster="0"' in page and BIKES[0] in page

    cluster = job.result["clusters"][0]
    data = {"grievance": cluster["grievance_ids"], "kind": "gap", "words": "共享单车"}
    response = client.post(reverse("grievances:gap_file"), data)
    dispute = Dispute.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/disputes/{dispute.pk}/")
    assert dispute.kind == "gap" and "共享单车" in dispute.title
    assert Grievance.objects.filter(dispute=dispute).count() == 4
    again = client.post(reverse("grievances:gap_file"), data, follow=True).content.decode()
    assert Dispute.objects.count() == 1 and ("already in a dispute" in again or "已在争议中" in again)


def test_a_bad_look_back_is_a_message_not_a_search(client, officer):
    client.force_login(officer)
    page = client.post(reverse("grievances:gaps"), {"days": "abc"}, follow=True).content.decode()
    assert not Job.objects.exists()
    assert "abc" in page


def test_outsiders_may_not_search_file_or_replay(
    client, member_a, dispatcher, world, officer, agency_a, agency_b
):
    amendment = _transfer_vending(world, officer, agency_a, agency_b)
    for user in (member_a, dispatcher):
        client.force_login(user)
        assert client.get(reverse("grievances:gaps")).status_code == 403
        assert client.post(reverse("grievances:gaps"), {"days": "90"}).status_code == 403
        assert (
            client.post(reverse("grievances:gap_file"), {"grievance": ["1"], "kind": "gap"}).status_code
            == 403
        )
        assert client.get(reverse("grievances:replay", args=[amendment.pk])).status_code == 403
    job = Job.objects.create(kind="grievances.gaps", requested_by=officer)
    client.force_login(member_a)
    assert client.get(reverse("grievances:job_status", args=[job.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("grievances:gaps")).status_code == 302


def test_the_office_replays_a_draft_amendment_from_its_page(
    client, officer, dispatcher, world, agency_a, agency_b, django_capture_on_commit_callbacks
):
    routing.forget()
    for i in range(2):
        _received(dispatcher, world, f"流动摊贩占道经营{i}", f"v{i}", final=agency_b, days_ago=5 + i)
    amendment = _transfer_vending(world, officer, agency_a, agency_b)
    client.force_login(officer)
    detail = client.get(reverse("duty_lists:amendment_detail", args=[amendment.pk])).content.decode()
    assert reverse("grievances:replay", args=[amendment.pk]) in detail  # offered on the amendment's page

    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("grievances:replay", args=[amendment.pk]), {"months": "3"})
    job = _run_latest("grievances.replay")
    assert job.params == {"amendment": amendment.pk, "months": 3} and job.result["moved"] == 2

    page = client.get(reverse("grievances:replay", args=[amendment.pk])).content.decode()
    assert "data-moved" in page and agency_b.name in page and "-2" in page  # two returns avoided

    bad = client.post(reverse("grievances:replay", args=[amendment.pk]), {"months": "99"}, follow=True)
    assert Job.objects.filter(kind="grievances.replay").count() == 1 and "99" in bad.content.decode()
    type(amendment).objects.filter(pk=amendment.pk).update(state=AmendmentState.WITHDRAWN)
    client.post(reverse("grievances:replay", args=[amendment.pk]), {"months": "3"})
    assert Job.objects.filter(kind="grievances.replay").count() == 1  # a settled amendment is not replayed
