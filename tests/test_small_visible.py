"""Small things a user sees at once: the favicon, the Excel export buttons of the duty-list pages, and the
citizen's timeline telling a second dispatch from the first.

Through real URLs, as the pages are used. The clients speak English (the language cookie) where the
assertions read msgids; the one check of "已派单" reads the Chinese page, as the user reported it.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from core.actors import SYSTEM
from duty_lists.exporting import HEADERS
from duty_lists.models import Agency, DutyList, Edition
from grievances.models import Grievance, OrderRole, WorkOrder
from grievances.services import (
    grievance_dispatch,
    grievance_feedback,
    grievance_receive,
    grievance_resolve,
    order_accept,
    order_return,
)
from tests.grievance_helpers import World, build_world
from tests.registry import make_list, publish, stage

SHANGHAI = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_LINK = re.compile(r'<a [^>]*href="([^"]+)"[^>]*data-testid="export-xlsx"[^>]*>([^<]+)</a>')


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def text_of(response: Any) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- The favicon ------------------------------------------------------------------------------------------


def test_the_mark_is_our_own_svg_and_the_staticfiles_finders_find_it() -> None:
    found = finders.find("img/favicon.svg")
    assert found is not None
    source = Path(found).read_text(encoding="utf-8")
    root = ET.fromstring(source)  # noqa: S314 (our own file)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 32 32"
    # Drawn here: no embedded image, no remote font or file, no text that needs a font to render.
    assert "http" not in source.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in {"image", "text", "use", "style"}]


@pytest.mark.django_db
def test_every_page_links_the_icon_and_favicon_ico_leads_to_it(settings: Any) -> None:
    # WhiteNoise serves static files in front of Django, from the finders only when asked to (DEBUG, or
    # collectstatic's output in production); a fresh client builds the middleware with these settings.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client = Client()
    icon = static("img/favicon.svg")
    for url in ("/", reverse("agency_list"), reverse("duty_lists:index"), "/no-such-page/"):
        page = client.get(url)
        assert f'<link rel="icon" href="{icon}" type="image/svg+xml">' in page.content.decode(), url

    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 302 and favicon["Location"] == icon
    assert "max-age=86400" in favicon["Cache-Control"]
    assert client.head("/favicon.ico").status_code == 302
    assert client.post("/favicon.ico").status_code == 405

    served = client.get(icon)
    assert served.status_code == 200 and served["Content-Type"].startswith("image/svg+xml")
    assert served.getvalue().startswith(b"<svg")


# --- The Excel export of the duty-list pages ----------------------------------------------------------------


def workbook_rows(response: Any) -> list[list[Any]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == XLSX and "attachment" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADERS  # the import template's columns: the file re-imports
    return rows[1:]


def by_code(rows: list[list[Any]]) -> dict[str, dict[str, Any]]:
    return {row[HEADERS.index("事项编码")]: dict(zip(HEADERS, row, strict=True)) for row in rows}


def export_link(page: Any) -> str:
    assert page.status_code == 200
    found = EXPORT_LINK.findall(page.content.decode())
    assert len(found) == 1, found
    href, label = found[0]
    assert label.strip() == "Export to Excel"
    return unescape(href)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=SHANGHAI)


@pytest.fixture
def duty_list(agency_a: Agency, agency_b: Agency) -> DutyList:
    """Edition 1 on 2026-01-10: 占道经营 (A) and 噪音扰民 (B). Edition 2 on 2026-03-01 renames 占道经营 and
    adds 油烟扰民 (B). Then 渣土乱倒 (A) is staged and not published."""
    duty_list = make_list("ms")
    with time_machine.travel(at("2026-01-10"), tick=False):
        stage(duty_list, "01-01-0001", "占道经营", agency_a)
        stage(duty_list, "02-01-0001", "噪音扰民", agency_b, classification="02-01")
        publish(duty_list)
    with time_machine.travel(at("2026-03-01"), tick=False):
        stage(duty_list, "01-01-0001", "占道经营查处", agency_a)
        stage(duty_list, "02-01-0002", "油烟扰民", agency_b, classification="02-01")
        publish(duty_list)
    stage(duty_list, "01-01-0003", "渣土乱倒", agency_a)  # pending: public nowhere yet
    return duty_list


@pytest.mark.django_db
def test_the_list_page_exports_what_its_filters_show(
    duty_list: DutyList, agency_b: Agency, member_a: Any, login: Callable[[Any], Client]
) -> None:
    client = english(login(member_a))
    url = reverse("duty_lists:list_detail", kwargs={"code": duty_list.code})

    everything = by_code(workbook_rows(client.get(export_link(client.get(url)))))
    assert sorted(everything) == ["01-01-0001", "02-01-0001", "02-01-0002"]  # in force; nothing pending
    assert everything["01-01-0001"]["工作职责"] == "占道经营查处"
    assert everything["01-01-0001"]["主办单位编码"] == "A-zhzf"

    filtered = client.get(url, {"agency": agency_b.code, "duty_type": "main"})
    href = export_link(filtered)
    assert f"agency={agency_b.code}" in href and "duty_type=main" in href
    assert sorted(by_code(workbook_rows(client.get(href)))) == ["02-01-0001", "02-01-0002"]

    searched = export_link(client.get(url, {"q": "油烟"}))
    assert sorted(by_code(workbook_rows(client.get(searched)))) == ["02-01-0002"]

    # As of a date before edition 2: the old title, and not what edition 2 added.
    back_then = by_code(workbook_rows(client.get(export_link(client.get(url, {"as_of": "2026-02-01"})))))
    assert sorted(back_then) == ["01-01-0001", "02-01-0001"]
    assert back_then["01-01-0001"]["工作职责"] == "占道经营"


@pytest.mark.django_db
def test_an_edition_page_exports_the_list_as_that_edition_published_it(
    duty_list: DutyList, member_b: Any, login: Callable[[Any], Client]
) -> None:
    client = english(login(member_b))
    first, second = Edition.objects.filter(duty_list=duty_list).order_by("number")

    def exported(edition: Edition) -> dict[str, dict[str, Any]]:
        page = client.get(
            reverse("duty_lists:edition_detail", kwargs={"code": duty_list.code, "number": edition.number})
        )
        return by_code(workbook_rows(client.get(export_link(page))))

    one = exported(first)
    assert sorted(one) == ["01-01-0001", "02-01-0001"] and one["01-01-0001"]["工作职责"] == "占道经营"
    two = exported(second)
    assert sorted(two) == ["01-01-0001", "02-01-0001", "02-01-0002"]
    assert two["01-01-0001"]["工作职责"] == "占道经营查处"


@pytest.mark.django_db
def test_the_search_page_exports_one_lists_results(
    duty_list: DutyList, member_a: Any, login: Callable[[Any], Client]
) -> None:
    client = english(login(member_a))
    search = reverse("duty_lists:search")
    # Across every list there is no export: the file's columns name no list.
    assert 'data-testid="export-xlsx"' not in client.get(search, {"q": "扰民"}).content.decode()
    href = export_link(client.get(search, {"q": "扰民", "list": duty_list.code}))
    assert sorted(by_code(workbook_rows(client.get(href)))) == ["02-01-0001", "02-01-0002"]


@pytest.mark.django_db
def test_the_export_gives_anyone_the_published_list_and_nobody_what_is_pending(
    duty_list: DutyList, officer: Any, login: Callable[[Any], Client]
) -> None:
    """The published list is public (DESIGN.md §6), so a visitor who is not signed in gets the file the
    page shows them; what is staged but unpublished is public nowhere, not even in an officer's export."""
    visitor = english(Client())
    href = export_link(visitor.get(reverse("duty_lists:list_detail", kwargs={"code": duty_list.code})))
    assert "01-01-0003" not in by_code(workbook_rows(visitor.get(href)))
    officers = english(login(officer))
    assert "01-01-0003" not in by_code(workbook_rows(officers.get(href)))


@pytest.mark.django_db
def test_a_list_with_nothing_published_offers_no_export(agency_a: Agency) -> None:
    duty_list = make_list("empty")
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    page = english(Client()).get(reverse("duty_lists:list_detail", kwargs={"code": duty_list.code}))
    assert page.status_code == 200 and 'data-testid="export-xlsx"' not in page.content.decode()


# --- The citizen's timeline ---------------------------------------------------------------------------------


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def dispatched(dispatcher: Any, world: World, agency: Agency) -> Grievance:
    grievance, _created = grievance_receive(
        actor=dispatcher,
        title="小区门口有流动摊贩占道经营",
        details="每天晚上摆摊",
        street=world.street,
        contact_name="张三",
        route=False,  # not routed at intake: the router would dispatch it by itself
    )
    return grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency, note="请尽快处理")


def lead_order(grievance: Grievance) -> WorkOrder:
    order = grievance.orders.filter(role=OrderRole.LEAD).order_by("-round").first()
    assert order is not None
    return order


def timeline(grievance: Grievance, *, language: str = "en") -> tuple[list[tuple[str, str, str]], str]:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(reverse("grievances:citizen", kwargs={"token": grievance.token}))
    assert page.status_code == 200
    steps = [(step.label, step.agency, step.note) for step in page.context["steps"]]
    assert len(set(steps)) == len(steps), steps  # no two rows alike
    return steps, text_of(page)


@pytest.mark.django_db
def test_a_grievance_dispatched_once_says_so_once(dispatcher: Any, world: World, agency_a: Agency) -> None:
    grievance = dispatched(dispatcher, world, agency_a)
    steps, text = timeline(grievance)
    assert [(label, agency) for label, agency, _note in steps] == [
        ("Received", ""),
        ("Sent to an agency for handling", "区综合执法局"),
    ]
    assert text.count("Dispatched") == 1  # the state box; the row says where it went
    assert timeline(grievance, language="zh-hans")[1].count("已派单") == 1


@pytest.mark.django_db
def test_a_grievance_sent_back_and_passed_on_shows_each_dispatch_explained(
    dispatcher: Any, world: World, agency_a: Agency, agency_b: Agency, member_a: Any, member_b: Any
) -> None:
    grievance = dispatched(dispatcher, world, agency_a)
    order_return(actor=member_a, order=lead_order(grievance), reason="油烟归市监局", cited_duty=world.noise)
    grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_b)

    steps, text = timeline(grievance)
    assert [(label, agency) for label, agency, _note in steps] == [
        ("Received", ""),
        ("Sent to an agency for handling", "区综合执法局"),
        ("Dispatched again", "区市监局"),
    ]
    assert "sent it back; it has been passed to another agency" in steps[2][2]
    assert "sent it back; it has been passed to another agency" in text
    # Nothing internal: not the return's reason, the dispatcher's note, a person, or the citizen's name.
    for private in ("油烟归市监局", "请尽快处理", "member_a", "dispatcher", "张三"):
        assert private not in text, private

    # Sent back once more and passed on a third time: that row is told from the second one too.
    order_return(actor=member_b, order=lead_order(grievance), reason="摆摊归执法局", cited_duty=world.vending)
    grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a)
    labels = [label for label, _agency, _note in timeline(grievance)[0]]
    assert labels[-2:] == ["Dispatched again", "Dispatched again (dispatch 3)"]


@pytest.mark.django_db
def test_a_grievance_redone_at_the_citizens_request_says_why_it_went_out_again(
    dispatcher: Any, world: World, agency_a: Agency, member_a: Any
) -> None:
    grievance = dispatched(dispatcher, world, agency_a)
    order_accept(actor=member_a, order=lead_order(grievance))
    grievance_resolve(actor=member_a, grievance=grievance, resolution="摊点已清理")
    grievance_feedback(actor=SYSTEM, grievance=grievance, rating=1, reopen=True, via="citizen_link")
    grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a)

    steps, _text = timeline(grievance)
    dispatches = [(label, note) for label, _agency, note in steps if label.startswith(("Sent", "Dispatched"))]
    assert [label for label, _note in dispatches] == [
        "Sent to an agency for handling",
        "Dispatched again to be redone",
    ]
    assert dispatches[1][1].startswith("You asked for it to be handled again")
