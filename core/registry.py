"""What core shows and checks on behalf of the domain apps, which register it here.

The direction of dependence is grievances → arbitration → duty_lists → core (shared/DESIGN.md): core
imports no domain app. What the shared layout, the admin, the home page and ``runstack`` need of them —
who holds which role, the navigation, the inbox count, the demo logins — each app registers from its
``AppConfig.ready()``. Until an app has registered, core behaves as if it were not installed: no roles, no
entries, nothing to show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.http import HttpRequest
from django.urls import reverse

# The administrative roles core's own pages and services check. The roles themselves, and who holds them,
# belong to duty_lists (memberships of agencies); these are their codes (tests/test_architecture.py holds
# them to duty_lists.models.Role).
SYSTEM_ADMIN = "system_admin"
SECURITY_ADMIN = "security_admin"
AUDITOR = "auditor"


class NavItem(NamedTuple):
    label: str
    url: str
    about: str = ""  # one line on the home page's card


@dataclass(frozen=True)
class Entry:
    """A page in the navigation, shown to whoever ``shown_to(user)`` admits (superusers see every page)."""

    label: Any  # lazily translated
    url_name: str
    about: Any
    shown_to: Callable[[Any], bool] = lambda user: True

    def for_user(self, user: Any) -> NavItem | None:
        if not (getattr(user, "is_superuser", False) or self.shown_to(user)):
            return None
        return NavItem(str(self.label), reverse(self.url_name), str(self.about))


def entries_for(entries: Iterable[Entry], user: Any) -> list[NavItem]:
    return [item for entry in entries if (item := entry.for_user(user)) is not None]


@dataclass(frozen=True)
class Access:
    """Who holds which role, from the app that keeps memberships (duty_lists)."""

    roles_of: Callable[[Any], set[str]]
    role_label: Callable[[str], str]
    may_use_admin_site: Callable[[Any], bool]
    memberships_of: Callable[[Any], Iterable[Any]]


_NO_ACCESS = Access(
    roles_of=lambda user: set(),
    role_label=str,
    may_use_admin_site=lambda user: bool(getattr(user, "is_superuser", False) and user.is_active),
    memberships_of=lambda user: [],
)
_access: Access = _NO_ACCESS
_navigation: list[tuple[int, Callable[[Any], list[NavItem]]]] = []
_layout: list[Callable[[HttpRequest], dict[str, Any]]] = []
_banner: list[Callable[[], list[str]]] = []


def register_access(access: Access) -> None:
    global _access
    _access = access


def access() -> Access:
    return _access


def has_any_role(user: Any, roles: Iterable[str]) -> bool:
    return bool(_access.roles_of(user) & set(roles))


def register_navigation(order: int, entries: Callable[[Any], list[NavItem]]) -> None:
    """``entries(user)``: the pages of an app this person may use. Apps appear by ``order``."""
    if all(existing is not entries for _order, existing in _navigation):
        _navigation.append((order, entries))
        _navigation.sort(key=lambda pair: pair[0])


def navigation(user: Any) -> list[NavItem]:
    return [item for _order, entries in _navigation for item in entries(user)]


def register_layout(context: Callable[[HttpRequest], dict[str, Any]]) -> None:
    """``context(request)``: what an app adds to every page's layout (arbitration: the inbox count)."""
    if context not in _layout:
        _layout.append(context)


def layout(request: HttpRequest) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for context in _layout:
        values.update(context(request))
    return values


def register_banner(lines: Callable[[], list[str]]) -> None:
    """``lines()``: what ``runstack`` prints about an app's demo data once the site answers."""
    if lines not in _banner:
        _banner.append(lines)


def banner() -> list[str]:
    return [line for lines in _banner for line in lines()]
