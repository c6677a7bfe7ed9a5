"""The in-app inbox and e-mail. Notifications are created only after the change that causes them commits
(callers use ``transaction.on_commit``), keyed so that a retried task or a repeated sweep never sends one
twice, and e-mailed by a task that claims each row with a conditional update."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from arbitration.models import Notification
from duty_lists.models import Membership, Role


def people_of(*, agencies: Iterable[Any] = (), roles: Iterable[str] = ()) -> list[Any]:
    """Active users who are agency staff of ``agencies``, or hold any of ``roles`` anywhere."""
    agency_ids = [a.pk if hasattr(a, "pk") else a for a in agencies]
    memberships = Membership.objects.filter(is_active=True, agency__is_active=True, user__is_active=True)
    ids = set(
        memberships.filter(agency_id__in=agency_ids, role=Role.AGENCY_STAFF).values_list("user_id", flat=True)
    )
    ids |= set(memberships.filter(role__in=list(roles)).values_list("user_id", flat=True))
    return list(get_user_model().objects.filter(pk__in=ids))


def notify(*, recipients: Iterable[Any], key: str, title: str, body: str = "", url: str = "") -> int:
    """Put a message in each recipient's inbox once per ``key``; e-mail it after commit. Returns how many
    were new."""
    created: list[int] = []
    now = timezone.now()
    for user in recipients:
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=user, key=key[:200], title=title[:200], body=body, url=url, created_at=now
                )
        except IntegrityError:
            continue  # this recipient already has it: a repeat, not a new message
        created.append(notification.pk)
    if created:
        from arbitration.tasks import notification_email

        transaction.on_commit(lambda: [notification_email.delay(pk) for pk in created])
    return len(created)


def notification_mark_read(*, actor: Any, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the actor's own notifications read (all unread when no ids are given)."""
    unread = Notification.objects.filter(recipient=actor, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def notification_send_email(notification_id: int) -> bool:
    """Claim the row (emailed_at still empty → now) and send; a second run finds it claimed and stops."""
    from django.conf import settings
    from django.core.mail import send_mail

    now = timezone.now()
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=now)
    if claimed != 1:
        return False
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    if not notification.recipient.email:
        return False
    send_mail(
        subject=f"[zhize] {notification.title}",
        message=f"{notification.body}\n\n{notification.url}".strip(),
        from_email=getattr(settings, "DEFAULT_FROM_EMAIL", None),
        recipient_list=[notification.recipient.email],
    )
    return True
