"""Linked-data exports: a duty list's edition as CPSV-AP JSON-LD, and the agency directory as W3C ORG.
Public, like the published list; the documents are built by ``duty_lists.linked_data``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from duty_lists import linked_data
from duty_lists.api.params import moment
from duty_lists.models import DutyList


class JSONLDRenderer(JSONRenderer):
    media_type = linked_data.MEDIA_TYPE
    format = "jsonld"


DOWNLOAD = OpenApiParameter(
    "download", bool, description="Answer with the document as a file to save (a ``.jsonld`` attachment)."
)
DOCUMENT = {
    (200, linked_data.MEDIA_TYPE): OpenApiTypes.OBJECT,
    (200, "application/json"): OpenApiTypes.OBJECT,
}


def _base_url(request: Request) -> str:
    return request.build_absolute_uri("/")


def _wants_file(request: Request) -> bool:
    return request.query_params.get("download", "").lower() in {"1", "true", "yes"}


def _attachment(document: dict[str, Any], name: str) -> HttpResponse:
    response = HttpResponse(
        linked_data.to_json(document).encode(), content_type=f"{linked_data.MEDIA_TYPE}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class _LinkedDataApi(APIView):
    permission_classes = [AllowAny]
    # JSON-LD first, so ``Accept: */*`` gets it; ``Accept: application/json`` gets the same body as JSON.
    renderer_classes = [JSONLDRenderer, JSONRenderer]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # An error is not a JSON-LD document: it keeps the API's one error shape, as application/json.
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), JSONLDRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


@extend_schema(
    tags=["duty lists"],
    summary="The list as linked data (CPSV-AP JSON-LD)",
    parameters=[
        OpenApiParameter("edition", int, description="The edition's number (default: the one in force)."),
        OpenApiParameter("as_of", str, description="The edition in force at this date or time (ISO 8601)."),
        DOWNLOAD,
    ],
    # Errors are not JSON-LD: they come as application/json whatever was asked (see finalize_response).
    responses={
        **DOCUMENT,
        (400, "application/json"): ErrorSerializer,
        (404, "application/json"): ErrorSerializer,
    },
)
class DutyListLinkedDataApi(_LinkedDataApi):
    """An edition of the list as one JSON-LD document: each duty in force a ``cpsv:PublicService`` with its
    competent authority (the lead), participations, legal resources (ELI), thematic area and keywords; the
    edition a ``dcat:Dataset`` in the list's ``dcat:DatasetSeries``; the agencies as ``org:Organization``.
    The ``@context`` is inline: expanding it needs no network."""

    def get(self, request: Request, code: str) -> HttpResponseBase:
        duty_list = DutyList.objects.filter(code=code).first()
        if duty_list is None:
            raise NotFound(_("No duty list %(code)s.") % {"code": code})
        number = _edition_number(request)
        as_of = moment(request, "as_of", end_of_day=True)
        if number is not None and as_of is not None:
            raise ValidationError({"as_of": [_("Give an edition or a date, not both.")]})
        edition = linked_data.edition_for(duty_list, number=number, as_of=as_of)
        document = linked_data.duty_list_document(edition, base_url=_base_url(request))
        if _wants_file(request):
            return _attachment(document, linked_data.filename(edition))
        return Response(document)


def _edition_number(request: Request) -> int | None:
    raw = request.query_params.get("edition")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({"edition": [_("An edition number is expected.")]}) from None


@extend_schema(
    tags=["agencies"],
    summary="The agencies as linked data (W3C ORG JSON-LD)",
    parameters=[DOWNLOAD],
    responses=DOCUMENT,
)
class AgencyLinkedDataApi(_LinkedDataApi):
    """Every agency of the public directory as an ``org:Organization`` (and ``cv:PublicOrganisation``):
    code, name, parent (``org:subOrganizationOf``), level and kind (``org:classification``)."""

    def get(self, request: Request) -> HttpResponseBase:
        document = linked_data.agencies_document(base_url=_base_url(request))
        if _wants_file(request):
            return _attachment(document, "agencies.jsonld")
        return Response(document)
