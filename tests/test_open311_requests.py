"""Open311 GeoReport v2 service requests: posting with an API key creates a grievance dispatched to the
duty's lead; reading requests uses the spec's field names and filters and shows no personal data; tokens
turn into request ids; and ``open311_key`` issues keys that work."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from core.actors import SYSTEM
from core.errors import PermissionRefused
from grievances import services
from grievances.models import ApiClient, Channel, Grievance, GrievanceState
from tests.grievance_helpers import World, build_world

pytestmark = [pytest.mark.django_db]

BASE = "/open311/v2"
VENDING = "ms:01-01-0001"
NOISE = "ms:02-01-0001"
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


@pytest.fixture
def world(agency_a: Any, agency_b: Any) -> World:
    return build_world(agency_a, agency_b)


@pytest.fixture
def api_key(db: None) -> str:
    _client, key = services.api_client_issue(actor=SYSTEM, name="12345热线")
    return key


def post(path: str, data: dict[str, Any], **headers: Any) -> Any:
    """Form-encoded, as the spec posts, with a fresh Idempotency-Key unless the test sends its own."""
    headers.setdefault("HTTP_IDEMPOTENCY_KEY", f"test-{uuid.uuid4()}")
    return Client().post(
        f"{BASE}/{path}", urlencode(data), content_type="application/x-www-form-urlencoded", **headers
    )


def citizen_report(api_key: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": api_key,
        "service_code": VENDING,
        "description": "北辰西路人行道上每天晚上都有流动摊贩占道经营",
        "lat": "40.003456",
        "long": "116.391234",
        **extra,
    }


def spec_errors(response: Any, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.content
    errors = response.json()
    assert [set(e) for e in errors] == [{"code", "description"}] and errors[0]["code"] == status
    return errors


def parsed(content: bytes) -> ET.Element:
    return ET.fromstring(content)  # noqa: S314  (our own output)


def w3c(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S+08:00")


# --- Posting a request -------------------------------------------------------------------------------------


def test_a_posted_request_becomes_a_grievance_dispatched_to_the_duty_lead(world, api_key, agency_a) -> None:
    response = post(
        "requests.json",
        citizen_report(
            api_key,
            first_name="小明",
            last_name="王",
            phone="13812345678",
            email="wxm@example.com",
            account_id="acct-7",
            device_id="device-1",
            media_url="https://img.example.com/1.jpg",
        ),
    )
    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("application/json")
    [answer] = response.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] == "acct-7"

    grievance = Grievance.objects.get()
    assert answer["service_request_id"] == grievance.reference
    assert grievance.channel == Channel.OPEN311 and grievance.client == ApiClient.objects.get()
    assert grievance.duty == world.vending
    assert grievance.state == GrievanceState.DISPATCHED and grievance.handling_agency == agency_a
    assert grievance.orders.get().agency == agency_a
    assert agency_a.name in answer["service_notice"]
    assert (grievance.contact_name, grievance.contact_phone, grievance.contact_email) == (
        "王小明",
        "13812345678",
        "wxm@example.com",
    )
    assert str(grievance.latitude) == "40.003456" and str(grievance.longitude) == "116.391234"
    assert grievance.title == "北辰西路人行道上每天晚上都有流动摊贩占道经营"
    assert grievance.media_url == "https://img.example.com/1.jpg"  # a column of its own (issue 12)
    assert "media_url" not in grievance.details
    assert "device-1" not in grievance.details and "acct-7" not in grievance.details


def test_a_request_is_posted_for_xml_with_an_address(world, api_key, agency_b) -> None:
    response = post(
        "requests.xml",
        {
            "api_key": api_key,
            "service_code": NOISE,
            "description": "工地凌晨施工噪音",
            "address_string": "北辰东路8号",
        },
    )
    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = parsed(response.content)
    assert root.tag == "service_requests"
    [item] = list(root)
    assert item.tag == "request"
    assert [child.tag for child in item] == ["service_request_id", "service_notice", "account_id"]
    grievance = Grievance.objects.get(reference=item.findtext("service_request_id"))
    assert grievance.handling_agency == agency_b and grievance.address == "北辰东路8号"


def test_a_post_needs_a_valid_api_key(world, api_key) -> None:
    missing = spec_errors(post("requests.json", citizen_report("")), 403)
    assert "api_key" in missing[0]["description"]
    spec_errors(post("requests.json", citizen_report("z311_not-a-key")), 403)

    as_xml = post("requests.xml", citizen_report("wrong"))
    assert as_xml.status_code == 403
    root = parsed(as_xml.content)
    assert root.tag == "errors" and root.find("error/code").text == "403"

    services.api_client_revoke(actor=SYSTEM, client=ApiClient.objects.get())
    spec_errors(post("requests.json", citizen_report(api_key)), 403)
    assert not Grievance.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"service_code": "ms:99-99-9999"},
        {"service_code": "no-such-shape"},
        {"service_code": ""},
        {"lat": "", "long": ""},
        {"lat": "91"},
        {"long": "east"},
        {"email": "not-an-address"},
        {"media_url": "javascript:alert(1)"},
        {"first_name": "A" * 60, "last_name": "B" * 60},
        {"description": "长" * 4001},
        {"jurisdiction_id": "elsewhere.example"},
    ],
)
def test_a_bad_post_is_a_400_spec_error_and_nothing_is_saved(world, api_key, changes) -> None:
    spec_errors(post("requests.json", citizen_report(api_key, **changes)), 400)
    assert not Grievance.objects.exists()


def test_unknown_service_code_names_the_code(world, api_key) -> None:
    [error] = spec_errors(post("requests.json", citizen_report(api_key, service_code="ms:99-99-9999")), 400)
    assert "ms:99-99-9999" in error["description"]


def test_a_retried_post_with_the_same_idempotency_key_is_one_request(world, api_key) -> None:
    first = post("requests.json", citizen_report(api_key), HTTP_IDEMPOTENCY_KEY="app-42")
    again = post("requests.json", citizen_report(api_key), HTTP_IDEMPOTENCY_KEY="app-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    assert Grievance.objects.count() == 1
    changed = post(
        "requests.json", citizen_report(api_key, description="另一件事"), HTTP_IDEMPOTENCY_KEY="app-42"
    )
    spec_errors(changed, 409)


# --- Reading requests --------------------------------------------------------------------------------------


def _posted(api_key: str, **extra: Any) -> Grievance:
    response = post("requests.json", citizen_report(api_key, **extra))
    assert response.status_code == 201, response.content
    return Grievance.objects.get(reference=response.json()[0]["service_request_id"])


def _personal_post(api_key: str) -> Grievance:
    return _posted(
        api_key,
        description="我叫王小明，电话13812345678，邮箱wxm@example.com，住3号楼2单元501室，楼下有人占道经营",
        first_name="小明",
        last_name="王",
        phone="13812345678",
        email="wxm@example.com",
        address_string="北辰西路1号",
        address_id="BJ-110105-001",
        media_url="https://img.example.com/1.jpg",
    )


PERSONAL = ("13812345678", "王小明", "wxm@example.com", "501", "北辰西路1号")


def test_nothing_is_public_until_a_dispatcher_publishes_it(world, api_key, dispatcher) -> None:
    grievance = _personal_post(api_key)
    anonymous = Client()
    spec_errors(anonymous.get(f"{BASE}/requests/{grievance.reference}.json"), 404)
    assert anonymous.get(f"{BASE}/requests.json").json() == []
    assert anonymous.get(f"{BASE}/requests.json", {"service_request_id": grievance.reference}).json() == []

    services.grievance_publish(actor=dispatcher, grievance=grievance)
    [listed] = anonymous.get(f"{BASE}/requests.json").json()
    assert listed["service_request_id"] == grievance.reference


def test_a_published_request_has_the_specs_fields_and_no_personal_data(
    world, api_key, dispatcher, agency_a
) -> None:
    grievance = _personal_post(api_key)
    services.grievance_publish(actor=dispatcher, grievance=grievance)
    response = Client().get(f"{BASE}/requests/{grievance.reference}.json")
    assert response.status_code == 200
    [item] = response.json()
    assert set(item) == REQUEST_FIELDS
    assert item == item | {
        "service_request_id": grievance.reference,
        "status": "open",
        "service_name": "占道经营",
        "service_code": VENDING,
        "agency_responsible": agency_a.name,  # dispatched at once to the duty's lead
        "requested_datetime": w3c(grievance.received_at),
        "expected_datetime": w3c(grievance.deadline_at),
        "address": "北辰西路*号",
        # What only the posting client may have back, and the exact position, stay out of public view.
        "address_id": None,
        "media_url": None,
        "zipcode": None,
        "lat": 40.003,
        "long": 116.391,
    }
    assert item["description"].endswith("楼下有人占道经营") and "media_url" not in item["description"]
    assert "王*" in item["description"] and "*号楼*单元***室" in item["description"]
    text = response.content.decode()
    for personal in (*PERSONAL, grievance.token, "40.003456"):
        assert personal not in text


def test_the_posting_client_reads_its_own_requests_back_still_masked(world, api_key) -> None:
    grievance = _personal_post(api_key)
    _other, other_key = services.api_client_issue(actor=SYSTEM, name="另一个应用")
    [item] = Client().get(f"{BASE}/requests/{grievance.reference}.json", {"api_key": api_key}).json()
    assert item["media_url"] == "https://img.example.com/1.jpg" and item["address_id"] == "BJ-110105-001"
    assert item["lat"] == 40.003456 and item["long"] == 116.391234
    assert not any(personal in str(item) for personal in PERSONAL)
    # Another client's key does not open it, and a wrong key is refused rather than read as none.
    spec_errors(Client().get(f"{BASE}/requests/{grievance.reference}.json", {"api_key": other_key}), 404)
    spec_errors(Client().get(f"{BASE}/requests.json", {"api_key": "not-a-key"}), 403)


def test_an_officer_edit_cannot_put_the_citizens_contact_back(world, api_key, dispatcher) -> None:
    grievance = _personal_post(api_key)
    services.grievance_publish(
        actor=dispatcher,
        grievance=grievance,
        description="王小明反映：北辰西路有人占道经营，回电13812345678",
        address="北辰西路1号",
    )
    grievance.refresh_from_db()
    assert grievance.public_description == "王**反映：北辰西路有人占道经营，回电***********"
    assert grievance.public_address == "北辰西路*号"


def test_withdrawing_a_request_takes_it_off_open311(world, api_key, dispatcher) -> None:
    grievance = _personal_post(api_key)
    services.grievance_publish(actor=dispatcher, grievance=grievance)
    services.grievance_unpublish(actor=dispatcher, grievance=grievance, reason="市民要求不公开")
    spec_errors(Client().get(f"{BASE}/requests/{grievance.reference}.json"), 404)
    assert list(grievance.events.values_list("action", flat=True))[-2:] == ["publish", "unpublish"]


def test_only_a_dispatcher_publishes(world, api_key, member_a) -> None:
    grievance = _personal_post(api_key)
    with pytest.raises(PermissionRefused):
        services.grievance_publish(actor=member_a, grievance=grievance)
    grievance.refresh_from_db()
    assert grievance.published_at is None and grievance.public_description == ""


def test_one_request_in_xml_has_the_specs_elements(world, api_key) -> None:
    grievance = _posted(api_key)
    response = Client().get(f"{BASE}/requests/{grievance.reference}.xml", {"api_key": api_key})
    assert response.status_code == 200
    root = parsed(response.content)
    assert root.tag == "service_requests"
    [item] = list(root)
    assert item.tag == "request" and {child.tag for child in item} == REQUEST_FIELDS
    assert item.findtext("service_code") == VENDING
    assert item.findtext("expected_datetime") == w3c(grievance.deadline_at)
    assert item.findtext("status") == "open" and item.findtext("lat") == "40.003456"


def test_an_unknown_request_is_a_404_spec_error(world) -> None:
    spec_errors(Client().get(f"{BASE}/requests/G000.json"), 404)
    unknown_format = Client().get(f"{BASE}/requests.csv")
    assert unknown_format.status_code == 404 and parsed(unknown_format.content).tag == "errors"
    assert Client().delete(f"{BASE}/requests.json").status_code == 405


def test_the_request_list_and_its_filters(world, api_key, dispatcher, member_a, agency_a) -> None:
    vending = _posted(api_key)
    noise = _posted(api_key, service_code=NOISE, description="夜间施工噪音")
    services.order_accept(actor=member_a, order=vending.orders.get())
    services.grievance_resolve(actor=member_a, grievance=vending, resolution="已劝离")
    long_ago = timezone.now() - timedelta(days=120)
    old, _ = services.grievance_receive(
        actor=dispatcher, title="旧的占道经营", received_at=long_ago, duty=world.vending
    )
    for grievance in (vending, noise, old):
        services.grievance_publish(actor=dispatcher, grievance=grievance)
    client = Client()

    def references(**params: Any) -> list[str]:
        response = client.get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content
        return [item["service_request_id"] for item in response.json()]

    # The last 90 days by default, newest first.
    assert references() == [noise.reference, vending.reference]
    assert references(service_code=NOISE) == [noise.reference]
    assert references(service_code=f"{NOISE},{VENDING}") == [noise.reference, vending.reference]
    assert references(status="closed") == [vending.reference]
    assert references(status="open") == [noise.reference]
    start = w3c(long_ago - timedelta(days=1))
    assert references(start_date=start) == [old.reference]
    assert references(start_date=start, end_date=w3c(long_ago + timedelta(days=1))) == [old.reference]
    # service_request_id overrides every other filter.
    assert sorted(
        references(service_request_id=f"{old.reference},{noise.reference}", status="closed")
    ) == sorted([old.reference, noise.reference])

    listed = client.get(f"{BASE}/requests.json").json()
    closed = next(item for item in listed if item["service_request_id"] == vending.reference)
    assert closed["status"] == "closed" and closed["agency_responsible"] == agency_a.name
    assert all(set(item) == REQUEST_FIELDS for item in listed)
    as_xml = parsed(client.get(f"{BASE}/requests.xml").content)
    assert [r.findtext("service_request_id") for r in as_xml.findall("request")] == references()


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"start_date": "last tuesday"},
        {"start_date": "2025-01-01T00:00:00Z", "end_date": "2025-06-01T00:00:00Z"},
        {"start_date": "2025-02-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"},
        {"service_code": "nocolon"},
    ],
)
def test_bad_search_parameters_are_400_spec_errors(world, params) -> None:
    (error,) = spec_errors(Client().get(f"{BASE}/requests.json", params), 400)
    assert error["code"] == 400 and error["description"].strip()


def test_a_token_turns_into_its_request_id(world, api_key) -> None:
    grievance = _posted(api_key)
    response = Client().get(f"{BASE}/tokens/{grievance.token}.json")
    assert response.status_code == 200
    assert response.json() == [{"service_request_id": grievance.reference, "token": grievance.token}]
    as_xml = parsed(Client().get(f"{BASE}/tokens/{grievance.token}.xml").content)
    assert as_xml.findtext("request/service_request_id") == grievance.reference
    spec_errors(Client().get(f"{BASE}/tokens/no-such-token.json"), 404)


def test_agency_responsible_is_only_ever_the_agency_a_dispatcher_sent_it_to(
    world, api_key, dispatcher, member_b, agency_a, agency_b
) -> None:
    grievance, _ = services.grievance_receive(actor=dispatcher, title="人行道占道经营", route=False)
    # The router's guess, below the auto-dispatch threshold: no statement of the office's.
    guess = {"agency_id": agency_a.pk, "agency_name": agency_a.name, "duty_id": world.vending.pk}
    Grievance.objects.filter(pk=grievance.pk).update(suggestions=[guess], route_confidence=0.4)
    services.grievance_publish(actor=dispatcher, grievance=grievance)
    grievance.refresh_from_db()
    [waiting] = Client().get(f"{BASE}/requests/{grievance.reference}.json").json()
    assert waiting["agency_responsible"] is None
    assert not any(s["agency_name"] in waiting["service_notice"] for s in grievance.suggestions)

    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_b, duty=world.noise)
    [sent] = Client().get(f"{BASE}/requests/{grievance.reference}.json").json()
    assert sent["agency_responsible"] == agency_b.name

    services.order_return(
        actor=member_b, order=grievance.orders.get(), reason="属占道经营", cited_duty=world.vending
    )
    [item] = Client().get(f"{BASE}/requests/{grievance.reference}.json").json()
    assert item["agency_responsible"] is None and item["status"] == "open"
    assert item["service_code"] == NOISE  # the duty it was last dispatched under, until it is sent again


# --- Keys --------------------------------------------------------------------------------------------------


def test_open311_key_issues_a_key_that_works_lists_and_revokes_it(world) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("open311_key", "create", "街道APP", stdout=out, stderr=err)
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("z311_") and key not in err.getvalue() and "街道APP" in err.getvalue()
    assert post("requests.json", citizen_report(key)).status_code == 201

    listing = io.StringIO()
    call_command("open311_key", "list", stdout=listing)
    assert "街道APP" in listing.getvalue() and key not in listing.getvalue()

    call_command("open311_key", "revoke", "街道APP", stdout=io.StringIO())
    spec_errors(post("requests.json", citizen_report(key)), 403)
    assert Grievance.objects.count() == 1


def test_the_migration_moves_the_georeport_lines_out_of_the_details_into_their_columns() -> None:
    """Grievances posted before media_url and address_id had columns kept them as the details' last lines."""
    import importlib

    migration = importlib.import_module("grievances.migrations.0010_open311_address_id_media_url")
    details = "楼下占道经营\n\nmedia_url: https://img.example.com/1.jpg\naddress_id: BJ-110105-001"
    extras = {m.group(1): m.group(2) for m in migration._EXTRA_LINE.finditer(details)}
    assert extras == {"media_url": "https://img.example.com/1.jpg", "address_id": "BJ-110105-001"}
    assert migration._EXTRA_LINE.sub("", details).strip() == "楼下占道经营"
