"""The sweep's half of the ladder: a stage past its deadline escalates to the next, a stalled leadership
stage is flagged overdue — many disputes per transaction, each exactly once (arbitration.services.sweep
calls this every minute)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from arbitration.deadlines import Deadline, stage_deadline
from arbitration.models import LADDER, Dispute, DisputeEvent, DisputeParty, DisputeStage, DisputeState, Stage
from arbitration.services.disputes import S, _announcement, _event_rows, _move, _stage_fields
from arbitration.services.notifications import Announcement, announce
from core.audit import audit_append
from core.bulk import commit_without_waiting_for_disk, insert_many
from core.models import AuditEntry
from duty_lists.models import Role


def escalate_due(dispute_id: int, now: datetime) -> str:
    """What the sweep does for one dispute: "escalated", "overdue" (a stalled leadership stage is flagged),
    or "skipped" (not due any more, or another worker holds it)."""
    counts = escalate_due_many([dispute_id], now)
    return next((outcome for outcome, n in counts.items() if n), "skipped")


def escalate_due_many(
    dispute_ids: Sequence[int], now: datetime, *, deadlines: dict[tuple[str, str], Deadline] | None = None
) -> Counter[str]:
    """Escalate the stalled stages among ``dispute_ids`` in one transaction; flag stalled leadership stages
    overdue. Counts what happened ("escalated", "overdue", "skipped").

    Locks with SKIP LOCKED: a dispute another worker holds is that worker's; we move on rather than wait,
    and the re-check in the locking query (still open, still due, not yet flagged) sees whatever it did.
    A crash anywhere rolls back the whole batch, which the next sweep finds due again. Should a stage row
    exist already (the unique (dispute, stage) row, the last line of exactly-once), the batch rolls back
    and its disputes are taken one at a time, so one conflict holds up no other dispute.

    ``deadlines`` is the sweep's: the next stage's deadline is the same for every dispute of a stage and
    urgency escalated at ``now``, so it is worked out (policy and calendar) once per sweep.
    """
    deadlines = {} if deadlines is None else deadlines
    try:
        with transaction.atomic():
            commit_without_waiting_for_disk()  # a lost escalation is found due again
            return _escalate_locked(dispute_ids, now, deadlines)
    except IntegrityError:
        if len(dispute_ids) == 1:
            return Counter({"skipped": 1})  # another sweep entered that stage first
        return sum((escalate_due_many([pk], now, deadlines=deadlines) for pk in dispute_ids), Counter())


# What an escalation reads of a dispute (it writes with UPDATE, never save()): not its description.
_SWEEP_READS = ("pk", "title", "stage", "state", "urgency", "office_step", "overdue")


def _escalate_locked(
    dispute_ids: Sequence[int], now: datetime, deadlines: dict[tuple[str, str], Deadline]
) -> Counter[str]:
    from core.actors import SYSTEM

    disputes = list(
        Dispute.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=list(dispute_ids), state=DisputeState.OPEN, deadline_at__lte=now, overdue=False)
        .only(*_SWEEP_READS)
        .order_by("pk")
    )
    counts: Counter[str] = Counter({"skipped": len(set(dispute_ids)) - len(disputes)})
    if not disputes:
        return counts
    # The parties' agencies as plain ids: who is told, without a model per party.
    parties: dict[int, list[int]] = defaultdict(list)
    for dispute_id, agency_id in DisputeParty.objects.filter(
        dispute_id__in=[d.pk for d in disputes]
    ).values_list("dispute_id", "agency_id"):
        parties[dispute_id].append(agency_id)
    moved: dict[tuple[str, str], list[int]] = defaultdict(list)
    overdue: list[int] = []
    stage_rows: list[DisputeStage] = []
    events: list[DisputeEvent] = []
    entries: list[AuditEntry] = []
    announcements: list[Announcement] = []
    texts: dict[str, tuple[str, str, str]] = {}
    for dispute in disputes:
        if dispute.stage == S.LEADERSHIP:
            dispute.overdue = True
            overdue.append(dispute.pk)
            event, entry = _event_rows(dispute, "overdue", SYSTEM, _("Leadership's time limit has passed."))
            title = _("Overdue at leadership: %(title)s") % {"title": dispute.title}
            announcements.append(
                _announcement(
                    dispute,
                    "overdue",
                    title,
                    roles=[Role.LEADER, Role.EDITORIAL_OFFICER],
                    agencies=parties[dispute.pk],
                )
            )
        else:
            from_stage = dispute.stage
            next_stage = LADDER[LADDER.index(Stage(from_stage)) + 1]
            key = (next_stage, dispute.urgency)
            if key not in deadlines:
                deadlines[key] = stage_deadline(next_stage, dispute.urgency, now)
            stage_rows.append(_move(dispute, next_stage, now, deadlines[key], by_sweep=True))
            moved[key].append(dispute.pk)
            if from_stage not in texts:  # translated once per stage, not once per dispute
                texts[from_stage] = (
                    _("The %(stage)s stage passed its deadline.") % {"stage": Stage(from_stage).label},
                    _("Dispute escalated to %(stage)s: %(title)s"),
                    str(Stage(next_stage).label),
                )
            reason, title_template, stage_label = texts[from_stage]
            event, entry = _event_rows(
                dispute, "escalate", SYSTEM, reason, from_stage=from_stage, from_state=DisputeState.OPEN
            )
            title = title_template % {"stage": stage_label, "title": dispute.title}
            roles = [Role.EDITORIAL_OFFICER] if next_stage == S.EDITORIAL_OFFICE else [Role.LEADER]
            agencies = parties[dispute.pk]
            announcements.append(
                _announcement(dispute, f"stage:{next_stage}", title, roles=roles, agencies=agencies)
            )
        events.append(event)
        entries.append(entry)
    insert_many(DisputeStage, stage_rows)
    for (stage, urgency), ids in moved.items():
        Dispute.objects.filter(pk__in=ids).update(**_stage_fields(stage, now, deadlines[stage, urgency]))
    if overdue:
        Dispute.objects.filter(pk__in=overdue).update(overdue=True)
    insert_many(DisputeEvent, events)
    audit_append(entries)
    # In the escalating transaction, not after it: a worker killed between the commit and an after-commit
    # callback would leave escalations nobody was told of. One INSERT, so the locks are held no longer.
    announce(announcements)
    counts["escalated"] = sum(len(ids) for ids in moved.values())
    counts["overdue"] = len(overdue)
    return counts
