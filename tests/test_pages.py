"""The browser shell: pages in Simplified Chinese by default, English on request, navigation by role."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from core.models import Heartbeat
from tests.factories import AgencyFactory


@pytest.mark.django_db
def test_home_is_chinese_even_for_an_english_browser(client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "登录" in html  # "Sign in", from the zh_Hans catalogue


@pytest.mark.django_db
def test_language_switch_sets_english_and_back(client) -> None:
    response = client.post(reverse("set_language"), {"language": "en", "next": "/agencies/"})
    assert response.status_code == 302 and response["Location"] == "/agencies/"
    html = client.get("/agencies/").content.decode()
    assert '<html lang="en">' in html and "Sign in" in html
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert '<html lang="zh-hans">' in client.get("/").content.decode()


@pytest.mark.django_db
def test_signed_in_home_lists_the_persons_roles(login, member_a) -> None:
    html = login(member_a).get("/").content.decode()
    assert "区综合执法局" in html
    assert "部门工作人员" in html  # the role "Agency staff", in Chinese


@pytest.mark.django_db
def test_each_card_on_the_home_page_says_what_the_page_is_for(login, member_a) -> None:
    response = login(member_a).get("/")
    cards = [item for item in response.context["nav_items"] if item.url != "/"]
    assert {item.url for item in cards} >= {
        "/rulings/",
        "/grievances/handovers/",
        "/grievances/inbox/",
        "/duty-lists/search/",  # search had no way in but a typed address
    }
    html = response.content.decode()
    for item in cards:
        assert item.about, item.label  # no card without its line
        assert item.about in html
    assert "派给本单位的工单：签收，或依据清单退单。" in html  # in Chinese, as the page is


NAVIGATION = [
    ("member_a", False, False),
    ("auditor", True, True),
    ("sysadmin", True, False),
    ("officer", True, False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "sees_admin", "sees_audit"), NAVIGATION)
def test_navigation_follows_the_role(request, login, persona: str, sees_admin: bool, sees_audit: bool):
    html = login(request.getfixturevalue(persona)).get("/").content.decode()
    assert (reverse("admin:index") in html) is sees_admin
    assert (reverse("admin:core_auditentry_changelist") in html) is sees_audit


@pytest.mark.django_db
def test_agency_directory_is_public_and_filters(client) -> None:
    AgencyFactory(code="S01", name="北辰街道办事处", level="street")
    AgencyFactory(code="D01", name="区住建局", level="district")
    html = client.get("/agencies/", {"level": "street"}).content.decode()
    assert "北辰街道办事处" in html and "区住建局" not in html


@pytest.mark.django_db
def test_agency_directory_reports_a_bad_filter_instead_of_failing(client) -> None:
    response = client.get("/agencies/", {"level": "galaxy"})
    assert response.status_code == 200
    assert response.context["filter"].errors


@pytest.mark.django_db
def test_unknown_page_is_a_friendly_404(client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert '<html lang="zh-hans">' in response.content.decode()


@pytest.mark.django_db
def test_password_change_needs_a_signed_in_user(client) -> None:
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_healthz_reports_database_and_worker_freshness(client) -> None:
    assert client.get("/healthz").json()["worker"] == "unknown"
    from django.utils import timezone

    Heartbeat.objects.create(component="worker", seen_at=timezone.now())
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["worker"] == "ok"


@pytest.mark.django_db
def test_static_css_is_ours_and_served(client) -> None:
    css = (settings.BASE_DIR / "static" / "css" / "zhize.css").read_text(encoding="utf-8")
    assert "http://" not in css and "https://" not in css  # no CDN, no remote fonts
    assert Client().get("/").content.decode().count("css/zhize.css") == 1
