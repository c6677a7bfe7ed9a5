"""Every write of arbitration goes through these functions."""

from arbitration.services.disputes import (
    TRANSITIONS,
    dispute_file,
    dispute_transition,
    meeting_record,
    position_record,
)
from arbitration.services.escalation import escalate_due
from arbitration.services.notifications import notification_mark_read, notify
from arbitration.services.rulings import (
    FollowUpSpec,
    NewDuty,
    agreement_report,
    followup_close,
    followup_report,
    ruling_correct,
    ruling_issue,
)
from arbitration.services.sweep import report_overdue, sweep

__all__ = [
    "TRANSITIONS",
    "FollowUpSpec",
    "NewDuty",
    "agreement_report",
    "dispute_file",
    "dispute_transition",
    "escalate_due",
    "followup_close",
    "followup_report",
    "meeting_record",
    "notification_mark_read",
    "notify",
    "position_record",
    "report_overdue",
    "ruling_correct",
    "ruling_issue",
    "sweep",
]
