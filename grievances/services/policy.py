"""The editable deadline policy (by kind of grievance, in working days)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from duty_lists import permissions
from grievances.models import DeadlinePolicy

EDITABLE = ("label", "working_days", "accept_hours")


def deadline_policy_update(
    *, actor: Any, policy: DeadlinePolicy, reason: str = "", **changes: Any
) -> DeadlinePolicy:
    """Change a kind's limits. New deadlines use it; grievances already received keep theirs (the citizen
    was told a date)."""
    if not (
        getattr(actor, "is_superuser", False)
        or permissions.is_system_admin(actor)
        or permissions.is_dispatcher(actor)
    ):
        raise PermissionRefused(_("Only system administrators and dispatchers change deadline policy."))
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ApplicationError(
            _("Unknown fields."), code="invalid_policy", extra={k: [_("Not editable.")] for k in unknown}
        )
    if changes.get("accept_hours") is not None and changes["accept_hours"] < 1:
        raise ApplicationError(
            _("At least one hour."), code="invalid_policy", extra={"accept_hours": [_("At least 1.")]}
        )
    with transaction.atomic():
        locked = DeadlinePolicy.objects.select_for_update().get(pk=policy.pk)
        before = {k: getattr(locked, k) for k in EDITABLE}
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save()
        audit_record(
            actor=actor,
            action="grievances.deadline_policy.update",
            target=locked,
            reason=reason,
            before=before,
            after={k: getattr(locked, k) for k in EDITABLE},
        )
    return locked
