"""The office's daily digest (issue 10): one local day's new grievances, those overdue at its end, the
returns of the day and the grievances that bounced into disputes, stored once per day and mailed once to
the editorial office. Built by the beat job each morning for yesterday, or on request from its page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from arbitration.models import Dispute, Notification
from arbitration.services.notifications import notify, people_of
from core.audit import audit_record
from core.errors import ApplicationError
from duty_lists.models import Role
from grievances.kpis import counted_grievances
from grievances.models import OPEN_STATES, DailyDigest, GrievanceState, WorkOrder

Progress = Callable[[int, str], None]

# The figures' layout; a page meeting an older one shows what it can.
FIGURES_VERSION = 1
TOP_CATEGORIES = 5
OVERDUE_LISTED = 20
RETURNS_LISTED = 50
DISPUTES_LISTED = 50
BOUNCE_SOURCE = "grievances.grievance:"


def day_start(day: date) -> datetime:
    """Midnight of ``day`` on the office's clock (settings.TIME_ZONE), not UTC's."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def digest_key(day: date) -> str:
    return f"digest:{day.isoformat()}"


def digest_path(day: date) -> str:
    return reverse("grievances:digest_detail", args=[day.isoformat()])


def digest_build(
    *, actor: Any, day: date, mail: bool = True, progress: Progress | None = None
) -> DailyDigest:
    """Build (or rebuild) the digest of ``day``.

    1. Refuse a day that has not begun yet.
    2. Count the figures, outside any transaction, so the page following a job sees each stage at once.
    3. Lock the day's row (creating it if it is the first build), store the figures.
    4. On the first build of a finished day, mail the office (``notify`` after commit; keyed by the day, so
       a second build or a retried task never mails twice) and note how many it went to.
    5. Write the audit entry in the same transaction.
    """
    report = progress or (lambda percent, stage: None)
    today = timezone.localdate()
    if day > today:
        raise ApplicationError(
            _("%(day)s has not come yet: a digest is built for a day that has begun.")
            % {"day": day.isoformat()},
            code="digest_future_day",
        )
    figures = digest_figures(day=day, progress=report)
    report(90, "digest-saving")
    now = timezone.now()
    with transaction.atomic():
        digest, created = _locked_digest(day, now)
        digest.figures = figures
        digest.built_at = now
        changed = ["figures", "built_at"]
        # Today's digest is still growing: mailing it would stop tomorrow's complete one from going out.
        if mail and digest.mailed_to == 0 and day < today:
            digest.mailed_to = _mail(digest)
            changed.append("mailed_to")
        digest.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="grievances.digest.built",
            target=digest,
            reason="first build" if created else "rebuilt",
            after={
                "day": day.isoformat(),
                "new": figures["new"]["count"],
                "overdue": figures["overdue"]["count"],
                "returned": figures["returned"]["count"],
                "disputes": figures["disputes"]["count"],
                "mailed_to": digest.mailed_to,
            },
        )
    report(100, "digest-done")
    return digest


def _locked_digest(day: date, now: datetime) -> tuple[DailyDigest, bool]:
    """The day's row, locked. Two first builds at once (the beat job and a click) both miss the row; the
    loser of the insert meets the unique day and locks the winner's row instead."""
    digest = DailyDigest.objects.select_for_update().filter(day=day).first()
    if digest is not None:
        return digest, False
    try:
        with transaction.atomic():
            return DailyDigest.objects.create(day=day, built_at=now), True
    except IntegrityError:
        return DailyDigest.objects.select_for_update().get(day=day), False


def _mail(digest: DailyDigest) -> int:
    """Notify the editorial office in the site's language (the mail is for everyone of the office, not for
    whoever clicked). Returns how many hold the message."""
    key = digest_key(digest.day)
    with translation.override(settings.LANGUAGE_CODE):
        title, body = digest_text(digest.day, digest.figures)
    notify(
        recipients=people_of(roles=[Role.EDITORIAL_OFFICER]),
        key=key,
        title=title,
        body=body,
        url=digest_path(digest.day),
    )
    return Notification.objects.filter(key=key).count()


# --- The figures -------------------------------------------------------------------------------------------


def digest_figures(*, day: date, progress: Progress | None = None) -> dict[str, Any]:
    """The four sections of one day, as JSON: links are kept as ids, reversed when shown."""
    report = progress or (lambda percent, stage: None)
    start, end = day_start(day), day_start(day + timedelta(days=1))
    report(10, "digest-new")
    new = _new(start, end)
    report(30, "digest-overdue")
    overdue = _overdue(end)
    report(55, "digest-returned")
    returned = _returned(start, end)
    report(75, "digest-disputes")
    disputes = _disputes(start, end)
    return {
        "version": FIGURES_VERSION,
        "day": day.isoformat(),
        "new": new,
        "overdue": overdue,
        "returned": returned,
        "disputes": disputes,
    }


def _new(start: datetime, end: datetime) -> dict[str, Any]:
    received = counted_grievances().filter(received_at__gte=start, received_at__lt=end)
    categories = (
        received.values("category").annotate(n=Count("id")).order_by("-n", "category")[:TOP_CATEGORIES]
    )
    channels = received.values("channel").annotate(n=Count("id")).order_by("-n", "channel")
    return {
        "count": received.count(),
        "categories": [{"name": row["category"], "count": row["n"]} for row in categories],
        "channels": [{"code": row["channel"], "count": row["n"]} for row in channels],
    }


def _overdue(end: datetime) -> dict[str, Any]:
    """Open at the day's end and past their deadline. "Open then" is read from today's state and the
    resolution times, so a digest rebuilt weeks later still counts a grievance resolved since; one
    resolved before the end and reopened after it is the one case this misses."""
    open_then = (
        Q(state__in=OPEN_STATES)
        | Q(resolved_at__gte=end)
        | Q(resolved_at__isnull=True, closed_at__gte=end, state=GrievanceState.CLOSED)
    )
    overdue = counted_grievances().filter(open_then, received_at__lt=end, deadline_at__lt=end)
    items = []
    for g in overdue.select_related("handling_agency").order_by("deadline_at", "id")[:OVERDUE_LISTED]:
        items.append(
            {
                "id": g.pk,
                "reference": g.reference,
                "title": g.title[:120],
                "agency": g.handling_agency.name if g.handling_agency else "",
                "deadline_at": timezone.localtime(g.deadline_at).isoformat(),
                "overdue_hours": int((end - g.deadline_at).total_seconds() // 3600),
            }
        )
    return {"count": overdue.count(), "items": items}


def _returned(start: datetime, end: datetime) -> dict[str, Any]:
    returns = WorkOrder.objects.filter(returned_at__gte=start, returned_at__lt=end).exclude(
        grievance__state=GrievanceState.CANCELLED
    )
    agencies = (
        returns.values("agency_id", "agency__name").annotate(n=Count("id")).order_by("-n", "agency__name")
    )
    items = [
        {
            "id": order.grievance_id,
            "reference": order.grievance.reference,
            "title": order.grievance.title[:120],
            "agency": order.agency.name,
            "reason": order.return_reason[:300],
            "returned_at": timezone.localtime(order.returned_at).isoformat() if order.returned_at else "",
        }
        for order in returns.select_related("grievance", "agency").order_by("returned_at", "id")[
            :RETURNS_LISTED
        ]
    ]
    return {
        "count": returns.count(),
        "agencies": [{"id": a["agency_id"], "name": a["agency__name"], "count": a["n"]} for a in agencies],
        "items": items,
    }


def _disputes(start: datetime, end: datetime) -> dict[str, Any]:
    """Disputes the bounce check filed for a grievance that day (source_ref "grievances.grievance:<id>")."""
    filed = Dispute.objects.filter(
        source_ref__startswith=BOUNCE_SOURCE, created_at__gte=start, created_at__lt=end
    ).order_by("created_at", "id")
    items = []
    for dispute in filed[:DISPUTES_LISTED]:
        grievance = dispute.source_ref.removeprefix(BOUNCE_SOURCE)
        items.append(
            {
                "id": dispute.pk,
                "title": dispute.title,
                "kind": dispute.kind,
                "grievance": int(grievance) if grievance.isdigit() else None,
            }
        )
    return {"count": filed.count(), "items": items}


# --- The e-mail ---------------------------------------------------------------------------------------------


def overdue_text(hours: int) -> str:
    days, rest = divmod(max(0, int(hours)), 24)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": rest}
    return _("%(h)d h") % {"h": rest}


def digest_text(day: date, figures: dict[str, Any]) -> tuple[str, str]:
    """The notification's title and plain-text body, in the active language."""
    new, overdue = figures.get("new", {}), figures.get("overdue", {})
    returned, disputes = figures.get("returned", {}), figures.get("disputes", {})
    counts = {
        "day": day.isoformat(),
        "new": new.get("count", 0),
        "overdue": overdue.get("count", 0),
        "returned": returned.get("count", 0),
        "disputes": disputes.get("count", 0),
    }
    title = (
        _(
            "Daily digest %(day)s: %(new)d new, %(overdue)d overdue, %(returned)d returned, "
            "%(disputes)d into disputes"
        )
        % counts
    )
    lines = [_("New grievances: %(n)d") % {"n": counts["new"]}]
    for row in new.get("categories", []):
        lines.append(f"  · {row['name'] or _('(no category)')}: {row['count']}")
    lines += ["", _("Overdue at the end of the day: %(n)d") % {"n": counts["overdue"]}]
    for item in overdue.get("items", []):
        lines.append(
            f"  · {item['reference']} {item['title']} — {item['agency'] or '—'}，"
            + _("overdue %(t)s") % {"t": overdue_text(item["overdue_hours"])}
        )
    lines += ["", _("Returned: %(n)d") % {"n": counts["returned"]}]
    for item in returned.get("items", []):
        lines.append(f"  · {item['reference']} {item['title']} — {item['agency']}：{item['reason']}")
    lines += ["", _("Bounced into disputes: %(n)d") % {"n": counts["disputes"]}]
    for item in disputes.get("items", []):
        lines.append(f"  · #{item['id']} {item['title']}")
    return title, "\n".join(lines)
