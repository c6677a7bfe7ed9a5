"""What the arbitration pages share: reaching a dispute (or a 404), refusing a step (403), the deadline
countdown, and names for the people and agencies a page mentions."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from arbitration import selectors
from arbitration.models import Dispute, DisputeParty, DisputeState, Urgency
from core import workdays
from core.errors import ApplicationError
from core.workdays import SHANGHAI, working_days_between
from duty_lists.models import Agency, AgencyLevel


def refuse_if_forbidden(error: ApplicationError) -> None:
    """A service's PermissionRefused is the browser's 403; every other refusal is shown in the page."""
    if error.status_code == 403:
        raise PermissionDenied(error.message) from error


def with_parties(disputes: QuerySet[Dispute]) -> QuerySet[Dispute]:
    return disputes.prefetch_related(
        Prefetch("parties", queryset=DisputeParty.objects.select_related("agency"))
    )


def visible_dispute(request: HttpRequest, pk: int) -> Dispute:
    """The dispute, with its parties, if this person may see it; else 404 (not 403: the URL must not
    confirm that the dispute exists)."""
    try:
        return with_parties(selectors.disputes_visible_to(request.user)).get(pk=pk)
    except Dispute.DoesNotExist:
        raise Http404("no such dispute") from None


def full_dispute(request: HttpRequest, pk: int) -> Dispute:
    try:
        return selectors.dispute_detail(request.user, pk)
    except Dispute.DoesNotExist:
        raise Http404("no such dispute") from None


def user_names(ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of the given users, in one query (the timeline and positions keep only ids)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    users = get_user_model().objects.filter(pk__in=wanted).only("pk", "username", "name")
    return {u.pk: (getattr(u, "name", "") or u.get_username()) for u in users}


def active_agencies() -> list[Agency]:
    """Active agencies, city first, then districts, streets and communities; by code within a level."""
    rank = {level: index for index, level in enumerate(AgencyLevel.values)}
    agencies = Agency.objects.filter(is_active=True).order_by("code")
    return sorted(agencies, key=lambda a: rank.get(a.level, len(rank)))


def agency_choices(agencies: Iterable[Agency], first: Iterable[Agency] = ()) -> list[Any]:
    """Choices for an agency select: the dispute's parties first, then everyone by level."""
    from arbitration.forms import agency_groups

    first = list(first)
    groups: list[Any] = []
    if first:
        groups.append((_("Parties to the dispute"), [(a.code, f"{a.name} ({a.code})") for a in first]))
    return groups + agency_groups(agencies)


# --- The deadline countdown ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    """What the header and the queues say about a deadline. ``tone``: overdue, soon, ok, paused, none."""

    tone: str
    text: str
    at: datetime | None

    @property
    def is_overdue(self) -> bool:
        return self.tone == "overdue"


class Countdowns:
    """Countdowns for many disputes against one "now". Working days between two calendar days are asked
    of the calendar once per pair of days: a queue of fifty disputes due on a handful of days asks a
    handful of times."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self._days: dict[tuple[date, date], int] = {}

    def prime(self, disputes: Iterable[Dispute]) -> None:
        """Count the working days to every deadline of a page from one read of the calendar, instead of one
        read per deadline's day (a list of fifty disputes is due on as many days). The counts are the ones
        ``working_days_between`` gives: the working days d with a < d <= b."""
        days = {
            d.deadline_at.astimezone(SHANGHAI).date()
            for d in disputes
            if d.deadline_at is not None and d.state == DisputeState.OPEN and d.urgency != Urgency.URGENT
        }
        today = self.now.astimezone(SHANGHAI).date()
        if len(days - {today}) < 2:
            return
        lo, hi = min(days | {today}), max(days | {today})
        # core.workdays' own reading of the calendar (overrides, then the official arrangement), for a span.
        overrides = workdays._overrides_between(lo, hi)
        working_up_to: dict[date, int] = {}
        running = 0
        for offset in range((hi - lo).days + 1):
            day = lo + timedelta(days=offset)
            running += workdays._is_working(day, overrides)
            working_up_to[day] = running
        for day in days:
            a, b = sorted((day, today))
            self._days[(a, b)] = working_up_to[b] - working_up_to[a]

    def _working_days(self, a: datetime, b: datetime) -> int:
        key = (a.astimezone(SHANGHAI).date(), b.astimezone(SHANGHAI).date())
        if key not in self._days:
            self._days[key] = working_days_between(a, b)
        return self._days[key]

    def of(self, dispute: Dispute) -> Countdown:
        deadline = dispute.deadline_at
        if dispute.state == DisputeState.CLOSED or deadline is None:
            return Countdown("none", "", None)
        if dispute.state == DisputeState.PAUSED:
            return Countdown("paused", _("Paused: the clock stands still"), deadline)
        if dispute.urgency == Urgency.URGENT:
            return self._in_minutes(dispute, deadline)
        return self._in_working_days(dispute, deadline)

    def _in_minutes(self, dispute: Dispute, deadline: datetime) -> Countdown:
        seconds = (deadline - self.now).total_seconds()
        if seconds < 0 or dispute.overdue:
            n = max(math.floor(-seconds / 60), 0)
            return Countdown(
                "overdue",
                ngettext("Overdue by %(n)d minute", "Overdue by %(n)d minutes", n) % {"n": n},
                deadline,
            )
        n = math.ceil(seconds / 60)
        soon = n <= 10 or (dispute.remind_at is not None and dispute.remind_at <= self.now)
        return Countdown(
            "soon" if soon else "ok",
            ngettext("%(n)d minute left", "%(n)d minutes left", n) % {"n": n},
            deadline,
        )

    def _in_working_days(self, dispute: Dispute, deadline: datetime) -> Countdown:
        if deadline <= self.now or dispute.overdue:
            n = max(self._working_days(deadline, self.now), 0)
            text = (
                ngettext("Overdue by %(n)d working day", "Overdue by %(n)d working days", n) % {"n": n}
                if n
                else _("Overdue since %(time)s") % {"time": timezone.localtime(deadline).strftime("%H:%M")}
            )
            return Countdown("overdue", text, deadline)
        n = self._working_days(self.now, deadline)
        soon = n <= 1 or (dispute.remind_at is not None and dispute.remind_at <= self.now)
        text = (
            ngettext("%(n)d working day left", "%(n)d working days left", n) % {"n": n}
            if n
            else _("Due today at %(time)s") % {"time": timezone.localtime(deadline).strftime("%H:%M")}
        )
        return Countdown("soon" if soon else "ok", text, deadline)
