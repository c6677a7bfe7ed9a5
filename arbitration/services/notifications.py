"""The in-app inbox and e-mail. Notifications are keyed so that a retried task or a repeated sweep never
sends one twice; single steps create them after their change commits (``transaction.on_commit``), the sweep
inside its transactions (so that a killed worker cannot commit an escalation without them). They are
e-mailed by a task that claims each row with a conditional update; messages whose task was never queued or
was lost are queued again by the sweep."""

from __future__ import annotations

import contextlib
import smtplib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from arbitration.models import Notification
from core.queue import task
from duty_lists.models import Membership, Role


def people_of(*, agencies: Iterable[Any] = (), roles: Iterable[str] = ()) -> list[Any]:
    """Active users who are agency staff of ``agencies``, or hold any of ``roles`` anywhere. One query: the
    sweep asks this for every dispute it escalates."""
    agency_ids = [a.pk if hasattr(a, "pk") else a for a in agencies]
    roles = list(roles)
    if not agency_ids and not roles:
        return []
    active = Q(memberships__is_active=True, memberships__agency__is_active=True)
    chosen = Q(memberships__agency_id__in=agency_ids, memberships__role=Role.AGENCY_STAFF) | Q(
        memberships__role__in=roles
    )
    return list(get_user_model().objects.filter(active & chosen, is_active=True).distinct().order_by("pk"))


def notify(*, recipients: Iterable[Any], key: str, title: str, body: str = "", url: str = "") -> int:
    """Put a message in each recipient's inbox once per ``key``; e-mail the new ones after commit, in one
    task. Returns how many were new."""
    message = Message(key=key[:200], title=title[:200], body=body, url=url)
    return _deliver([(user.pk, message) for user in {u.pk: u for u in recipients}.values()])


@dataclass(frozen=True)
class Message:
    key: str
    title: str
    body: str = ""
    url: str = ""


@dataclass(frozen=True)
class Announcement:
    """A message for the staff of some agencies and whoever holds some roles."""

    message: Message
    agencies: tuple[int, ...] = ()
    roles: tuple[str, ...] = ()


def announce(announcements: Sequence[Announcement]) -> int:
    """Deliver many announcements at once (the sweep's escalations): one query finds everybody they are
    for, then as ``notify``. Returns how many messages were new."""
    agency_ids = {a for x in announcements for a in x.agencies}
    roles = {r for x in announcements for r in x.roles}
    if not announcements or not (agency_ids or roles):
        return 0
    staff: dict[int, set[int]] = defaultdict(set)
    holders: dict[str, set[int]] = defaultdict(set)
    memberships = Membership.objects.filter(is_active=True, agency__is_active=True, user__is_active=True)
    chosen = Q(agency_id__in=agency_ids, role=Role.AGENCY_STAFF) | Q(role__in=roles)
    for user_id, agency_id, role in memberships.filter(chosen).values_list("user_id", "agency_id", "role"):
        if role == Role.AGENCY_STAFF:
            staff[agency_id].add(user_id)
        holders[role].add(user_id)
    deliveries = []
    for x in announcements:
        people = set().union(*(staff[a] for a in x.agencies), *(holders[r] for r in x.roles))
        deliveries += [(user_id, x.message) for user_id in sorted(people)]
    return _deliver(deliveries)


def _deliver(deliveries: list[tuple[int, Message]]) -> int:
    """Write each (recipient, message) that the recipient does not have yet, in one statement; e-mail them
    after commit in one task. Two callers racing (a sweep and a retried task) meet the unique
    (recipient, key) constraint, so each recipient still gets exactly one."""
    if not deliveries:
        return 0
    created = _insert_new(deliveries) if connection.vendor == "postgresql" else _create_new(deliveries)
    if created:
        transaction.on_commit(lambda: _queue_emails(created), robust=True)
    return len(created)


def _queue_emails(notification_ids: list[int]) -> None:
    """After commit. Should the broker be down (Redis restarting), the messages are in the inboxes
    already and the caller's change stands: the sweep's ``notification_emails_requeue`` queues their
    e-mails later (``robust`` keeps the error from failing the caller after its commit)."""
    _email_task().delay(notification_ids)


EMAIL_TASK = "arbitration.tasks.notification_emails"


def _email_task() -> Any:
    return task(EMAIL_TASK)  # by name: arbitration.tasks imports these services


# Longer than a queued e-mail task waits behind a busy minute (bench/escalation.py) and than Redis's
# visibility timeout, after which a killed worker's task comes back by itself: sooner, it would be queued
# twice (harmless, each row is claimed once, but wasted).
EMAIL_REQUEUE_AFTER = timedelta(minutes=10)
EMAIL_REQUEUE_CHUNK = 200


def notification_emails_requeue(now: datetime, *, older_than: timedelta = EMAIL_REQUEUE_AFTER) -> int:
    """Queue again the e-mails of messages that have waited ``older_than`` unclaimed: their task was never
    queued (the broker was down, or the process died between the commit and queueing it) or was lost
    with Redis. Returns how many messages were queued."""
    notification_emails = _email_task()
    waiting = list(
        Notification.objects.filter(emailed_at__isnull=True, created_at__lte=now - older_than)
        .order_by("pk")
        .values_list("pk", flat=True)[: 50 * EMAIL_REQUEUE_CHUNK]
    )
    for at in range(0, len(waiting), EMAIL_REQUEUE_CHUNK):
        notification_emails.delay(waiting[at : at + EMAIL_REQUEUE_CHUNK])
    return len(waiting)


def _insert_new(deliveries: list[tuple[int, Message]]) -> list[int]:
    """PostgreSQL: one INSERT of arrays that skips what a recipient has already; no read before it, and
    a racing caller's rows are skipped by the same unique (recipient, key) constraint. (The ORM's
    ``bulk_create`` returns no ids with ``ignore_conflicts``, and builds a model per row: the sweep
    delivers some 40,000 messages per 10,000 escalations.)"""
    now = timezone.now()
    meta = Notification._meta
    columns = ", ".join(_column(name) for name in _COLUMNS)
    columns_of_once = ", ".join(_column(name) for name in ("recipient", "key"))
    sql = (
        f"INSERT INTO {meta.db_table} ({columns}) "  # noqa: S608  (names from the model, values bound)
        "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::text[], %s::varchar[]) "
        "CROSS JOIN (SELECT %s::timestamptz) AS at "
        f"ON CONFLICT ({columns_of_once}) DO NOTHING RETURNING id"
    )
    params: list[Any] = [
        [u for u, _m in deliveries],
        [m.key for _u, m in deliveries],
        [m.title for _u, m in deliveries],
        [m.body for _u, m in deliveries],
        [m.url for _u, m in deliveries],
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


_COLUMNS = ("recipient", "key", "title", "body", "url", "created_at")


def _column(name: str) -> str:
    field = Notification._meta.get_field(name)
    assert isinstance(field, models.Field)
    return str(field.column)


def _create_new(deliveries: list[tuple[int, Message]]) -> list[int]:
    """Other databases (SQLite in the embedded set-up): read what exists, then insert the rest; a racing
    caller's rows make the insert fail, and it falls back to one row at a time."""
    keys = {m.key for _user, m in deliveries}
    have = set(
        Notification.objects.filter(key__in=keys, recipient_id__in={u for u, _m in deliveries}).values_list(
            "recipient_id", "key"
        )
    )
    now = timezone.now()
    fresh = [
        Notification(recipient_id=u, key=m.key, title=m.title, body=m.body, url=m.url, created_at=now)
        for u, m in deliveries
        if (u, m.key) not in have
    ]
    if not fresh:
        return []
    try:
        with transaction.atomic():
            created = [n.pk for n in Notification.objects.bulk_create(fresh)]
            if None in created:  # a database that returns no ids from a bulk insert (SQLite before 3.35)
                created = list(
                    Notification.objects.filter(
                        key__in=keys, recipient_id__in={n.recipient_id for n in fresh}, created_at=now
                    ).values_list("pk", flat=True)
                )
    except IntegrityError:
        created = []
        for notification in fresh:
            try:
                with transaction.atomic():
                    notification.pk = None
                    notification.save(force_insert=True)
            except IntegrityError:
                continue  # this recipient already has it: a repeat, not a new message
            created.append(notification.pk)
    return created


def notification_mark_read(*, actor: Any, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the actor's own notifications read (all unread when no ids are given)."""
    unread = Notification.objects.filter(recipient=actor, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


class EmailNotSent(Exception):
    """Some e-mails of a batch failed on the way to the mail server; their rows are released for a retry."""


def notification_send_emails(notification_ids: Iterable[int]) -> int:
    """E-mail each notification once, over one connection to the mail server. The rows are claimed first
    (emailed_at still empty → now) in one statement, skipping any that a parallel run holds, so a second
    run finds the sent ones claimed and skips them. A message the mail server refused is released again
    and ``EmailNotSent`` asks the task to retry just those. Returns how many were sent."""
    from django.conf import settings
    from django.core.mail import EmailMessage, get_connection

    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient")
            .filter(pk__in=list(notification_ids), emailed_at__isnull=True)
            .order_by("pk")
        )
        Notification.objects.filter(pk__in=[n.pk for n in claimed]).update(emailed_at=now)
    addressed = [n for n in claimed if n.recipient.email]
    if not addressed:
        return 0
    failed: list[int] = []
    connection = get_connection()
    try:
        for notification in addressed:
            message = EmailMessage(
                subject=f"[zhize] {notification.title}",
                body=f"{notification.body}\n\n{notification.url}".strip(),
                from_email=getattr(settings, "DEFAULT_FROM_EMAIL", None),
                to=[notification.recipient.email],
                connection=connection,
            )
            try:
                message.send()
            except (smtplib.SMTPException, OSError):
                failed.append(notification.pk)
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.close()
    if failed:
        Notification.objects.filter(pk__in=failed, emailed_at=now).update(emailed_at=None)
        raise EmailNotSent(failed)
    return len(addressed)
