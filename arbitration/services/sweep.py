"""The beat sweep: nothing may stall unseen.

Due disputes are escalated a few dozen per transaction under row locks taken with a re-check
(``escalate_due_many``), so running the sweep twice, or on two workers at the same moment, escalates each
dispute exactly once — the unique (dispute, stage) row is the last line of that guarantee. Reminders are
claimed the same way, a few dozen per transaction, and delivered together; overdue follow-ups are claimed
with a conditional UPDATE that only one caller can win.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from arbitration.deadlines import Deadline
from arbitration.models import Dispute, DisputeParty, DisputeState, FollowUp, FollowUpState, Stage
from arbitration.services.disputes import dispute_url
from arbitration.services.escalation import escalate_due_many
from arbitration.services.notifications import (
    Announcement,
    Message,
    announce,
    notification_emails_requeue,
    notify,
    people_of,
)
from core.bulk import commit_without_waiting_for_disk
from duty_lists.models import Role

BATCH = 500
# Disputes escalated (or reminded) per transaction. Each holds its disputes' row locks and the audit chain's
# head until it commits, some 0.1 s at this size (bench/escalation.py): an officer's own step waits that long
# at most, once a minute at a backlog's peak; larger batches share the per-transaction work (locking, the
# audit head, the people to tell, the commit), which at 10,000 due was a third of the sweep at 50.
PER_TRANSACTION = 200
TIME_BUDGET_SECONDS = 40  # below the task's 50 s soft limit; what is left is the next minute's work


def sweep(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    started = time.monotonic()
    deadlines: dict[tuple[str, str], Deadline] = {}  # per stage and urgency, the same for the whole sweep
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
            counts += escalate_due_many(chunk, now, deadlines=deadlines)  # += keeps only what happened
            last_id = chunk[-1]
    counts["reminded"] = remind_due(now, until=started + TIME_BUDGET_SECONDS)
    counts["follow_ups_overdue"] = flag_overdue_follow_ups(now)
    counts["emails_requeued"] = notification_emails_requeue(now)
    return dict(counts)


def remind_due(now: datetime, *, until: float | None = None) -> int:
    """Remind the people of every stage whose reminder time has passed, once per stage: a transaction
    claims up to ``PER_TRANSACTION`` disputes (row locks skipping what another sweep holds, then one
    UPDATE), and their reminders are delivered together after it commits. Stops at ``until`` (a
    ``time.monotonic()`` value); what is left is the next minute's."""
    sent = 0
    last_id = 0
    while until is None or time.monotonic() < until:
        with transaction.atomic():
            commit_without_waiting_for_disk()  # a reminder lost with its claim is claimed again
            claimed = list(
                Dispute.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(state=DisputeState.OPEN, remind_at__lte=now, pk__gt=last_id)
                .exclude(reminded_stage=F("stage"))
                .order_by("pk")
                .only("pk", "title", "stage")[:PER_TRANSACTION]
            )
            if not claimed:
                break
            Dispute.objects.filter(pk__in=[d.pk for d in claimed]).update(reminded_stage=F("stage"))
            parties: dict[int, list[int]] = defaultdict(list)
            for dispute_id, agency_id in DisputeParty.objects.filter(
                dispute_id__in=[d.pk for d in claimed]
            ).values_list("dispute_id", "agency_id"):
                parties[dispute_id].append(agency_id)
            # Delivered inside the claiming transaction: a claim without its messages cannot commit.
            announce([_reminder(d, parties[d.pk]) for d in claimed])
        sent += len(claimed)
        last_id = claimed[-1].pk
    return sent


def _reminder(dispute: Dispute, agencies: list[int]) -> Announcement:
    roles = [Role.EDITORIAL_OFFICER] if dispute.stage != Stage.NEGOTIATION else []
    if dispute.stage == Stage.LEADERSHIP:
        roles.append(Role.LEADER)
    return Announcement(
        Message(
            key=f"dispute:{dispute.pk}:remind:{dispute.stage}",
            title=(_("Deadline approaching: %(title)s") % {"title": dispute.title})[:200],
            url=dispute_url(dispute),
        ),
        agencies=tuple(agencies),
        roles=tuple(roles),
    )


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
