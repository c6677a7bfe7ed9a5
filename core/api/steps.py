"""One POST endpoint per business step (dispatch a grievance, escalate a dispute, complete a handover …).

Every such endpoint does the same four things — find the object the caller may see (404 otherwise), validate
the step's input, call the one service that performs the step, answer with the object as it now is — and
differs only in those four parts. ``step_api`` builds the view from them, so a fix to the shape (a header,
a status code, the documented errors) reaches every step at once. Apps bind their own parts with
``functools.partial`` and keep a one-line-per-step table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer

# What a step endpoint may answer besides success: bad input, not signed in, refused by the service, not
# visible, or the object has moved on (a conflict).
STEP_ERRORS: Mapping[int, type[ErrorSerializer]] = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}

Target = TypeVar("Target")


def step_api(
    name: str,
    input_serializer: type[serializers.Serializer],
    perform: Callable[[Request, Target, dict[str, Any]], object],
    summary: str,
    description: str,
    *,
    prefix: str,
    tag: str,
    find: Callable[[Request, int], Target],
    respond: Callable[[Request, int], Any],
    response_serializer: type[serializers.Serializer],
) -> type[APIView]:
    """A signed-in POST endpoint ``<prefix><name>Api`` that performs one step on the object ``pk``.

    ``find`` returns the object or raises 404; ``perform`` calls the service (its ApplicationErrors become
    the API's error shape); ``respond`` builds the body from a fresh read, so the answer shows what the
    service wrote, not the stale object the view started from.
    """

    @extend_schema(
        tags=[tag],
        summary=summary,
        description=description,
        request=input_serializer,
        responses={200: response_serializer, **STEP_ERRORS},
    )
    class StepApi(APIView):
        permission_classes = [IsAuthenticated]

        def post(self, request: Request, pk: int) -> Response:
            target = find(request, pk)
            data = input_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            perform(request, target, data.validated_data)
            return Response(respond(request, pk))

    StepApi.__name__ = StepApi.__qualname__ = f"{prefix}{name}Api"
    return StepApi
