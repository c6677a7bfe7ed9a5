"""The grievance pages through real URLs: the dispatchers' intake, queue and grievance page; the agencies'
inbox with accept, return (citing the list), answer and resolve; whistles; the figures; the citizen's
status link — then the rows each request left behind.

The clients speak English (the language cookie): the assertions read the English msgids, which stay true
whatever the Chinese catalogue later says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from duty_lists.models import Agency
from grievances.models import (
    Feedback,
    Grievance,
    GrievanceState,
    OrderRole,
    OrderState,
    Summons,
    Whistle,
    WorkOrder,
)
from grievances.services import grievance_dispatch, grievance_receive, order_accept
from tests.grievance_helpers import World, build_world

VENDING = "小区门口有流动摊贩占道经营"


# --- Fixtures and helpers ---------------------------------------------------------------------------------


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


@pytest.fixture
def queued(settings: Any) -> None:
    """Nothing is dispatched automatically: every grievance waits in the queue with its suggestions."""
    settings.ZHIZE_AUTO_DISPATCH_CONFIDENCE = 1.01


def receive(dispatcher: Any, world: World, title: str = VENDING, **extra: Any) -> Grievance:
    grievance, _created = grievance_receive(
        actor=dispatcher,
        title=title,
        details=extra.pop("details", "每天晚上摆摊"),
        street=world.street,
        **extra,
    )
    return grievance


def dispatched_to(dispatcher: Any, world: World, agency: Agency, **extra: Any) -> Grievance:
    # Not routed at intake: the router would dispatch it to agency A by itself.
    grievance = receive(dispatcher, world, contact_name="张三", contact_phone="13812345678", route=False)
    return grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency, **extra)


def lead_order(grievance: Grievance) -> WorkOrder:
    return grievance.orders.filter(role=OrderRole.LEAD).order_by("-round").first()  # type: ignore[return-value]


def detail(grievance: Grievance) -> str:
    return reverse("grievances:detail", kwargs={"pk": grievance.pk})


def html(response: Any) -> str:
    return response.content.decode()


# --- Who may open what ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, dispatcher: Any, world: World) -> None:
    grievance = receive(dispatcher, world)
    for url in [
        reverse("grievances:new"),
        reverse("grievances:queue"),
        reverse("grievances:inbox"),
        reverse("grievances:figures"),
        reverse("grievances:whistle_list"),
        reverse("grievances:whistle_new"),
        detail(grievance),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    response = client.post(reverse("grievances:dispatch", kwargs={"pk": grievance.pk}), {"quick": "1"})
    assert response.status_code == 302
    assert Grievance.objects.get().dispatch_count == 1  # auto-dispatched at intake, untouched since


@pytest.mark.django_db
def test_agency_staff_are_refused_the_dispatcher_pages(
    english: Callable[[Any], Client], dispatcher: Any, member_a: Any, world: World, agency_b: Agency
) -> None:
    grievance = receive(dispatcher, world)  # dispatched to agency A: member_a sees it
    client = english(member_a)
    assert client.get(reverse("grievances:queue")).status_code == 403
    assert client.get(reverse("grievances:new")).status_code == 403
    assert client.get(reverse("grievances:figures")).status_code == 403
    assert client.get(detail(grievance)).status_code == 200
    response = client.post(
        reverse("grievances:dispatch", kwargs={"pk": grievance.pk}), {"quick": "1", "agency": agency_b.pk}
    )
    assert response.status_code == 403
    assert Grievance.objects.get().handling_agency_id == lead_order(grievance).agency_id


@pytest.mark.django_db
def test_other_agencies_cannot_open_or_act_on_a_grievance_never_sent_to_them(
    english: Callable[[Any], Client], dispatcher: Any, member_b: Any, world: World, agency_a: Agency
) -> None:
    grievance = receive(dispatcher, world)
    assert grievance.handling_agency_id == agency_a.pk
    client = english(member_b)
    assert client.get(detail(grievance)).status_code == 404
    order = lead_order(grievance)
    response = client.post(reverse("grievances:order_accept", kwargs={"pk": order.pk}), {"back": "inbox"})
    assert response.status_code == 404
    assert WorkOrder.objects.get(pk=order.pk).state == OrderState.PENDING
    assert client.get(reverse("grievances:inbox")).status_code == 200  # its own, empty inbox


@pytest.mark.django_db
def test_each_page_renders_for_its_people(
    english: Callable[[Any], Client],
    dispatcher: Any,
    member_a: Any,
    officer: Any,
    leader: Any,
    auditor: Any,
    world: World,
) -> None:
    receive(dispatcher, world)
    desk = english(dispatcher)
    for name in ("new", "queue", "figures", "whistle_list"):
        assert desk.get(reverse(f"grievances:{name}")).status_code == 200, name
    page = html(desk.get(reverse("grievances:queue")))
    assert reverse("grievances:queue") in page and "Grievance figures" in page  # the navigation
    assert english(member_a).get(reverse("grievances:inbox")).status_code == 200
    street = english(world.street_staff)
    assert street.get(reverse("grievances:whistle_new")).status_code == 200
    assert "Whistles" in html(street.get(reverse("grievances:inbox")))
    for overseer in (officer, leader, auditor):
        assert english(overseer).get(reverse("grievances:figures")).status_code == 200
    assert english(member_a).get(reverse("grievances:whistle_new")).status_code == 403  # not a street


# --- Intake and the queue ------------------------------------------------------------------------------


def intake_data(world: World, **extra: Any) -> dict[str, Any]:
    data = {
        "channel": "hotline",
        "kind": "complaint",
        "urgency": "normal",
        "title": VENDING,
        "details": "每天晚上摆摊，堵住消防通道",
        "street": world.street.pk,
        "address": "北辰小区东门",
        "contact_name": "张三",
        "contact_phone": "13812345678",
        "idempotency_key": "form-1",
    }
    return data | extra


@pytest.mark.django_db
def test_intake_records_routes_and_dispatches_when_the_router_is_sure(
    english: Callable[[Any], Client], dispatcher: Any, world: World, agency_a: Agency
) -> None:
    client = english(dispatcher)
    response = client.post(reverse("grievances:new"), intake_data(world))
    grievance = Grievance.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(grievance)
    assert grievance.street == world.street and grievance.contact_phone == "13812345678"
    assert grievance.suggestions[0]["duty_code"] == "01-01-0001"
    assert grievance.state == GrievanceState.DISPATCHED and grievance.handling_agency == agency_a
    page = html(client.get(response["Location"]))
    assert "dispatched automatically to 区综合执法局" in page
    # The same form sent twice (a double click) is one grievance.
    again = client.post(reverse("grievances:new"), intake_data(world))
    assert again["Location"] == detail(grievance) and Grievance.objects.count() == 1


@pytest.mark.django_db
def test_intake_leaves_an_unsure_grievance_in_the_queue(
    english: Callable[[Any], Client], dispatcher: Any, world: World, queued: None
) -> None:
    client = english(dispatcher)
    response = client.post(reverse("grievances:new"), intake_data(world))
    grievance = Grievance.objects.get()
    assert grievance.state == GrievanceState.RECEIVED and grievance.routed_at is not None
    assert "Choose whom to dispatch it to" in html(client.get(response["Location"]))


@pytest.mark.django_db
def test_intake_shows_what_is_missing_next_to_the_field(
    english: Callable[[Any], Client], dispatcher: Any, world: World
) -> None:
    response = english(dispatcher).post(reverse("grievances:new"), intake_data(world, title="  "))
    assert response.status_code == 400
    assert response.context["form"].errors["title"] == ["This field is required."]
    assert 'id="id_title_error"' in html(response)
    assert not Grievance.objects.exists()


@pytest.mark.django_db
def test_the_queue_shows_each_grievance_with_its_top_suggestion_and_why(
    english: Callable[[Any], Client], dispatcher: Any, world: World, queued: None
) -> None:
    vending = receive(dispatcher, world)
    urgent = receive(dispatcher, world, title="楼下垃圾没人清运", details="环境卫生很差", urgency="urgent")
    response = english(dispatcher).get(reverse("grievances:queue"))
    rows = response.context["rows"]
    assert [r.grievance for r in rows] == [urgent, vending]  # the urgent one is due first
    top = rows[1].top
    assert top.data["agency_name"] == "区综合执法局" and top.data["duty_code"] == "01-01-0001"
    assert (
        rows[0].top.data["area_rule"] == "territorial" and rows[0].top.data["agency_name"] == "北辰街道办事处"
    )
    page = html(response)
    assert f"{top.percent}%" in page
    assert '<mark class="match">流动摊贩</mark>' in page or '<mark class="match">摊贩</mark>' in page
    assert "Territorial duty: handled by the street where it happened" in page
    # A duty that a ruling rewrote carries the ruling as its precedent: the suggestion links to it.
    Grievance.objects.filter(pk=vending.pk).update(
        suggestions=[{**vending.suggestions[0], "precedent_ruling": 7}, *vending.suggestions[1:]]
    )
    page = html(english(dispatcher).get(reverse("grievances:queue")))
    assert 'href="/rulings/7/"' in page


@pytest.mark.django_db
def test_a_weak_suggestion_asks_the_dispatcher_to_read_first(
    english: Callable[[Any], Client], dispatcher: Any, world: World, queued: None
) -> None:
    grievance = receive(dispatcher, world)
    weak_note = "A weak match: read the grievance before dispatching it here."
    sure = html(english(dispatcher).get(reverse("grievances:queue")))
    assert grievance.suggestions[0]["confidence"] >= 0.35 and weak_note not in sure
    quick = 'name="quick" value="1" class="button button--primary button--small"'
    assert quick in sure  # the sure one-click dispatch stands out

    Grievance.objects.filter(pk=grievance.pk).update(
        suggestions=[{**grievance.suggestions[0], "confidence": 0.08}]
    )
    weak = html(english(dispatcher).get(reverse("grievances:queue")))
    assert weak_note in weak and "8%" in weak
    assert quick not in weak  # still there, but not the obvious click
    assert 'name="quick" value="1" class="button button--small"' in weak


@pytest.mark.django_db
def test_the_queue_reads_a_fixed_number_of_queries(
    english: Callable[[Any], Client], dispatcher: Any, world: World, queued: None
) -> None:
    client = english(dispatcher)
    receive(dispatcher, world)
    client.get(reverse("grievances:queue"))  # warm the router's index and the session
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("grievances:queue"))
    for _ in range(5):
        receive(dispatcher, world)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("grievances:queue"))
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_one_click_dispatch_sends_the_grievance_to_the_suggested_agency(
    english: Callable[[Any], Client], dispatcher: Any, world: World, agency_a: Agency, queued: None
) -> None:
    grievance = receive(dispatcher, world)
    top = grievance.suggestions[0]
    response = english(dispatcher).post(
        reverse("grievances:dispatch", kwargs={"pk": grievance.pk}),
        {"quick": "1", "agency": top["agency_id"], "duty": top["duty_id"], "back": "queue"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("grievances:queue")
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.DISPATCHED and grievance.handling_agency == agency_a
    assert grievance.duty == world.vending
    assert lead_order(grievance).agency == agency_a


@pytest.mark.django_db
def test_the_dispatch_form_sends_it_elsewhere_with_cooperating_agencies(
    english: Callable[[Any], Client],
    dispatcher: Any,
    world: World,
    agency_a: Agency,
    agency_b: Agency,
    queued: None,
) -> None:
    grievance = receive(dispatcher, world)
    url = reverse("grievances:dispatch", kwargs={"pk": grievance.pk})
    client = english(dispatcher)
    missing = client.post(url, {"agency": "", "duty": "", "back": "detail"})
    assert missing.status_code == 400 and "agency" in missing.context["dispatch_form"].errors
    response = client.post(
        url,
        {
            "agency": agency_b.pk,
            "duty": world.noise.pk,
            "cooperating": [agency_a.pk],
            "note": "夜间噪音为主",
            "back": "detail",
        },
    )
    assert response.status_code == 302
    orders = {(o.agency_id, o.role) for o in Grievance.objects.get().orders.all()}
    assert orders == {(agency_b.pk, OrderRole.LEAD), (agency_a.pk, OrderRole.COOPERATING)}


# --- The agency: accept, return citing the list, answer, resolve -----------------------------------------


@pytest.mark.django_db
def test_a_return_without_citing_the_list_shows_the_field_error(
    english: Callable[[Any], Client], dispatcher: Any, member_b: Any, world: World, agency_b: Agency
) -> None:
    grievance = dispatched_to(dispatcher, world, agency_b, duty=world.noise)
    order = lead_order(grievance)
    client = english(member_b)
    assert order.pk in [v.order.pk for v in client.get(reverse("grievances:inbox")).context["orders"]]
    response = client.post(
        reverse("grievances:order_return", kwargs={"pk": order.pk}),
        {"reason": "不是噪音问题", "cited_duty": "", "back": "inbox"},
    )
    assert response.status_code == 400
    form = next(v.return_form for v in response.context["orders"] if v.order.pk == order.pk)
    assert form.errors["cited_duty"] == [
        "Cite the duty that names the responsible agency, or declare it not on the list."
    ]
    assert f'id="id_return_{order.pk}_cited_duty_error"' in html(response)
    assert WorkOrder.objects.get(pk=order.pk).state == OrderState.PENDING


@pytest.mark.django_db
def test_a_return_citing_the_duty_brings_the_cited_agency_to_the_top_and_it_accepts(
    english: Callable[[Any], Client],
    dispatcher: Any,
    member_a: Any,
    member_b: Any,
    world: World,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    grievance = dispatched_to(dispatcher, world, agency_b, duty=world.noise)
    order = lead_order(grievance)
    page = html(english(member_b).get(detail(grievance)))
    # The duty picker searches the duty API (1,653 duties do not fit a select), which says whose each duty is.
    assert f'data-picker-source="{reverse("api:duty_list")}"' in page
    found = english(member_b).get(reverse("api:duty_list"), {"q": "占道经营"}).json()["results"]
    assert [d["code"] for d in found][:1] == ["01-01-0001"]
    assert "区综合执法局" in str(found[0])
    response = english(member_b).post(
        reverse("grievances:order_return", kwargs={"pk": order.pk}),
        {"reason": "属占道经营，清单列明由综合执法局牵头", "cited_duty": world.vending.pk, "back": "detail"},
    )
    assert response.status_code == 302
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.RETURNED and grievance.first_dispatch_accepted is False
    returned = WorkOrder.objects.get(pk=order.pk)
    assert returned.cited_duty == world.vending and returned.cited_agency == agency_a
    assert (
        grievance.suggestions[0]["agency_id"] == agency_a.pk and grievance.suggestions[0]["source"] == "cited"
    )

    desk = english(dispatcher)
    queue = desk.get(reverse("grievances:queue"))
    assert "Returned by 区市监局" in html(queue) and "cites 01-01-0001, led by 区综合执法局" in html(queue)
    desk.post(
        reverse("grievances:dispatch", kwargs={"pk": grievance.pk}),
        {"quick": "1", "agency": agency_a.pk, "duty": world.vending.pk, "back": "queue"},
    )
    second = lead_order(grievance)
    assert second.agency == agency_a and second.round == 2

    response = english(member_a).post(
        reverse("grievances:order_accept", kwargs={"pk": second.pk}), {"back": "inbox"}
    )
    assert response.status_code == 302 and response["Location"].startswith(reverse("grievances:inbox"))
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.ACCEPTED and grievance.handling_agency == agency_a


@pytest.mark.django_db
def test_first_asked_responsibility_is_shown_in_the_return_form(
    english: Callable[[Any], Client], dispatcher: Any, member_a: Any, world: World, agency_a: Agency
) -> None:
    grievance = dispatched_to(dispatcher, world, agency_a)  # no duty: the list does not cover it
    order = lead_order(grievance)
    client = english(member_a)
    assert "your agency was asked first" in html(client.get(reverse("grievances:inbox")))
    response = client.post(
        reverse("grievances:order_return", kwargs={"pk": order.pk}),
        {"reason": "清单没有这一项", "unlisted": "on", "back": "inbox"},
    )
    assert response.status_code == 409
    form = next(v.return_form for v in response.context["orders"] if v.order.pk == order.pk)
    assert "First-asked responsibility" in form.non_field_errors()[0]
    assert "First-asked responsibility" in html(response)
    assert WorkOrder.objects.get(pk=order.pk).state == OrderState.PENDING


@pytest.mark.django_db
def test_resolve_is_refused_until_every_cooperating_agency_has_answered(
    english: Callable[[Any], Client],
    dispatcher: Any,
    member_a: Any,
    member_b: Any,
    world: World,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    grievance = dispatched_to(dispatcher, world, agency_a, duty=world.vending, cooperating=[agency_b])
    lead = lead_order(grievance)
    order_accept(actor=member_a, order=lead)
    lead_client = english(member_a)
    resolve = reverse("grievances:order_resolve", kwargs={"pk": lead.pk})
    response = lead_client.post(resolve, {"resolution": "已清理摊点", "back": "detail"}, follow=True)
    assert "The cooperating agencies have not all answered yet: 区市监局." in html(response)
    assert Grievance.objects.get().state == GrievanceState.ACCEPTED

    coop = grievance.orders.get(role=OrderRole.COOPERATING)
    answered = english(member_b).post(
        reverse("grievances:order_answer", kwargs={"pk": coop.pk}),
        {"answer": "已核查无证经营", "back": "detail"},
    )
    assert answered.status_code == 302 and WorkOrder.objects.get(pk=coop.pk).state == OrderState.ANSWERED

    empty = lead_client.post(resolve, {"resolution": "", "back": "detail"})
    assert empty.status_code == 400 and 'id="id_resolve_' in html(empty)
    lead_client.post(resolve, {"resolution": "已清理摊点", "back": "detail"})
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.RESOLVED and grievance.resolution == "已清理摊点"


@pytest.mark.django_db
def test_the_contact_is_masked_for_everyone_but_dispatchers_and_the_handling_agency(
    english: Callable[[Any], Client],
    dispatcher: Any,
    member_a: Any,
    member_b: Any,
    world: World,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    grievance = dispatched_to(dispatcher, world, agency_a, duty=world.vending, cooperating=[agency_b])
    assert "13812345678" in html(english(dispatcher).get(detail(grievance)))
    assert "13812345678" in html(english(member_a).get(detail(grievance)))
    cooperating = html(english(member_b).get(detail(grievance)))
    assert "13812345678" not in cooperating and "张三" not in cooperating
    assert "138****5678" in cooperating and "张*" in cooperating
    assert "contact--masked" in cooperating


# --- The dispatcher's other steps -------------------------------------------------------------------------


@pytest.mark.django_db
def test_dispatcher_feedback_and_cancel(
    english: Callable[[Any], Client], dispatcher: Any, member_a: Any, world: World, agency_a: Agency
) -> None:
    from grievances.services import grievance_resolve

    grievance = dispatched_to(dispatcher, world, agency_a, duty=world.vending)
    order_accept(actor=member_a, order=lead_order(grievance))
    grievance_resolve(actor=member_a, grievance=grievance, resolution="已清理")
    client = english(dispatcher)
    url = reverse("grievances:feedback", kwargs={"pk": grievance.pk})
    no_rating = client.post(url, {"comment": "还行"})
    assert no_rating.status_code == 400 and no_rating.context["feedback_form"].errors["rating"]
    assert client.post(url, {"rating": "5", "comment": "很好"}).status_code == 302
    assert Grievance.objects.get().state == GrievanceState.CLOSED
    assert Feedback.objects.get().via == "dispatcher"

    other = receive(dispatcher, world, title="咨询养老补贴怎么申请", details="")
    cancel = reverse("grievances:cancel", kwargs={"pk": other.pk})
    assert client.post(cancel, {"reason": ""}).status_code == 400
    client.post(cancel, {"reason": "市民撤回"})
    assert Grievance.objects.get(pk=other.pk).state == GrievanceState.CANCELLED


@pytest.mark.django_db
def test_dispatcher_closes_a_resolved_grievance_without_feedback(
    english: Callable[[Any], Client], dispatcher: Any, member_a: Any, world: World, agency_a: Agency
) -> None:
    from grievances.services import grievance_resolve

    grievance = dispatched_to(dispatcher, world, agency_a, duty=world.vending)
    order_accept(actor=member_a, order=lead_order(grievance))
    grievance_resolve(actor=member_a, grievance=grievance, resolution="已清理")
    url = reverse("grievances:close", kwargs={"pk": grievance.pk})

    # The handling agency sees the grievance but closing it is the dispatchers' step.
    assert english(member_a).post(url, {"reason": "联系不上市民"}).status_code == 403
    client = english(dispatcher)
    no_reason = client.post(url, {"reason": "  "})
    assert no_reason.status_code == 400
    assert no_reason.context["close_form"].errors
    assert Grievance.objects.get().state == GrievanceState.RESOLVED

    done = client.post(url, {"reason": "三次联系不上市民"}, follow=True)
    assert f"Grievance {grievance.reference} is closed." in done.content.decode()
    assert Grievance.objects.get().state == GrievanceState.CLOSED


# --- Whistles --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_street_blows_the_whistle_and_the_summoned_department_reports(
    english: Callable[[Any], Client], member_a: Any, member_b: Any, world: World, agency_a: Agency
) -> None:
    street = english(world.street_staff)
    url = reverse("grievances:whistle_new")
    refused = street.post(url, {"street": world.street.pk, "title": "占道摊点聚集", "agencies": []})
    assert refused.status_code == 400 and refused.context["form"].errors["agencies"]
    assert not Whistle.objects.exists()
    response = street.post(
        url,
        {
            "street": world.street.pk,
            "title": "北辰小区东门占道摊点聚集",
            "description": "晚高峰堵塞消防通道",
            "address": "北辰小区东门",
            "agencies": [agency_a.pk],
        },
    )
    whistle = Whistle.objects.get()
    assert response["Location"] == reverse("grievances:whistle_detail", kwargs={"pk": whistle.pk})
    summons = Summons.objects.get()
    assert summons.agency == agency_a and summons.reported_at is None

    department = english(member_a)
    assert "Whistles" in html(department.get(reverse("grievances:inbox")))  # summoned: the nav shows it
    page = html(department.get(response["Location"]))
    assert "Report (报到)" in page and "Awaiting report" in page
    assert english(member_b).get(response["Location"]).status_code == 404
    report = reverse("grievances:summons_report", kwargs={"pk": whistle.pk, "summons_id": summons.pk})
    assert english(world.street_staff).post(report, {"note": ""}).status_code == 403
    assert department.post(report, {"note": "两名队员已到场"}).status_code == 302
    summons.refresh_from_db()
    assert summons.reported_at is not None and summons.reported_by == member_a and not summons.is_late
    assert "Reported" in html(street.get(reverse("grievances:whistle_list")))


# --- Figures ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_figures_filter_by_dates_and_show_a_trend(
    english: Callable[[Any], Client], dispatcher: Any, member_a: Any, world: World
) -> None:
    grievance = receive(dispatcher, world)
    order_accept(actor=member_a, order=lead_order(grievance))
    client = english(dispatcher)
    response = client.get(reverse("grievances:figures"), {"group": "day"})
    assert response.status_code == 200
    assert response.context["overall"].received == 1 and response.context["tiles"][0][1] == "100.0%"
    titles = [title for title, _rows in response.context["tables"]]
    assert titles == ["Per agency first asked", "Per category", "Trend"]
    bad = client.get(reverse("grievances:figures"), {"since": "2026-05-02", "until": "2026-05-01"})
    assert bad.status_code == 400


# --- The citizen's status link ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_citizen_link_shows_no_personal_data_and_takes_the_citizens_rating(
    client: Client, dispatcher: Any, member_a: Any, world: World, agency_a: Agency
) -> None:
    from grievances.services import grievance_resolve

    grievance = dispatched_to(dispatcher, world, agency_a, duty=world.vending)
    url = reverse("grievances:citizen", kwargs={"token": grievance.token})
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(url)
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    text = html(page)
    assert grievance.reference in text and "区综合执法局" in text
    for private in ("张三", "13812345678", "dispatcher", "北辰小区"):
        assert private not in text, private
    assert page.context["form"] is None  # nothing to rate yet
    assert client.get(reverse("grievances:citizen", kwargs={"token": "nope"})).status_code == 404

    order_accept(actor=member_a, order=lead_order(grievance))
    grievance_resolve(actor=member_a, grievance=grievance, resolution="摊点已清理，已加强巡查")
    text = html(client.get(url))
    assert "摊点已清理，已加强巡查" in text and 'name="rating"' in text
    too_happy = client.post(url, {"rating": "5", "reopen": "on"})
    assert too_happy.status_code == 400 and too_happy.context["form"].errors["reopen"]
    response = client.post(url, {"rating": "2", "comment": "又摆回来了", "reopen": "on"})
    assert response.status_code == 302
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.REOPENED and grievance.reopen_count == 1
    feedback = Feedback.objects.get()
    assert feedback.via == "citizen_link" and feedback.reopened and feedback.rating == 2
