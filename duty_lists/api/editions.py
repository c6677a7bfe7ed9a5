"""Duty lists and their editions: list, publish, and what an edition changed."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination
from duty_lists import selectors, services
from duty_lists.api.params import duty_list_param
from duty_lists.api.representations import EditionSerializer, edition_to_dict, participant_to_dict
from duty_lists.diff import DutyChange
from duty_lists.models import DutyList, Edition


class DutyListOutputSerializer(serializers.ModelSerializer):
    owner: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    reviewing_agencies: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, many=True)
    latest_edition = serializers.SerializerMethodField()

    class Meta:
        model = DutyList
        fields = [
            "code",
            "name",
            "kind",
            "description",
            "owner",
            "reviewing_agencies",
            "is_demo",
            "latest_edition",
        ]

    def get_latest_edition(self, obj: DutyList) -> int | None:
        return getattr(obj, "latest_edition", None)


class DutyListPagination(KeysetPagination):
    ordering = "code"


@extend_schema(tags=["duty lists"], responses={200: DutyListOutputSerializer(many=True)})
class DutyListListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = DutyListOutputSerializer
    pagination_class = DutyListPagination

    def get_queryset(self) -> Any:
        return selectors.duty_lists_with_latest_edition()


@extend_schema(tags=["duty lists"], responses={200: DutyListOutputSerializer, 404: ErrorSerializer})
class DutyListDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = DutyListOutputSerializer
    lookup_field = "code"

    def get_queryset(self) -> Any:
        return selectors.duty_lists_with_latest_edition()


class PublishInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")
    effective_date = serializers.DateField(required=False, allow_null=True, default=None)


@extend_schema(
    tags=["duty lists"],
    request=PublishInputSerializer,
    responses={201: EditionSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 409: ErrorSerializer},
)
class PublishEditionApi(APIView):
    """Publish everything pending in the list (approved amendments, confirmed imports) as its next edition.
    Editorial-office officers only."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, code: str) -> Response:
        duty_list = DutyList.objects.filter(code=code).first()
        if duty_list is None:
            raise NotFound(_("No duty list %(code)s.") % {"code": code})
        data = PublishInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        edition = services.edition_publish(actor=request.user, duty_list=duty_list, **data.validated_data)
        return Response(edition_to_dict(edition), status=201)


class EditionPagination(KeysetPagination):
    ordering = "-published_at"


@extend_schema(
    tags=["editions"],
    parameters=[OpenApiParameter("list", str, description="Duty list code.")],
    responses={200: EditionSerializer(many=True), 404: ErrorSerializer},
)
class EditionListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = EditionSerializer
    pagination_class = EditionPagination

    def get_queryset(self) -> Any:
        editions = Edition.objects.select_related("duty_list", "published_by")
        duty_list = duty_list_param(self.request)
        return editions.filter(duty_list=duty_list) if duty_list else editions


def _edition(request: Request, number: int) -> Edition:
    editions = Edition.objects.select_related("duty_list", "published_by").filter(number=number)
    duty_list = duty_list_param(request)
    if duty_list is not None:
        editions = editions.filter(duty_list=duty_list)
    found = list(editions[:10])
    if not found:
        raise NotFound(_("No edition %(n)d.") % {"n": number})
    if len(found) > 1:
        raise ValidationError(
            {"list": [_("Several lists have an edition %(n)d. Add list=CODE.") % {"n": number}]}
        )
    return found[0]


@extend_schema(
    tags=["editions"],
    parameters=[
        OpenApiParameter("list", str, description="Duty list code (needed when several lists exist).")
    ],
    responses={200: EditionSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
)
class EditionDetailApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, number: int) -> Response:
        return Response(edition_to_dict(_edition(request, number)))


class ChangedDutySerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    changed_fields = serializers.ListField(child=serializers.CharField())
    lead_before = serializers.DictField(allow_null=True)
    lead_after = serializers.DictField(allow_null=True)
    lead_changed = serializers.BooleanField()


class EditionDiffSerializer(serializers.Serializer):
    list = serializers.CharField()
    edition = serializers.IntegerField()
    against = serializers.IntegerField(allow_null=True)
    added = ChangedDutySerializer(many=True)
    removed = ChangedDutySerializer(many=True)
    changed = ChangedDutySerializer(many=True)


def _change(change: DutyChange) -> dict[str, Any]:
    lead_before = change.old.lead if change.old else None
    lead_after = change.new.lead if change.new else None
    return {
        "code": change.code,
        "title": change.revision.title,
        "changed_fields": list(change.fields),
        "lead_before": participant_to_dict(lead_before) if lead_before else None,
        "lead_after": participant_to_dict(lead_after) if lead_after else None,
        "lead_changed": change.lead_changed,
    }


@extend_schema(
    tags=["editions"],
    parameters=[
        OpenApiParameter(
            "against", int, description="The edition to compare with (default: the one before)."
        ),
        OpenApiParameter("list", str, description="Duty list code (needed when several lists exist)."),
    ],
    responses={200: EditionDiffSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
)
class EditionDiffApi(APIView):
    """Added, removed and changed duties between two editions of a list; a changed lead is flagged."""

    permission_classes = [AllowAny]

    def get(self, request: Request, number: int) -> Response:
        edition = _edition(request, number)
        raw = request.query_params.get("against")
        if raw is None:
            against_number = number - 1
        else:
            try:
                against_number = int(raw)
            except ValueError:
                raise ValidationError({"against": [_("An edition number is expected.")]}) from None
        against = None
        if against_number >= 1:
            against = Edition.objects.filter(duty_list=edition.duty_list, number=against_number).first()
            if against is None:
                raise NotFound(_("No edition %(n)d in this list.") % {"n": against_number})
        older, newer = (
            (against, edition) if against is None or against.number <= edition.number else (edition, against)
        )
        diff = selectors.edition_diff(older, newer)
        return Response(
            {
                "list": edition.duty_list.code,
                "edition": newer.number,
                "against": older.number if older else None,
                "added": [_change(c) for c in diff.added],
                "removed": [_change(c) for c in diff.removed],
                "changed": [_change(c) for c in diff.changed],
            }
        )
