"""/api/v1/amendments/: propose, review and approve changes to a list. Each step is its own POST endpoint
calling the same service as the browser; what a caller may not see, they cannot reach (404)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination
from duty_lists import selectors, services
from duty_lists.filters import AmendmentFilter
from duty_lists.models import (
    Agency,
    Amendment,
    AmendmentEvent,
    AmendmentKind,
    Duty,
    DutyList,
    JointReviewOpinion,
)


class AmendmentEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_repr")
    agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = AmendmentEvent
        fields = ["action", "from_state", "to_state", "actor", "agency", "reason", "at"]


class OpinionSerializer(serializers.ModelSerializer):
    agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = JointReviewOpinion
        fields = ["agency", "review_round", "concurs", "opinion", "at"]


class AmendmentOutputSerializer(serializers.ModelSerializer):
    list: Any = serializers.SlugRelatedField(source="duty_list", slug_field="code", read_only=True)
    duty: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    proposing_agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)
    published_in: Any = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)

    class Meta:
        model = Amendment
        fields = [
            "id",
            "list",
            "kind",
            "duty",
            "proposal",
            "justification",
            "proposing_agency",
            "state",
            "review_round",
            "source_ref",
            "published_in",
            "created_at",
            "updated_at",
        ]


class AmendmentDetailSerializer(AmendmentOutputSerializer):
    events = AmendmentEventSerializer(many=True, read_only=True)
    opinions = OpinionSerializer(many=True, read_only=True)
    awaiting_opinions_from = serializers.SerializerMethodField()

    class Meta(AmendmentOutputSerializer.Meta):
        fields = [*AmendmentOutputSerializer.Meta.fields, "events", "opinions", "awaiting_opinions_from"]

    def get_awaiting_opinions_from(self, obj: Amendment) -> list[str]:
        return [a.code for a in services.missing_concurrences(obj)]


class AmendmentCreateSerializer(serializers.Serializer):
    list = serializers.CharField(help_text="Duty list code.")
    kind = serializers.ChoiceField(choices=AmendmentKind.choices)
    duty = serializers.CharField(required=False, allow_blank=True, help_text="Code of the duty to change.")
    proposing_agency = serializers.CharField(help_text="Agency code.")
    justification = serializers.CharField()
    proposal = serializers.JSONField(required=False, help_text="The duty as it should read afterwards.")


class AmendmentUpdateSerializer(serializers.Serializer):
    justification = serializers.CharField(required=False)
    proposal = serializers.JSONField(required=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class OpinionInputSerializer(serializers.Serializer):
    agency = serializers.CharField(help_text="Code of your reviewing agency.")
    concurs = serializers.BooleanField()
    opinion = serializers.CharField(required=False, allow_blank=True, default="")


class AmendmentPagination(KeysetPagination):
    ordering = "-id"


def _lookup(model: Any, field: str, value: str, **extra: Any) -> Any:
    found = model.objects.filter(**{field: value}, **extra).first()
    if found is None:
        raise ValidationError({field.split("__")[0]: [_("Unknown code: %(v)s") % {"v": value}]})
    return found


@extend_schema(tags=["amendments"])
class AmendmentListApi(generics.ListCreateAPIView):
    """Amendments the caller may see; POST drafts a new one (agency staff for their agency, or officers)."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = AmendmentOutputSerializer
    filterset_class = AmendmentFilter
    pagination_class = AmendmentPagination

    def get_queryset(self) -> Any:
        return selectors.amendments_visible_to(self.request.user)

    @extend_schema(
        request=AmendmentCreateSerializer,
        responses={201: AmendmentDetailSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = AmendmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        duty_list = _lookup(DutyList, "code", values["list"])
        duty = _lookup(Duty, "code", values["duty"], duty_list=duty_list) if values.get("duty") else None
        amendment = services.amendment_create(
            actor=request.user,
            duty_list=duty_list,
            kind=values["kind"],
            duty=duty,
            proposing_agency=_lookup(Agency, "code", values["proposing_agency"]),
            justification=values["justification"],
            proposal=values.get("proposal") or {},
        )
        return Response(AmendmentDetailSerializer(amendment).data, status=status.HTTP_201_CREATED)


def _visible(request: Request, pk: int) -> Amendment:
    return get_object_or_404(
        selectors.amendments_visible_to(request.user).prefetch_related("events__agency", "opinions__agency"),
        pk=pk,
    )


@extend_schema(tags=["amendments"])
class AmendmentDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses={200: AmendmentDetailSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(AmendmentDetailSerializer(_visible(request, pk)).data)

    @extend_schema(
        request=AmendmentUpdateSerializer,
        responses={
            200: AmendmentDetailSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        amendment = _visible(request, pk)
        data = AmendmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        amendment = services.amendment_update(actor=request.user, amendment=amendment, **data.validated_data)
        return Response(AmendmentDetailSerializer(_visible(request, amendment.pk)).data)


def _step(service: Any, summary: str) -> type[APIView]:
    @extend_schema(
        tags=["amendments"],
        summary=summary,
        request=ReasonSerializer,
        responses={
            200: AmendmentDetailSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    class StepApi(APIView):
        permission_classes = [IsAuthenticated]

        def post(self, request: Request, pk: int) -> Response:
            amendment = _visible(request, pk)
            data = ReasonSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            service(actor=request.user, amendment=amendment, reason=data.validated_data["reason"])
            return Response(AmendmentDetailSerializer(_visible(request, pk)).data)

    StepApi.__name__ = StepApi.__qualname__ = f"{service.__name__.title().replace('_', '')}Api"
    return StepApi


AmendmentSubmitApi = _step(services.amendment_submit, "Submit for legal review")
AmendmentPassLegalReviewApi = _step(services.amendment_pass_legal_review, "Pass the legal review")
AmendmentApproveApi = _step(services.amendment_approve, "Approve after the joint review")
AmendmentReturnApi = _step(services.amendment_return, "Return to the proposer with reasons")
AmendmentWithdrawApi = _step(services.amendment_withdraw, "Withdraw")


@extend_schema(
    tags=["amendments"],
    summary="Give a reviewing agency's opinion",
    request=OpinionInputSerializer,
    responses={
        200: AmendmentDetailSerializer,
        400: ErrorSerializer,
        403: ErrorSerializer,
        404: ErrorSerializer,
        409: ErrorSerializer,
    },
)
class AmendmentOpinionApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        amendment = _visible(request, pk)
        data = OpinionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.amendment_give_opinion(
            actor=request.user,
            amendment=amendment,
            agency=_lookup(Agency, "code", values["agency"]),
            concurs=values["concurs"],
            opinion=values["opinion"],
        )
        return Response(AmendmentDetailSerializer(_visible(request, pk)).data)
