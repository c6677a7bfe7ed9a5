"""Personas and the rules for tests that need real services.

Tests marked ``postgres``, ``redis`` or ``browser`` need PostgreSQL, a Redis server or Debian's Chromium.
Where one is missing they are skipped and listed at the end of the run with the reason — except under CI
(``CI`` set), where a missing service fails them and any skipped test fails the run: CI must run everything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

from duty_lists.models import Agency, Role
from tests.factories import PASSWORD, AgencyFactory, MembershipFactory, UserFactory

pytest_plugins = ["tests.browser"]  # the browser fixtures: browser, page, demo_officer

CHROMIUM = os.environ.get("ZHIZE_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_skipped: list[str] = []


def _missing(marker: str) -> str | None:
    if marker == "postgres" and settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "PostgreSQL is not reachable (set DATABASE_URL or start it on 127.0.0.1:5432)"
    if marker == "redis" and not settings.REDIS_URL:
        return "Redis is not reachable (set REDIS_URL or start it on 127.0.0.1:6379)"
    if marker == "browser" and not shutil.which(CHROMIUM):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis", "browser"):
        if item.get_closest_marker(marker) and (reason := _missing(marker)):
            if IN_CI:
                pytest.fail(f"CI runs every test, but {reason}.", pytrace=False)
            pytest.skip(reason)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(
            f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''}"
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.section("tests not run")
        for line in _skipped:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations() -> None:
    call_command("compile_translations", verbosity=0)


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- Personas ----------------------------------------------------------------------------------------------


@pytest.fixture
def agency_a(db: None) -> Any:
    return AgencyFactory(code="A-zhzf", name="区综合执法局")


@pytest.fixture
def agency_b(db: None) -> Any:
    return AgencyFactory(code="B-sjj", name="区市监局")


@pytest.fixture
def editorial_office(db: None) -> Any:
    return AgencyFactory(code="E-bb", name="区委编办", kind="editorial_office")


def _person(username: str, agency: Agency, role: str) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(user=user, agency=agency, role=role)
    return user


@pytest.fixture
def member_a(agency_a: Agency) -> Any:
    """Staff of agency A."""
    return _person("member_a", agency_a, Role.AGENCY_STAFF)


@pytest.fixture
def member_b(agency_b: Agency) -> Any:
    """Staff of agency B: the outsider to everything of agency A."""
    return _person("member_b", agency_b, Role.AGENCY_STAFF)


@pytest.fixture
def officer(editorial_office: Agency) -> Any:
    return _person("officer", editorial_office, Role.EDITORIAL_OFFICER)


@pytest.fixture
def leader(editorial_office: Agency) -> Any:
    return _person("leader", editorial_office, Role.LEADER)


@pytest.fixture
def legal_reviewer(agency_b: Agency) -> Any:
    return _person("legal", agency_b, Role.LEGAL_REVIEWER)


@pytest.fixture
def dispatcher(editorial_office: Agency) -> Any:
    return _person("dispatcher", editorial_office, Role.DISPATCHER)


@pytest.fixture
def auditor(editorial_office: Agency) -> Any:
    return _person("auditor", editorial_office, Role.AUDITOR)


@pytest.fixture
def sysadmin(editorial_office: Agency) -> Any:
    return _person("sysadmin", editorial_office, Role.SYSTEM_ADMIN)


@pytest.fixture
def secadmin(editorial_office: Agency) -> Any:
    return _person("secadmin", editorial_office, Role.SECURITY_ADMIN)


@pytest.fixture
def login() -> Callable[[Any], Client]:
    """A browser-like client signed in as the given user (through a real session)."""

    def _login(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def english(login: Callable[[Any], Client]) -> Callable[[Any], Client]:
    """As ``login``, with the language cookie set to English (the pages are Chinese first)."""

    def _login(user: Any) -> Client:
        client = login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return _login


@pytest.fixture
def password() -> str:
    return PASSWORD
