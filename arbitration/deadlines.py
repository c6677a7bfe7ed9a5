"""Stage deadlines: working days of the official calendar for normal and major matters, wall-clock minutes
for urgent livelihood matters; a pause does not count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from arbitration.models import EscalationPolicy, Stage, Urgency
from core.workdays import SHANGHAI, add_working_days, working_days_between

# Used when the administrator has deleted a policy row: the design's defaults.
DEFAULT_LIMITS = {
    (Stage.NEGOTIATION, False): 5,
    (Stage.EDITORIAL_OFFICE, False): 10,
    (Stage.LEADERSHIP, False): 15,
    (Stage.NEGOTIATION, True): 30,
    (Stage.EDITORIAL_OFFICE, True): 120,
    (Stage.LEADERSHIP, True): 240,
}


@dataclass(frozen=True)
class Deadline:
    at: datetime
    remind_at: datetime | None


def _policy(stage: str, urgency: str) -> EscalationPolicy:
    policy = EscalationPolicy.objects.filter(stage=stage, urgency=urgency).first()
    if policy is not None:
        return policy
    urgent = urgency == Urgency.URGENT
    limit = DEFAULT_LIMITS[(Stage(stage), urgent)]
    return EscalationPolicy(
        stage=stage,
        urgency=urgency,
        working_days=None if urgent else limit,
        minutes=limit if urgent else None,
        remind_working_days=None if urgent else 1,
        remind_minutes=10 if urgent else None,
    )


def stage_deadline(stage: str, urgency: str, start: datetime) -> Deadline:
    policy = _policy(stage, urgency)
    if policy.minutes is not None:
        at = start + timedelta(minutes=policy.minutes)
        remind = at - timedelta(minutes=policy.remind_minutes) if policy.remind_minutes else None
    else:
        assert policy.working_days is not None
        at = add_working_days(start, policy.working_days)
        remind = add_working_days(at, -policy.remind_working_days) if policy.remind_working_days else None
    if remind is not None and remind <= start:
        remind = None  # a limit shorter than the reminder: no reminder, the deadline itself will do
    return Deadline(at=at, remind_at=remind)


def resumed_deadline(urgency: str, deadline: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
    """The deadline after a pause: the time that was left when the stage was paused, counted again from
    the resumption — in minutes for urgent matters, in working days (keeping the clock time) otherwise."""
    if urgency == Urgency.URGENT:
        return resumed_at + max(deadline - paused_at, timedelta(0))
    left = max(working_days_between(paused_at, deadline), 0)
    clock = deadline.astimezone(SHANGHAI)
    moved = add_working_days(resumed_at, left)  # in Asia/Shanghai
    return moved.replace(
        hour=clock.hour, minute=clock.minute, second=clock.second, microsecond=clock.microsecond
    )
