"""What of a grievance the public may read: Open311 shows a grievance only after a dispatcher publishes it,
and then the text and address the dispatcher reviewed, with personal data masked."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict, PermissionRefused
from grievances.models import Grievance, GrievanceState
from grievances.redaction import MASK, mask_name, redact, redact_address
from grievances.services.common import event, is_dispatcher, locked

PUBLIC_DESCRIPTION_MAX = 4000  # Open311's own limit on a description
PUBLIC_ADDRESS_MAX = 300  # Grievance.public_address


def _contact_values(grievance: Grievance) -> list[tuple[str, str]]:
    # In public, no part of the number or address: the staff pages' 138****5678 is for colleagues.
    return [
        (grievance.contact_phone, MASK * len(grievance.contact_phone.strip())),
        (grievance.contact_email, MASK * len(grievance.contact_email.strip())),
        (grievance.contact_name, mask_name(grievance.contact_name)),
    ]


def publication_proposal(grievance: Grievance) -> dict[str, str]:
    """What a dispatcher is offered to publish: the published text if there is one, else the citizen's text
    and address with names, numbers and flats masked."""
    if grievance.published_at is not None:
        return {"description": grievance.public_description, "address": grievance.public_address}
    return {
        "description": redact(grievance.details or grievance.title, known=_contact_values(grievance)),
        "address": redact_address(redact(grievance.address, known=_contact_values(grievance), names=False)),
    }


def grievance_publish(
    *,
    actor: Any,
    grievance: Grievance,
    description: str | None = None,
    address: str | None = None,
    reason: str = "",
) -> Grievance:
    """Publish the grievance on Open311 with the given text and address (the proposal when omitted). What the
    dispatcher wrote is masked again for the citizen's own contact data and anything shaped like a phone,
    identity-card number or flat, so an edit cannot put them back by mistake."""
    if not is_dispatcher(actor):
        raise PermissionRefused(_("Only dispatchers decide what of a grievance is public."))
    with transaction.atomic():
        grievance = locked(grievance)
        if grievance.state == GrievanceState.CANCELLED:
            raise Conflict(_("A cancelled grievance is not published."))
        proposal = publication_proposal(grievance)
        known = _contact_values(grievance)
        text = redact(
            (proposal["description"] if description is None else description).strip(),
            known=known,
            names=False,
        )
        place = redact_address(
            redact((proposal["address"] if address is None else address).strip(), known=known, names=False)
        )
        problems: dict[str, list[str]] = {}
        if not text:
            problems["description"] = [_("Required: the public needs to read what the grievance is about.")]
        elif len(text) > PUBLIC_DESCRIPTION_MAX:
            problems["description"] = [_("At most %(n)d characters.") % {"n": PUBLIC_DESCRIPTION_MAX}]
        if len(place) > PUBLIC_ADDRESS_MAX:
            problems["address"] = [_("At most %(n)d characters.") % {"n": PUBLIC_ADDRESS_MAX}]
        if problems:
            raise ApplicationError(
                _("The public text cannot be published."), code="invalid_publication", extra=problems
            )
        if (
            grievance.published_at is not None
            and grievance.public_description == text
            and grievance.public_address == place
        ):
            return grievance
        republished = grievance.published_at is not None
        grievance.published_at = timezone.now()
        grievance.public_description, grievance.public_address = text, place
        grievance.save(update_fields=["published_at", "public_description", "public_address", "updated_at"])
        event(
            grievance,
            "publish",
            actor,
            reason=reason.strip(),
            data={"republished": republished, "description": text, "address": place},
        )
    return grievance


def grievance_unpublish(*, actor: Any, grievance: Grievance, reason: str) -> Grievance:
    """Withdraw the grievance from Open311; its public text is dropped, so publishing again starts afresh."""
    if not is_dispatcher(actor):
        raise PermissionRefused(_("Only dispatchers decide what of a grievance is public."))
    if not reason.strip():
        raise ApplicationError(
            _("Say why it is withdrawn from the public list."),
            code="invalid_unpublish",
            extra={"reason": [_("Required.")]},
        )
    with transaction.atomic():
        grievance = locked(grievance)
        if grievance.published_at is None:
            return grievance
        grievance.published_at = None
        grievance.public_description = grievance.public_address = ""
        grievance.save(update_fields=["published_at", "public_description", "public_address", "updated_at"])
        event(grievance, "unpublish", actor, reason=reason.strip())
    return grievance
