"""Thin tasks: ids in, a service call, bounded retries on transient database errors."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from arbitration.services.notifications import EmailNotSent, notification_send_emails
from arbitration.services.sweep import report_overdue
from arbitration.services.sweep import sweep as run_sweep


@shared_task(autoretry_for=(OperationalError, EmailNotSent), retry_backoff=True, max_retries=3)
def notification_emails(notification_ids: list[int]) -> int:
    """The e-mails of one announcement. On retry the ones already sent are skipped (each row is claimed)."""
    return notification_send_emails(notification_ids)


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=2, soft_time_limit=50, time_limit=58
)
def sweep_disputes() -> dict[str, int]:
    """Every minute: escalate stages past their deadline, send reminders, flag overdue follow-ups."""
    return run_sweep()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=2)
def report_overdue_daily() -> int:
    return report_overdue()
