"""The API's entry points and its one error shape."""

from __future__ import annotations

import pytest
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Conflict, PermissionRefused
from core.models import AuditEntry
from tests.factories import AgencyFactory


def _assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


class RefusingView(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request):
        if request.data.get("state") == "closed":
            raise Conflict("This dispute is closed.", extra={"state": "closed"})
        raise PermissionRefused("Not your agency.")


class EchoView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/test/refuse/", RefusingView.as_view()),
    path("api/v1/test/echo/", EchoView.as_view()),
]


@pytest.mark.django_db
def test_api_root_lists_the_collections(client) -> None:
    body = client.get("/api/v1/").json()
    assert body["version"] == "v1"
    assert body["links"]["agencies"].endswith("/api/v1/agencies/")


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/agencies/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn." not in docs.content and b"/static/drf_spectacular_sidecar/" in docs.content


@pytest.mark.django_db
def test_agencies_are_public_filterable_and_keyset_paginated(client) -> None:
    for i in range(7):
        AgencyFactory(code=f"S{i:02d}", name=f"街道{i}", level="street")
    AgencyFactory(code="D01", name="区住建局", level="district")
    first = client.get("/api/v1/agencies/", {"level": "street", "page_size": 5}).json()
    assert [a["code"] for a in first["results"]] == ["S00", "S01", "S02", "S03", "S04"]
    assert "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    assert [a["code"] for a in second["results"]] == ["S05", "S06"]
    assert second["next"] is None
    assert client.get("/api/v1/agencies/", {"q": "住建"}).json()["results"][0]["code"] == "D01"


@pytest.mark.django_db
def test_agency_detail_by_code(client) -> None:
    AgencyFactory(code="D01", name="区住建局")
    assert client.get("/api/v1/agencies/D01/").json()["name"] == "区住建局"


@pytest.mark.django_db
def test_400_has_the_error_shape_with_field_details(client) -> None:
    error = _assert_error_shape(client.get("/api/v1/agencies/", {"level": "galaxy"}), 400, "validation_error")
    assert "level" in error["details"]


@pytest.mark.django_db
def test_401_for_anonymous_callers_with_the_error_shape(client) -> None:
    response = client.get("/api/v1/me/")
    _assert_error_shape(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")
    assert AuditEntry.objects.filter(action="core.access.refused", object_id="/api/v1/me/").exists()


@pytest.mark.django_db
@pytest.mark.urls("tests.test_api")
def test_403_has_the_error_shape_and_is_audited(login, member_b) -> None:
    client = login(member_b)
    response = client.post("/api/v1/test/refuse/", {}, content_type="application/json")
    _assert_error_shape(response, 403, "permission_denied")
    assert AuditEntry.objects.filter(action="core.access.refused", actor=member_b).exists()


@pytest.mark.django_db
@pytest.mark.urls("tests.test_api")
def test_application_error_keeps_its_status_code_and_extra(login, member_b) -> None:
    response = login(member_b).post(
        "/api/v1/test/refuse/", {"state": "closed"}, content_type="application/json"
    )
    assert _assert_error_shape(response, 409, "conflict")["details"] == {"state": "closed"}


@pytest.mark.django_db
@pytest.mark.urls("tests.test_api")
def test_session_writes_keep_csrf_protection(member_b) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member_b)
    response = client.post("/api/v1/test/refuse/", {}, content_type="application/json")
    assert _assert_error_shape(response, 403, "permission_denied")["message"].lower().find("csrf") >= 0


@pytest.mark.django_db
def test_token_authentication(member_a) -> None:
    from django.test import Client
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=member_a)
    body = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token.key}").json()
    assert body["username"] == "member_a"
    assert body["memberships"][0]["agency"] == "A-zhzf"


@pytest.mark.django_db
def test_404_has_the_error_shape_for_unknown_objects_and_urls(client) -> None:
    _assert_error_shape(client.get("/api/v1/agencies/NOPE/"), 404, "not_found")
    _assert_error_shape(client.get("/api/v1/no-such-collection/"), 404, "not_found")


@pytest.mark.django_db
def test_errors_speak_the_requested_language(client) -> None:
    chinese = client.get("/api/v1/agencies/NOPE/").json()["error"]["message"]
    english = client.get("/api/v1/agencies/NOPE/", HTTP_ACCEPT_LANGUAGE="en").json()["error"]["message"]
    assert english == "Not found."
    assert chinese != english and "未找到" in chinese
