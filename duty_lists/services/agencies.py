"""Writes to agencies and memberships. Every caller — views, API, admin, commands — goes through here."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from duty_lists import permissions
from duty_lists.models import SEPARATED_ROLES, Agency, Membership, Role

AGENCY_FIELDS = ("name", "short_name", "code", "level", "kind", "parent", "is_active")


def _snapshot(agency: Agency) -> dict[str, Any]:
    return model_to_dict(agency, fields=AGENCY_FIELDS)


def _require_agency_manager(actor: Any) -> None:
    # Agencies are master data: kept by the system administrator and by the editorial office, which owns
    # the establishment of agencies (机构编制) in the field.
    if not (
        actor.is_superuser or permissions.is_system_admin(actor) or permissions.is_editorial_officer(actor)
    ):
        raise PermissionRefused(
            _("Only a system administrator or an editorial-office officer may manage agencies.")
        )


def agency_create(*, actor: Any, reason: str = "", **fields: Any) -> Agency:
    _require_agency_manager(actor)
    unknown = set(fields) - set(AGENCY_FIELDS)
    if unknown:
        raise ApplicationError(_("Unknown agency fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    with transaction.atomic():
        existing = Agency.objects.select_for_update().filter(code=fields.get("code")).first()
        if existing is not None:
            if _snapshot(existing) == {**_snapshot(existing), **_ids(fields)}:
                return existing  # the same create, repeated: nothing to do
            raise ApplicationError(
                _("An agency with code %(code)s already exists.") % {"code": fields.get("code")},
                code="duplicate_code",
                extra={"code": [_("This code is taken.")]},
            )
        agency = Agency(**fields)
        agency.full_clean()
        agency.save()
        audit_record(
            actor=actor,
            action="duty_lists.agency.created",
            target=agency,
            reason=reason,
            after=_snapshot(agency),
        )
    return agency


def _ids(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.pk if isinstance(v, Agency) else v) for k, v in fields.items()}


def agency_update(*, actor: Any, agency: Agency, reason: str = "", **changes: Any) -> Agency:
    _require_agency_manager(actor)
    unknown = set(changes) - set(AGENCY_FIELDS)
    if unknown:
        raise ApplicationError(_("Unknown agency fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        before = _snapshot(agency)
        changed = [name for name, value in changes.items() if getattr(agency, name) != value]
        if not changed:
            return agency
        for name in changed:
            setattr(agency, name, changes[name])
        agency.full_clean()
        agency.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor,
            action="duty_lists.agency.updated",
            target=agency,
            reason=reason,
            before=before,
            after=_snapshot(agency),
        )
    return agency


def membership_grant(*, actor: Any, user: Any, agency: Agency, role: str, reason: str = "") -> Membership:
    """Give ``user`` ``role`` in ``agency``.

    1. Only the security administrator grants roles (三员分立), and never to themselves.
    2. Lock any existing membership; an active one means this is a repeat: return it unchanged.
    3. Refuse a second separated role (the database refuses it too).
    4. Save, and write the audit entry in the same transaction.
    """
    if not (actor.is_superuser or permissions.is_security_admin(actor)):
        raise PermissionRefused(_("Only a security administrator may grant roles."))
    if actor.pk == user.pk and not actor.is_superuser:
        raise PermissionRefused(_("You may not change your own roles."))
    if role not in Role.values:
        raise ApplicationError(
            _("Unknown role: %(role)s") % {"role": role}, extra={"role": [_("Unknown role.")]}
        )
    granted_by = actor if actor.is_authenticated else None  # the system actor is not a user row
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(user=user, agency=agency, role=role).first()
        )
        if membership is not None and membership.is_active:
            return membership
        if role in SEPARATED_ROLES:
            held = Membership.objects.filter(user=user, role__in=SEPARATED_ROLES, is_active=True).first()
            if held is not None:
                raise ApplicationError(
                    _(
                        "%(user)s is already %(role)s; one person may hold only one of the system "
                        "administrator, security administrator and auditor roles."
                    )
                    % {"user": user, "role": held.get_role_display()},
                    code="separated_roles",
                )
        try:
            with transaction.atomic():
                if membership is None:
                    membership = Membership.objects.create(
                        user=user, agency=agency, role=role, granted_by=granted_by
                    )
                else:
                    membership.is_active = True
                    membership.granted_by = granted_by
                    membership.save(update_fields=["is_active", "granted_by"])
        except IntegrityError as exc:  # a concurrent grant won the race for the separated-role constraint
            raise ApplicationError(
                _("This role could not be granted: %(e)s") % {"e": exc}, code="conflict"
            ) from exc
        audit_record(
            actor=actor,
            action="duty_lists.membership.granted",
            target=membership,
            reason=reason,
            after={"user": user.get_username(), "agency": agency.code, "role": role},
        )
    permissions.forget_roles(user)
    return membership


def membership_revoke(*, actor: Any, membership: Membership, reason: str = "") -> Membership:
    if not (actor.is_superuser or permissions.is_security_admin(actor)):
        raise PermissionRefused(_("Only a security administrator may revoke roles."))
    if actor.pk == membership.user_id and not actor.is_superuser:
        raise PermissionRefused(_("You may not change your own roles."))
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if not membership.is_active:
            return membership
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="duty_lists.membership.revoked",
            target=membership,
            reason=reason,
            before={
                "user": membership.user.get_username(),
                "agency": membership.agency.code,
                "role": membership.role,
                "active": True,
            },
            after={"active": False},
        )
    permissions.forget_roles(membership.user)
    return membership
