from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from core.actors import SYSTEM
from core.audit import audit_record, verify_chain
from core.models import AuditEntry


def _entries(n: int) -> list[AuditEntry]:
    return [
        audit_record(
            actor=SYSTEM,
            action="test.thing.done",
            object_id=str(i),
            reason=f"step {i}",
            after={"i": i, "名称": "区市监局"},
        )
        for i in range(n)
    ]


@pytest.mark.django_db
def test_entries_form_a_chain_that_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    first, second, third = _entries(3)
    assert second.prev_hash == first.entry_hash and third.prev_hash == second.entry_hash
    assert [first.seq, second.seq, third.seq] == [first.seq, first.seq + 1, first.seq + 2]
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out


@pytest.mark.django_db
def test_entry_records_actor_reason_and_before_after(member_a) -> None:
    entry = audit_record(
        actor=member_a,
        action="test.agency.renamed",
        before={"name": "旧"},
        after={"name": "新"},
        reason="合并机构",
    )
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.actor == member_a and stored.actor_repr == "member_a"
    assert (stored.before, stored.after, stored.reason) == ({"name": "旧"}, {"name": "新"}, "合并机构")


@pytest.mark.django_db
def test_models_refuse_edit_and_delete() -> None:
    (entry,) = _entries(1)
    entry.reason = "rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_refuses_update_and_delete() -> None:
    (entry,) = _entries(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()


def _tamper(sql: str, params: list[str | int]) -> None:
    """What someone with database superuser rights could do: switch the guard off and rewrite a row."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # superuser only: triggers off
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


@pytest.mark.django_db
def test_verify_audit_reports_the_first_edited_row() -> None:
    entries = _entries(5)
    _tamper("UPDATE core_auditentry SET reason = %s WHERE seq = %s", ["nothing happened", entries[2].seq])
    report = verify_chain()
    assert report.broken_seq == entries[2].seq
    assert "altered" in report.problem
    with pytest.raises(CommandError, match=f"#{entries[2].seq}"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_reports_a_deleted_row() -> None:
    entries = _entries(4)
    _tamper("DELETE FROM core_auditentry WHERE seq = %s", [entries[1].seq])
    report = verify_chain()
    assert report.broken_seq == entries[1].seq
    assert "missing" in report.problem


@pytest.mark.django_db
def test_verify_audit_reports_a_deleted_tail() -> None:
    entries = _entries(3)
    _tamper("DELETE FROM core_auditentry WHERE seq = %s", [entries[-1].seq])
    assert verify_chain().broken_seq == entries[-1].seq


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain() -> None:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(10):
                audit_record(actor=SYSTEM, action="test.concurrent")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = verify_chain()
    assert report.ok, report.problem
    assert AuditEntry.objects.filter(action="test.concurrent").count() == 80
