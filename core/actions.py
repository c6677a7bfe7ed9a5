"""Translated labels for the dotted action codes of the audit log ("core.auth.login" → "登录").

The codes stay in English in the rows (they are an API for tooling and for ``verify_audit``); people read
labels. Each app registers the labels of its own codes from its labels.py (found by core's ready), as core
does below for its own, so core never has to know the domain apps' codes.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_labels: dict[str, Promise | str] = {}
# "arbitration.dispute." → (what follows → label or None): families whose last part is a timeline action,
# labelled by the app's own timeline table rather than repeated here.
_families: dict[str, Callable[[str], Promise | str | None]] = {}


def register(labels: dict[str, Promise | str]) -> None:
    _labels.update(labels)


def register_family(prefix: str, label_of: Callable[[str], Promise | str | None]) -> None:
    _families[prefix] = label_of


def action_label(code: str) -> str:
    """The label of ``code``; an unknown code is shown as it is rather than hidden."""
    label = _labels.get(code)
    if label is None:
        for prefix, label_of in _families.items():
            if code.startswith(prefix):
                label = label_of(code.removeprefix(prefix))
                break
    return str(label) if label is not None else code


register(
    {
        "core.access.refused": _("Access refused"),
        "core.audit.chain_broken": _("Audit chain found broken"),
        "core.auth.locked_out": _("Account locked out"),
        "core.auth.lockout_lifted": _("Lockout lifted"),
        "core.auth.login": _("Signed in"),
        "core.auth.login_failed": _("Sign-in failed"),
        "core.auth.logout": _("Signed out"),
        "core.calendar.override_removed": _("Calendar override removed"),
        "core.calendar.override_set": _("Calendar override set"),
        "core.user.activated": _("Account activated"),
        "core.user.created": _("Account created"),
        "core.user.deactivated": _("Account deactivated"),
    }
)
