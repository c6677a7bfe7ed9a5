"""The ``Idempotency-Key`` header every API client sends when it records a grievance (the REST API's
``POST /api/v1/grievances/`` and Open311's ``POST requests``).

Required, not optional: a hotline system that times out and retries would otherwise record the citizen's
call twice, and two agencies would work the same matter. Refused with 400, not 428: 428 Precondition
Required (RFC 6585) is for conditional requests (``If-Match``), and the IETF draft that defines the header
(draft-ietf-httpapi-idempotency-key-header) answers a missing key with 400. The browser form and the file
import call ``grievance_receive`` without a key; they are not API clients, and this does not touch them.
The service itself keeps the rule that the same key from the same submitter returns the first grievance.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from core.errors import ApplicationError

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 100  # Grievance.idempotency_key


class IdempotencyKeyMissing(ApplicationError):
    default_code = "idempotency_key_required"


def idempotency_key(headers: Mapping[str, str]) -> str:
    """The request's key, stripped; ``IdempotencyKeyMissing`` (400) when there is none. Callers check the
    length, each in its protocol's error shape."""
    key = (headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if not key:
        raise IdempotencyKeyMissing(
            _(
                "Send an Idempotency-Key header with every new grievance: up to %(n)d characters, unique to "
                "the grievance (your own work-order number will do), and the same again on a retry, so that "
                "a retry never records it twice."
            )
            % {"n": IDEMPOTENCY_KEY_MAX},
            extra={IDEMPOTENCY_HEADER: [_("This header is required.")]},
        )
    return key
