"""Writes to user accounts. Accounts are the system administrator's; roles are the security administrator's
(duty_lists.services.membership_grant); the audit log is the auditor's to read and nobody's to write."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils.translation import gettext as _

from core import registry
from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from core.registry import SECURITY_ADMIN, SYSTEM_ADMIN


def _require_system_admin(actor: Any) -> None:
    if not (actor.is_superuser or registry.has_any_role(actor, {SYSTEM_ADMIN})):
        raise PermissionRefused(_("Only a system administrator may manage user accounts."))


def user_create(
    *, actor: Any, username: str, password: str, name: str = "", email: str = "", reason: str = ""
) -> Any:
    _require_system_admin(actor)
    user_model = get_user_model()
    with transaction.atomic():
        existing = user_model.objects.select_for_update().filter(username=username).first()
        if existing is not None:
            raise ApplicationError(
                _("The user name %(u)s is taken.") % {"u": username},
                code="duplicate_username",
                extra={"username": [_("This user name is taken.")]},
            )
        user = user_model(username=username, name=name, email=email)
        validate_password(password, user)
        user.set_password(password)
        user.full_clean()
        user.save()
        audit_record(
            actor=actor,
            action="core.user.created",
            target=user,
            reason=reason,
            after={"username": username, "name": name, "email": email},
        )
    return user


def user_set_active(*, actor: Any, user: Any, active: bool, reason: str = "") -> Any:
    _require_system_admin(actor)
    if actor.pk == user.pk:
        raise PermissionRefused(_("You may not deactivate your own account."))
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        if user.is_active == active:
            return user
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="core.user.activated" if active else "core.user.deactivated",
            target=user,
            reason=reason,
            before={"is_active": not active},
            after={"is_active": active},
        )
    return user


def calendar_override_set(*, actor: Any, day: date, is_working_day: bool, note: str, reason: str = "") -> Any:
    """Declare a local day off or working day; takes precedence over the official calendar."""
    from core.models import CalendarOverride

    _require_system_admin(actor)
    if not note.strip():
        raise ApplicationError(
            _("Say why this day differs from the official calendar."), extra={"note": [_("Required.")]}
        )
    with transaction.atomic():
        override = CalendarOverride.objects.select_for_update().filter(date=day).first()
        before = (
            None if override is None else {"is_working_day": override.is_working_day, "note": override.note}
        )
        after = {"is_working_day": is_working_day, "note": note}
        if before == after:
            return override
        if override is None:
            override = CalendarOverride.objects.create(date=day, is_working_day=is_working_day, note=note)
        else:
            override.is_working_day, override.note = is_working_day, note
            override.save(update_fields=["is_working_day", "note"])
        audit_record(
            actor=actor,
            action="core.calendar.override_set",
            target=override,
            reason=reason or note,
            before=before,
            after={"date": day.isoformat(), **after},
        )
    return override


def calendar_override_remove(*, actor: Any, day: date, reason: str = "") -> None:
    from core.models import CalendarOverride

    _require_system_admin(actor)
    with transaction.atomic():
        override = CalendarOverride.objects.select_for_update().filter(date=day).first()
        if override is None:
            return
        before = {"date": day.isoformat(), "is_working_day": override.is_working_day, "note": override.note}
        CalendarOverride.objects.filter(pk=override.pk).delete()
        audit_record(
            actor=actor,
            action="core.calendar.override_removed",
            object_type="core.calendaroverride",
            object_id=day.isoformat(),
            reason=reason,
            before=before,
        )


def lockout_lift(*, actor: Any, username: str, reason: str = "") -> int:
    """Clear the failed attempts that lock ``username`` out. Returns how many records were cleared."""
    from axes.utils import reset

    if not (actor.is_superuser or registry.has_any_role(actor, {SECURITY_ADMIN})):
        raise PermissionRefused(_("Only a security administrator may lift a lockout."))
    with transaction.atomic():
        cleared = reset(username=username)
        if cleared:
            audit_record(
                actor=actor,
                action="core.auth.lockout_lifted",
                object_type="username",
                object_id=username[:100],
                reason=reason,
            )
    return int(cleared or 0)
