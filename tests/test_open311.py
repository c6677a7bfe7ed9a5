"""Open311 GeoReport v2: discovery, service list and service definitions over the published duty list,
checked against real cities' responses (shared/data/open311, from github.com/bensheldon/open311status)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from duty_lists.models import (
    Category,
    Classification,
    Duty,
    DutyList,
    DutyListKind,
    DutyRevision,
    DutyType,
    Edition,
    Layer,
    Participation,
    ParticipationRole,
)
from tests.data import shared_file
from tests.factories import AgencyFactory

pytestmark = [pytest.mark.django_db]

BASE = "/open311/v2"


def _real_response(name: str) -> Path:
    return shared_file("open311", name)


def _registry(
    list_code: str = "livelihood", size: int = 3, *, published_at: datetime | None = None
) -> list[DutyRevision]:
    """A published list of ``size`` duties in force, each with a lead agency, in one category."""
    agency: Any = AgencyFactory(code=f"{list_code}-zhzf", name="区综合执法局")
    duty_list = DutyList.objects.create(
        code=list_code, name="民生诉求职责清单", kind=DutyListKind.LIVELIHOOD, owner=agency
    )
    category = Category.objects.create(duty_list=duty_list, code="03", name="城市管理")
    classification = Classification.objects.create(
        duty_list=duty_list, category=category, code="03-12", name="违法建设"
    )
    published_at = published_at or timezone.now() - timedelta(days=1)
    edition = Edition.objects.create(
        duty_list=duty_list,
        number=1,
        published_at=published_at,
        effective_date=timezone.localdate(published_at),
    )
    duties = Duty.objects.bulk_create(
        [Duty(duty_list=duty_list, code=f"03-12-{i:04d}") for i in range(1, size + 1)]
    )
    revisions = DutyRevision.objects.bulk_create(
        [
            DutyRevision(
                duty=duty,
                duty_list=duty_list,
                code=duty.code,
                classification=classification,
                title=f"查处违法建设第{i}项",
                description="对城市规划区内未取得建设工程规划许可证的建设行为进行查处。",
                duty_type=DutyType.MAIN,
                service_kind="",
                layer=Layer.DISTRICT,
                keywords=["违建", "私搭乱建"],
                synonyms=["违章建筑"],
                edition=edition,
                valid_from=published_at,
                valid_until=None,
            )
            for i, duty in enumerate(duties, start=1)
        ]
    )
    Participation.objects.bulk_create(
        [Participation(revision=r, agency=agency, role=ParticipationRole.LEAD) for r in revisions]
    )
    return revisions


def _parse(content: bytes) -> ET.Element:
    return ET.fromstring(content)  # noqa: S314  (our own output)


def _child(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path)
    assert found is not None, f"no <{path}> in <{element.tag}>"
    return found


def _errors(response: Any, status: int, fmt: str = "json") -> list[dict[str, Any]]:
    """The spec's error array, in either format, as a list of dicts."""
    assert response.status_code == status, response.content
    if fmt == "json":
        assert response["Content-Type"] == "application/json; charset=utf-8"
        return response.json()
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    root = _parse(response.content)
    assert root.tag == "errors"
    assert [e.tag for e in root] == ["error"] * len(root)
    return [{child.tag: child.text for child in error} for error in root]


# --- service list ----------------------------------------------------------------------------------------


def test_service_list_json_has_the_fields_of_a_real_city(client: Client) -> None:
    _registry()
    bloomington = json.loads(_real_response("bloomington_services.json").read_text(encoding="utf-8"))

    response = client.get(f"{BASE}/services.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    services = response.json()
    assert isinstance(services, list) and len(services) == 3
    assert {tuple(sorted(s)) for s in services} == {tuple(sorted(s)) for s in bloomington}
    assert services[0] == {
        "service_code": "livelihood:03-12-0001",
        "service_name": "查处违法建设第1项",
        "description": "对城市规划区内未取得建设工程规划许可证的建设行为进行查处。",
        "metadata": False,
        "type": "realtime",
        "keywords": "违建, 私搭乱建, 违章建筑",
        "group": "城市管理",
    }
    # The same JSON types as the real city's.
    assert {k: type(v) for k, v in services[0].items()} == {k: type(v) for k, v in bloomington[0].items()}


def test_service_list_xml_has_the_structure_of_a_real_city(client: Client) -> None:
    _registry()
    san_francisco = _parse(_real_response("san_francisco_services.xml").read_bytes())

    response = client.get(f"{BASE}/services.xml")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    ours = _parse(response.content)
    assert ours.tag == san_francisco.tag == "services"
    assert {child.tag for child in ours} == {child.tag for child in san_francisco} == {"service"}
    assert len(ours) == 3
    for service in ours:
        assert sorted(e.tag for e in service) == sorted(e.tag for e in san_francisco[0])
        assert all(len(e) == 0 for e in service)  # flat, like theirs
    first = {e.tag: e.text for e in ours[0]}
    assert first["service_code"] == "livelihood:03-12-0001"
    assert first["metadata"] == "false" and first["type"] == "realtime"
    assert first["group"] == "城市管理"


def test_chinese_comes_out_as_characters_and_round_trips(client: Client) -> None:
    _registry(size=1)

    as_json = client.get(f"{BASE}/services.json")
    as_xml = client.get(f"{BASE}/services.xml")

    assert "查处违法建设第1项".encode() in as_json.content  # not \\u escapes
    assert "查处违法建设第1项".encode() in as_xml.content  # not &#...; references
    assert as_json.json()[0]["service_name"] == "查处违法建设第1项"
    assert _parse(as_xml.content).findtext("service/service_name") == "查处违法建设第1项"


def test_xml_survives_markup_and_control_characters_in_the_list(client: Client) -> None:
    [revision] = _registry(size=1)
    revision.title = '噪声 <扰民> & "夜间施工"'
    revision.description = "第一行\x0b第二行\x1f"  # control characters pasted from a spreadsheet
    revision.save()

    response = client.get(f"{BASE}/services.xml")

    service = _child(_parse(response.content), "service")
    assert service.findtext("service_name") == '噪声 <扰民> & "夜间施工"'
    assert service.findtext("description") == "第一行第二行"
    assert client.get(f"{BASE}/services.json").json()[0]["description"] == "第一行\x0b第二行\x1f"


def test_only_duties_in_force_are_services(client: Client) -> None:
    current, pending_only, removed = _registry(size=3)
    assert current.valid_from is not None
    later = current.valid_from + timedelta(hours=1)
    edition = Edition.objects.create(
        duty_list=current.duty_list, number=2, published_at=later, effective_date=timezone.localdate(later)
    )
    # Duty 1 was reworded in edition 2: only the new wording is in force.
    DutyRevision.objects.filter(pk=current.pk).update(valid_until=later)
    _revise(current, title="查处违法建设新版", edition=edition, valid_from=later)
    # Duty 2 only has a revision awaiting publication.
    DutyRevision.objects.filter(pk=pending_only.pk).delete()
    _revise(pending_only, title="未发布", edition=None, valid_from=None)
    # Duty 3 was removed in edition 2.
    DutyRevision.objects.filter(pk=removed.pk).update(valid_until=later)
    _revise(removed, title="已删除", edition=edition, valid_from=later, is_removed=True)

    services = client.get(f"{BASE}/services.json").json()

    assert [(s["service_code"], s["service_name"]) for s in services] == [
        ("livelihood:03-12-0001", "查处违法建设新版")
    ]


def _revise(revision: DutyRevision, **changes: Any) -> DutyRevision:
    revision.pk = None
    for name, value in changes.items():
        setattr(revision, name, value)
    revision.save()
    return revision


def test_service_codes_name_the_list_and_list_narrows_the_services(client: Client) -> None:
    _registry("livelihood", size=2)
    _registry("street", size=1)

    every = [s["service_code"] for s in client.get(f"{BASE}/services.json").json()]
    street = [s["service_code"] for s in client.get(f"{BASE}/services.json", {"list": "street"}).json()]

    # Duty codes repeat across lists; the service codes do not, and do not change with the filter.
    assert every == ["livelihood:03-12-0001", "livelihood:03-12-0002", "street:03-12-0001"]
    assert street == ["street:03-12-0001"]
    assert (
        client.get(f"{BASE}/services.json", {"list": ""}).json() == client.get(f"{BASE}/services.json").json()
    )


def test_unknown_list_is_a_404_error(client: Client) -> None:
    _registry()
    [error] = _errors(client.get(f"{BASE}/services.json", {"list": "nope"}), 404)
    assert error["code"] == 404 and "nope" in error["description"]


def test_service_list_runs_a_fixed_number_of_queries(client: Client, django_assert_num_queries: Any) -> None:
    _registry("small", size=5)
    _registry("large", size=50)

    with django_assert_num_queries(2):  # the list, then its services
        assert len(client.get(f"{BASE}/services.json", {"list": "small"}).json()) == 5
    with django_assert_num_queries(2):
        assert len(client.get(f"{BASE}/services.xml", {"list": "large"}).content) > 0
    with django_assert_num_queries(1):
        assert len(client.get(f"{BASE}/services.json").json()) == 55


# --- jurisdiction ----------------------------------------------------------------------------------------


def test_our_jurisdiction_or_none_is_accepted(client: Client, settings: Any) -> None:
    settings.OPEN311_JURISDICTION_ID = "guanganqu.gov.cn"
    _registry(size=1)
    for jurisdiction in ("guanganqu.gov.cn", "GuangAnQu.gov.cn", ""):
        response = client.get(f"{BASE}/services.json", {"jurisdiction_id": jurisdiction})
        assert response.status_code == 200 and len(response.json()) == 1


def test_another_jurisdiction_is_a_404_error_in_either_format(client: Client, settings: Any) -> None:
    settings.OPEN311_JURISDICTION_ID = "guanganqu.gov.cn"
    [revision] = _registry(size=1)
    for fmt in ("json", "xml"):
        [error] = _errors(client.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "sfgov.org"}), 404, fmt)
        assert str(error["code"]) == "404" and "sfgov.org" in error["description"]
        definition = client.get(f"{BASE}/services/livelihood:{revision.code}.{fmt}?jurisdiction_id=sfgov.org")
        assert _errors(definition, 404, fmt)[0]["description"] == error["description"]


def test_jurisdiction_defaults_to_zhize_local(client: Client, settings: Any) -> None:
    del settings.OPEN311_JURISDICTION_ID
    assert client.get(f"{BASE}/services.json", {"jurisdiction_id": "zhize.local"}).status_code == 200


# --- service definition ----------------------------------------------------------------------------------


def test_service_definition_in_both_formats(client: Client, django_assert_num_queries: Any) -> None:
    _registry(size=2)

    with django_assert_num_queries(1):
        as_json = client.get(f"{BASE}/services/livelihood:03-12-0002.json")
    as_xml = client.get(f"{BASE}/services/livelihood:03-12-0002.xml")

    assert as_json.status_code == 200
    assert as_json.json() == {"service_code": "livelihood:03-12-0002", "attributes": []}
    assert as_xml["Content-Type"] == "text/xml; charset=utf-8"
    assert as_xml.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = _parse(as_xml.content)
    assert root.tag == "service_definition"
    assert [e.tag for e in root] == ["service_code", "attributes"]
    assert root.findtext("service_code") == "livelihood:03-12-0002"
    assert len(_child(root, "attributes")) == 0


def test_every_listed_service_has_a_definition(client: Client) -> None:
    _registry("livelihood", size=2)
    _registry("street", size=1)
    for service in client.get(f"{BASE}/services.json").json():
        definition = client.get(f"{BASE}/services/{service['service_code']}.json")
        assert definition.json()["service_code"] == service["service_code"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("code", ["livelihood:03-12-9999", "street:03-12-0001", "03-12-0001", "livelihood:"])
def test_unknown_service_code_is_a_404_error(client: Client, fmt: str, code: str) -> None:
    _registry(size=1)
    [error] = _errors(client.get(f"{BASE}/services/{code}.{fmt}"), 404, fmt)
    assert str(error["code"]) == "404" and code in error["description"]


# --- discovery -------------------------------------------------------------------------------------------


def test_discovery_lists_both_formats_and_the_newest_edition(
    client: Client, django_assert_num_queries: Any
) -> None:
    _registry("livelihood", published_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    _registry("street", published_at=datetime(2026, 4, 2, 8, 0, 5, tzinfo=UTC))

    with django_assert_num_queries(1):
        response = client.get(f"{BASE}/discovery.json")

    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    assert body["changeset"] == "2026-04-02T16:00:05+08:00"
    assert body["contact"] and body["key_service"]
    # Posting needs a key: discovery must say so, and where a client gets one.
    assert "api_key" in body["key_service"] and "No API key is needed" not in body["key_service"]
    assert body["endpoints"] == [
        {
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": "http://testserver/open311/v2",
            "changeset": "2026-04-02T16:00:05+08:00",
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
    ]


def test_discovery_xml_follows_the_spec(client: Client, settings: Any) -> None:
    settings.OPEN311_CONTACT = "广安区委编办 <0826-1234567> & 12345"
    _registry(published_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))

    response = client.get(f"{BASE}/discovery.xml", secure=True, HTTP_HOST="localhost")

    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = _parse(response.content)
    assert root.tag == "discovery"
    assert [e.tag for e in root] == ["changeset", "contact", "key_service", "endpoints"]
    assert root.findtext("contact") == "广安区委编办 <0826-1234567> & 12345"
    [endpoint] = _child(root, "endpoints")
    assert endpoint.tag == "endpoint"
    assert endpoint.findtext("url") == "https://localhost/open311/v2"
    assert endpoint.findtext("changeset") == root.findtext("changeset") == "2026-03-01T17:30:00+08:00"
    assert [f.text for f in _child(endpoint, "formats")] == ["text/xml", "application/json"]
    assert [f.tag for f in _child(endpoint, "formats")] == ["format", "format"]


def test_discovery_before_any_edition_still_has_a_changeset(client: Client) -> None:
    assert client.get(f"{BASE}/discovery.json").json()["changeset"] == "1970-01-01T08:00:00+08:00"


# --- formats and methods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["services.csv", "services", "discovery.html", "services/livelihood:03-12-0001"]
)
def test_unsupported_or_missing_format_is_a_404_error_in_xml(client: Client, url: str) -> None:
    _registry(size=1)
    [error] = _errors(client.get(f"{BASE}/{url}"), 404, "xml")
    assert error["code"] == "404" and ".json" in error["description"]


def test_format_extension_is_case_insensitive(client: Client) -> None:
    _registry(size=1)
    assert client.get(f"{BASE}/services.JSON").json()[0]["service_code"] == "livelihood:03-12-0001"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_endpoints_are_read_only(method: str) -> None:
    _registry(size=1)
    client = Client(enforce_csrf_checks=True)  # as a real client: the answer is 405, not a CSRF failure
    for url in ("discovery.json", "services.json", "services/livelihood:03-12-0001.json"):
        response = getattr(client, method)(f"{BASE}/{url}")
        [error] = _errors(response, 405)
        assert response["Allow"] == "GET, HEAD"
        assert error["code"] == 405
    assert DutyRevision.objects.count() == 1


def test_head_is_allowed(client: Client) -> None:
    _registry(size=1)
    response = client.head(f"{BASE}/services.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"


def test_endpoints_are_public(client: Client, member_a: Any, login: Any) -> None:
    _registry(size=1)
    anonymous = client.get(f"{BASE}/services.json").json()
    assert login(member_a).get(f"{BASE}/services.json").json() == anonymous
