"""The audit log: append an entry, and verify the hash chain.

Each entry's hash covers its own fields and the previous entry's hash. Appending locks the single chain-head
row, so concurrent writers queue up and the chain stays one line; the lock is held until the surrounding
transaction commits, which is what we want — an entry whose business change rolls back disappears with it
and leaves no gap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from core.bulk import insert_many
from core.models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64


def _normalise(value: Any) -> Any:
    """What a JSONField gives back after a round trip, so the hash computed now matches the one recomputed
    from the stored row later (dates become strings, tuples lists, Decimals strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _entry_hash(entry: AuditEntry) -> str:
    payload = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(),
        "actor_id": entry.actor_id,
        "actor_repr": entry.actor_repr,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "reason": entry.reason,
        "before": entry.before,
        "after": entry.after,
        "ip_address": entry.ip_address,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it, and an
    # audit trail must not record an address the actor chose.
    return request.META.get("REMOTE_ADDR") or None


def audit_record(*, actor: Any, action: str, **details: Any) -> AuditEntry:
    """Append one entry. ``action`` is a dotted code such as ``duty_lists.membership.granted``; ``details``
    are ``audit_entry``'s (target, reason, before, after, request …)."""
    entry = audit_entry(actor=actor, action=action, **details)
    audit_append([entry])
    return entry


def audit_entry(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_repr: str | None = None,
) -> AuditEntry:
    """An entry not yet in the chain: give a list of them to ``audit_append``."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    if actor_repr is None:
        actor_repr = (actor.get_username() if actor is not None else "") or "anonymous"
    return AuditEntry(
        at=timezone.now(),
        actor=actor if authenticated else None,
        actor_repr=actor_repr,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=reason,
        before=_normalise(before),
        after=_normalise(after),
        ip_address=client_ip(request),
    )


def audit_append(entries: list[AuditEntry]) -> None:
    """Chain the entries on in order under one lock of the head, and write them in one statement (the sweep
    appends one per dispute it escalates)."""
    if not entries:
        return
    # No savepoint inside the caller's transaction: an entry that fails to write fails the business change
    # with it, and the two statements a savepoint costs add up on every audited write.
    with transaction.atomic(savepoint=False):
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:  # a database flushed by tests, or restored without it: start the chain again
            AuditChainHead.objects.get_or_create(pk=1)
            head = AuditChainHead.objects.select_for_update().get(pk=1)
        seq, previous = head.seq, head.entry_hash
        for entry in entries:
            seq += 1
            entry.seq, entry.prev_hash = seq, previous
            entry.entry_hash = previous = _entry_hash(entry)
        if len(entries) == 1:
            entries[0].save()
        else:
            insert_many(AuditEntry, entries)
        AuditChainHead.objects.filter(pk=1).update(seq=seq, entry_hash=previous)


def audit_access_refused(*, request: HttpRequest, reason: str = "") -> AuditEntry:
    return audit_record(
        actor=getattr(request, "user", None),
        action="core.access.refused",
        object_type="url",
        object_id=request.get_full_path()[:100],
        reason=reason or request.method or "",
        request=request,
    )


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify_chain() -> ChainReport:
    """Walk the chain in order and report the first entry that does not fit it."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return ChainReport(
                checked, expected_seq, f"entry #{expected_seq} is missing (next is #{entry.seq})"
            )
        if entry.prev_hash != expected_prev:
            return ChainReport(
                checked, entry.seq, f"entry #{entry.seq} does not link to entry #{entry.seq - 1}"
            )
        if _entry_hash(entry) != entry.entry_hash:
            return ChainReport(checked, entry.seq, f"entry #{entry.seq} was altered after it was written")
        expected_prev = entry.entry_hash
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.seq != checked:
        return ChainReport(
            checked, checked + 1, f"entries after #{checked} are missing (head is #{head.seq})"
        )
    return ChainReport(checked)
