"""One JSON shape for every API error:

    {"error": {"code": "validation_error", "message": "…", "details": {"field": ["…"]}}}

``code`` is stable and meant for programs; ``message`` is for people, in the request's language;
``details`` carries field errors (validation) or the ``extra`` of an ApplicationError.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, ApplicationError):
        refusal = Response(error_body(exc.code, exc.message, exc.extra), status=exc.status_code)
        if exc.status_code == 403 and request is not None:
            _audit_refusal(request, exc.message)
        return refusal

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    handled = drf_exception_handler(exc, context)
    if handled is None:
        return None  # an unexpected error: let Django log it and answer 500
    response: Response = handled

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("validation_error", _("The request contains invalid data."), details)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, list | dict) else _("The request was refused.")
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(str(code), message)
        refused = exceptions.NotAuthenticated | exceptions.AuthenticationFailed | exceptions.PermissionDenied
        if isinstance(exc, refused) and request is not None:
            _audit_refusal(request, message)
    return response


def _audit_refusal(request: Any, message: str) -> None:
    from core.audit import audit_access_refused

    audit_access_refused(request=request, reason=message)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField()


class ErrorSerializer(serializers.Serializer):
    """Documents the error shape in the OpenAPI schema."""

    error = ErrorDetailSerializer()


def json_error(request: Any, status: int, code: str, message: str) -> JsonResponse:
    """The same shape for errors raised outside DRF views (unknown /api/ URLs, 500s)."""
    return JsonResponse(error_body(code, message), status=status, json_dumps_params={"ensure_ascii": False})
