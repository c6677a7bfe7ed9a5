"""The office's note on a legal basis: is the law still in force, and when is it next to be reviewed.

A legal basis belongs to a duty revision, and published revisions are never edited — but whether the law a
duty cites has been repealed is a fact about the law, not content of the edition: the edition said "on the
basis of article 14 of X", and it still did after X was repealed. So these two fields are changed in place,
audited, and carried over when the duty is staged again (``revisions_stage``), so that an unrelated
amendment does not silently mark a repealed law as in force again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from duty_lists import permissions
from duty_lists.models import LegalBasis, LegalBasisStatus


def _snapshot(basis: LegalBasis) -> dict[str, Any]:
    return {"status": basis.status, "review_date": basis.review_date}


def legal_basis_mark(
    *,
    actor: Any,
    legal_basis: LegalBasis,
    status: str,
    review_date: date | None,
    reason: str,
) -> LegalBasis:
    """Set a legal basis's status and review date.

    1. Only editorial-office officers; the status must be one of LegalBasisStatus; a reason is required
       (it is what the audit log will say).
    2. Lock the row; the same status and date again change nothing and write no audit entry.
    3. Save the two fields and audit the change (before, after, reason) in the same transaction.
    """
    if not (actor.is_superuser or permissions.is_editorial_officer(actor)):
        raise PermissionRefused(_("Only an editorial-office officer may mark a legal basis."))
    if status not in LegalBasisStatus.values:
        raise ApplicationError(
            _("Unknown status “%(status)s”.") % {"status": status},
            code="invalid",
            extra={"status": [_("Choose in force, amended or repealed.")]},
        )
    reason = reason.strip()
    if not reason:
        raise ApplicationError(
            _("Say why the legal basis is marked so."), code="invalid", extra={"reason": [_("Required.")]}
        )
    with transaction.atomic():
        locked = LegalBasis.objects.select_for_update().get(pk=legal_basis.pk)
        before = _snapshot(locked)
        if before == {"status": status, "review_date": review_date}:
            return locked  # a repeat: nothing changed
        locked.status, locked.review_date = status, review_date
        locked.save(update_fields=["status", "review_date"])
        audit_record(
            actor=actor,
            action="duty_lists.legal_basis.marked",
            target=locked,
            reason=reason,
            before=before,
            after=_snapshot(locked),
        )
    return locked
