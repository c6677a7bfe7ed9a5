"""Suggestions stay true to the list in force: a new edition re-scores the grievances waiting in the queue,
re-match asks before it dispatches, and an agency that returned a grievance is never its one-click choice."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from duty_lists.models import Agency
from grievances import services, tasks
from grievances.models import Grievance, GrievanceState, OrderRole, OrderState
from grievances.services.rescoring import grievances_rescore_waiting
from tests.grievance_helpers import World, build_world
from tests.registry import publish, stage

pytestmark = pytest.mark.django_db

VENDING = ("小区门口有流动摊贩占道经营", "每天晚上有人摆摊，占道严重")


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


@pytest.fixture
def queued(settings: Any) -> None:
    """Nothing is dispatched automatically: every grievance waits in the queue with its suggestions."""
    settings.ZHIZE_AUTO_DISPATCH_CONFIDENCE = 1.01


@pytest.fixture
def eager_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """What publishing enqueues runs at once, in this process (no worker in these tests)."""
    for task in (tasks.reroute_after_edition, tasks.rescore_after_edition):
        monkeypatch.setattr(task, "delay", task)


def receive(dispatcher: Any, world: World, *, route: bool = True, key: str = "") -> Grievance:
    grievance, _ = services.grievance_receive(
        actor=dispatcher,
        title=VENDING[0],
        details=VENDING[1],
        street=world.street,
        route=route,
        idempotency_key=key,
    )
    return grievance


def quick_buttons(html: str, agency: Agency) -> int:
    return html.count(f'data-quick-dispatch="{agency.pk}"')


# --- A new edition re-scores the queue ---------------------------------------------------------------------


def test_publishing_an_edition_that_moves_a_duty_rescores_a_waiting_grievance(
    queued, eager_tasks, dispatcher, world, agency_a, agency_b, django_capture_on_commit_callbacks
):
    grievance = receive(dispatcher, world)
    assert grievance.state == GrievanceState.RECEIVED
    assert grievance.suggestions[0]["agency_id"] == agency_a.pk

    stage(world.duty_list, "01-01-0001", "占道经营", agency_b, keywords=["摆摊", "占道"])
    with django_capture_on_commit_callbacks(execute=True):
        publish(world.duty_list)

    grievance.refresh_from_db()
    assert grievance.suggestions[0]["agency_id"] == agency_b.pk
    assert grievance.suggestions[0]["duty_code"] == "01-01-0001"
    assert all(
        s.get("agency_id") != agency_a.pk for s in grievance.suggestions if s["duty_code"] == "01-01-0001"
    )
    assert grievance.state == GrievanceState.RECEIVED  # re-scored, not dispatched: the dispatcher decides
    assert grievance.events.filter(action="rescore").count() == 1


def test_rescoring_twice_changes_nothing_more(queued, dispatcher, world, agency_b):
    grievance = receive(dispatcher, world)
    stage(world.duty_list, "01-01-0001", "占道经营", agency_b, keywords=["摆摊", "占道"])
    edition = publish(world.duty_list)
    assert grievances_rescore_waiting(edition_id=edition.pk) == 1
    assert grievances_rescore_waiting(edition_id=edition.pk) == 0
    assert Grievance.objects.get(pk=grievance.pk).events.filter(action="rescore").count() == 1


# --- Re-match asks before it dispatches --------------------------------------------------------------------


def test_rematch_shows_the_new_suggestion_and_asks_before_dispatching(english, dispatcher, world, agency_a):
    grievance = receive(dispatcher, world, route=False)  # confident enough to go by itself, if it could
    client = english(dispatcher)
    response = client.post(reverse("grievances:route", kwargs={"pk": grievance.pk}), follow=True)
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.RECEIVED
    assert not grievance.orders.exists()
    assert grievance.suggestions[0]["agency_id"] == agency_a.pk
    html = response.content.decode()
    assert "data-rematch-confirm" in html and agency_a.name in html
    assert quick_buttons(html, agency_a) == 1  # the confirmation: one click on the new suggestion

    client.post(
        reverse("grievances:dispatch", kwargs={"pk": grievance.pk}),
        {"quick": "1", "agency": agency_a.pk, "duty": grievance.suggestions[0]["duty_id"]},
    )
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.DISPATCHED and grievance.handling_agency == agency_a


def test_the_route_service_never_dispatches_on_its_own(dispatcher, world):
    grievance = services.grievance_route(actor=dispatcher, grievance=receive(dispatcher, world, route=False))
    assert grievance.state == GrievanceState.RECEIVED and not grievance.orders.exists()


def test_an_outsider_cannot_rematch(english, member_b, dispatcher, world):
    grievance = receive(dispatcher, world, route=False)
    response = english(member_b).post(reverse("grievances:route", kwargs={"pk": grievance.pk}))
    assert response.status_code in (403, 404)
    assert Grievance.objects.get(pk=grievance.pk).suggestions == []


# --- The agency that returned it is never the one-click choice ---------------------------------------------


def returned_by_a(dispatcher: Any, member_a: Any, world: World, agency_a: Agency) -> Grievance:
    grievance = receive(dispatcher, world)
    assert grievance.handling_agency == agency_a
    order = grievance.orders.get(role=OrderRole.LEAD, state=OrderState.PENDING)
    services.order_return(actor=member_a, order=order, reason="不是我们的", unlisted=True)
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.RETURNED
    return grievance


def test_the_returning_agency_is_not_the_one_click_choice_after_a_new_edition(
    eager_tasks, english, dispatcher, member_a, world, agency_a, django_capture_on_commit_callbacks
):
    grievance = returned_by_a(dispatcher, member_a, world, agency_a)
    stage(world.duty_list, "02-01-0001", "噪音扰民", agency_a, classification="02-01", keywords=["噪音"])
    with django_capture_on_commit_callbacks(execute=True):
        publish(world.duty_list)  # an edition that leaves 01-01-0001 with agency A

    grievance.refresh_from_db()
    assert all(s.get("agency_id") != agency_a.pk for s in grievance.suggestions)
    client = english(dispatcher)
    assert quick_buttons(client.get(reverse("grievances:queue")).content.decode(), agency_a) == 0
    detail = client.get(reverse("grievances:detail", kwargs={"pk": grievance.pk})).content.decode()
    assert quick_buttons(detail, agency_a) == 0


def test_a_stale_suggestion_of_the_returning_agency_offers_no_one_click(
    english, dispatcher, member_a, world, agency_a
):
    grievance = returned_by_a(dispatcher, member_a, world, agency_a)
    # Suggestions written before this rule (or by any other path) may still name the agency that returned it.
    Grievance.objects.filter(pk=grievance.pk).update(
        suggestions=[
            {
                "agency_id": agency_a.pk,
                "agency_name": agency_a.name,
                "duty_code": "01-01-0001",
                "confidence": 0.9,
            }
        ]
    )
    client = english(dispatcher)
    assert quick_buttons(client.get(reverse("grievances:queue")).content.decode(), agency_a) == 0
    detail = client.get(reverse("grievances:detail", kwargs={"pk": grievance.pk})).content.decode()
    assert quick_buttons(detail, agency_a) == 0
    # A forged one-click post is refused too: sending it back takes the dispatcher's own form and a note.
    client.post(
        reverse("grievances:dispatch", kwargs={"pk": grievance.pk}), {"quick": "1", "agency": agency_a.pk}
    )
    assert Grievance.objects.get(pk=grievance.pk).state == GrievanceState.RETURNED
