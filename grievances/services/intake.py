"""A grievance comes in: from the hotline, the web form, the API or Open311."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists.models import Agency, AgencyLevel, Duty
from grievances.deadlines import grievance_deadline
from grievances.models import (
    ApiClient,
    Channel,
    Grievance,
    GrievanceKind,
    GrievanceUrgency,
)
from grievances.services.common import event, is_dispatcher
from grievances.services.dispatching import _route

# A hotline record, a web form or an Open311 description: long ones run to a few thousand characters. More
# is a pasted document (or an attack on the router's time), refused with a message rather than cut.
MAX_DETAILS_CHARS = 20_000


def _validate_intake(
    *,
    title: str,
    details: str,
    channel: str,
    kind: str,
    urgency: str,
    street: Agency | None,
    district: Agency | None,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = [_("Required.")]
    if len(details) > MAX_DETAILS_CHARS:
        errors["details"] = [
            _("At most %(max)s characters; this has %(n)s.") % {"max": MAX_DETAILS_CHARS, "n": len(details)}
        ]
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if kind not in GrievanceKind.values:
        errors["kind"] = [_("Unknown kind.")]
    if urgency not in GrievanceUrgency.values:
        errors["urgency"] = [_("Unknown urgency.")]
    if street is not None and street.level != AgencyLevel.STREET:
        errors["street"] = [_("Choose a street office.")]
    if district is not None and district.level != AgencyLevel.DISTRICT:
        errors["district"] = [_("Choose a district.")]
    return errors


def grievance_receive(
    *,
    actor: Any,
    title: str,
    details: str = "",
    channel: str = Channel.HOTLINE,
    kind: str = GrievanceKind.COMPLAINT,
    urgency: str = GrievanceUrgency.NORMAL,
    category: str = "",
    district: Agency | None = None,
    street: Agency | None = None,
    address: str = "",
    address_id: str = "",
    media_url: str = "",
    latitude: Decimal | float | None = None,
    longitude: Decimal | float | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    received_at: datetime | None = None,
    duty: Duty | None = None,
    client: ApiClient | None = None,
    idempotency_key: str = "",
    external_id: str = "",
    route: bool = True,
) -> tuple[Grievance, bool]:
    """Record a grievance, route it, and dispatch it at once when the router is sure enough. Returns the
    grievance and whether it is new: the same ``idempotency_key`` from the same submitter returns the
    grievance the first request made."""
    if client is None and not is_dispatcher(actor):
        raise PermissionRefused(_("Only hotline dispatchers record grievances."))
    submitted_by = actor if getattr(actor, "is_authenticated", False) else None
    if idempotency_key:
        previous = _previous(submitted_by, client, idempotency_key)
        if previous is not None:
            _same_request(previous, title, details)
            return previous, False
    errors = _validate_intake(
        title=title,
        details=details,
        channel=channel,
        kind=kind,
        urgency=urgency,
        street=street,
        district=district,
    )
    for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if value is not None and not -bound <= float(value) <= bound:
            errors[name] = [_("Out of range.")]
    if errors:
        raise ApplicationError(
            _("The grievance cannot be recorded as it is."), code="invalid_grievance", extra=errors
        )
    if (
        street is not None
        and district is None
        and street.parent
        and street.parent.level == AgencyLevel.DISTRICT
    ):
        district = street.parent
    now = timezone.now()
    received = received_at or now
    try:
        with transaction.atomic():
            grievance = Grievance.objects.create(
                reference=f"tmp-{secrets.token_hex(8)}",  # replaced by the numbered one below
                channel=channel,
                received_at=received,
                title=title.strip()[:300],
                details=details,
                kind=kind,
                urgency=urgency,
                category=category,
                district=district,
                street=street,
                address=address,
                address_id=address_id,
                media_url=media_url,
                latitude=latitude,
                longitude=longitude,
                contact_name=contact_name,
                contact_phone=contact_phone,
                contact_email=contact_email,
                deadline_at=grievance_deadline(received, kind, urgency),
                submitted_by=submitted_by,
                client=client,
                idempotency_key=idempotency_key,
                external_id=external_id,
            )
            grievance.reference = (
                f"G{received.astimezone(timezone.get_default_timezone()):%Y%m%d}{grievance.pk:06d}"
            )
            grievance.save(update_fields=["reference"])
            event(grievance, "receive", actor, data={"channel": channel}, public=True)
            if route:
                _route(grievance, actor, named_duty=duty)
    except IntegrityError:
        if not idempotency_key:
            raise
        previous = _previous(submitted_by, client, idempotency_key)
        if previous is None:
            raise
        return previous, False  # a concurrent retry of the same request won the race
    return grievance, True


def _previous(submitted_by: Any, client: ApiClient | None, key: str) -> Grievance | None:
    if client is not None:
        return Grievance.objects.filter(client=client, idempotency_key=key).first()
    return Grievance.objects.filter(submitted_by=submitted_by, idempotency_key=key).first()


def _same_request(previous: Grievance, title: str, details: str) -> None:
    if previous.title != title.strip()[:300] or previous.details != details:
        raise Conflict(
            _("This Idempotency-Key was already used for a different grievance (%(ref)s).")
            % {"ref": previous.reference},
            code="idempotency_key_reused",
        )
