from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination
from duty_lists import selectors
from duty_lists.filters import AgencyFilter
from duty_lists.models import Agency, Membership


class AgencyOutputSerializer(serializers.ModelSerializer):
    # DRF moves declared fields off the class, so this does not clash with Field.parent at run time.
    parent: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Agency
        fields = ["code", "name", "short_name", "level", "kind", "parent", "is_active"]


class AgencyPagination(KeysetPagination):
    ordering = "code"


@extend_schema(tags=["agencies"], responses={200: AgencyOutputSerializer(many=True), 400: ErrorSerializer})
class AgencyListApi(generics.ListAPIView):
    """Government agencies, public. Keyset-paginated by code."""

    permission_classes = [AllowAny]
    serializer_class = AgencyOutputSerializer
    filterset_class = AgencyFilter
    pagination_class = AgencyPagination

    def get_queryset(self) -> Any:
        return selectors.agencies_public()


@extend_schema(tags=["agencies"], responses={200: AgencyOutputSerializer, 404: ErrorSerializer})
class AgencyDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = AgencyOutputSerializer
    lookup_field = "code"

    def get_queryset(self) -> Any:
        return selectors.agencies_public()


class MembershipOutputSerializer(serializers.ModelSerializer):
    agency: serializers.Field = serializers.SlugRelatedField(slug_field="code", read_only=True)
    agency_name = serializers.CharField(source="agency.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["agency", "agency_name", "role"]


class MeOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()
    memberships = MembershipOutputSerializer(many=True)


@extend_schema(
    tags=["accounts"], responses={200: MeOutputSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
)
class MeApi(APIView):
    """The signed-in user and the roles they hold."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        user: Any = request.user
        data = {
            "username": user.get_username(),
            "name": user.name,
            "memberships": selectors.memberships_of(user),
        }
        return Response(MeOutputSerializer(data).data)
