"""The beat sweep: nothing may stall unseen.

Due disputes are escalated a few dozen per transaction under row locks taken with a re-check
(``escalate_due_many``), so running the sweep twice, or on two workers at the same moment, escalates each
dispute exactly once — the unique (dispute, stage) row is the last line of that guarantee. Reminders and
overdue flags are claimed with a conditional UPDATE that only one caller can win.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from arbitration.models import Dispute, DisputeState, FollowUp, FollowUpState
from arbitration.services.disputes import dispute_url, escalate_due_many
from arbitration.services.notifications import notify, people_of
from duty_lists.models import Role

BATCH = 500
# Disputes escalated per transaction. Each holds its disputes' row locks and the audit chain's head until it
# commits: small enough that an officer's own step waits a few tens of milliseconds at most, large enough that
# the per-transaction work (locking, the audit head, the notification query) is shared.
PER_TRANSACTION = 50
TIME_BUDGET_SECONDS = 40  # below the task's 50 s soft limit; what is left is the next minute's work


def sweep(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    started = time.monotonic()
    last_id = 0
    out_of_time = False
    while not out_of_time:
        # Ordered by id, not deadline, so a batch of skipped (locked elsewhere) rows cannot repeat forever.
        due = list(
            Dispute.objects.filter(
                state=DisputeState.OPEN, deadline_at__lte=now, overdue=False, pk__gt=last_id
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not due:
            break
        for at in range(0, len(due), PER_TRANSACTION):
            # The budget is checked per transaction, not per query batch: a batch of 500 started at 39 s
            # would run into the task's soft time limit (bench/escalation.py measured sweeps of 55-61 s).
            if time.monotonic() - started >= TIME_BUDGET_SECONDS:
                out_of_time = True
                break
            chunk = due[at : at + PER_TRANSACTION]
            counts += escalate_due_many(chunk, now)  # += keeps only what happened
            last_id = chunk[-1]
    counts["reminded"] = remind_due(now)
    counts["follow_ups_overdue"] = flag_overdue_follow_ups(now)
    return dict(counts)


def remind_due(now: datetime) -> int:
    sent = 0
    for dispute in (
        Dispute.objects.filter(state=DisputeState.OPEN, remind_at__lte=now)
        .exclude(reminded_stage=F("stage"))
        .prefetch_related("parties")[:BATCH]
    ):
        claimed = (
            Dispute.objects.filter(pk=dispute.pk, state=DisputeState.OPEN, stage=dispute.stage)
            .exclude(reminded_stage=F("stage"))
            .update(reminded_stage=F("stage"))
        )
        if claimed != 1:
            continue
        roles = [Role.EDITORIAL_OFFICER] if dispute.stage != "negotiation" else []
        if dispute.stage == "leadership":
            roles.append(Role.LEADER)
        notify(
            recipients=people_of(agencies=[p.agency_id for p in dispute.parties.all()], roles=roles),
            key=f"dispute:{dispute.pk}:remind:{dispute.stage}",
            title=_("Deadline approaching: %(title)s") % {"title": dispute.title},
            url=dispute_url(dispute),
        )
        sent += 1
    return sent


def flag_overdue_follow_ups(now: datetime) -> int:
    today = timezone.localdate(now)
    flagged = 0
    for item in FollowUp.objects.filter(
        state=FollowUpState.OPEN, overdue=False, due_date__lt=today
    ).select_related("ruling__dispute")[:BATCH]:
        if FollowUp.objects.filter(pk=item.pk, overdue=False).update(overdue=True) != 1:
            continue
        notify(
            recipients=people_of(agencies=[item.agency_id], roles=[Role.EDITORIAL_OFFICER]),
            key=f"follow-up:{item.pk}:overdue",
            title=_("Follow-up overdue: %(title)s") % {"title": item.ruling.dispute.title},
            url=dispute_url(item.ruling.dispute),
        )
        flagged += 1
    return flagged


def report_overdue(now: datetime | None = None) -> int:
    """Daily: every dispute past leadership's deadline, to leaders and the editorial office: never
    dropped, however long it stays overdue."""
    now = now or timezone.now()
    overdue = list(Dispute.objects.filter(state=DisputeState.OPEN, overdue=True).order_by("deadline_at"))
    if not overdue:
        return 0
    lines = [
        f"#{d.pk} {d.title}（{timezone.localtime(d.deadline_at):%Y-%m-%d %H:%M}）"
        for d in overdue
        if d.deadline_at
    ]
    notify(
        recipients=people_of(roles=[Role.LEADER, Role.EDITORIAL_OFFICER]),
        key=f"overdue-report:{timezone.localdate(now).isoformat()}",
        title=_("%(n)d disputes are overdue at leadership") % {"n": len(overdue)},
        body="\n".join(lines),
        url="/disputes/?overdue=true",
    )
    return len(overdue)
