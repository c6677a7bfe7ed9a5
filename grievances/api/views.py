"""/api/v1/ for the grievance loop: intake (with Idempotency-Key for hotline systems that retry), the
dispatchers' and agencies' steps — one POST endpoint per step, each calling the service the browser calls —
the inbox, the numbers, whistles and two-way handovers.

Everything here asks for a signed-in caller (401 otherwise). A grievance, order, whistle or handover the
caller may not see answers 404 on reads and writes alike; one they see but may not act on answers 403 from
the service. The citizen's personal data is shown only to those who handle the grievance (masked for the
rest, with ``contact.masked`` saying so).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination
from core.api.steps import STEP_ERRORS, step_api
from core.errors import PermissionRefused
from grievances import selectors, services
from grievances.api.idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_MAX, idempotency_key
from grievances.api.serializers import (
    AnswerSerializer,
    DispatchSerializer,
    FeedbackInputSerializer,
    GrievanceCreateSerializer,
    GrievanceDetailSerializer,
    GrievanceReasonSerializer,
    GrievanceSerializer,
    HandoverCompleteSerializer,
    HandoverInputSerializer,
    HandoverSerializer,
    InboxOrderSerializer,
    NoteSerializer,
    PublishSerializer,
    ReportBackSerializer,
    ResolveSerializer,
    ReturnSerializer,
    StatsQuerySerializer,
    StatsSerializer,
    WhistleInputSerializer,
    WhistleSerializer,
    WorkOrderSerializer,
)
from grievances.filters import GrievanceFilter
from grievances.models import (
    Grievance,
    GrievanceEvent,
    Handover,
    Summons,
    WorkOrder,
)

ERRORS = dict(STEP_ERRORS)


def _with_orders(queryset: QuerySet[Grievance]) -> QuerySet[Grievance]:
    return queryset.select_related("duty__duty_list").prefetch_related(
        Prefetch("orders", queryset=WorkOrder.objects.select_related("agency", "cited_agency"))
    )


def _visible(request: Request, pk: int) -> Grievance:
    """The grievance if the caller may see it; 404 otherwise (whether it exists is not theirs to learn)."""
    return get_object_or_404(selectors.grievances_visible_to(request.user), pk=pk)


def grievance_payload(request: Request, pk: int) -> dict[str, Any]:
    queryset = _with_orders(selectors.grievances_visible_to(request.user)).prefetch_related(
        Prefetch("events", queryset=GrievanceEvent.objects.select_related("agency")), "feedback"
    )
    grievance = get_object_or_404(queryset, pk=pk)
    return dict(GrievanceDetailSerializer(grievance, context={"request": request}).data)


# --- Grievances -----------------------------------------------------------------------------------------


@extend_schema(
    tags=["grievances"],
    responses={200: GrievanceSerializer(many=True), 400: ErrorSerializer, 401: ErrorSerializer},
)
class GrievanceListApi(generics.ListAPIView):
    """The grievances the caller may see (oversight roles all; agency staff what was sent to their agency
    or happened in their street), newest first; POST records a new one."""

    permission_classes = [IsAuthenticated]
    serializer_class = GrievanceSerializer
    filterset_class = GrievanceFilter
    pagination_class = KeysetPagination  # by -id: unique and never changes, unlike any deadline

    def get_queryset(self) -> QuerySet[Grievance]:
        return _with_orders(selectors.grievances_visible_to(self.request.user))

    @extend_schema(
        summary="Record a grievance",
        description=(
            "Dispatchers and hotline systems. The grievance is routed by the duty list at once and "
            "dispatched automatically when the router is sure enough. Every request needs an "
            "`Idempotency-Key` header (up to 100 characters, unique per submitter, e.g. the hotline's own "
            "work-order number), so that a retry never records the grievance twice: the same key again "
            "returns the grievance the first request made (200, with `Idempotent-Replayed: true`); the "
            "same key with a different title or details is a 409 (`idempotency_key_reused`); no key is a "
            "400 (`idempotency_key_required`)."
        ),
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
                OpenApiParameter.HEADER,
                required=True,
                description="Up to 100 characters, unique per submitter; a retry sends the same key.",
            )
        ],
        request=GrievanceCreateSerializer,
        responses={201: GrievanceDetailSerializer, 200: GrievanceDetailSerializer, **ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = idempotency_key(request.headers)
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise ValidationError(
                {IDEMPOTENCY_HEADER: [_("At most %(n)d characters.") % {"n": IDEMPOTENCY_KEY_MAX}]}
            )
        data = GrievanceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grievance, created = services.grievance_receive(
            actor=request.user, idempotency_key=key, **data.validated_data
        )
        response = Response(
            grievance_payload(request, grievance.pk),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


@extend_schema(
    tags=["grievances"],
    responses={200: GrievanceDetailSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
)
class GrievanceDetailApi(APIView):
    """One grievance with its orders, history, suggestions and the citizen's contact (masked unless you
    handle it)."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        return Response(grievance_payload(request, pk))


# Each step: find what the caller may see, validate, call the service, answer with a fresh read.
_step = partial(
    step_api,
    prefix="Grievance",
    tag="grievances",
    find=_visible,
    respond=grievance_payload,
    response_serializer=GrievanceDetailSerializer,
)


GrievanceDispatchApi = _step(
    "Dispatch",
    DispatchSerializer,
    lambda request, grievance, v: services.grievance_dispatch(
        actor=request.user,
        grievance=grievance,
        agency=v["agency"],
        duty=v["duty"],
        cooperating=v["cooperating"],
        note=v["note"],
    ),
    "Dispatch to a lead agency",
    "Dispatchers. `cooperating` agencies each get a sub-order. Without `duty` the dispatcher declares the "
    "matter not on the list: the agency asked first handles it provisionally (首问负责制). Sending it again "
    "to the agency that already has it changes nothing.",
)
GrievanceRouteApi = _step(
    "Route",
    serializers.Serializer,
    lambda request, grievance, v: services.grievance_route(actor=request.user, grievance=grievance),
    "Route again",
    "Dispatchers: fresh suggestions from the list in force; dispatched automatically when sure enough.",
)
GrievanceProgressApi = _step(
    "Progress",
    NoteSerializer,
    lambda request, grievance, v: services.grievance_progress(
        actor=request.user, grievance=grievance, note=v["note"]
    ),
    "Mark in progress",
    "The handling agency, once it has accepted.",
)
GrievanceResolveApi = _step(
    "Resolve",
    ResolveSerializer,
    lambda request, grievance, v: services.grievance_resolve(
        actor=request.user, grievance=grievance, resolution=v["resolution"]
    ),
    "Resolve",
    "The handling agency, after every cooperating agency has answered. Needs `resolution`.",
)
GrievanceFeedbackApi = _step(
    "Feedback",
    FeedbackInputSerializer,
    lambda request, grievance, v: services.grievance_feedback(
        actor=request.user,
        grievance=grievance,
        rating=v["rating"],
        comment=v["comment"],
        reopen=v["reopen"],
    ),
    "Record the citizen's feedback",
    "Dispatchers, for a resolved grievance. Satisfied closes it; an unsatisfied citizen (rating 1 or 2) "
    "may ask for it to be redone (`reopen`), which sends it back to the dispatchers.",
)
GrievanceCloseApi = _step(
    "Close",
    GrievanceReasonSerializer,
    lambda request, grievance, v: services.grievance_close(
        actor=request.user, grievance=grievance, reason=v["reason"]
    ),
    "Close without feedback",
    "Dispatchers, when the citizen of a resolved grievance cannot be reached. Needs a reason.",
)
GrievanceCancelApi = _step(
    "Cancel",
    GrievanceReasonSerializer,
    lambda request, grievance, v: services.grievance_cancel(
        actor=request.user, grievance=grievance, reason=v["reason"]
    ),
    "Cancel",
    "Dispatchers (a duplicate, a call that was no grievance). Open orders are withdrawn. Needs a reason.",
)
GrievancePublishApi = _step(
    "Publish",
    PublishSerializer,
    lambda request, grievance, v: services.grievance_publish(
        actor=request.user,
        grievance=grievance,
        description=v.get("description"),
        address=v.get("address"),
        reason=v["reason"],
    ),
    "Publish on Open311",
    "Dispatchers. Until then Open311 shows nothing of the grievance. Publishing again with other text "
    "replaces the public text; with the same text it changes nothing.",
)
GrievanceUnpublishApi = _step(
    "Unpublish",
    GrievanceReasonSerializer,
    lambda request, grievance, v: services.grievance_unpublish(
        actor=request.user, grievance=grievance, reason=v["reason"]
    ),
    "Withdraw from Open311",
    "Dispatchers. The public text is dropped. Needs a reason.",
)


# --- Work orders ----------------------------------------------------------------------------------------


class InboxPagination(KeysetPagination):
    # The soonest acceptance deadline first, as the inbox is worked; accept_by never changes once the order
    # exists, and id breaks ties, so the cursor neither skips nor repeats.
    ordering = ("accept_by", "id")  # type: ignore[assignment]  # DRF takes a tuple; the stub says str


@extend_schema(tags=["work orders"], responses={200: InboxOrderSerializer(many=True), 401: ErrorSerializer})
class WorkOrderListApi(generics.ListAPIView):
    """The caller's inbox: open orders of their agencies, the soonest acceptance deadline first."""

    permission_classes = [IsAuthenticated]
    serializer_class = InboxOrderSerializer
    pagination_class = InboxPagination

    def get_queryset(self) -> QuerySet[WorkOrder]:
        return selectors.inbox_of(self.request.user).select_related(
            "cited_agency", "grievance__duty__duty_list"
        )


def _visible_order(request: Request, pk: int) -> WorkOrder:
    visible = selectors.grievances_visible_to(request.user).values("id")
    return get_object_or_404(
        WorkOrder.objects.select_related("grievance__street"), pk=pk, grievance_id__in=visible
    )


def _order_payload(request: Request, pk: int) -> dict[str, Any]:
    fresh = WorkOrder.objects.select_related("agency", "cited_agency").get(pk=pk)
    return dict(WorkOrderSerializer(fresh).data)


_order_step = partial(
    step_api,
    prefix="WorkOrder",
    tag="work orders",
    find=_visible_order,
    respond=_order_payload,
    response_serializer=WorkOrderSerializer,
)


WorkOrderAcceptApi = _order_step(
    "Accept",
    NoteSerializer,
    lambda request, order, v: services.order_accept(actor=request.user, order=order, note=v["note"]),
    "Accept",
    "Staff of the agency the order was sent to. Accepting the lead order of a matter the list does not "
    "cover, as the agency asked first, is handling it provisionally; the gap goes to arbitration.",
)
WorkOrderReturnApi = _order_step(
    "Return",
    ReturnSerializer,
    lambda request, order, v: services.order_return(
        actor=request.user,
        order=order,
        reason=v["reason"],
        cited_duty=v["cited_duty"],
        unlisted=v["unlisted"],
    ),
    "Return: not ours",
    "Staff of the lead agency, before accepting. The return must cite the duty that names another agency "
    "(`cited_duty`) or declare the matter not on the list (`unlisted: true`), and say why (`reason`).",
)
WorkOrderAnswerApi = _order_step(
    "Answer",
    AnswerSerializer,
    lambda request, order, v: services.order_answer(actor=request.user, order=order, answer=v["answer"]),
    "Answer a cooperating order",
    "Staff of a cooperating agency report their part done; the lead resolves once every one has.",
)


# --- Numbers --------------------------------------------------------------------------------------------


def _key(value: Any) -> Any:
    # Periods come back as midnight in the local zone: the day they start is what a reader means.
    if isinstance(value, datetime):
        return timezone.localdate(value).isoformat()
    return value.isoformat() if isinstance(value, date) else value


@extend_schema(
    tags=["grievances"],
    summary="The loop's figures",
    description=(
        "First-dispatch success, return, redo, on-time acceptance and completion, and satisfaction rates "
        "(0..1, null when nothing to count yet) with the counts behind them; overall, or per agency (the "
        "first asked), category, day, week or month of receipt. Dispatchers, editorial officers, leaders "
        "and auditors."
    ),
    parameters=[StatsQuerySerializer],
    responses={200: StatsSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
)
class GrievanceStatsApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        if not selectors.sees_everything(request.user):
            raise PermissionRefused(_("The figures are for dispatchers, officers, leaders and auditors."))
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        agency = values["agency"]
        figures = selectors.grievance_stats(
            since=values.get("since"),
            until=values.get("until"),
            group_by=values["group_by"],
            agency_id=agency.pk if agency else None,
            category=values["category"] or None,
        )
        rows = [{**vars(row), "key": _key(row.key)} for row in figures]
        body = {
            "since": values.get("since"),
            "until": values.get("until"),
            "group_by": values["group_by"],
            "figures": rows,
        }
        return Response(StatsSerializer(body).data)


# --- Whistles -------------------------------------------------------------------------------------------


def _linked_grievance(request: Request, pk: int | None) -> Grievance | None:
    """A grievance the caller names must be one they see: otherwise it is not theirs to link."""
    if pk is None:
        return None
    grievance = selectors.grievances_visible_to(request.user).filter(pk=pk).first()
    if grievance is None:
        raise ValidationError({"grievance": [_("No such grievance.")]})
    return grievance


@extend_schema(tags=["whistles"], responses={200: WhistleSerializer(many=True), 401: ErrorSerializer})
class WhistleListApi(generics.ListAPIView):
    """Whistles the caller may see (their street's, those summoning their agency; oversight roles all),
    newest first; POST blows one."""

    permission_classes = [IsAuthenticated]
    serializer_class = WhistleSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> Any:
        return selectors.whistles_visible_to(self.request.user).select_related("street")

    @extend_schema(
        summary="Blow the whistle (吹哨)",
        description="Street staff summon departments; each must report within the set minutes.",
        request=WhistleInputSerializer,
        responses={201: WhistleSerializer, **ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = WhistleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        whistle = services.whistle_blow(
            actor=request.user,
            street=values["street"],
            title=values["title"],
            agencies=values["agencies"],
            description=values["description"],
            address=values["address"],
            grievance=_linked_grievance(request, values["grievance"]),
        )
        fresh = selectors.whistles_visible_to(request.user).get(pk=whistle.pk)
        return Response(WhistleSerializer(fresh).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["whistles"],
    summary="Report to a whistle (报到)",
    description="Staff of the summoned department. A late report is recorded as late, not refused.",
    request=NoteSerializer,
    responses={200: WhistleSerializer, **ERRORS},
)
class SummonsReportApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        whistles = selectors.whistles_visible_to(request.user)
        summons = get_object_or_404(Summons, pk=pk, whistle_id__in=whistles.values("id"))
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.summons_report(actor=request.user, summons=summons, note=data.validated_data["note"])
        return Response(WhistleSerializer(whistles.get(pk=summons.whistle_id)).data)


# --- Two-way handovers ----------------------------------------------------------------------------------


@extend_schema(tags=["handovers"], responses={200: HandoverSerializer(many=True), 401: ErrorSerializer})
class HandoverListApi(generics.ListAPIView):
    """Two-way handovers (双向派单) the caller's agency sent or received, newest first; POST reports one."""

    permission_classes = [IsAuthenticated]
    serializer_class = HandoverSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Handover]:
        return selectors.handovers_visible_to(self.request.user)

    @extend_schema(
        summary="Hand a matter over",
        description=(
            "`up`: a street reports a district agency's matter (the same day it was found); `down`: a "
            "district agency passes a territorial matter to a street; `back_up`: the street returns a "
            "matter that came down (`parent`) as too complex. The receiving agency completes the handover "
            "within 3 working days."
        ),
        request=HandoverInputSerializer,
        responses={201: HandoverSerializer, **ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = HandoverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        parent = values["parent"]
        if (
            parent is not None
            and not selectors.handovers_visible_to(request.user).filter(pk=parent.pk).exists()
        ):
            raise ValidationError({"parent": [_("No such handover.")]})
        handover = services.handover_report(
            actor=request.user,
            direction=values["direction"],
            from_agency=values["from_agency"],
            to_agency=values["to_agency"],
            matter=values["matter"],
            found_at=values["found_at"],
            grievance=_linked_grievance(request, values["grievance"]),
            duty=values["duty"],
            parent=parent,
        )
        fresh = selectors.handovers_visible_to(request.user).get(pk=handover.pk)
        return Response(HandoverSerializer(fresh).data, status=status.HTTP_201_CREATED)


def _visible_handover(request: Request, pk: int) -> Handover:
    return get_object_or_404(selectors.handovers_visible_to(request.user), pk=pk)


def _handover_payload(request: Request, pk: int) -> dict[str, Any]:
    return dict(HandoverSerializer(selectors.handovers_visible_to(request.user).get(pk=pk)).data)


_handover_step = partial(
    step_api,
    prefix="Handover",
    tag="handovers",
    find=_visible_handover,
    respond=_handover_payload,
    response_serializer=HandoverSerializer,
)


HandoverCompleteApi = _handover_step(
    "Complete",
    HandoverCompleteSerializer,
    lambda request, handover, v: services.handover_complete(
        actor=request.user, handover=handover, note=v["note"]
    ),
    "Complete the handover",
    "Staff of the receiving agency take the matter over.",
)
HandoverReportBackApi = _handover_step(
    "ReportBack",
    ReportBackSerializer,
    lambda request, handover, v: services.handover_report_back(
        actor=request.user, handover=handover, report=v["report"]
    ),
    "Report back done",
    "Staff of the receiving agency report the matter done to the agency that handed it over. Needs `report`.",
)
