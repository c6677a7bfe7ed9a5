"""Human names and links for the references rows store as text ("arbitration.ruling:1", "demo:<source>").

Core knows nothing of rulings or grievances (the dependency runs from the domain apps to core, never back),
yet every page must show a stored reference as a name a person reads, linked to its page. So the app that
owns a kind of reference registers a resolver for its prefix in its labels.py (core.apps discovers it),
and templates ask ``{% reference ref %}`` (core.templatetags.zhize). Links are built with ``reverse()`` at
display time, so a moved URL never leaves a stale link behind in a stored row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Reference:
    label: str  # e.g. "裁决 #2：共享单车乱停放管理"
    url: str = ""  # empty when there is no page, or this user may not open it


# (what follows the prefix, the user looking) → the reference, or None when it names nothing
Resolver = Callable[[str, Any], Reference | None]

_resolvers: dict[str, Resolver] = {}


def register(prefix: str, resolver: Resolver) -> None:
    _resolvers[prefix] = resolver


def describe(ref: str, user: Any) -> Reference | None:
    """The human name (and link) of ``ref`` for ``user``; None for references no app resolves."""
    # Longest prefix first, so "duty_lists.amendment:" is not swallowed by a shorter "duty_lists." one.
    for prefix in sorted(_resolvers, key=len, reverse=True):
        if ref.startswith(prefix):
            return _resolvers[prefix](ref.removeprefix(prefix), user)
    return None


def _demo(source: str, user: Any) -> Reference:
    return Reference(_("Demo data (%(source)s)") % {"source": source})


def _import(file_name: str, user: Any) -> Reference:
    return Reference(_("Imported from %(file)s") % {"file": file_name})


# Kinds no domain app owns: the demo loader and the spreadsheet import write these.
register("demo:", _demo)
register("import:", _import)
