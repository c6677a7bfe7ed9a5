"""/api/v1/delegations/: the public register of powers delegated to streets (赋权清单)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination
from duty_lists.filters import DelegatedPowerFilter
from duty_lists.models import DelegatedPower


class StreetSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class DelegatedPowerOutputSerializer(serializers.ModelSerializer):
    duty = serializers.CharField(source="duty.code")
    duty_list = serializers.CharField(source="duty.duty_list.code")
    title = serializers.SerializerMethodField()
    streets = StreetSerializer(many=True)
    delegating_agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    granting_amendment = serializers.IntegerField(source="granting_amendment_id")
    withdrawing_amendment = serializers.IntegerField(source="withdrawing_amendment_id", allow_null=True)

    class Meta:
        model = DelegatedPower
        fields = [
            "id",
            "duty",
            "duty_list",
            "title",
            "streets",
            "delegating_agency",
            "legal_basis",
            "decision",
            "granted_on",
            "granting_amendment",
            "withdrawn_on",
            "withdrawing_amendment",
        ]

    @extend_schema_field(serializers.CharField())
    def get_title(self, obj: DelegatedPower) -> str:
        """The duty's title as the delegation published it."""
        revision = obj.granting_amendment.pending_revision
        return revision.title if revision is not None else ""


class DelegationPagination(KeysetPagination):
    ordering = "-id"


@extend_schema(
    tags=["delegations"], responses={200: DelegatedPowerOutputSerializer(many=True), 400: ErrorSerializer}
)
class DelegatedPowerListApi(generics.ListAPIView):
    """Powers delegated to streets, public: in force, or taken back (``withdrawn=true``). Newest first."""

    permission_classes = [AllowAny]
    serializer_class = DelegatedPowerOutputSerializer
    filterset_class = DelegatedPowerFilter
    pagination_class = DelegationPagination

    def get_queryset(self) -> Any:
        return DelegatedPower.objects.select_related(
            "duty__duty_list", "delegating_agency", "granting_amendment__pending_revision"
        ).prefetch_related("streets")
