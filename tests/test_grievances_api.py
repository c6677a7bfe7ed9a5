"""The grievance REST API: intake with Idempotency-Key, every step through its POST endpoint, the inbox,
personal data masked for those who do not handle the grievance, the numbers, whistles and handovers — and
the anonymous caller and the outsider agency refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from duty_lists.models import Role
from grievances import services
from grievances.models import (
    Grievance,
    GrievanceEvent,
    GrievanceState,
    Handover,
    HandoverState,
    OrderState,
    Summons,
    WorkOrder,
)
from tests.factories import AgencyFactory, MembershipFactory, UserFactory
from tests.grievance_helpers import World, build_world

pytestmark = [pytest.mark.django_db]

# --- Fixtures and helpers ----------------------------------------------------------------------------------


@pytest.fixture
def world(agency_a: Any, agency_b: Any) -> World:
    return build_world(agency_a, agency_b)


@pytest.fixture
def member_c(db: None) -> Any:
    """Staff of an agency no grievance below was ever sent to: the outsider."""
    user = UserFactory(username="member_c")
    MembershipFactory(user=user, agency=AgencyFactory(code="C-wjj", name="区卫健局"), role=Role.AGENCY_STAFF)
    return user


def post(client: Client, url: str, body: dict[str, Any] | None = None, **headers: Any) -> Any:
    return client.post(url, body or {}, content_type="application/json", **headers)


def receive(dispatcher: Any, title: str = "人行道上有流动摊贩占道经营", **extra: Any) -> Grievance:
    """A grievance left in the dispatchers' queue (no automatic routing), so each test decides its path."""
    grievance, _created = services.grievance_receive(actor=dispatcher, title=title, route=False, **extra)
    return grievance


def dispatched(dispatcher: Any, agency: Any, duty: Any, *, cooperating: tuple[Any, ...] = (), **extra: Any):
    grievance = receive(dispatcher, **extra)
    services.grievance_dispatch(
        actor=dispatcher, grievance=grievance, agency=agency, duty=duty, cooperating=cooperating
    )
    grievance.refresh_from_db()
    return grievance


def lead_order(grievance: Grievance) -> WorkOrder:
    return grievance.orders.filter(role="lead").latest("round")


def url(grievance: Grievance, step: str = "") -> str:
    return f"/api/v1/grievances/{grievance.pk}/" + (f"{step}/" if step else "")


def error_of(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code is not None:
        assert error["code"] == code
    return error


# --- The anonymous caller ----------------------------------------------------------------------------------


def test_anonymous_callers_get_401_on_every_endpoint(client, world, dispatcher, agency_a) -> None:
    grievance = dispatched(dispatcher, agency_a, world.vending)
    order = lead_order(grievance)
    reads = ["/api/v1/grievances/", url(grievance), "/api/v1/grievances/stats/", "/api/v1/work-orders/"]
    reads += ["/api/v1/whistles/", "/api/v1/handovers/"]
    for path in reads:
        error_of(client.get(path), 401, "not_authenticated")
    writes = [
        "/api/v1/grievances/",
        *(url(grievance, s) for s in ("dispatch", "route", "progress", "resolve", "feedback", "close")),
        url(grievance, "cancel"),
        *(f"/api/v1/work-orders/{order.pk}/{s}/" for s in ("accept", "return", "answer")),
        "/api/v1/whistles/",
        "/api/v1/summonses/1/report/",
        "/api/v1/handovers/",
        "/api/v1/handovers/1/complete/",
        "/api/v1/handovers/1/report-back/",
    ]
    for path in writes:
        error_of(post(client, path, {"title": "x", "reason": "x"}), 401, "not_authenticated")
    assert Grievance.objects.count() == 1
    assert lead_order(grievance).state == OrderState.PENDING


# --- Intake ------------------------------------------------------------------------------------------------


def test_dispatcher_records_a_grievance_and_the_list_routes_it(login, world, dispatcher, agency_a) -> None:
    response = post(
        login(dispatcher),
        "/api/v1/grievances/",
        {
            "title": "小区门口有流动摊贩占道经营",
            "details": "每天晚上摆摊到十一点",
            "street": world.street.code,
            "contact_name": "张三",
            "contact_phone": "13812345678",
            "duty": world.vending.pk,
        },
        HTTP_IDEMPOTENCY_KEY="hotline-20250301-0007",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    grievance = Grievance.objects.get()
    assert body["reference"] == grievance.reference and body["id"] == grievance.pk
    # The hotline system named the duty: suggested first with full confidence, so dispatched at once.
    assert body["suggestions"][0]["duty_code"] == "01-01-0001"
    assert body["suggestions"][0]["agency_name"] == agency_a.name
    assert body["state"] == "dispatched" and body["handling_agency"]["code"] == agency_a.code
    assert [(o["agency"]["code"], o["role"], o["state"]) for o in body["orders"]] == [
        (agency_a.code, "lead", "pending")
    ]
    assert body["status"] == {
        "state": "dispatched",
        "state_display": grievance.get_state_display(),
        "handling_agency": agency_a.name,
        "deadline_at": body["deadline_at"],
    }
    assert body["deadline_at"] and body["contact"] == {
        "name": "张三",
        "phone": "13812345678",
        "email": "",
        "masked": False,
    }
    # The citizen's link token is a secret of the citizen's: no API answer carries it.
    assert grievance.token not in response.content.decode()
    assert grievance.submitted_by == dispatcher and grievance.street == world.street
    assert GrievanceEvent.objects.filter(grievance=grievance, action="receive").exists()


def test_a_grievance_the_router_is_unsure_of_waits_for_a_dispatcher(login, world, dispatcher) -> None:
    response = post(
        login(dispatcher),
        "/api/v1/grievances/",
        {"title": "楼道里的灯坏了好几天"},
        HTTP_IDEMPOTENCY_KEY="hotline-20250301-0008",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "received" and body["handling_agency"] is None and body["orders"] == []


def test_a_retried_post_with_the_same_idempotency_key_returns_the_same_grievance(
    login, world, dispatcher
) -> None:
    client = login(dispatcher)
    body = {"title": "夜里施工噪音扰民", "details": "工地凌晨还在施工", "kind": "complaint"}
    first = post(client, "/api/v1/grievances/", body, HTTP_IDEMPOTENCY_KEY="hotline-20250301-0001")
    again = post(client, "/api/v1/grievances/", body, HTTP_IDEMPOTENCY_KEY="hotline-20250301-0001")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Grievance.objects.count() == 1

    changed = post(
        client,
        "/api/v1/grievances/",
        {**body, "title": "另一件事"},
        HTTP_IDEMPOTENCY_KEY="hotline-20250301-0001",
    )
    error_of(changed, 409, "idempotency_key_reused")
    assert Grievance.objects.count() == 1

    # Another key is another grievance, and so is the same key from another submitter.
    assert post(client, "/api/v1/grievances/", body, HTTP_IDEMPOTENCY_KEY="other").status_code == 201
    assert Grievance.objects.count() == 2

    too_long = post(client, "/api/v1/grievances/", body, HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert "Idempotency-Key" in error_of(too_long, 400, "validation_error")["details"]


def test_invalid_intake_is_a_400_with_field_details_and_nothing_saved(
    login, world, dispatcher, agency_a
) -> None:
    client = login(dispatcher)
    malformed = post(
        client,
        "/api/v1/grievances/",
        {"title": "", "kind": "quarrel", "latitude": 100, "street": "NO-SUCH", "contact_email": "not-mail"},
        HTTP_IDEMPOTENCY_KEY="hotline-20250301-0009",
    )
    details = error_of(malformed, 400, "validation_error")["details"]
    assert {"title", "kind", "latitude", "street", "contact_email"} <= set(details)

    # Well-formed, but against the rules of intake: the service names the field.
    unruly = post(
        client,
        "/api/v1/grievances/",
        {"title": "占道经营", "street": agency_a.code},
        HTTP_IDEMPOTENCY_KEY="hotline-20250301-0010",
    )
    assert set(error_of(unruly, 400, "invalid_grievance")["details"]) == {"street"}
    assert not Grievance.objects.exists() and not GrievanceEvent.objects.exists()


def test_only_dispatchers_record_grievances(login, world, member_a) -> None:
    response = post(
        login(member_a), "/api/v1/grievances/", {"title": "占道经营"}, HTTP_IDEMPOTENCY_KEY="street-0001"
    )
    error_of(response, 403, "permission_denied")
    assert not Grievance.objects.exists()


# --- Who sees what -----------------------------------------------------------------------------------------


def test_personal_data_is_masked_for_those_who_do_not_handle_the_grievance(
    login, world, dispatcher, auditor, member_a, member_b, agency_a, agency_b
) -> None:
    # agency_b cooperates, so its staff see the grievance — but agency_a handles it.
    grievance = dispatched(
        dispatcher,
        agency_a,
        world.vending,
        cooperating=(agency_b,),
        contact_name="张三",
        contact_phone="13812345678",
        contact_email="zhangsan@example.com",
    )
    masked = {"name": "张*", "phone": "138****5678", "email": "z***@example.com", "masked": True}
    plain = {"name": "张三", "phone": "13812345678", "email": "zhangsan@example.com", "masked": False}
    assert login(member_b).get(url(grievance)).json()["contact"] == masked
    assert login(auditor).get(url(grievance)).json()["contact"] == masked
    assert login(member_a).get(url(grievance)).json()["contact"] == plain
    assert login(dispatcher).get(url(grievance)).json()["contact"] == plain
    for user in (member_b, auditor):
        assert "13812345678" not in login(user).get(url(grievance)).content.decode()


def test_an_outsider_agency_gets_404_on_reads_and_writes(
    login, world, dispatcher, member_b, member_c, agency_a
) -> None:
    grievance = dispatched(dispatcher, agency_a, world.vending)
    order = lead_order(grievance)
    for outsider in (member_b, member_c):
        client = login(outsider)
        assert client.get("/api/v1/grievances/").json()["results"] == []
        error_of(client.get(url(grievance)), 404)
        for step, body in (("progress", {}), ("resolve", {"resolution": "已处理"}), ("cancel", {})):
            error_of(post(client, url(grievance, step), body), 404)
        for step in ("accept", "return", "answer"):
            error_of(post(client, f"/api/v1/work-orders/{order.pk}/{step}/", {"reason": "x"}), 404)
        assert client.get("/api/v1/work-orders/").json()["results"] == []
    assert lead_order(grievance).state == OrderState.PENDING


def test_agency_staff_may_not_take_the_dispatchers_steps(login, world, dispatcher, member_a, agency_a):
    grievance = dispatched(dispatcher, agency_a, world.vending)
    client = login(member_a)
    error_of(post(client, url(grievance, "dispatch"), {"agency": agency_a.code}), 403, "permission_denied")
    error_of(post(client, url(grievance, "cancel"), {"reason": "重复"}), 403, "permission_denied")
    assert Grievance.objects.get().state == GrievanceState.DISPATCHED


def test_list_filters(login, world, dispatcher, agency_a, agency_b) -> None:
    vending = dispatched(dispatcher, agency_a, world.vending, title="人行道流动摊贩占道经营")
    noise = dispatched(dispatcher, agency_b, world.noise, title="工地夜间施工噪音", kind="report")
    queued = receive(dispatcher, title="小区垃圾无人清运", channel="web")
    old = receive(dispatcher, title="旧的诉求", received_at=timezone.now() - timedelta(days=40))
    client = login(dispatcher)

    def ids(**params: Any) -> set[int]:
        response = client.get("/api/v1/grievances/", params)
        assert response.status_code == 200, response.content
        return {g["id"] for g in response.json()["results"]}

    assert ids() == {vending.pk, noise.pk, queued.pk, old.pk}
    assert ids(state="dispatched") == {vending.pk, noise.pk}
    assert ids(handling_agency=agency_b.code) == {noise.pk}
    assert ids(kind="report") == {noise.pk}
    assert ids(channel="web") == {queued.pk}
    assert ids(q="噪音") == {noise.pk}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(received_after=since) == {vending.pk, noise.pk, queued.pk}
    assert ids(received_before=since) == {old.pk}
    error_of(client.get("/api/v1/grievances/", {"state": "lost"}), 400, "validation_error")


def test_list_page_runs_a_fixed_number_of_queries(login, world, dispatcher, agency_a, agency_b) -> None:
    client = login(dispatcher)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/grievances/").status_code == 200
        return len(queries)

    dispatched(dispatcher, agency_a, world.vending)
    few = count()
    for _ in range(4):
        dispatched(dispatcher, agency_b, world.noise, cooperating=(agency_a,))
    assert count() == few


# --- The loop, step by step --------------------------------------------------------------------------------


def test_dispatch_accept_progress_resolve_and_feedback(
    login, world, dispatcher, member_a, agency_a, agency_b
) -> None:
    grievance = receive(dispatcher)
    desk = login(dispatcher)
    response = post(
        desk,
        url(grievance, "dispatch"),
        {"agency": agency_a.code, "duty": world.vending.pk, "cooperating": [agency_b.code], "note": "请核查"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "dispatched" and body["duty"] == {
        "id": world.vending.pk,
        "list": "ms",
        "code": "01-01-0001",
    }
    assert {(o["agency"]["code"], o["role"]) for o in body["orders"]} == {
        (agency_a.code, "lead"),
        (agency_b.code, "cooperating"),
    }
    assert [e["action"] for e in body["events"]] == ["receive", "dispatch"]

    staff = login(member_a)
    inbox = staff.get("/api/v1/work-orders/").json()["results"]
    assert [(o["grievance"]["reference"], o["role"]) for o in inbox] == [(grievance.reference, "lead")]
    order_id = inbox[0]["id"]
    accepted = post(staff, f"/api/v1/work-orders/{order_id}/accept/", {"note": "收到"})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert post(staff, f"/api/v1/work-orders/{order_id}/accept/").status_code == 200  # a double click
    assert staff.get("/api/v1/work-orders/").json()["results"][0]["state"] == "accepted"

    assert post(staff, url(grievance, "progress"), {"note": "已到现场"}).json()["state"] == "in_progress"
    # The cooperating agency has not answered: the lead cannot resolve yet.
    error_of(post(staff, url(grievance, "resolve"), {"resolution": "已清理"}), 409, "cooperators_pending")
    cooperating = grievance.orders.get(role="cooperating")
    error_of(post(staff, f"/api/v1/work-orders/{cooperating.pk}/answer/", {"answer": "已配合"}), 403)

    error_of(post(staff, url(grievance, "resolve")), 400, "invalid_resolution")
    assert grievance.orders.get(role="cooperating").state == OrderState.PENDING


def test_a_cooperating_agency_answers_and_the_lead_resolves(
    login, world, dispatcher, member_a, member_b, agency_a, agency_b
) -> None:
    grievance = dispatched(dispatcher, agency_a, world.vending, cooperating=(agency_b,))
    services.order_accept(actor=member_a, order=lead_order(grievance))
    cooperating = grievance.orders.get(role="cooperating")
    partner = login(member_b)
    error_of(post(partner, f"/api/v1/work-orders/{cooperating.pk}/answer/"), 400, "invalid_answer")
    answered = post(partner, f"/api/v1/work-orders/{cooperating.pk}/answer/", {"answer": "已查处无照经营"})
    assert answered.status_code == 200 and answered.json()["state"] == "answered"

    resolved = post(login(member_a), url(grievance, "resolve"), {"resolution": "摊贩已劝离"})
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"

    desk = login(dispatcher)
    error_of(post(desk, url(grievance, "feedback"), {"rating": 9}), 400, "validation_error")
    closed = post(desk, url(grievance, "feedback"), {"rating": 5, "comment": "满意"})
    assert closed.json()["state"] == "closed" and closed.json()["rating"] == 5
    assert closed.json()["feedback"][0]["satisfied"] is True


def test_a_return_must_cite_the_list(login, world, dispatcher, member_b, agency_a, agency_b) -> None:
    # Sent to the wrong agency: 占道经营 is agency_a's by the list.
    grievance = dispatched(dispatcher, agency_b, world.noise)
    order = lead_order(grievance)
    staff = login(member_b)

    uncited = post(staff, f"/api/v1/work-orders/{order.pk}/return/", {"reason": "不是我们的"})
    error = error_of(uncited, 400, "invalid_return")
    assert "cited_duty" in error["details"]
    assert lead_order(grievance).state == OrderState.PENDING

    both = post(
        staff,
        f"/api/v1/work-orders/{order.pk}/return/",
        {"reason": "x", "cited_duty": world.vending.pk, "unlisted": True},
    )
    assert "cited_duty" in error_of(both, 400, "invalid_return")["details"]
    missing = post(staff, f"/api/v1/work-orders/{order.pk}/return/", {"reason": "x", "cited_duty": 999999})
    assert "cited_duty" in error_of(missing, 400, "validation_error")["details"]

    returned = post(
        staff,
        f"/api/v1/work-orders/{order.pk}/return/",
        {"reason": "属占道经营，清单列明由综合执法局牵头", "cited_duty": world.vending.pk},
    )
    assert returned.status_code == 200, returned.content
    assert returned.json()["state"] == "returned" and returned.json()["cited_agency"] == agency_a.code
    detail = login(dispatcher).get(url(grievance)).json()
    assert detail["state"] == "returned" and detail["handling_agency"] is None
    assert detail["suggestions"][0]["duty_code"] == "01-01-0001"
    assert detail["suggestions"][0]["source"] == "cited"

    # The dispatcher sends it where the list says; the first dispatch did not succeed.
    again = post(
        login(dispatcher), url(grievance, "dispatch"), {"agency": agency_a.code, "duty": world.vending.pk}
    )
    assert again.json()["handling_agency"]["code"] == agency_a.code
    assert Grievance.objects.get().first_dispatch_accepted is False


def test_route_close_and_cancel(login, world, dispatcher, member_a, agency_a) -> None:
    desk = login(dispatcher)
    grievance = receive(dispatcher, title="人行道上有流动摊贩占道经营摆摊")
    routed = post(desk, url(grievance, "route"))
    assert routed.status_code == 200 and routed.json()["suggestions"][0]["duty_code"] == "01-01-0001"

    error_of(post(desk, url(grievance, "cancel")), 400, "invalid_cancel")
    cancelled = post(desk, url(grievance, "cancel"), {"reason": "重复来电"})
    assert cancelled.json()["state"] == "cancelled"
    error_of(post(desk, url(grievance, "dispatch"), {"agency": agency_a.code}), 409, "invalid_state")

    other = dispatched(dispatcher, agency_a, world.vending)
    services.order_accept(actor=member_a, order=lead_order(other))
    services.grievance_resolve(actor=member_a, grievance=other, resolution="已处理")
    error_of(post(desk, url(other, "close")), 400, "invalid_close")
    assert post(desk, url(other, "close"), {"reason": "市民电话无人接听"}).json()["state"] == "closed"


# --- The numbers -------------------------------------------------------------------------------------------


@pytest.fixture
def four_grievances(world, dispatcher, member_a, member_b, agency_a, agency_b) -> list[Grievance]:
    """Four grievances, all first sent to agency_a: three accepted at once, one returned and accepted by
    agency_b. Two are resolved; the citizen is satisfied with one and has the other redone."""
    grievances = [dispatched(dispatcher, agency_a, world.vending, category="市容") for _ in range(3)] + [
        dispatched(dispatcher, agency_a, world.vending, category="噪音")
    ]
    for grievance in grievances[:3]:
        services.order_accept(actor=member_a, order=lead_order(grievance))
    returned = grievances[3]
    services.order_return(
        actor=member_a, order=lead_order(returned), reason="属噪音扰民", cited_duty=world.noise
    )
    services.grievance_dispatch(actor=dispatcher, grievance=returned, agency=agency_b, duty=world.noise)
    services.order_accept(actor=member_b, order=lead_order(returned))
    for grievance in grievances[:2]:
        services.grievance_resolve(actor=member_a, grievance=grievance, resolution="已处理")
    services.grievance_feedback(actor=dispatcher, grievance=grievances[0], rating=5)
    services.grievance_feedback(actor=dispatcher, grievance=grievances[1], rating=1, reopen=True)
    return grievances


def test_stats_on_a_known_set(login, officer, auditor, four_grievances, agency_a) -> None:
    response = login(officer).get("/api/v1/grievances/stats/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["group_by"] is None and len(body["figures"]) == 1
    figures = body["figures"][0]
    assert figures["received"] == 4 and figures["dispatched"] == 4
    assert figures["first_dispatch_success_rate"] == 0.75
    assert figures["return_rate"] == 0.25
    assert figures["redo_rate"] == 0.5  # one of the two resolved was redone
    assert figures["on_time_acceptance_rate"] == 1.0
    assert figures["on_time_completion_rate"] == 1.0  # the redone one is not resolved any more
    assert figures["satisfaction_rate"] == 0.5 and figures["mean_rating"] == 3.0
    assert figures["counts"] == {
        "first_decided": 4,
        "first_accepted": 3,
        "returned": 1,
        "ever_resolved": 2,
        "redone": 1,
        "resolved": 1,
        "accepted_lead_orders": 4,
        "ratings": 2,
    }

    by_category = login(auditor).get("/api/v1/grievances/stats/", {"group_by": "category"}).json()
    rows = {row["key"]: row for row in by_category["figures"]}
    assert set(rows) == {"市容", "噪音"}
    assert rows["市容"]["received"] == 3 and rows["市容"]["first_dispatch_success_rate"] == 1.0
    assert rows["噪音"]["first_dispatch_success_rate"] == 0.0 and rows["噪音"]["return_rate"] == 1.0

    by_agency = login(officer).get("/api/v1/grievances/stats/", {"group_by": "agency"}).json()["figures"]
    assert [(row["key"], row["label"], row["received"]) for row in by_agency] == [
        (agency_a.pk, agency_a.name, 4)
    ]
    narrowed = login(officer).get("/api/v1/grievances/stats/", {"category": "噪音"}).json()["figures"][0]
    assert narrowed["received"] == 1 and narrowed["return_rate"] == 1.0

    today = timezone.localdate().isoformat()
    by_day = login(officer).get("/api/v1/grievances/stats/", {"group_by": "day", "until": today}).json()
    assert [(row["key"], row["received"]) for row in by_day["figures"]] == [(today, 4)]


def test_stats_of_an_empty_period_have_no_rates(login, dispatcher, four_grievances) -> None:
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    body = login(dispatcher).get("/api/v1/grievances/stats/", {"since": tomorrow}).json()
    assert body["figures"][0]["received"] == 0
    assert body["figures"][0]["first_dispatch_success_rate"] is None
    assert body["figures"][0]["satisfaction_rate"] is None


def test_stats_are_refused_to_agency_staff_and_check_their_parameters(login, member_a, officer) -> None:
    error_of(login(member_a).get("/api/v1/grievances/stats/"), 403, "permission_denied")
    bad = login(officer).get("/api/v1/grievances/stats/", {"group_by": "year", "since": "soon"})
    assert {"group_by", "since"} <= set(error_of(bad, 400, "validation_error")["details"])


# --- Whistles and handovers --------------------------------------------------------------------------------


def test_a_street_blows_the_whistle_and_departments_report(
    login, world, member_a, member_b, member_c, agency_a, agency_b
) -> None:
    street = login(world.street_staff)
    error_of(post(street, "/api/v1/whistles/", {"street": world.street.code}), 400, "invalid_whistle")
    blown = post(
        street,
        "/api/v1/whistles/",
        {
            "street": world.street.code,
            "title": "夜市占道经营集中整治",
            "agencies": [agency_a.code, agency_b.code],
            "address": "北辰西路",
        },
    )
    assert blown.status_code == 201, blown.content
    summonses = {s["agency"]["code"]: s["id"] for s in blown.json()["summonses"]}
    assert set(summonses) == {agency_a.code, agency_b.code}
    error_of(post(login(member_a), "/api/v1/whistles/", {"street": world.street.code, "title": "x"}), 403)

    staff = login(member_a)
    assert [w["title"] for w in staff.get("/api/v1/whistles/").json()["results"]] == ["夜市占道经营集中整治"]
    reported = post(staff, f"/api/v1/summonses/{summonses[agency_a.code]}/report/", {"note": "已到场"})
    assert reported.status_code == 200
    mine = next(s for s in reported.json()["summonses"] if s["agency"]["code"] == agency_a.code)
    assert mine["reported_at"] and mine["late"] is False
    error_of(post(staff, f"/api/v1/summonses/{summonses[agency_b.code]}/report/"), 403)
    assert Summons.objects.get(agency=agency_b).reported_at is None

    outsider = login(member_c)
    assert outsider.get("/api/v1/whistles/").json()["results"] == []
    error_of(post(outsider, f"/api/v1/summonses/{summonses[agency_b.code]}/report/"), 404)


def test_two_way_handovers(login, world, member_a, member_b, agency_a) -> None:
    street = login(world.street_staff)
    up = post(
        street,
        "/api/v1/handovers/",
        {
            "direction": "up",
            "from_agency": world.street.code,
            "to_agency": agency_a.code,
            "matter": "辖区内发现无证摊贩集中经营",
            "duty": world.vending.pk,
        },
    )
    assert up.status_code == 201, up.content
    handover = up.json()
    assert handover["state"] == "reported" and handover["duty"]["code"] == "01-01-0001"
    assert handover["reported_late"] is False

    error_of(post(login(member_b), f"/api/v1/handovers/{handover['id']}/complete/"), 404)
    assert login(member_b).get("/api/v1/handovers/").json()["results"] == []
    error_of(post(street, f"/api/v1/handovers/{handover['id']}/complete/"), 403)
    completed = post(login(member_a), f"/api/v1/handovers/{handover['id']}/complete/", {"note": "已接收"})
    assert completed.json()["state"] == "completed"

    down = post(
        login(member_a),
        "/api/v1/handovers/",
        {
            "direction": "down",
            "from_agency": agency_a.code,
            "to_agency": world.street.code,
            "matter": "小区内垃圾堆放，属街道属地管理",
        },
    )
    assert down.status_code == 201
    error_of(post(street, f"/api/v1/handovers/{down.json()['id']}/report-back/"), 400, "invalid_handover")
    done = post(street, f"/api/v1/handovers/{down.json()['id']}/report-back/", {"report": "已清运"})
    assert done.json()["state"] == "done"
    assert Handover.objects.get(pk=down.json()["id"]).state == HandoverState.DONE

    wrong_way = post(
        street,
        "/api/v1/handovers/",
        {"direction": "down", "from_agency": world.street.code, "to_agency": agency_a.code, "matter": "x"},
    )
    assert "to_agency" in error_of(wrong_way, 400, "invalid_handover")["details"]


# --- The schema --------------------------------------------------------------------------------------------


def test_schema_documents_every_step(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    names = {p["name"] for p in paths["/api/v1/grievances/"]["get"]["parameters"]}
    assert {"state", "channel", "kind", "handling_agency", "received_after", "received_before", "q"} <= names
    for step in ("dispatch", "route", "progress", "resolve", "feedback", "close", "cancel"):
        assert "post" in paths[f"/api/v1/grievances/{{id}}/{step}/"], step
    for step in ("accept", "return", "answer"):
        assert "post" in paths[f"/api/v1/work-orders/{{id}}/{step}/"], step
    assert "get" in paths["/api/v1/grievances/stats/"]
