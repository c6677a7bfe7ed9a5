"""Where apps above duty_lists add to its pages without duty_lists importing them (grievances → duty_lists):
each hook is a function an app appends in its AppConfig.ready."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (user, amendment) → (label, url) of an extra action on the amendment's page, or None.
AmendmentAction = Callable[[Any, Any], tuple[str, str] | None]
amendment_actions: list[AmendmentAction] = []


def actions_for_amendment(user: Any, amendment: Any) -> list[tuple[str, str]]:
    return [action for hook in amendment_actions if (action := hook(user, amendment)) is not None]
