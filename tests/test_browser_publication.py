"""Publishing a grievance on Open311 in a real browser: the dispatcher opens the publication section, reads
the masked text zhize proposes, trims it and publishes; the public Open311 list then shows that text and
nothing of the citizen's. Screenshot: var/screenshots/grievances-publication.png."""

from __future__ import annotations

import json
from typing import Any

import pytest

from duty_lists.models import Agency
from grievances.models import Grievance
from grievances.services import grievance_receive
from tests.browser import screenshot
from tests.grievance_helpers import build_world
from tests.test_browser_grievances import sign_in

pytestmark = [pytest.mark.browser]


def test_a_dispatcher_publishes_the_masked_text_and_open311_shows_only_that(
    live_server: Any, page: Any, dispatcher: Any, agency_a: Agency, agency_b: Agency
) -> None:
    world = build_world(agency_a, agency_b)
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
    base = live_server.url
    anonymous = page.context.browser.new_context()
    public = anonymous.new_page()
    public.goto(f"{base}/open311/v2/requests.json")
    assert json.loads(public.inner_text("body")) == []

    sign_in(page, base, dispatcher)
    page.goto(f"{base}/grievances/{grievance.pk}/")
    page.click("#publication summary")
    proposal = page.input_value("#id_publish_description")
    assert "王小明" not in proposal and "13912345678" not in proposal and "302" not in proposal
    assert page.input_value("#id_publish_address") == "北辰西路*号"
    page.fill("#id_publish_description", "北辰西路楼下饭店油烟太大")
    screenshot(page, "grievances-publication.png")
    page.click("form[data-action=publish] button[type=submit]")
    page.wait_for_url(f"{base}/grievances/{grievance.pk}/#publication")
    assert Grievance.objects.get(pk=grievance.pk).published_at is not None

    public.goto(f"{base}/open311/v2/requests.json")
    [item] = json.loads(public.inner_text("body"))
    assert item["description"] == "北辰西路楼下饭店油烟太大" and item["address"] == "北辰西路*号"
    assert item["agency_responsible"] is None  # not dispatched yet
    anonymous.close()
