"""The demo grievances of `make run`: made once, through the services, with one of everything the loop has."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from arbitration.models import Dispute
from core.management.commands.runstack import Command as RunStack
from duty_lists.demo import load_demo
from grievances import routing
from grievances.demo import DEMO_OPEN311_CLIENT, DEMO_OPEN311_KEY, demo_open311_key, load_demo_messages
from grievances.models import (
    ApiClient,
    Feedback,
    Grievance,
    GrievanceEvent,
    GrievanceState,
    Handover,
    Summons,
    Whistle,
    WorkOrder,
)
from grievances.services import api_client_for_key, api_client_issue
from tests.data import shared_file


@pytest.fixture
def demo(db: None) -> None:
    routing.forget()  # another test's list may still be cached in this process
    call_command("load_demo", quiet_logins=True)


@pytest.fixture
def demo_people(db: None) -> None:
    """Only the demo agencies and people: enough to receive messages, in a fraction of the time."""
    routing.forget()
    load_demo(registry=False)


def _counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (
            Grievance,
            WorkOrder,
            GrievanceEvent,
            Feedback,
            Whistle,
            Summons,
            Handover,
            ApiClient,
            Dispute,
        )
    )


@pytest.mark.usefixtures("demo")
def test_loading_the_demo_twice_creates_nothing_new() -> None:
    counts = _counts()
    assert Grievance.objects.filter(external_id__startswith="demo-").count() == 9
    call_command("load_demo", quiet_logins=True)
    assert _counts() == counts


@pytest.mark.usefixtures("demo")
def test_demo_grievances_sit_at_every_point_of_the_loop() -> None:
    states = dict(
        Grievance.objects.filter(external_id__startswith="demo-").values_list("external_id", "state")
    )
    assert states == {
        "demo-01": GrievanceState.DISPATCHED,
        "demo-02": GrievanceState.IN_PROGRESS,
        "demo-03": GrievanceState.CLOSED,
        "demo-04": GrievanceState.RESOLVED,
        "demo-05": GrievanceState.RECEIVED,
        "demo-06": GrievanceState.ACCEPTED,
        "demo-07": GrievanceState.DISPATCHED,
        "demo-08": GrievanceState.RETURNED,
        "demo-09": GrievanceState.RECEIVED,
    }
    closed = Grievance.objects.get(external_id="demo-03")
    assert closed.rating == 5 and closed.feedback.get().satisfied
    # Each went to the lead its duty names on the demo list, as the router suggested first: by itself when
    # sure enough, else by the dispatcher's one click.
    dispatched = Grievance.objects.filter(external_id__in=["demo-01", "demo-02", "demo-06"]).order_by(
        "external_id"
    )
    assert [g.handling_agency.short_name for g in dispatched] == ["区生态环境局", "区市监局", "北辰街道"]
    assert all(
        g.orders.order_by("round").first().agency_id == g.suggestions[0]["agency_id"] for g in dispatched
    )
    assert any(g.events.filter(action="dispatch", actor__isnull=True).exists() for g in dispatched)
    queued = Grievance.objects.get(external_id="demo-05")
    assert queued.suggestions and queued.suggestions[0]["duty_title"] == "物业服务"
    assert Grievance.objects.get(external_id="demo-09").unlisted
    via_client = Grievance.objects.get(external_id="demo-07")
    assert via_client.client.name == DEMO_OPEN311_CLIENT and via_client.channel == "open311"
    # Open311 shows the two the demo dispatcher published, masked, and nothing else.
    public = Client().get("/open311/v2/requests.json").json()
    assert sorted(item["service_request_id"] for item in public) == sorted(
        Grievance.objects.filter(external_id__in=["demo-01", "demo-03"]).values_list("reference", flat=True)
    )
    assert not any(g.contact_phone in str(public) for g in Grievance.objects.exclude(contact_phone=""))


@pytest.mark.usefixtures("demo")
def test_the_bounced_demo_grievance_became_a_pushback_dispute() -> None:
    grievance = Grievance.objects.get(external_id="demo-08")
    assert grievance.return_count == 2
    returns = grievance.orders.filter(state="returned").order_by("round")
    assert [o.agency.short_name for o in returns] == ["区市监局", "区综合执法局"]
    assert all(o.cited_duty_id for o in returns)
    dispute = grievance.dispute
    assert dispute is not None
    assert dispute.source_ref == f"grievances.grievance:{grievance.pk}"
    assert dispute.kind == "pushback" and dispute.filing_agency.short_name == "区市监局"


@pytest.mark.usefixtures("demo")
def test_the_demo_whistle_has_one_department_reported_and_one_pending() -> None:
    whistle = Whistle.objects.get()
    assert whistle.street.short_name == "北辰街道"
    reported = {s.agency.short_name: s.reported_at is not None for s in whistle.summonses.all()}
    assert reported == {"区综合执法局": True, "区市监局": False}


@pytest.mark.usefixtures("demo")
def test_the_demo_handovers_show_each_side_of_two_way_dispatch() -> None:
    handovers = {
        (h.direction, h.to_agency.short_name): h for h in Handover.objects.select_related("to_agency")
    }
    assert set(handovers) == {("up", "区市监局"), ("up", "区综合执法局"), ("down", "北辰街道")}
    assert handovers["up", "区市监局"].state == "completed"
    late = handovers["up", "区综合执法局"]
    assert late.state == "reported" and late.reported_late
    assert handovers["down", "北辰街道"].state == "reported"


@pytest.mark.usefixtures("demo")
def test_the_demo_open311_key_authenticates_and_is_printed() -> None:
    client = api_client_for_key(DEMO_OPEN311_KEY)
    assert client is not None and client.name == DEMO_OPEN311_CLIENT
    line = f"Demo Open311 API key ({DEMO_OPEN311_CLIENT}): {DEMO_OPEN311_KEY}"
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert line in out.getvalue()
    banner = StringIO()
    RunStack(stdout=banner)._banner("http://127.0.0.1:8000/", no_demo=False)
    assert line in banner.getvalue()


@pytest.mark.usefixtures("demo")
def test_a_reissued_demo_client_is_neither_overwritten_nor_advertised() -> None:
    sysadmin = get_user_model().objects.get(username="sysadmin")
    _, new_key = api_client_issue(actor=sysadmin, name=DEMO_OPEN311_CLIENT)
    call_command("load_demo", quiet_logins=True)
    assert api_client_for_key(new_key) is not None
    assert api_client_for_key(DEMO_OPEN311_KEY) is None
    assert demo_open311_key() is None


@pytest.mark.usefixtures("demo_people")
def test_demo_messages_are_read_from_the_file_and_loaded_once(tmp_path: Path) -> None:
    # A stand-in file of the tipdm2020 layout: the loader reads whatever file it is given at run time.
    source = tmp_path / "messages.csv"
    with source.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "反对数", "点赞数"])
        writer.writerow(
            ["9001", "u1", "夜间施工噪音扰民", "2019/1/1 10:00:00", "工地深夜施工噪音污染。", 0, 0]
        )
        writer.writerow(["9002", "u2", "饭店食品安全问题", "2019/1/2 10:00:00", "后厨卫生差。", 0, 0])
        writer.writerow(["9003", "u3", "第三条", "2019/1/3 10:00:00", "不会被读到。", 0, 0])
    assert load_demo_messages(2, path=source) == 2
    assert load_demo_messages(2, path=source) == 0
    assert set(
        Grievance.objects.filter(external_id__startswith="tipdm-").values_list("external_id", flat=True)
    ) == {
        "tipdm-9001",
        "tipdm-9002",
    }
    assert load_demo_messages(2, path=tmp_path / "missing.csv") is None


@pytest.mark.usefixtures("demo_people")
def test_the_real_citizens_messages_fill_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    source = shared_file("tipdm2020", "messages_unlabelled.csv")
    monkeypatch.setenv("ZHIZE_SHARED_DATA", str(source.parents[1]))
    out = StringIO()
    call_command("load_demo_messages", messages=5, stdout=out)
    assert "Received 5 new grievances" in out.getvalue()
    assert Grievance.objects.filter(external_id__startswith="tipdm-").count() == 5
    call_command("load_demo_messages", messages=5, stdout=StringIO())
    assert Grievance.objects.filter(external_id__startswith="tipdm-").count() == 5


@pytest.mark.usefixtures("demo_people")
def test_without_the_messages_file_the_command_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZHIZE_SHARED_DATA", str(tmp_path))
    out = StringIO()
    call_command("load_demo_messages", messages=5, stdout=out)
    assert "no citizens' messages loaded" in out.getvalue()
