"""The actor for work nobody in particular asked for: demo loading, set-up commands, beat sweeps.

Services accept it wherever they accept a user; the audit log records it as ``system``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _


class SystemActor:
    pk = None
    id = None
    is_authenticated = False
    is_active = True
    is_superuser = True
    name = "system"

    def get_username(self) -> str:
        return "system"

    def __str__(self) -> str:
        return "system"


SYSTEM = SystemActor()


# user → the agency the person speaks for ("区城管局"), or ""; duty_lists registers it (memberships are its
# model, and core does not import domain apps).
_affiliation: list[Callable[[Any], str]] = []


def register_affiliation(resolve: Callable[[Any], str]) -> None:
    _affiliation[:] = [resolve]


def display_name(user: Any, fallback: str = "") -> str:
    """How a page names whoever did something: "职责系统（自动）" for the system, else the person's full name
    and agency ("王芳 · 区城管局"); the stored ``actor_repr`` when the account is gone."""
    if isinstance(user, SystemActor) or (user is None and fallback in ("", "system")):
        return _("zhize (automatic)")
    if user is None:
        return fallback
    name = getattr(user, "name", "") or user.get_username()
    agency = _affiliation[0](user) if _affiliation else ""
    return f"{name} · {agency}" if agency else name
