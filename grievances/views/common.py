"""What the grievance pages share: reaching a grievance (or a 404), who may do what (or a 403), service
errors onto forms, deadline countdowns, and the router's matched words highlighted."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from arbitration.views.common import Countdown, refuse_if_forbidden
from core.errors import ApplicationError
from core.workdays import SHANGHAI, working_days_between
from duty_lists import permissions
from duty_lists.models import Agency, AgencyLevel, Role
from grievances import selectors
from grievances.models import Grievance, OrderState, WorkOrder

FIGURES_ROLES = frozenset({Role.DISPATCHER, Role.EDITORIAL_OFFICER, Role.LEADER, Role.AUDITOR})
STREET_LEVELS = (AgencyLevel.STREET, AgencyLevel.COMMUNITY)

EVENT_LABELS = {
    "receive": gettext_lazy("Received"),
    "route": gettext_lazy("Routed by the duty list"),
    "dispatch": gettext_lazy("Dispatched"),
    "reroute": gettext_lazy("Re-routed by a new edition of the list"),
    "rescore": gettext_lazy("Suggestions updated for a new edition of the list"),
    "accept": gettext_lazy("Accepted"),
    "accept_cooperation": gettext_lazy("Accepted its cooperating part"),
    "return": gettext_lazy("Returned: not this agency's"),
    "answer": gettext_lazy("Answered its cooperating part"),
    "progress": gettext_lazy("Handling started"),
    "resolve": gettext_lazy("Resolved"),
    "reopen": gettext_lazy("Reopened: the citizen asks for it to be redone"),
    "close": gettext_lazy("Closed"),
    "cancel": gettext_lazy("Cancelled"),
    "dispute_filed": gettext_lazy("A responsibility dispute was filed"),
    "publish": gettext_lazy("Published on Open311"),
    "unpublish": gettext_lazy("Withdrawn from Open311"),
}


def event_label(action: str) -> str:
    return str(EVENT_LABELS.get(action, action))


def returned_agency_ids(grievance: Grievance) -> frozenset[int]:
    """The agencies that already sent this grievance back: never its one-click choice."""
    return frozenset(grievance.orders.filter(state=OrderState.RETURNED).values_list("agency_id", flat=True))


# --- Who may see and do what --------------------------------------------------------------------------------


def is_dispatcher(user: Any) -> bool:
    return bool(user.is_superuser or permissions.is_dispatcher(user))


def require_dispatcher(user: Any) -> None:
    if not is_dispatcher(user):
        raise PermissionDenied(_("Only hotline dispatchers do this."))


def may_see_figures(user: Any) -> bool:
    return bool(user.is_superuser or permissions.has_any_role(user, FIGURES_ROLES))


def is_agency_staff(user: Any) -> bool:
    return bool(user.is_superuser or permissions.agencies_of(user))


def visible_grievances(user: Any) -> QuerySet[Grievance]:
    return selectors.grievances_visible_to(user)


def visible_grievance(request: HttpRequest, pk: int) -> Grievance:
    """The grievance with its work orders, if this person may see it; else 404 (not 403: the URL must not
    confirm that the grievance exists)."""
    orders = WorkOrder.objects.select_related("agency", "cited_duty", "cited_agency").order_by(
        "round", "role", "id"
    )
    try:
        return (
            visible_grievances(request.user)
            .select_related("dispute")
            .prefetch_related(Prefetch("orders", queryset=orders))
            .get(pk=pk)
        )
    except Grievance.DoesNotExist:
        raise Http404("no such grievance") from None


def visible_order(request: HttpRequest, pk: int) -> WorkOrder:
    """A work order of a grievance this person may see (404 otherwise). Whether they may act on it is the
    caller's next question."""
    visible = visible_grievances(request.user).values("pk")
    order = (
        WorkOrder.objects.select_related("grievance", "grievance__street", "agency")
        .filter(pk=pk, grievance_id__in=visible)
        .first()
    )
    if order is None:
        raise Http404("no such work order")
    return order


def acts_for(user: Any, agency_id: int | None) -> bool:
    return bool(
        agency_id is not None and (user.is_superuser or permissions.may_act_for_agency(user, agency_id))
    )


def street_agencies_of(user: Any) -> list[Agency]:
    """The streets (and communities) this person is staff of: whose whistle they may blow."""
    agencies = Agency.objects.filter(level__in=STREET_LEVELS, is_active=True).order_by("code")
    if user.is_superuser:
        return list(agencies)
    return list(agencies.filter(pk__in=permissions.agencies_of(user)))


def active_agencies() -> list[Agency]:
    rank = {level: index for index, level in enumerate(AgencyLevel.values)}
    agencies = Agency.objects.filter(is_active=True).order_by("code")
    return sorted(agencies, key=lambda a: rank.get(a.level, len(rank)))


# --- Service errors in the page -----------------------------------------------------------------------------

# Refusals the person must read before anything else, shown in the form they submitted rather than as one
# message among others at the top of a long page.
SHOWN_IN_FORM = frozenset({"first_asked_responsibility"})


def put_errors(form: Form, error: ApplicationError, rename: dict[str, str] | None = None) -> bool:
    """The service's field errors onto the form's fields; True when at least one found its field."""
    placed = False
    for key, value in error.extra.items():
        name = (rename or {}).get(key, key)
        if name not in form.fields:
            continue
        for message in value if isinstance(value, list) else [value]:
            form.add_error(name, str(message))
        placed = True
    return placed


def show_refusal(form: Form, error: ApplicationError) -> None:
    """A service's refusal of a new record, onto the form it came from: the message above the form and the
    field errors beside their fields (a PermissionRefused is the browser's 403 instead)."""
    refuse_if_forbidden(error)
    form.add_error(None, error.message)
    put_errors(form, error)


def fix_or_report(
    request: HttpRequest,
    error: ApplicationError,
    form: Form,
    rerender: Callable[[int], HttpResponse],
    back: str,
    rename: dict[str, str] | None = None,
) -> HttpResponse:
    """Errors the person can fix go back onto the form (400); a refusal of the whole step that the form
    must explain stays in the form too (409); anything else — the grievance moved on meanwhile — is a
    message above the page they are sent back to. A PermissionRefused is the browser's 403."""
    refuse_if_forbidden(error)
    if put_errors(form, error, rename):
        form.add_error(None, error.message)
        return rerender(400)
    if error.code in SHOWN_IN_FORM:
        form.add_error(None, error.message)
        return rerender(409)
    messages.error(request, error.message)
    return redirect(back)


# --- Deadlines ----------------------------------------------------------------------------------------------


class Clock:
    """Countdowns against one "now". Working days between two calendar days are asked of the calendar once
    per pair of days: a queue of fifty grievances due on a handful of days asks a handful of times."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self._days: dict[tuple[date, date], int] = {}

    def _working_days(self, a: datetime, b: datetime) -> int:
        key = (a.astimezone(SHANGHAI).date(), b.astimezone(SHANGHAI).date())
        if key not in self._days:
            self._days[key] = working_days_between(a, b)
        return self._days[key]

    def of(self, deadline: datetime | None, *, running: bool = True) -> Countdown:
        if deadline is None or not running:
            return Countdown("none", "", None)
        seconds = (deadline - self.now).total_seconds()
        if seconds < 0:
            local = timezone.localtime(deadline)
            return Countdown(
                "overdue", _("Overdue since %(time)s") % {"time": f"{local:%m-%d %H:%M}"}, deadline
            )
        if seconds < 3600:
            n = max(math.ceil(seconds / 60), 1)
            return Countdown(
                "soon", ngettext("%(n)d minute left", "%(n)d minutes left", n) % {"n": n}, deadline
            )
        if seconds < 24 * 3600:
            n = math.floor(seconds / 3600)
            return Countdown("soon", ngettext("%(n)d hour left", "%(n)d hours left", n) % {"n": n}, deadline)
        n = self._working_days(self.now, deadline)
        if n <= 0:
            local = timezone.localtime(deadline)
            return Countdown("soon", _("Due %(time)s") % {"time": f"{local:%m-%d %H:%M}"}, deadline)
        text = ngettext("%(n)d working day left", "%(n)d working days left", n) % {"n": n}
        return Countdown("soon" if n <= 1 else "ok", text, deadline)


# --- The router's explanation -------------------------------------------------------------------------------


def highlight(text: str, words: Iterable[str]) -> SafeString:
    """``text`` escaped, with each of ``words`` marked: the dispatcher sees which of the citizen's words
    matched the duty. Longer words first, so 流动摊贩 wins over 摊贩."""
    wanted = sorted({w for w in words if w}, key=len, reverse=True)
    if not wanted or not text:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in wanted))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[position : match.start()])))
        out.append(f'<mark class="match">{escape(match.group(0))}</mark>')
        position = match.end()
    out.append(str(escape(text[position:])))
    return mark_safe("".join(out))  # noqa: S308 — every piece above is escaped


def percent(confidence: Any) -> int:
    try:
        # Down, not to the nearest: a 99.7% guess must not read as certain.
        return math.floor(float(confidence) * 100)
    except (TypeError, ValueError):
        return 0
