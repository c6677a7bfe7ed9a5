"""Grievance deadlines, counted on the official working-day calendar and ending at the end of the local day
(a citizen told "within 3 working days" expects the whole third day), plus the wall-clock limits of
acceptance and of whistles."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings

from core.workdays import SHANGHAI, add_working_days, is_working_day
from grievances.models import DeadlinePolicy, GrievanceKind, GrievanceUrgency

URGENT = "urgent"
# Used when the administrator has deleted a policy row: the field's defaults.
DEFAULT_WORKING_DAYS = {
    URGENT: 0,
    GrievanceKind.CONSULTATION: 3,
    GrievanceKind.HELP: 3,
    GrievanceKind.COMPLAINT: 13,
    GrievanceKind.REPORT: 13,
    GrievanceKind.SUGGESTION: 13,
}
DEFAULT_ACCEPT_HOURS = {URGENT: 1}
# 双向派单: a street reports a district agency's matter the same day; the handover completes within 3.
HANDOVER_WORKING_DAYS = 3


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)


def end_of_working_day(moment: datetime, working_days: int) -> datetime:
    """The end of the ``working_days``-th working day after ``moment``; 0 means the same day, or the next
    working day when ``moment`` falls on a day off."""
    local = moment.astimezone(SHANGHAI).date()
    if working_days == 0:
        return end_of_day(local if is_working_day(local) else add_working_days(local, 1))
    return end_of_day(add_working_days(local, working_days))


def policy_for(kind: str, urgency: str) -> DeadlinePolicy:
    key = URGENT if urgency == GrievanceUrgency.URGENT else kind
    policy = DeadlinePolicy.objects.filter(kind=key).first()
    if policy is not None:
        return policy
    return DeadlinePolicy(
        kind=key,
        working_days=DEFAULT_WORKING_DAYS.get(key, 13),
        accept_hours=DEFAULT_ACCEPT_HOURS.get(key, 24),
    )


def grievance_deadline(received_at: datetime, kind: str, urgency: str) -> datetime:
    return end_of_working_day(received_at, policy_for(kind, urgency).working_days)


def accept_deadline(dispatched_at: datetime, kind: str, urgency: str, completion: datetime) -> datetime:
    """An agency must accept (or return) within hours; never later than the grievance's own deadline."""
    hours = policy_for(kind, urgency).accept_hours
    return min(dispatched_at + timedelta(hours=hours), completion)


def handover_deadlines(found_at: datetime, reported_at: datetime) -> tuple[datetime, datetime]:
    """(report due, handover due): report the same day it was found; complete 3 working days after."""
    return end_of_working_day(found_at, 0), end_of_working_day(reported_at, HANDOVER_WORKING_DAYS)


def summons_deadline(blown_at: datetime) -> datetime:
    return blown_at + timedelta(minutes=settings.ZHIZE_WHISTLE_REPORT_MINUTES)
