"""The one error type of business rules.

Services raise ``ApplicationError`` when a request is refused for a reason the user can act on (wrong state,
missing role, bad input that passed the form). The API turns it into the common JSON error shape
(``core.api.errors``); browser views show ``message`` in the page.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    default_code = "application_error"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.extra = extra or {}


class PermissionRefused(ApplicationError):
    """The actor may not do this (wrong role, or not their agency)."""

    status_code = 403
    default_code = "permission_denied"


class Conflict(ApplicationError):
    """The object is in a state that does not allow this operation."""

    status_code = 409
    default_code = "conflict"
