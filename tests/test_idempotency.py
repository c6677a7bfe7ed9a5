"""API clients recording a grievance must send an Idempotency-Key: without one the REST API answers 400 in
its error shape and Open311 400 in the spec's error array, naming the header, and nothing is saved; the same
key again returns the first grievance, never a second. The dispatcher's browser form is not an API client
and is not affected. The schema says all of this, so generated clients (and schemathesis) know."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from core.actors import SYSTEM
from duty_lists.models import Role
from grievances import services
from grievances.models import Grievance
from tests.factories import MembershipFactory, UserFactory
from tests.grievance_helpers import World, build_world

pytestmark = [pytest.mark.django_db]

INTAKE = "/api/v1/grievances/"
REQUESTS = "/open311/v2/requests"


@pytest.fixture
def world(agency_a: Any, agency_b: Any) -> World:
    return build_world(agency_a, agency_b)


@pytest.fixture
def api_key(db: None) -> str:
    _client, key = services.api_client_issue(actor=SYSTEM, name="12345热线")
    return key


def record(client: Client, **headers: Any) -> Any:
    body = {"title": "夜里施工噪音扰民", "details": "工地凌晨还在施工"}
    return client.post(INTAKE, body, content_type="application/json", **headers)


def report(api_key: str, fmt: str = "json", **headers: Any) -> Any:
    data = {"api_key": api_key, "service_code": "ms:01-01-0001", "address_string": "北辰西路1号"}
    return Client().post(
        f"{REQUESTS}.{fmt}", urlencode(data), content_type="application/x-www-form-urlencoded", **headers
    )


# --- The REST API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": ""}, {"HTTP_IDEMPOTENCY_KEY": "   "}])
def test_an_api_grievance_without_a_key_is_a_400_naming_the_header(
    login: Any, world: World, dispatcher: Any, headers: dict[str, str]
) -> None:
    response = record(login(dispatcher), **headers)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "idempotency_key_required"
    # The header's own name, untranslated, in the message and as the key of the details.
    assert "Idempotency-Key" in error["message"] and set(error["details"]) == {"Idempotency-Key"}
    assert not Grievance.objects.exists()


def test_the_same_key_returns_the_first_grievance_and_another_submitter_has_its_own(
    login: Any, world: World, dispatcher: Any, editorial_office: Any
) -> None:
    client = login(dispatcher)
    first = record(client, HTTP_IDEMPOTENCY_KEY="hotline-20260302-0001")
    again = record(client, HTTP_IDEMPOTENCY_KEY="hotline-20260302-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Grievance.objects.count() == 1

    # Keys are the submitter's own: another dispatcher's system may number its calls the same way.
    colleague = UserFactory(username="dispatcher_2")
    MembershipFactory(user=colleague, agency=editorial_office, role=Role.DISPATCHER)
    theirs = record(login(colleague), HTTP_IDEMPOTENCY_KEY="hotline-20260302-0001")
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert Grievance.objects.count() == 2


def test_the_anonymous_caller_is_still_told_to_sign_in_first(client: Client, world: World) -> None:
    assert record(client).status_code == 401


# --- Open311 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_open311_client_that_knows_no_idempotency_key_can_still_post(
    world: World, api_key: str, fmt: str
) -> None:
    # GeoReport v2 has no such header: a standard client must not be refused for leaving it out.
    response = report(api_key, fmt)
    assert response.status_code == 201
    assert Grievance.objects.count() == 1


def test_an_open311_key_longer_than_the_limit_is_a_400_spec_error(world: World, api_key: str) -> None:
    response = report(api_key, HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert response.status_code == 400
    [error] = response.json()
    assert error["code"] == 400 and "Idempotency-Key" in error["description"]
    assert not Grievance.objects.exists()


def test_an_open311_post_with_a_wrong_api_key_is_still_a_403(world: World) -> None:
    assert report("not-a-key").status_code == 403  # who you are is asked before how you post


def test_a_repeated_open311_key_returns_the_first_request(world: World, api_key: str) -> None:
    first = report(api_key, HTTP_IDEMPOTENCY_KEY="app-42")
    again = report(api_key, HTTP_IDEMPOTENCY_KEY="app-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
    assert Grievance.objects.count() == 1


# --- Not API clients ---------------------------------------------------------------------------------------


def test_the_dispatchers_form_needs_no_header(login: Any, world: World, dispatcher: Any) -> None:
    form = {
        "channel": "hotline",
        "kind": "complaint",
        "urgency": "normal",
        "title": "人行道上有流动摊贩占道经营",
        "details": "每天晚上摆摊",
        "street": world.street.pk,
    }
    response = login(dispatcher).post(reverse("grievances:new"), form)
    assert response.status_code == 302, response.content
    assert Grievance.objects.count() == 1


# --- The schema --------------------------------------------------------------------------------------------


def test_the_schema_requires_the_header_and_documents_the_400(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"][INTAKE]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key" and header["required"] is True
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 100}
    error = operation["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"error"}
