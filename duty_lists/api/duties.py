"""/api/v1/duties/: the published duty list for other systems — filters, search, as-of reads, incremental
sync, keyset pages, and conditional GETs so a client polling an unchanged list gets 304 in one query."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db.models import Max, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import http_date, quote_etag
from django.utils.translation import gettext as _
from django.views.decorators.http import condition
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination
from core.api.times import api_datetime
from duty_lists import selectors
from duty_lists.api.fastpage import fast_page, fast_search_page
from duty_lists.api.params import moment, resolve_duty
from duty_lists.api.representations import (
    REVISION_VALUES,
    DutyDetailSerializer,
    DutySerializer,
    duty_rows_to_dicts,
    duty_to_dict,
    duty_url_prefix,
    participant_to_dict,
)
from duty_lists.exporting import export_csv, export_xlsx
from duty_lists.filters import DutyFilter
from duty_lists.models import DutyRevision, Edition


def last_published(request: Any) -> datetime | None:
    """When the lists this request reads last changed: every change reaches readers through an edition."""
    if hasattr(request, "_zhize_last_published"):
        cached: datetime | None = request._zhize_last_published
        return cached
    editions = Edition.objects.all()
    if code := request.GET.get("list"):
        editions = editions.filter(duty_list__code=code)
    value = editions.aggregate(latest=Max("published_at"))["latest"]
    request._zhize_last_published = value
    return value


def _searching(request: Any) -> bool:
    return bool((request.GET.get("q") or "").strip())


def list_etag(request: Any, *args: Any, **kwargs: Any) -> str:
    latest = last_published(request)
    key = f"{latest.isoformat() if latest else '-'}|{request.get_full_path()}"
    if _searching(request):
        # What a search finds depends on the synonym table too, which changes without an edition.
        from duty_lists.synonyms import synonyms_digest

        key += f"|{synonyms_digest()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _last_modified(request: Any, *args: Any, **kwargs: Any) -> datetime | None:
    # A search answer can change with the synonym table, which has no edition date: it is revalidated by
    # its ETag alone, so that If-Modified-Since never keeps a client on an answer the table has changed.
    return None if _searching(request) else last_published(request)


_PRECONDITIONS = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")


def _conditional_get(view: Callable[..., Any]) -> Callable[..., Any]:
    """Django's ``condition`` with the list's ETag and Last-Modified, asking for them after the view when
    the request has no conditional header: there is nothing to answer 304 or 412 to then, and the fast
    pages read when the list last changed in their own query (``last_published`` keeps it), so such a
    request costs one query instead of two. With a conditional header, ``condition`` runs as it is, before
    the view: a client polling an unchanged list still gets its 304 in one query."""
    conditioned = condition(etag_func=list_etag, last_modified_func=_last_modified)(view)

    @functools.wraps(view)
    def inner(request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method not in ("GET", "HEAD") or any(h in request.META for h in _PRECONDITIONS):
            return conditioned(request, *args, **kwargs)
        response = view(request, *args, **kwargs)
        # The headers condition() sets on a response it did not short-circuit, computed the same way.
        if latest := _last_modified(request, *args, **kwargs):
            if not timezone.is_aware(latest):
                latest = timezone.make_aware(latest, UTC)
            if not response.has_header("Last-Modified"):
                response.headers["Last-Modified"] = http_date(int(latest.timestamp()))
        response.headers.setdefault("ETag", quote_etag(list_etag(request, *args, **kwargs)))
        return response

    return inner


conditional = method_decorator(_conditional_get, name="get")


class DutyPagination(KeysetPagination):
    ordering = "code"


class SearchPagination(KeysetPagination):
    # The id last: codes repeat across lists, and the fast path (fastpage.py) and the ORM must agree on
    # the order of equal (rank, code) pairs for a cursor's offset to mean the same on both.
    ordering: Any = ("-rank", "code", "id")


def duties_for(request: Request) -> QuerySet[DutyRevision]:
    """The revisions a duties request reads, before filters: in force now, as of a moment, or changed
    since a moment (then removals are included, so a syncing client can delete them)."""
    since = moment(request, "updated_since", end_of_day=False)
    if since is not None:
        return selectors.revisions_changed_since(since)
    return selectors.revisions_in_force(as_of=moment(request, "as_of", end_of_day=True))


@conditional
@extend_schema(tags=["duties"], responses={200: DutySerializer(many=True), 400: ErrorSerializer})
class DutyListApi(generics.ListAPIView):
    """Duties of the published lists. Public. Keyset-paginated by code (by relevance when ``q`` is given)."""

    permission_classes = [AllowAny]
    serializer_class = DutySerializer
    filterset_class = DutyFilter

    @property
    def paginator(self) -> Any:
        if not hasattr(self, "_paginator"):
            searching = (self.request.query_params.get("q") or "").strip()
            self._paginator = SearchPagination() if searching else DutyPagination()
        return self._paginator

    def get_queryset(self) -> QuerySet[DutyRevision]:
        return duties_for(self.request)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        prefix = duty_url_prefix(request)
        if _searching(request):
            fast = fast_search_page(request, self.paginator, prefix)
        else:
            fast = fast_page(request, self.paginator, prefix)
        if fast is not None:
            return fast
        queryset = self.get_queryset()
        # django-filter deep-copies its filters and builds a form on every request; a plain first page,
        # what syncing clients ask for most, has nothing for it to do.
        if any(name in DutyFilter.base_filters for name in request.query_params):
            queryset = self.filter_queryset(queryset)
        queryset = queryset.prefetch_related(None)
        fields = (*REVISION_VALUES, "rank") if "rank" in queryset.query.annotations else REVISION_VALUES
        page = self.paginate_queryset(queryset.values(*fields))
        assert page is not None
        rows: list[dict[str, Any]] = list(page)
        return self.get_paginated_response(duty_rows_to_dicts(rows, url_prefix=prefix))


@conditional
@extend_schema(
    tags=["duties"],
    parameters=[
        OpenApiParameter(
            "list", str, description="Duty list code (needed when several lists have this code)."
        ),
        OpenApiParameter("as_of", str, description="Read the duty as it stood at this date or time."),
    ],
    responses={200: DutyDetailSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
)
class DutyDetailApi(APIView):
    """One duty, with every published revision of it (who led it, from when, and what changed it)."""

    permission_classes = [AllowAny]

    def get(self, request: Request, code: str) -> Response:
        duty = resolve_duty(request, code)
        as_of = moment(request, "as_of", end_of_day=True)
        revision = (
            selectors.revisions_in_force(duty_list=duty.duty_list, as_of=as_of).filter(duty=duty).first()
        )
        if revision is None:
            raise NotFound(_("Duty %(code)s was not in force then.") % {"code": code})
        data = duty_to_dict(revision, request)
        data["history"] = [
            {
                "edition": r.edition.number if r.edition else None,
                "in_force_from": api_datetime(r.valid_from),
                "in_force_until": api_datetime(r.valid_until),
                "title": r.title,
                "lead": participant_to_dict(r.lead) if r.lead else None,
                "removed": r.is_removed,
                "amendment": r.amendment_id,
                "source": r.source_ref,
            }
            for r in selectors.duty_history(duty)
        ]
        return Response(data)


class _PassThrough(BaseRenderer):
    """Lets ``?format=csv|xlsx`` through DRF's content negotiation; the view writes the file itself."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


class CSVRenderer(_PassThrough):
    media_type = "text/csv"
    format = "csv"


class XLSXRenderer(_PassThrough):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"


@conditional
@extend_schema(
    tags=["duties"],
    parameters=[OpenApiParameter("format", str, enum=["json", "csv", "xlsx"], description="File format.")],
    responses={
        (200, "application/json"): DutySerializer(many=True),
        (200, "text/csv"): OpenApiTypes.STR,
        (200, XLSXRenderer.media_type): OpenApiTypes.BINARY,
        400: ErrorSerializer,
    },
)
class DutyExportApi(generics.GenericAPIView):
    """The whole current list (or as of a date) in one request, with the same filters as /duties/: JSON,
    or CSV and xlsx in the import template's columns (so an export re-imports). Formula-like cells are
    neutralised."""

    permission_classes = [AllowAny]
    filterset_class = DutyFilter
    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    pagination_class = None

    def get_queryset(self) -> QuerySet[DutyRevision]:
        return duties_for(self.request)

    def get(self, request: Request) -> HttpResponseBase:
        revisions = self.filter_queryset(self.get_queryset()).order_by("duty_list__code", "code")
        fmt = request.query_params.get("format", "json")
        stamp = timezone.localtime().strftime("%Y%m%d")
        if fmt == "csv":
            response: HttpResponseBase = StreamingHttpResponse(
                (chunk.encode("utf-8") for chunk in export_csv(revisions)),
                content_type="text/csv; charset=utf-8",
            )
            response["Content-Disposition"] = f'attachment; filename="duties-{stamp}.csv"'
            return response
        if fmt == "xlsx":
            response = HttpResponse(export_xlsx(revisions), content_type=XLSXRenderer.media_type)
            response["Content-Disposition"] = f'attachment; filename="duties-{stamp}.xlsx"'
            return response

        def body() -> Any:
            yield b"["
            for i, revision in enumerate(revisions.iterator(chunk_size=500)):
                yield (b"," if i else b"") + json.dumps(duty_to_dict(revision), ensure_ascii=False).encode()
            yield b"]"

        return StreamingHttpResponse(body(), content_type="application/json")
