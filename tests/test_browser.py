"""The browser shell in a real headless Chromium: sign in, switch language, sign out.

Uses Debian's Chromium (/usr/bin/chromium) through Playwright's sync API; `playwright install` is never
needed. Screenshots of the main pages are saved under var/screenshots/ for people to look at.
"""

from __future__ import annotations

from typing import Any

import pytest

from duty_lists.demo import DEMO_PASSWORD
from tests.browser import OFFICER, screenshot

pytestmark = pytest.mark.browser


def html_lang(page: Any) -> str:
    return page.evaluate("document.documentElement.lang")


def sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_officer_signs_in_and_sees_a_chinese_home_page(
    page: Any, live_server: Any, demo_officer: Any
) -> None:
    base = live_server.url
    page.goto(f"{base}/")
    assert html_lang(page) == "zh-hans"
    assert page.locator("a[href^='/accounts/login/']").first.is_visible()
    screenshot(page, "home-anonymous.png")

    page.goto(f"{base}/accounts/login/")
    assert html_lang(page) == "zh-hans"
    assert page.evaluate("document.activeElement.name") == "username"  # autofocus
    screenshot(page, "login.png")

    page.fill("input[name=username]", OFFICER[0])
    page.fill("input[name=password]", "not-the-password")
    page.click("form.form button[type=submit]")
    assert page.locator(".form-errors").is_visible()
    assert page.input_value("input[name=username]") == OFFICER[0]
    screenshot(page, "login-error.png")

    sign_in(page, base, OFFICER[0])
    assert html_lang(page) == "zh-hans"
    assert page.get_by_test_id("user-name").inner_text() == OFFICER[1]
    assert page.locator("h1").inner_text().count(OFFICER[1]) == 1
    assert page.locator("main table td code").first.inner_text() == "511602-bb"
    assert page.locator("nav.site-nav a[aria-current=page]").get_attribute("href") == "/"
    # needs the zh_Hans catalogue: "Home" in the navigation reads 首页.
    assert "首页" in page.locator("nav.site-nav").inner_text()
    screenshot(page, "home.png")

    page.click("nav.site-nav a[href='/agencies/']")
    page.wait_for_url(f"{base}/agencies/")
    assert page.locator("main table tbody tr").count() >= 15  # the demo agencies
    assert page.locator("nav.site-nav a[aria-current=page]").get_attribute("href") == "/agencies/"
    screenshot(page, "agency-list.png")

    page.select_option("select[name=level]", "street")
    page.click("form.filter-bar button[type=submit]")
    page.wait_for_url("**/agencies/?*level=street*")
    assert page.locator("main table tbody tr").count() == 4  # the four demo streets

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the header wraps, tables scroll
    page.goto(f"{base}/")
    screenshot(page, "home-mobile.png")


def test_language_switch_changes_to_english_and_back(page: Any, live_server: Any, demo_officer: Any) -> None:
    base = live_server.url
    sign_in(page, base, OFFICER[0])
    page.goto(f"{base}/agencies/?level=district")

    page.click("form.lang-switch button[value=en]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.url == f"{base}/agencies/?level=district"  # back where the switch was pressed
    assert "Home" in page.locator("nav.site-nav").inner_text()  # English is the msgid: no catalogue needed
    assert page.locator("form.lang-switch button[value=en]").get_attribute("aria-current") == "true"
    screenshot(page, "agency-list-en.png")

    page.click("form.lang-switch button[value=zh-hans]")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert page.url == f"{base}/agencies/?level=district"
    assert page.locator("form.lang-switch button[value=zh-hans]").get_attribute("aria-current") == "true"


def test_sign_out_with_the_post_form(page: Any, live_server: Any, demo_officer: Any) -> None:
    base = live_server.url
    sign_in(page, base, OFFICER[0])
    assert page.get_by_test_id("user-name").is_visible()

    page.click("form.user-menu__logout button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert page.get_by_test_id("user-name").count() == 0
    assert page.locator("a[href^='/accounts/login/']").first.is_visible()

    page.goto(f"{base}/accounts/password/")  # signed out: the password page sends you to sign in
    assert page.url.startswith(f"{base}/accounts/login/")
