from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# Each app adds its endpoints here as it grows (name shown → URL name).
API_ENDPOINTS = {
    "agencies": "api:agency_list",
    "duty_lists": "api:duty_list_list",
    "duties": "api:duty_list",
    "editions": "api:edition_list",
    "amendments": "api:amendment_list",
    "disputes": "api:dispute_list",
    "rulings": "api:ruling_list",
    "domains": "api:domain_list",
    "grievances": "api:grievance_list",
    "grievance_stats": "api:grievance_stats",
    "work_orders": "api:work_order_list",
    "whistles": "api:whistle_list",
    "handovers": "api:handover_list",
    "me": "api:me",
    "schema": "api_schema",
    "docs": "api_docs",
}


class ApiRootView(APIView):
    """The entry point of version 1 of the API: links to every collection."""

    permission_classes = [AllowAny]

    @extend_schema(tags=["root"], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        links = {name: reverse(url_name, request=request) for name, url_name in API_ENDPOINTS.items()}
        return Response({"name": "zhize", "version": "v1", "links": links})
