"""Making a grievance public on Open311: the masking a dispatcher starts from, the step on the grievance
page and in the API, and who is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from duty_lists.models import Agency
from grievances.models import Grievance
from grievances.redaction import redact, redact_address
from grievances.services import grievance_receive
from tests.grievance_helpers import World, build_world


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我叫张伟，电话13812345678", "我叫张*，电话***********"),
        ("本人刘德华，邻居赵四天天扰民", "本人刘**，邻居赵*天天扰民"),
        ("欧阳娜娜反映协兴镇的路灯坏了", "欧阳**反映协兴镇的路灯坏了"),
        ("身份证51160219900101123X，邮箱a.b@qq.com", "身份证******************，邮箱**********"),
        ("车牌川A12345的车堵了消防通道", "车牌*******的车堵了消防通道"),
        ("幸福小区5栋2-301楼上漏水", "幸福小区*栋*****楼上漏水"),
        # Dates, document numbers, metro lines and place names stay: they are what the grievance is about.
        ("依据〔2019〕12号文件，5月3号起地铁3号线施工", "依据〔2019〕12号文件，5月3号起地铁3号线施工"),
        ("北辰西路人行道上有流动摊贩", "北辰西路人行道上有流动摊贩"),
        ("许可证办理，谢谢", "许可证办理，谢谢"),
    ],
)
def test_redact_masks_personal_data_and_keeps_the_matter(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_redact_address_keeps_the_street_and_drops_the_door() -> None:
    assert redact_address("北辰西路1号院3号楼2单元501室") == "北辰西路*号院*号楼*单元***室"
    assert redact_address("广安区协兴镇") == "广安区协兴镇"


# --- The step, on the page and in the API -----------------------------------------------------------------


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


@pytest.fixture
def waiting(world: World, dispatcher: Any) -> Grievance:
    grievance, _created = grievance_receive(
        actor=dispatcher,
        title="楼下饭店油烟扰民",
        details="我叫王小明，住北辰西路8号2单元302室，楼下饭店油烟太大，电话13912345678",
        address="北辰西路8号",
        contact_name="王小明",
        contact_phone="13912345678",
        street=world.street,
        route=False,
    )
    return grievance


def test_a_dispatcher_reviews_the_masked_text_and_publishes_it_from_the_page(
    english: Callable[[Any], Client], dispatcher: Any, waiting: Grievance
) -> None:
    client = english(dispatcher)
    page = client.get(reverse("grievances:detail", kwargs={"pk": waiting.pk}))
    form = page.context["publish_form"]
    assert form.initial == {
        "description": "我叫王**，住北辰西路*号*单元***室，楼下饭店油烟太大，电话***********",
        "address": "北辰西路*号",
    }
    assert "Publish on Open311" in page.content.decode()

    url = reverse("grievances:publish", kwargs={"pk": waiting.pk})
    empty = client.post(url, {"description": " ", "address": ""})
    assert empty.status_code == 400 and empty.context["publish_form"].errors["description"]
    assert Grievance.objects.get(pk=waiting.pk).published_at is None

    edited = "北辰西路*号楼下饭店油烟太大"
    assert client.post(url, {"description": edited, "address": "北辰西路"}).status_code == 302
    published = Grievance.objects.get(pk=waiting.pk)
    assert published.published_at is not None and published.public_description == edited
    [item] = Client().get(f"/open311/v2/requests/{waiting.reference}.json").json()
    assert item["description"] == edited and item["address"] == "北辰西路"

    withdraw = reverse("grievances:unpublish", kwargs={"pk": waiting.pk})
    assert client.post(withdraw, {"reason": ""}).status_code == 400
    assert client.post(withdraw, {"reason": "市民不愿公开"}).status_code == 302
    assert Grievance.objects.get(pk=waiting.pk).published_at is None
    actions = list(published.events.values_list("action", flat=True))
    assert actions[-2:] == ["publish", "unpublish"]


def test_an_agency_member_may_not_publish(
    english: Callable[[Any], Client], member_a: Any, dispatcher: Any, world: World, agency_a: Agency
) -> None:
    from grievances.services import grievance_dispatch

    grievance, _created = grievance_receive(
        actor=dispatcher, title="占道经营", details="我叫王小明", street=world.street, route=False
    )
    grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a, duty=world.vending)
    client = english(member_a)  # handles it, so may read the page — but not decide what is public
    assert "publish_form" not in client.get(reverse("grievances:detail", kwargs={"pk": grievance.pk})).context
    refused = client.post(reverse("grievances:publish", kwargs={"pk": grievance.pk}), {"description": "x"})
    assert refused.status_code == 403
    api = client.post(f"/api/v1/grievances/{grievance.pk}/publish/", {}, content_type="application/json")
    assert api.status_code == 403 and api.json()["error"]["code"]
    assert Grievance.objects.get(pk=grievance.pk).published_at is None


def test_the_api_publishes_and_withdraws(
    login: Callable[[Any], Client], dispatcher: Any, waiting: Grievance
) -> None:
    client = login(dispatcher)
    url = f"/api/v1/grievances/{waiting.pk}/publish/"
    first = client.post(url, {}, content_type="application/json")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["published_at"] and body["public_address"] == "北辰西路*号"
    assert "王小明" not in body["public_description"] and "13912345678" not in body["public_description"]
    # The same text again changes nothing: one publish in the history.
    assert client.post(url, {}, content_type="application/json").status_code == 200
    assert waiting.events.filter(action="publish").count() == 1
    withdraw = client.post(
        f"/api/v1/grievances/{waiting.pk}/unpublish/", {"reason": ""}, content_type="application/json"
    )
    assert withdraw.status_code == 400 and withdraw.json()["error"]["code"]
    assert Grievance.objects.get(pk=waiting.pk).published_at is not None
