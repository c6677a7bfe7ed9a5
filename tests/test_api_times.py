"""Every instant the API writes is ISO 8601 in Asia/Shanghai with its +08:00 offset, and names the instant
stored: the DRF serializers (grievances, disputes), the duty dicts built by hand, the duties page built in
PostgreSQL, and Open311's JSON and XML. Time is frozen at 02:30 in Shanghai, still the day before in UTC,
with microseconds, so a UTC rendering, a dropped fraction or a wrong date all show."""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.db import connection
from django.test import Client
from rest_framework import serializers

from arbitration.models import Dispute
from core.actors import SYSTEM
from core.api.times import api_datetime, w3c_datetime
from duty_lists.models import DutyRevision, Edition
from grievances import services
from grievances.models import Grievance
from tests.arbitration_helpers import file_dispute
from tests.grievance_helpers import World, build_world

pytestmark = [pytest.mark.django_db]

NOW = datetime(2026, 3, 1, 18, 30, 15, 123456, tzinfo=UTC)  # 2026-03-02 02:30:15.123456 in Shanghai
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(frozen: None, agency_a: Any, agency_b: Any) -> World:
    return build_world(agency_a, agency_b)


def instants(data: Any, path: str = "") -> dict[str, str]:
    """Every date-time string in a JSON body, by its path (``results.0.orders.1.accept_by``)."""
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in instants(value, f"{path}.{key}").items()}
    if isinstance(data, list):
        return {k: v for i, value in enumerate(data) for k, v in instants(value, f"{path}.{i}").items()}
    return {path.lstrip("."): data} if isinstance(data, str) and DATE_TIME.match(data) else {}


def all_local(data: Any) -> dict[str, str]:
    found = instants(data)
    assert found, "the body has no date-time to check"
    assert {path: text for path, text in found.items() if not text.endswith("+08:00")} == {}
    return found


def at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def stored_fields(instance: Any, body: dict[str, Any]) -> None:
    """Each date-time column of the row that the body also carries names the same instant."""
    checked = 0
    for field in instance._meta.concrete_fields:
        if field.get_internal_type() == "DateTimeField" and field.name in body:
            assert at(body[field.name]) == getattr(instance, field.name), field.name
            checked += 1
    assert checked


# --- Duties ------------------------------------------------------------------------------------------------


def test_duty_pages_and_detail_write_local_time_on_the_fast_and_the_orm_path(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duty_lists.api.duties as duties_module

    served: list[str] = []
    original = duties_module.fast_page

    def spy(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        served.append("sql" if response is not None else "orm")
        return response

    monkeypatch.setattr(duties_module, "fast_page", spy)
    first = client.get("/api/v1/duties/").json()
    listed = client.get("/api/v1/duties/", {"list": "ms", "format": "json"}).json()
    if connection.vendor == "postgresql":
        assert served == ["sql", "orm"]  # the first page from PostgreSQL's JSON, ?format= from the ORM
    assert first["results"] == listed["results"]

    stored = {r.code: r for r in DutyRevision.objects.filter(duty_list=world.duty_list)}
    assert len(first["results"]) == len(stored) == 3
    for body in (first, listed):
        all_local(body["results"])
        for duty in body["results"]:
            assert at(duty["in_force_from"]) == stored[duty["code"]].valid_from == NOW
            assert duty["in_force_until"] is None
    assert first["results"][0]["in_force_from"] == "2026-03-02T02:30:15.123456+08:00"

    detail = client.get("/api/v1/duties/01-01-0001/", {"list": "ms"}).json()
    found = all_local(detail)
    assert set(found) == {"in_force_from", "history.0.in_force_from"}
    assert at(detail["in_force_from"]) == at(detail["history"][0]["in_force_from"]) == NOW

    exported: Any = client.get("/api/v1/duties/export/", {"list": "ms"})  # streamed
    assert set(all_local(json.loads(b"".join(exported.streaming_content))).values()) == {
        "2026-03-02T02:30:15.123456+08:00"
    }

    [edition] = client.get("/api/v1/editions/").json()["results"]
    assert at(all_local(edition)["published_at"]) == Edition.objects.get().published_at == NOW


@pytest.mark.postgres
def test_the_fast_path_writes_the_offset_in_force_at_the_instant_as_python_does(
    client: Client, world: World
) -> None:
    """The SQL computes the offset rather than writing +08:00: a date of China's summer time (1986-91) or
    before 1901 (local mean time) reads the same from both paths, and whole seconds drop the fraction."""
    moments = {
        "01-01-0001": datetime(1988, 7, 1, 0, 0, 0, 500000, tzinfo=UTC),  # summer time: +09:00
        "01-01-0002": datetime(1890, 1, 1, tzinfo=UTC),  # local mean time: +08:05:43
        "02-01-0001": datetime(2026, 3, 1, 16, 0, tzinfo=UTC),  # whole seconds: no fraction
    }
    for code, moment in moments.items():
        DutyRevision.objects.filter(duty_list=world.duty_list, code=code).update(valid_from=moment)
    fast = client.get("/api/v1/duties/").json()["results"]
    orm = client.get("/api/v1/duties/", {"list": "ms"}).json()["results"]
    assert fast == orm
    assert {d["code"]: d["in_force_from"] for d in fast} == {
        "01-01-0001": "1988-07-01T09:00:00.500000+09:00",
        "01-01-0002": "1890-01-01T08:05:43+08:05:43",
        "02-01-0001": "2026-03-02T00:00:00+08:00",
    }


def test_hand_built_times_are_what_drf_writes() -> None:
    drf = serializers.DateTimeField()
    for moment in (NOW, NOW.replace(microsecond=0), datetime(1988, 7, 1, tzinfo=UTC)):
        assert api_datetime(moment) == drf.to_representation(moment)
    assert api_datetime(None) is None
    assert w3c_datetime(NOW) == "2026-03-02T02:30:15+08:00"


# --- Grievances and disputes -------------------------------------------------------------------------------


def test_a_grievance_writes_every_time_in_local_time(login: Any, world: World, dispatcher: Any) -> None:
    client = login(dispatcher)
    response = client.post(
        "/api/v1/grievances/",
        {
            "title": "小区门口有流动摊贩占道经营",
            "duty": world.vending.pk,
            "received_at": "2026-03-01T17:05:00.25Z",
        },
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="hotline-20260302-0001",
    )
    assert response.status_code == 201, response.content
    grievance = Grievance.objects.get()
    assert grievance.state == "dispatched"  # so the orders carry their times too

    for body in (response.json(), client.get(f"/api/v1/grievances/{grievance.pk}/").json()):
        found = all_local(body)
        assert body["received_at"] == "2026-03-02T01:05:00.250000+08:00"
        assert at(body["status"]["deadline_at"]) == grievance.deadline_at
        assert {"received_at", "created_at", "orders.0.dispatched_at", "events.0.at"} <= set(found)
        stored_fields(grievance, body)
        stored_fields(grievance.orders.get(), body["orders"][0])

    [listed] = client.get("/api/v1/grievances/").json()["results"]
    all_local(listed)
    stored_fields(grievance, listed)


def test_a_dispute_writes_every_time_in_local_time(
    login: Any, world: World, member_a: Any, officer: Any, agency_a: Any, agency_b: Any
) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b, duties=(world.vending,))
    client = login(officer)
    body = client.get(f"/api/v1/disputes/{dispute.pk}/").json()
    found = all_local(body)
    assert {"created_at", "deadline_at", "stages.0.entered_at", "events.0.at"} <= set(found)
    stored = Dispute.objects.get()
    stored_fields(stored, body)
    assert stored.deadline_at is not None and stored.deadline_at > NOW  # ahead, not the filing time

    [listed] = client.get("/api/v1/disputes/").json()["results"]
    all_local(listed)
    stored_fields(stored, listed)


# --- Open311 -----------------------------------------------------------------------------------------------


def _open311_request(world: World, dispatcher: Any) -> Grievance:
    _client, key = services.api_client_issue(actor=SYSTEM, name="12345热线")
    response = Client().post(
        "/open311/v2/requests.json",
        urlencode(
            {
                "api_key": key,
                "service_code": "ms:01-01-0001",
                "description": "人行道上占道经营",
                "address_string": "北辰西路1号",
            }
        ),
        content_type="application/x-www-form-urlencoded",
        HTTP_IDEMPOTENCY_KEY=f"app-{uuid.uuid4()}",
    )
    assert response.status_code == 201, response.content
    grievance = Grievance.objects.get()
    services.grievance_publish(actor=dispatcher, grievance=grievance)
    grievance.refresh_from_db()
    return grievance


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)  # GeoReport's W3C date-times are to the second


def test_open311_requests_write_local_time_in_json_and_xml(world: World, dispatcher: Any) -> None:
    grievance = _open311_request(world, dispatcher)
    expected = {
        "requested_datetime": grievance.received_at,
        "updated_datetime": grievance.updated_at,
        "expected_datetime": grievance.deadline_at,
    }

    [listed] = Client().get("/open311/v2/requests.json").json()
    [detail] = Client().get(f"/open311/v2/requests/{grievance.reference}.json").json()
    for item in (listed, detail):
        assert set(all_local(item)) == set(expected)
        for name, stored in expected.items():
            assert at(item[name]) == _whole_second(stored), name
    assert listed["requested_datetime"] == "2026-03-02T02:30:15+08:00"

    xml = ET.fromstring(Client().get(f"/open311/v2/requests/{grievance.reference}.xml").content)  # noqa: S314
    [request] = list(xml)
    for name, stored in expected.items():
        text = request.findtext(name)
        assert text is not None and text.endswith("+08:00") and at(text) == _whole_second(stored)


def test_open311_changeset_is_local_time(world: World) -> None:
    published = Edition.objects.get().published_at
    body = Client().get("/open311/v2/discovery.json").json()
    assert body["changeset"] == body["endpoints"][0]["changeset"] == "2026-03-02T02:30:15+08:00"
    assert at(body["changeset"]) == _whole_second(published)
    xml = ET.fromstring(Client().get("/open311/v2/discovery.xml").content)  # noqa: S314
    assert xml.findtext("changeset") == body["changeset"]
