"""core.bulk.insert_many: what the sweep writes thousands of a minute, read back as written."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.audit import audit_append, audit_entry, verify_chain
from core.models import AuditEntry


@pytest.mark.django_db
def test_rows_written_in_one_statement_read_back_as_written_and_keep_the_chain() -> None:
    from core.actors import SYSTEM

    entries = [
        audit_entry(
            actor=SYSTEM,
            action="tests.bulk.row",
            object_type="tests.thing",
            object_id=str(n),
            reason=f"第{n}条",
            before={"stage": "negotiation", "n": n, "list": [1, "二"]} if n % 2 else None,
            after={"stage": "editorial_office"},
        )
        for n in range(5)
    ]
    audit_append(entries)
    rows = list(AuditEntry.objects.filter(action="tests.bulk.row").order_by("seq"))
    assert [r.object_id for r in rows] == ["0", "1", "2", "3", "4"]
    assert rows[1].before == {"stage": "negotiation", "n": 1, "list": [1, "二"]}
    assert rows[0].before is None and rows[0].ip_address is None
    assert rows[3].reason == "第3条" and rows[3].at <= timezone.now()
    assert verify_chain().ok
