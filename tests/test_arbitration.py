"""Arbitration's rules: the ladder's transitions, deadlines in working days and minutes, the sweep that
escalates each stalled stage exactly once, rulings that rewrite the duty list, and notifications."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arbitration.deadlines import stage_deadline
from arbitration.models import (
    Dispute,
    DisputeEvent,
    DisputeStage,
    EscalationPolicy,
    Notification,
    Position,
    Ruling,
)
from arbitration.services import (
    TRANSITIONS,
    FollowUpSpec,
    NewDuty,
    dispute_transition,
    position_record,
    ruling_issue,
    sweep,
)
from core.audit import verify_chain
from core.errors import ApplicationError, Conflict, PermissionRefused
from core.models import AuditEntry
from core.workdays import SHANGHAI
from duty_lists import selectors
from duty_lists.models import AmendmentState, Duty
from tests.arbitration_helpers import file_dispute
from tests.factories import AgencyFactory
from tests.registry import make_list, publish, stage

SH = SHANGHAI


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


# --- Deadlines ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_negotiation_deadline_crosses_national_day_and_its_make_up_saturday() -> None:
    # 5 working days from Tue 2025-09-30 10:00: Oct 1-8 are off; Thu 9, Fri 10, Sat 11 (make-up),
    # Mon 13, Tue 14.
    deadline = stage_deadline("negotiation", "normal", at(2025, 9, 30, 10, 0))
    assert deadline.at == at(2025, 10, 14, 10, 0)
    assert deadline.remind_at == at(2025, 10, 13, 10, 0)


@pytest.mark.django_db
def test_urgent_matters_count_in_minutes() -> None:
    deadline = stage_deadline("negotiation", "urgent", at(2025, 10, 1, 23, 50))  # a holiday: irrelevant
    assert deadline.at == at(2025, 10, 2, 0, 20)
    assert deadline.remind_at == at(2025, 10, 2, 0, 10)
    assert stage_deadline("editorial_office", "urgent", at(2025, 10, 1, 9)).at == at(2025, 10, 1, 11)


@pytest.mark.django_db
def test_an_administrator_changes_the_policy() -> None:
    EscalationPolicy.objects.filter(stage="negotiation", urgency="normal").update(working_days=3)
    # 3 working days from Tue 2025-09-30: Thu 9, Fri 10 and the make-up Saturday 11 October
    assert stage_deadline("negotiation", "normal", at(2025, 9, 30, 10)).at == at(2025, 10, 11, 10)


@pytest.mark.django_db
def test_a_pause_does_not_count(officer, member_a, agency_a, agency_b) -> None:
    with time_machine.travel(at(2025, 11, 3, 9, 0), tick=False) as traveller:  # a Monday
        dispute = file_dispute(member_a, agency_a, agency_b)
        assert dispute.deadline_at == at(2025, 11, 10, 9, 0)
        traveller.shift(timedelta(days=1))  # Tue: 4 working days left
        dispute_transition(actor=officer, dispute=dispute, action="pause", reason="等待材料")
        traveller.shift(timedelta(days=7))  # the next Tuesday
        assert not sweep().get("escalated")  # a paused dispute is not swept
        dispute.refresh_from_db()
        assert dispute.stage == "negotiation"
        dispute = dispute_transition(actor=officer, dispute=dispute, action="resume")
        assert dispute.deadline_at == at(2025, 11, 17, 9, 0)  # Tue 11th + 4 working days


# --- The state machine --------------------------------------------------------------------------------------


def test_the_transition_table_is_the_documented_ladder() -> None:
    assert set(TRANSITIONS) == {
        "escalate",
        "accept_scope",
        "reject_scope",
        "request_legal_review",
        "give_legal_opinion",
        "give_feedback",
        "pause",
        "resume",
        "withdraw",
    }
    assert TRANSITIONS["escalate"].stages == {"negotiation", "editorial_office"}


@pytest.mark.django_db
def test_walk_through_the_editorial_office(officer, legal_reviewer, member_a, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    dispute = dispute_transition(actor=member_a, dispute=dispute, action="escalate", reason="协商不成")
    assert (dispute.stage, dispute.office_step) == ("editorial_office", "assess")
    dispute = dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    dispute = dispute_transition(actor=officer, dispute=dispute, action="request_legal_review")
    dispute = dispute_transition(
        actor=legal_reviewer,
        dispute=dispute,
        action="give_legal_opinion",
        reason="依据《无证无照经营查处办法》第四条",
    )
    assert dispute.office_step == "coordinate"
    dispute = dispute_transition(
        actor=officer, dispute=dispute, action="give_feedback", reason="请双方按此执行"
    )
    actions = list(DisputeEvent.objects.filter(dispute=dispute).values_list("action", flat=True))
    assert actions == [
        "file",
        "escalate",
        "accept_scope",
        "request_legal_review",
        "give_legal_opinion",
        "give_feedback",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "action", "error"),
    [
        ("member_b", "withdraw", PermissionRefused),  # only the filer withdraws
        ("member_a", "pause", PermissionRefused),  # only the office pauses
        ("member_a", "accept_scope", PermissionRefused),
        ("officer", "accept_scope", Conflict),  # not at the editorial office yet
        ("legal_reviewer", "give_legal_opinion", Conflict),
        ("outsider", "escalate", PermissionRefused),  # not a party
    ],
)
def test_refused_transitions_change_nothing(
    request, member_a, agency_a, agency_b, actor, action, error
) -> None:
    if actor == "outsider":
        from tests.conftest import _person

        person = _person("outsider", AgencyFactory(code="X-other"), "agency_staff")
    else:
        person = request.getfixturevalue(actor)
    dispute = file_dispute(member_a, agency_a, agency_b)
    with pytest.raises(error):
        dispute_transition(actor=person, dispute=dispute, action=action, reason="理由")
    dispute.refresh_from_db()
    assert (dispute.stage, dispute.state) == ("negotiation", "open")


@pytest.mark.django_db
def test_steps_are_safe_to_repeat(officer, member_a, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    dispute_transition(actor=officer, dispute=dispute, action="pause", reason="等待材料")
    dispute_transition(actor=officer, dispute=dispute, action="pause", reason="等待材料")
    assert DisputeEvent.objects.filter(dispute=dispute, action="pause").count() == 1


@pytest.mark.django_db
def test_positions_keep_every_version(member_a, member_b, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    position_record(actor=member_b, dispute=dispute, agency=agency_b, stance="declines", statement="不属本局")
    position_record(
        actor=member_b,
        dispute=dispute,
        agency=agency_b,
        stance="proposes",
        statement="应由城管负责",
        proposed_agency=agency_a,
    )
    position_record(
        actor=member_b,
        dispute=dispute,
        agency=agency_b,
        stance="proposes",
        statement="应由城管负责",
        proposed_agency=agency_a,
    )  # the same again: not a new version
    assert list(Position.objects.filter(agency=agency_b).values_list("version", "stance")) == [
        (2, "proposes"),
        (1, "declines"),
    ]
    with pytest.raises(PermissionRefused):
        position_record(actor=member_a, dispute=dispute, agency=agency_b, stance="accepts", statement="x")


@pytest.mark.django_db
def test_filing_reports_every_problem_and_saves_nothing(member_a, agency_a) -> None:
    with pytest.raises(ApplicationError) as refused:
        from arbitration.models import Domain
        from arbitration.services import dispute_file

        dispute_file(
            actor=member_a,
            title=" ",
            description="",
            kind="overlap",
            domain=Domain.objects.first(),
            filing_agency=agency_a,
            respondents=[],
        )
    assert {"title", "description", "respondents", "duties"} <= set(refused.value.extra)
    assert not Dispute.objects.exists()


# --- The sweep ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_escalates_a_stalled_stage_once_when_run_twice(member_a, agency_a, agency_b) -> None:
    with time_machine.travel(at(2025, 11, 3, 9, 0), tick=False) as traveller:
        dispute = file_dispute(member_a, agency_a, agency_b)
        traveller.shift(timedelta(days=7, minutes=1))
        first, second = sweep(), sweep()
    assert first.get("escalated") == 1 and not second.get("escalated")
    dispute.refresh_from_db()
    assert dispute.stage == "editorial_office" and dispute.office_step == "assess"
    assert DisputeStage.objects.filter(dispute=dispute, stage="editorial_office", by_sweep=True).count() == 1
    assert DisputeEvent.objects.filter(dispute=dispute, action="escalate").count() == 1


def _due_disputes(member_a: Any, agency_a: Any, agency_b: Any, count: int) -> list[Dispute]:
    disputes = [file_dispute(member_a, agency_a, agency_b, title=f"争议{i}") for i in range(count)]
    Dispute.objects.filter(pk__in=[d.pk for d in disputes]).update(
        deadline_at=timezone.now() - timedelta(minutes=1)
    )
    return disputes


@pytest.mark.django_db
def test_a_sweep_costs_the_same_queries_for_ten_due_disputes_as_for_forty(
    member_a, member_b, officer, agency_a, agency_b, django_capture_on_commit_callbacks
) -> None:
    def sweep_queries(count: int) -> int:
        _due_disputes(member_a, agency_a, agency_b, count)
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            assert sweep()["escalated"] == count
        return len(queries)

    assert sweep_queries(10) == sweep_queries(40)
    # Everything each escalation owes is there: a stage row, an event, an audit entry in an unbroken
    # chain, and one message per party's staff and officer.
    for dispute in Dispute.objects.all():
        assert dispute.stage == "editorial_office" and dispute.office_step == "assess"
        assert DisputeStage.objects.filter(dispute=dispute, stage="editorial_office", by_sweep=True).exists()
        assert DisputeEvent.objects.filter(dispute=dispute, action="escalate").count() == 1
        for person in (member_a, member_b, officer):
            key = f"dispute:{dispute.pk}:stage:editorial_office"
            assert Notification.objects.filter(recipient=person, key=key).count() == 1
    assert AuditEntry.objects.filter(action="arbitration.dispute.escalate").count() == 50
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_stage_row_already_there_holds_up_only_its_own_dispute(member_a, agency_a, agency_b) -> None:
    disputes = _due_disputes(member_a, agency_a, agency_b, 5)
    odd = disputes[2]
    # As if another path had entered the editorial office for it without moving the dispute along.
    DisputeStage.objects.create(
        dispute=odd, stage="editorial_office", entered_at=timezone.now(), deadline_at=timezone.now()
    )
    counts = sweep()
    assert counts["escalated"] == 4 and counts["skipped"] == 1
    assert Dispute.objects.get(pk=odd.pk).stage == "negotiation"
    assert not DisputeEvent.objects.filter(dispute=odd, action="escalate").exists()
    assert Dispute.objects.filter(stage="editorial_office").count() == 4


@pytest.mark.django_db
def test_leadership_past_its_deadline_is_flagged_overdue_and_reported(
    officer, leader, member_a, agency_a, agency_b
) -> None:
    from arbitration.services import report_overdue

    with time_machine.travel(at(2025, 11, 3, 9, 0), tick=False) as traveller:
        dispute = file_dispute(member_a, agency_a, agency_b, urgency="urgent")
        for _ in range(3):
            traveller.shift(timedelta(hours=5))
            sweep()
        dispute.refresh_from_db()
        assert dispute.stage == "leadership" and dispute.overdue and dispute.state == "open"
        assert report_overdue() == 1
    assert Notification.objects.filter(recipient=leader, key__startswith="overdue-report:").count() == 1


@pytest.mark.django_db
def test_the_sweep_sends_a_reminder_once_before_the_deadline(
    member_a, member_b, agency_a, agency_b, django_capture_on_commit_callbacks
) -> None:
    with time_machine.travel(at(2025, 11, 3, 9, 0), tick=False) as traveller:
        dispute = file_dispute(member_a, agency_a, agency_b)
        traveller.shift(
            timedelta(days=6, minutes=1)
        )  # Sun 9th: past the reminder (Fri 7th), before the deadline
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep()["reminded"] == 1
            assert sweep()["reminded"] == 0
    assert (
        Notification.objects.filter(
            recipient=member_b, key=f"dispute:{dispute.pk}:remind:negotiation"
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_reminders_go_out_in_batches_once_per_stage_to_every_party(
    member_a, member_b, agency_a, agency_b, django_capture_on_commit_callbacks
) -> None:
    def remind_queries(count: int) -> int:
        with time_machine.travel(at(2025, 11, 3, 9, 0), tick=False):
            disputes = [file_dispute(member_a, agency_a, agency_b, title=f"提醒{i}") for i in range(count)]
        Dispute.objects.filter(pk__in=[d.pk for d in disputes]).update(
            remind_at=timezone.now() - timedelta(minutes=1), deadline_at=timezone.now() + timedelta(days=1)
        )
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            assert sweep()["reminded"] == count
        for dispute in disputes:
            for person in (member_a, member_b):
                key = f"dispute:{dispute.pk}:remind:negotiation"
                assert Notification.objects.filter(recipient=person, key=key).count() == 1
        return len(queries)

    # Not one round of statements per dispute: five and thirty reminders cost the same.
    assert remind_queries(5) == remind_queries(30)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep()["reminded"] == 0


@pytest.mark.django_db
def test_an_escalation_commits_with_its_messages_even_if_nothing_runs_after_the_commit(
    member_a, member_b, agency_a, agency_b, django_capture_on_commit_callbacks
) -> None:
    (dispute,) = _due_disputes(member_a, agency_a, agency_b, 1)
    # execute=False: as a worker killed between the commit and its after-commit callbacks.
    with django_capture_on_commit_callbacks(execute=False):
        assert sweep()["escalated"] == 1
    key = f"dispute:{dispute.pk}:stage:editorial_office"
    assert set(Notification.objects.filter(key=key).values_list("recipient", flat=True)) >= {
        member_a.pk,
        member_b.pk,
    }


@pytest.mark.django_db
def test_messages_whose_email_task_was_lost_are_queued_again_once_they_have_waited(
    member_a, member_b, agency_a, agency_b, django_capture_on_commit_callbacks, settings
) -> None:
    from unittest import mock

    from arbitration.services.notifications import EMAIL_REQUEUE_AFTER, notification_emails_requeue

    (dispute,) = _due_disputes(member_a, agency_a, agency_b, 1)
    # The broker is down when the escalation commits: the sweep still succeeds, its messages are in the
    # inboxes, and their e-mails are not queued.
    with (
        mock.patch("arbitration.tasks.notification_emails.delay", side_effect=ConnectionError("redis down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep()["escalated"] == 1
    waiting = Notification.objects.filter(key__startswith=f"dispute:{dispute.pk}:", emailed_at__isnull=True)
    assert waiting.count() >= 2
    addresses = sorted(n.recipient.email for n in waiting.select_related("recipient") if n.recipient.email)
    assert addresses
    later = timezone.now() + EMAIL_REQUEUE_AFTER
    assert notification_emails_requeue(timezone.now()) == 0  # not yet: its task may only be queued behind
    with mock.patch("arbitration.tasks.notification_emails.delay") as delay:
        assert notification_emails_requeue(later) == waiting.count()
    (ids,) = delay.call_args.args
    from arbitration.services.notifications import notification_send_emails

    notification_send_emails(ids)
    assert not waiting.exists()
    from django.core import mail

    assert sorted(m.to[0] for m in mail.outbox) == addresses


def _sweeps_at_once(workers: int) -> list[dict[str, int]]:
    """``workers`` sweeps started together, each in a thread with its own connection; what each returned.
    An error in any of them fails the test."""
    errors: list[BaseException] = []
    results: list[dict[str, int]] = []
    barrier = threading.Barrier(workers)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(sweep())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_workers_reminding_at_once_send_each_reminder_exactly_once(
    member_a, member_b, agency_a, agency_b
) -> None:
    with time_machine.travel(at(2025, 11, 3, 9, 0), tick=False):
        disputes = [file_dispute(member_a, agency_a, agency_b, title=f"提醒{i}") for i in range(30)]
    Dispute.objects.update(
        remind_at=timezone.now() - timedelta(minutes=1), deadline_at=timezone.now() + timedelta(days=1)
    )
    assert sum(counts["reminded"] for counts in _sweeps_at_once(8)) == 30
    for dispute in disputes:
        for person in (member_a, member_b):
            key = f"dispute:{dispute.pk}:remind:negotiation"
            assert Notification.objects.filter(recipient=person, key=key).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_workers_sweeping_at_once_escalate_each_dispute_exactly_once(
    member_a, agency_a, agency_b
) -> None:
    with time_machine.travel(at(2025, 11, 3, 9, 0), tick=False):
        disputes = [file_dispute(member_a, agency_a, agency_b, title=f"争议{i}") for i in range(30)]
    Dispute.objects.update(deadline_at=timezone.now() - timedelta(minutes=1))
    _sweeps_at_once(8)
    for dispute in disputes:
        assert DisputeStage.objects.filter(dispute=dispute, stage="editorial_office").count() == 1
        assert DisputeEvent.objects.filter(dispute=dispute, action="escalate").count() == 1
    assert set(Dispute.objects.values_list("stage", flat=True)) == {"editorial_office"}


@pytest.mark.django_db
def test_the_database_refuses_entering_a_stage_twice(member_a, agency_a, agency_b) -> None:
    dispute = file_dispute(member_a, agency_a, agency_b)
    with pytest.raises(IntegrityError), transaction.atomic():
        DisputeStage.objects.create(dispute=dispute, stage="negotiation", entered_at=timezone.now())


# --- Rulings ------------------------------------------------------------------------------------------------


@pytest.fixture
def overlap(officer, member_a, agency_a, agency_b):
    duty_list = make_list("ms")
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    publish(duty_list)
    dispute = file_dispute(
        member_a, agency_a, agency_b, kind="overlap", duties=(Duty.objects.get(code="01-01-0001"),)
    )
    dispute = dispute_transition(actor=member_a, dispute=dispute, action="escalate", reason="协商不成")
    return dispute_transition(actor=officer, dispute=dispute, action="accept_scope"), duty_list


@pytest.mark.django_db
def test_a_class_ruling_drafts_the_amendment_and_the_published_duty_points_back(
    overlap, officer, legal_reviewer, agency_a, agency_b
) -> None:
    from duty_lists.services import amendment_approve, amendment_pass_legal_review

    dispute, duty_list = overlap
    ruling = ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=agency_b,
        lead_responsibility="查处无照占道经营",
        cooperating=[(agency_a, "配合清理占道")],
        rationale="属市场主体经营行为",
        scope="class",
        effective_date=date(2025, 12, 1),
        follow_ups=[FollowUpSpec(agency_b, "一个月内完成交接", date(2026, 1, 1))],
    )
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == ("closed", "ruled")
    amendment = ruling.amendment
    assert (
        amendment is not None
        and amendment.kind == "transfer"
        and amendment.state == AmendmentState.LEGAL_REVIEW
    )
    assert amendment.source_ref == f"arbitration.ruling:{ruling.pk}"
    amendment_pass_legal_review(actor=legal_reviewer, amendment=amendment)
    amendment_approve(actor=officer, amendment=amendment)
    publish(duty_list)
    revision = selectors.revisions_in_force(duty_list=duty_list).get(code="01-01-0001")
    assert revision.lead.agency == agency_b and revision.source_ref == f"arbitration.ruling:{ruling.pk}"


@pytest.mark.django_db
def test_a_gap_ruling_drafts_a_new_duty(officer, member_a, agency_a, agency_b) -> None:
    duty_list = make_list("ms")
    dispute = file_dispute(member_a, agency_a, agency_b, kind="gap")
    dispute.duty_list = duty_list
    dispute.save(update_fields=["duty_list"])
    dispute = dispute_transition(actor=member_a, dispute=dispute, action="escalate", reason="无人负责")
    dispute = dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    ruling = ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=agency_b,
        lead_responsibility="负责共享单车乱停放治理",
        rationale="清单空白",
        scope="class",
        effective_date=date(2025, 12, 1),
        new_duty=NewDuty(classification="01-01", title="共享单车乱停放"),
    )
    assert ruling.amendment is not None and ruling.amendment.kind == "add"
    assert ruling.amendment.proposal["title"] == "共享单车乱停放"


@pytest.mark.django_db
def test_refused_amendment_keeps_nothing_of_the_ruling(officer, member_a, agency_a, agency_b) -> None:
    duty_list = make_list("ms")
    dispute = file_dispute(member_a, agency_a, agency_b, kind="gap")
    dispute.duty_list = duty_list
    dispute.save(update_fields=["duty_list"])
    dispute = dispute_transition(actor=member_a, dispute=dispute, action="escalate", reason="无人负责")
    dispute = dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    with pytest.raises(ApplicationError):
        ruling_issue(
            actor=officer,
            dispute=dispute,
            lead_agency=agency_b,
            lead_responsibility="x",
            rationale="y",
            scope="class",
            effective_date=date(2025, 12, 1),
            new_duty=NewDuty(classification="09-09", title="不存在的分类"),
        )
    assert not Ruling.objects.exists()
    dispute.refresh_from_db()
    assert dispute.state == "open"


@pytest.mark.django_db
def test_only_officers_rule_and_only_leaders_decide(overlap, member_a, leader, officer, agency_b) -> None:
    dispute, _list = overlap
    for person, kind in ((member_a, "ruling"), (leader, "ruling"), (officer, "decision")):
        with pytest.raises(PermissionRefused):
            ruling_issue(
                actor=person,
                dispute=dispute,
                lead_agency=agency_b,
                lead_responsibility="x",
                rationale="y",
                effective_date=date(2025, 12, 1),
                kind=kind,
            )
    with pytest.raises(Conflict):  # a leader decides only at leadership
        ruling_issue(
            actor=leader,
            dispute=dispute,
            lead_agency=agency_b,
            lead_responsibility="x",
            rationale="y",
            effective_date=date(2025, 12, 1),
            kind="decision",
        )


@pytest.mark.django_db
def test_the_database_allows_one_current_ruling_per_dispute(overlap, officer, agency_b) -> None:
    dispute, _list = overlap
    ruling = ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=agency_b,
        lead_responsibility="x",
        rationale="y",
        effective_date=date(2025, 12, 1),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Ruling.objects.create(
            dispute=dispute,
            lead_agency=agency_b,
            lead_responsibility="x",
            rationale="z",
            effective_date=date(2025, 12, 1),
            issued_at=timezone.now(),
        )
    from arbitration.services import ruling_correct

    corrected = ruling_correct(actor=officer, ruling=ruling, rationale="更正依据", lead_responsibility="查处")
    ruling.refresh_from_db()
    assert not ruling.is_current and corrected.supersedes == ruling and corrected.is_current


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_ruling_at_once_make_one_ruling(officer, member_a, agency_a, agency_b) -> None:
    from duty_lists.models import Role
    from tests.conftest import _person

    second_officer = _person("officer2", officer.memberships.first().agency, Role.EDITORIAL_OFFICER)
    dispute = file_dispute(member_a, agency_a, agency_b)
    dispute = dispute_transition(actor=member_a, dispute=dispute, action="escalate", reason="协商不成")
    dispute = dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def rule(person) -> None:
        try:
            barrier.wait()
            ruling_issue(
                actor=person,
                dispute=dispute,
                lead_agency=agency_b,
                lead_responsibility="x",
                rationale="y",
                effective_date=date(2025, 12, 1),
            )
            outcomes.append("issued")
        except Conflict:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=rule, args=(p,)) for p in (officer, second_officer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["issued", "refused"]
    assert Ruling.objects.filter(dispute=dispute).count() == 1


# --- Notifications ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_notifications_are_sent_after_commit_and_once(
    member_a, member_b, agency_a, agency_b, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dispute = file_dispute(member_a, agency_a, agency_b)
        assert not Notification.objects.exists()  # nothing before the commit
    with django_capture_on_commit_callbacks(execute=True) as mail_callbacks:
        for callback in callbacks:
            callback()
    assert Notification.objects.filter(recipient=member_b, key=f"dispute:{dispute.pk}:filed").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:  # the same announcement again (a retried task): no duplicate
            callback()
    assert Notification.objects.filter(recipient=member_b, key=f"dispute:{dispute.pk}:filed").count() == 1
    from arbitration.services.notifications import notification_send_emails

    note = Notification.objects.get(recipient=member_b)
    assert notification_send_emails([note.pk]) == 1
    assert notification_send_emails([note.pk]) == 0  # a retried e-mail task sends nothing
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [member_b.email]
    assert mail_callbacks is not None


@pytest.mark.django_db
def test_one_announcement_queues_one_email_task_for_all_its_recipients(
    member_a, member_b, officer, agency_a, agency_b, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from arbitration import tasks
    from arbitration.services.notifications import notify

    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.notification_emails, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(recipients=[member_a, member_b, officer], key="k", title="会商") == 3
    assert queued == [sorted(Notification.objects.values_list("pk", flat=True))]
    with django_capture_on_commit_callbacks(execute=True):
        # Announced again with one more recipient: only the newcomer is written and e-mailed.
        assert notify(recipients=[member_a, member_b, officer], key="k", title="会商") == 0
        assert notify(recipients=[member_b], key="k2", title="另一件") == 1
    assert len(queued) == 2 and len(queued[1]) == 1
    assert Notification.objects.filter(key="k").count() == 3


@pytest.mark.django_db
def test_messages_are_emailed_even_where_a_bulk_insert_returns_no_ids(
    member_a, member_b, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from arbitration import tasks
    from arbitration.services.notifications import notify

    monkeypatch.setattr(connection.features, "can_return_rows_from_bulk_insert", False)
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.notification_emails, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(recipients=[member_a, member_b], key="k", title="会商") == 2
    assert queued and sorted(queued[0]) == sorted(Notification.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_an_email_the_mail_server_refuses_is_retried_and_the_sent_ones_are_not(
    member_a, member_b, monkeypatch, mailoutbox
) -> None:
    import smtplib

    from django.core import mail

    from arbitration.services.notifications import EmailNotSent, notification_send_emails

    first = Notification.objects.create(recipient=member_a, key="x", title="甲", created_at=timezone.now())
    second = Notification.objects.create(recipient=member_b, key="x", title="乙", created_at=timezone.now())
    real_send = mail.EmailMessage.send

    def refuse_b(message, *args, **kwargs):
        if message.to == [member_b.email]:
            raise smtplib.SMTPServerDisconnected("gone")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMessage, "send", refuse_b)
    with pytest.raises(EmailNotSent):
        notification_send_emails([first.pk, second.pk])
    second.refresh_from_db()
    assert second.emailed_at is None and len(mailoutbox) == 1

    monkeypatch.setattr(mail.EmailMessage, "send", real_send)
    assert notification_send_emails([first.pk, second.pk]) == 1  # the retry: only the one not yet sent
    assert [m.to for m in mailoutbox] == [[member_a.email], [member_b.email]]


@pytest.mark.django_db
def test_the_beat_tasks_reach_their_services(member_a, leader, agency_a, agency_b) -> None:
    from arbitration.tasks import report_overdue_daily, sweep_disputes

    dispute = file_dispute(member_a, agency_a, agency_b)
    Dispute.objects.filter(pk=dispute.pk).update(deadline_at=timezone.now() - timedelta(minutes=1))
    assert sweep_disputes.apply().get()["escalated"] == 1
    assert report_overdue_daily.apply().get() == 0
