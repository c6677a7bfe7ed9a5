"""/api/v1/rulings/: rulings, leadership decisions and confirmed agreements. Public once issued, unless
marked internal; an internal one is seen only by those who see its dispute (``rulings_visible_to``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny

from arbitration import selectors
from arbitration.api.serializers import RulingSerializer
from arbitration.filters import RulingFilter
from arbitration.models import Ruling
from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination


def rulings_for(user: Any) -> QuerySet[Ruling]:
    return (
        selectors.rulings_visible_to(user)
        .select_related("dispute__domain")
        .prefetch_related("follow_ups__agency")
    )


def ruling_for(request: Any, pk: int) -> Ruling:
    return get_object_or_404(rulings_for(request.user), pk=pk)


class RulingPagination(KeysetPagination):
    ordering = "-id"  # newest first; ids never change, unlike a correction's effective date


@extend_schema(tags=["rulings"], responses={200: RulingSerializer(many=True), 400: ErrorSerializer})
class RulingListApi(generics.ListAPIView):
    """Issued rulings the caller may see: every one not marked internal, and the internal ones of disputes
    the caller sees. Superseded rulings stay listed with ``is_current: false``."""

    permission_classes = [AllowAny]
    serializer_class = RulingSerializer
    filterset_class = RulingFilter
    pagination_class = RulingPagination

    def get_queryset(self) -> QuerySet[Ruling]:
        return rulings_for(self.request.user)


@extend_schema(tags=["rulings"], responses={200: RulingSerializer, 404: ErrorSerializer})
class RulingDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = RulingSerializer

    def get_queryset(self) -> QuerySet[Ruling]:
        return rulings_for(self.request.user)
