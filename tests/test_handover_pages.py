"""The two-way dispatch (双向派单) pages through real URLs: a street reports a matter up, the district agency
completes the handover and reports back; a matter passed down goes back up; outsiders, people without an
agency and bad forms change nothing; late handovers are marked — then the rows each request left behind.

The clients speak English (the language cookie) and the assertions run under ``translation.override("en")``:
they read the English msgids, which stay true whatever the Chinese catalogue later says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from core.workdays import SHANGHAI
from duty_lists.models import Agency
from grievances.models import Handover, HandoverDirection, HandoverState
from grievances.services import grievance_receive, handover_report, handovers_flag_late
from tests.factories import UserFactory
from tests.grievance_helpers import World, build_world

NEW = "grievances:handover_new"
LIST = "grievances:handover_list"
# A Wednesday of ordinary working weeks (the Dragon Boat holiday of 2026 falls on 19 June).
WEDNESDAY = datetime(2026, 6, 10, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


@pytest.fixture(autouse=True)
def _english_text() -> Any:
    with translation.override("en"):
        yield


def html(response: Any) -> str:
    return response.content.decode()


def detail(handover: Handover) -> str:
    return reverse("grievances:handover_detail", kwargs={"pk": handover.pk})


def step(handover: Handover, name: str) -> str:
    return reverse(f"grievances:handover_{name}", kwargs={"pk": handover.pk})


def row_of(page: str, handover: Handover) -> str:
    """The list's table row of one handover."""
    start = page.index(f'data-handover="{handover.pk}"')
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


def report_up(world: World, agency: Agency, matter: str = "辖区内发现无证占道经营", **extra: Any) -> Handover:
    return handover_report(
        actor=world.street_staff,
        direction=HandoverDirection.UP,
        from_agency=world.street,
        to_agency=agency,
        matter=matter,
        **extra,
    )


# --- Reporting up, completing, reporting back ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_street_hands_a_matter_up_and_the_district_agency_completes_and_reports_back(
    english: Callable[[Any], Client], dispatcher: Any, member_a: Any, world: World, agency_a: Agency
) -> None:
    grievance, _created = grievance_receive(
        actor=dispatcher, title="北辰小区门口流动摊贩", street=world.street, route=False
    )
    street = english(world.street_staff)
    form = street.get(reverse(NEW))
    assert form.status_code == 200
    assert form.context["form"]["direction"].value() == HandoverDirection.UP  # a street mostly reports up
    # The duty is picked by searching the duty API, not from a select of every duty.
    assert f'data-picker-source="{reverse("api:duty_list")}"' in html(form)

    response = street.post(
        reverse(NEW),
        {
            "direction": "up",
            "from_agency": world.street.pk,
            "to_agency": agency_a.pk,
            "matter": "北辰小区东门无证占道经营，影响通行",
            "duty": world.vending.pk,
            "grievance": grievance.reference,
        },
    )
    handover = Handover.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(handover)
    assert (handover.from_agency, handover.to_agency, handover.direction) == (world.street, agency_a, "up")
    assert handover.state == HandoverState.REPORTED and handover.created_by == world.street_staff
    assert handover.duty == world.vending and handover.grievance == grievance
    assert not handover.reported_late
    page = html(street.get(response["Location"]))
    assert "Handed over to 区综合执法局" in page  # the message after the redirect
    assert "Complete the handover" not in page  # the sender has no step to take

    receiver = english(member_a)
    received = html(receiver.get(reverse(LIST), {"box": "received"}))
    assert "北辰小区东门无证占道经营" in received and "1 handover waits for your agency" in received
    assert "北辰小区东门无证占道经营" not in html(receiver.get(reverse(LIST), {"box": "sent"}))
    assert "北辰小区东门无证占道经营" in html(street.get(reverse(LIST), {"box": "sent"}))
    assert "北辰小区东门无证占道经营" not in html(street.get(reverse(LIST), {"box": "received"}))

    page = html(receiver.get(detail(handover)))
    assert "Complete the handover" in page and "Report back done" in page
    assert "hand it back up" not in page  # only a street given a matter from above hands it back up

    # The street cannot take the receiver's steps.
    assert street.post(step(handover, "complete"), {"note": ""}).status_code == 403
    assert Handover.objects.get().state == HandoverState.REPORTED

    done = receiver.post(step(handover, "complete"), {"note": "已安排中队处理"})
    assert done.status_code == 302 and done["Location"] == detail(handover)
    handover.refresh_from_db()
    assert handover.state == HandoverState.COMPLETED and handover.completed_at is not None
    page = html(receiver.get(detail(handover)))
    assert "Handover completed" in page and "Complete the handover" not in page

    empty = receiver.post(step(handover, "report_back"), {"report": "  "})
    assert empty.status_code == 400 and "Say what was done." in html(empty)
    assert Handover.objects.get().state == HandoverState.COMPLETED

    receiver.post(step(handover, "report_back"), {"report": "摊点已劝离，设置禁停标识"})
    handover.refresh_from_db()
    assert handover.state == HandoverState.DONE and handover.report_back == "摊点已劝离，设置禁停标识"
    page = html(street.get(detail(handover)))
    assert "Done and reported back" in page and "摊点已劝离，设置禁停标识" in page
    assert "Your agency&#x27;s steps" not in page and "Your agency's steps" not in page


@pytest.mark.django_db
def test_a_matter_passed_down_goes_back_up_when_too_complex_for_the_street(
    english: Callable[[Any], Client], member_a: Any, world: World, agency_a: Agency
) -> None:
    district = english(member_a)
    assert district.get(reverse(NEW)).context["form"]["direction"].value() == HandoverDirection.DOWN
    district.post(
        reverse(NEW),
        {"direction": "down", "from_agency": agency_a.pk, "to_agency": world.street.pk, "matter": "小区违建"},
    )
    down = Handover.objects.get()
    assert (down.from_agency, down.to_agency) == (agency_a, world.street)

    street = english(world.street_staff)
    page = html(street.get(detail(down)))
    assert "Too complex for the street: hand it back up" in page
    response = street.post(step(down, "back_up"), {"matter": "涉及违法建设，街道无执法权"})
    up = Handover.objects.exclude(pk=down.pk).get()
    assert response.status_code == 302 and response["Location"] == detail(up)
    assert (up.direction, up.from_agency, up.to_agency) == ("back_up", world.street, agency_a)
    assert up.matter == "涉及违法建设，街道无执法权"
    down.refresh_from_db()
    assert down.state == HandoverState.REFUSED
    page = html(district.get(detail(down)))
    assert "Refused" in page and "Too complex for the street" in page
    assert f'href="{detail(up)}" data-link="handed-back-as"' in page
    assert f'href="{detail(down)}" data-link="came-down-as"' in html(district.get(detail(up)))
    # The step is gone from the settled handover, and posting it again writes nothing.
    street.post(step(down, "back_up"), {"matter": "再退一次"})
    assert Handover.objects.count() == 2


# --- Who may see and do what -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_outsider_agency_gets_404_and_cannot_take_a_step(
    english: Callable[[Any], Client], client: Client, member_b: Any, world: World, agency_a: Agency
) -> None:
    handover = report_up(world, agency_a)
    outsider = english(member_b)
    assert outsider.get(detail(handover)).status_code == 404
    assert outsider.post(step(handover, "complete"), {"note": "x"}).status_code == 404
    assert outsider.post(step(handover, "report_back"), {"report": "x"}).status_code == 404
    assert outsider.post(step(handover, "back_up"), {"matter": "x"}).status_code == 404
    assert "辖区内发现无证占道经营" not in html(outsider.get(reverse(LIST)))
    handover.refresh_from_db()
    assert handover.state == HandoverState.REPORTED and handover.completed_at is None
    assert handover.report_back == "" and Handover.objects.count() == 1

    response = client.get(detail(handover))  # anonymous: to the sign-in page
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_only_agency_staff_report_a_handover(
    english: Callable[[Any], Client], dispatcher: Any, world: World, agency_a: Agency
) -> None:
    nobody = english(UserFactory(username="no_agency"))
    assert nobody.get(reverse(NEW)).status_code == 403
    refused = nobody.post(
        reverse(NEW),
        {"direction": "up", "from_agency": world.street.pk, "to_agency": agency_a.pk, "matter": "x"},
    )
    assert refused.status_code == 403
    assert nobody.get(reverse(LIST)).status_code == 403
    # Oversight sees every handover but hands none over for an agency.
    desk = english(dispatcher)
    assert desk.get(reverse(NEW)).status_code == 403
    report_up(world, agency_a)
    page = html(desk.get(reverse(LIST)))
    assert "辖区内发现无证占道经营" in page and "Hand a matter over" not in page
    assert Handover.objects.count() == 1
    # Street staff may not hand over for another agency, even by posting its id.
    street = english(world.street_staff)
    bad = street.post(
        reverse(NEW),
        {"direction": "down", "from_agency": agency_a.pk, "to_agency": world.street.pk, "matter": "x"},
    )
    assert bad.status_code == 400 and bad.context["form"].errors["from_agency"]
    assert Handover.objects.count() == 1


@pytest.mark.django_db
def test_form_errors_show_in_the_page_and_nothing_is_written(
    english: Callable[[Any], Client], dispatcher: Any, world: World, agency_a: Agency
) -> None:
    street = english(world.street_staff)
    base = {"direction": "up", "from_agency": world.street.pk, "to_agency": agency_a.pk}

    missing = street.post(reverse(NEW), {**base, "matter": "  "})
    assert missing.status_code == 400
    page = html(missing)
    assert "The handover cannot be reported as it is." in page and 'id="id_matter_error"' in page
    assert missing.context["form"].errors["matter"] == ["Required."]

    same = street.post(reverse(NEW), {**base, "to_agency": world.street.pk, "matter": "占道经营"})
    assert same.status_code == 400 and "Choose another agency." in html(same)
    assert same.context["form"].errors["to_agency"] == ["Choose another agency."]

    wrong_way = street.post(reverse(NEW), {**base, "direction": "down", "matter": "占道经营"})
    assert wrong_way.status_code == 400 and "A district agency hands down to a street." in html(wrong_way)

    unknown = street.post(reverse(NEW), {**base, "matter": "占道经营", "grievance": "NO-SUCH-REF"})
    assert unknown.status_code == 400 and "No such grievance." in html(unknown)

    future = street.post(reverse(NEW), {**base, "matter": "占道经营", "found_at": "2099-01-01T09:00"})
    assert future.status_code == 400 and "A matter cannot be found in the future." in html(future)

    assert not Handover.objects.exists()
    assert "\n占道经营</textarea>" in html(same)  # what was typed is kept for the fix


# --- Deadlines ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_late_handovers_are_marked_in_the_list_and_on_their_page(
    english: Callable[[Any], Client], member_a: Any, world: World, agency_a: Agency
) -> None:
    with time_machine.travel(datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI), tick=False):  # a Monday
        overdue = report_up(world, agency_a, matter="未按期交接的事项")  # due Thursday 4 June
    with time_machine.travel(WEDNESDAY, tick=False):
        on_time = report_up(world, agency_a, matter="按时上报的事项")
        street = english(world.street_staff)
        # Found on Monday, reported on Wednesday: the same-day rule is broken.
        response = street.post(
            reverse(NEW),
            {
                "direction": "up",
                "from_agency": world.street.pk,
                "to_agency": agency_a.pk,
                "matter": "迟报的事项",
                "found_at": "2026-06-08T09:00",
            },
            follow=True,
        )
        assert "Reported late: a matter is reported the same day it is found." in html(response)
        late_report = Handover.objects.get(matter="迟报的事项")
        assert late_report.reported_late

        receiver = english(member_a)
        page = html(receiver.get(reverse(LIST)))
        assert "Handover overdue" in row_of(page, overdue) and 'class="is-overdue"' in row_of(page, overdue)
        assert "Reported late" in row_of(page, late_report) and "is-overdue" in row_of(page, late_report)
        assert "is-overdue" not in row_of(page, on_time) and "Reported late" not in row_of(page, on_time)
        assert "overdue" not in row_of(page, on_time).lower()
        assert "2026-06-15" in row_of(page, on_time)  # the handover due, 3 working days on

        late_only = receiver.get(reverse(LIST), {"state": "late"})
        assert [v.handover for v in late_only.context["rows"]] == [late_report, overdue]

        page = html(receiver.get(detail(overdue)))
        assert "Handover overdue" in page and "Overdue since 06-04 23:59" in page
        assert "due 2026-06-01 23:59" in page  # the report was due the day it was found

        assert handovers_flag_late() == 1
        receiver.post(step(overdue, "complete"), {"note": ""})
        overdue.refresh_from_db()
        assert overdue.state == HandoverState.COMPLETED and overdue.late_flagged_at is not None
        page = html(receiver.get(reverse(LIST)))
        assert "Handed over late" in row_of(page, overdue)


@pytest.mark.django_db
def test_the_list_runs_the_same_queries_for_one_handover_or_many(
    english: Callable[[Any], Client], member_a: Any, world: World, agency_a: Agency
) -> None:
    client = english(member_a)
    report_up(world, agency_a, duty=world.vending)
    client.get(reverse(LIST))  # warm the session and the calendar caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse(LIST)).status_code == 200
    for n in range(4):
        report_up(world, agency_a, matter=f"事项{n}", duty=world.vending)
    with CaptureQueriesContext(connection) as five:
        page = client.get(reverse(LIST))
    assert len(page.context["rows"]) == 5
    assert len(five.captured_queries) == len(one.captured_queries)
