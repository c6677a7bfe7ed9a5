"""/api/v1/disputes/: file a dispute, read the ones you may see, and move them along the ladder — one POST
endpoint per step, each calling the service the browser calls.

Disputes are not public: every endpoint here asks for a signed-in caller (401 otherwise, so a client that
forgot its token is told so instead of being shown an empty list). A dispute the caller may not see answers
404 on reads and writes alike; one they see but may not act on answers 403 from the service.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arbitration import selectors, services
from arbitration.api.rulings import ruling_for
from arbitration.api.serializers import (
    AgreementReportSerializer,
    DisputeDetailSerializer,
    DisputeFileSerializer,
    DisputeReasonSerializer,
    DisputeSerializer,
    DomainSerializer,
    MeetingInputSerializer,
    MeetingSerializer,
    PositionInputSerializer,
    PositionSerializer,
    RulingInputSerializer,
    RulingSerializer,
)
from arbitration.filters import DisputeFilter
from arbitration.models import Dispute, DisputeParty, Domain, Position, RulingKind
from core.api.errors import ErrorSerializer
from core.api.pagination import KeysetPagination
from core.api.steps import STEP_ERRORS, step_api
from duty_lists import selectors as registry

ERRORS = dict(STEP_ERRORS)


class DisputePagination(KeysetPagination):
    # Newest first, by id: a cursor needs a unique key that never changes. The deadline is neither — it is
    # empty once a dispute closes and moves with every escalation, pause and resume, so a client paging by it
    # would skip or repeat disputes. "What is due next" is the work queue's question, not the list's.
    ordering = "-id"


def _visible(request: Request, pk: int) -> Dispute:
    """The dispute if the caller may see it; 404 otherwise (whether it exists is not theirs to learn)."""
    return get_object_or_404(selectors.disputes_visible_to(request.user), pk=pk)


def dispute_payload(request: Request, pk: int) -> dict[str, Any]:
    """The detail: parties, duties (with their current titles), every position version, the timeline,
    meetings, stages with deadlines, rulings with cooperating agencies and follow-ups."""
    try:
        dispute = selectors.dispute_detail(request.user, pk)
    except Dispute.DoesNotExist:
        raise NotFound(_("No such dispute.")) from None
    prefetch_related_objects([dispute], "duties__duty_list")
    duty_ids = [d.pk for d in dispute.duties.all()]
    titles = (
        dict(
            registry.revisions_in_force(with_content=False)
            .filter(duty_id__in=duty_ids)
            .values_list("duty_id", "title")
        )
        if duty_ids
        else {}
    )
    serializer = DisputeDetailSerializer(dispute, context={"request": request, "duty_titles": titles})
    return dict(serializer.data)


@extend_schema(
    tags=["disputes"],
    responses={200: DisputeSerializer(many=True), 400: ErrorSerializer, 401: ErrorSerializer},
)
class DisputeListApi(generics.ListCreateAPIView):
    """Disputes the caller may see (parties see their agency's, the editorial office, leaders and legal
    reviewers see all), newest first; POST files a new one."""

    permission_classes = [IsAuthenticated]
    serializer_class = DisputeSerializer
    filterset_class = DisputeFilter
    pagination_class = DisputePagination

    def get_queryset(self) -> QuerySet[Dispute]:
        return selectors.disputes_visible_to(self.request.user).prefetch_related(
            Prefetch("parties", queryset=DisputeParty.objects.select_related("agency"))
        )

    @extend_schema(
        summary="File a dispute",
        description=(
            "Agency staff file for their own agency; officers for any. `duties` name the duties in dispute "
            "as `{list, code}` objects (codes are unique only within a list); a gap names none. Field "
            "problems come back together as a 400 with `details` per field, and nothing is saved."
        ),
        request=DisputeFileSerializer,
        responses={201: DisputeDetailSerializer, **ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = DisputeFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        dispute = services.dispute_file(
            actor=request.user,
            title=values["title"],
            description=values["description"],
            kind=values["kind"],
            domain=values["domain"],
            urgency=values["urgency"],
            filing_agency=values["filing_agency"],
            respondents=values["respondents"],
            duties=values.get("duties", []),
            evidence_links=values["evidence_links"],
        )
        return Response(dispute_payload(request, dispute.pk), status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["disputes"], responses={200: DisputeDetailSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
)
class DisputeDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        return Response(dispute_payload(request, pk))


@extend_schema(
    tags=["disputes"],
    summary="State or revise a party's position",
    description="Each change adds a version; sending the same position again changes nothing (200).",
    request=PositionInputSerializer,
    responses={201: PositionSerializer, 200: PositionSerializer, **ERRORS},
)
class DisputePositionApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        dispute = _visible(request, pk)
        data = PositionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        before = (
            Position.objects.filter(dispute=dispute, agency=values["agency"])
            .order_by("-version")
            .values_list("pk", flat=True)
            .first()
        )
        position = services.position_record(
            actor=request.user,
            dispute=dispute,
            agency=values["agency"],
            stance=values["stance"],
            statement=values["statement"],
            legal_basis=values["legal_basis"],
            proposed_agency=values["proposed_agency"],
        )
        created = position.pk != before
        return Response(
            PositionSerializer(position).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _transition(action: str, summary: str, description: str) -> type[APIView]:
    """A step of the ladder's one transition table, named after its action (``accept_scope`` →
    ``DisputeAcceptScopeApi``); every one takes a reason."""
    return step_api(
        "".join(part.title() for part in action.split("_")),
        DisputeReasonSerializer,
        lambda request, dispute, v: services.dispute_transition(
            actor=request.user, dispute=dispute, action=action, reason=v["reason"]
        ),
        summary,
        description,
        prefix="Dispute",
        tag="disputes",
        find=_visible,
        respond=dispute_payload,
        response_serializer=DisputeDetailSerializer,
    )


DisputeEscalateApi = _transition(
    "escalate",
    "Escalate by hand",
    "A party or an officer moves the dispute one stage up the ladder before its deadline. Needs a reason.",
)
DisputePauseApi = _transition(
    "pause", "Pause the clock", "Officers; the time left is kept for when it resumes. Needs a reason."
)
DisputeResumeApi = _transition("resume", "Resume the clock", "Officers.")
DisputeWithdrawApi = _transition(
    "withdraw", "Withdraw", "The filing agency (or an officer) closes the dispute. Needs a reason."
)
DisputeAcceptScopeApi = _transition(
    "accept_scope", "Take the dispute up", "Officers, at the editorial office's assessment step."
)
DisputeRejectScopeApi = _transition(
    "reject_scope",
    "Not in scope",
    "Officers, at the assessment step: closes the dispute as not in scope. Needs a reason.",
)
DisputeRequestLegalReviewApi = _transition(
    "request_legal_review", "Ask for a legal review", "Officers; the legal reviewers are notified."
)
DisputeGiveLegalOpinionApi = _transition(
    "give_legal_opinion",
    "Give the legal opinion",
    "Legal reviewers, during the review step; the opinion goes in `reason`.",
)
DisputeGiveFeedbackApi = _transition(
    "give_feedback",
    "Give the parties feedback",
    "Officers, after review or coordination; the feedback goes in `reason` and reaches the parties.",
)


@extend_schema(
    tags=["disputes"],
    summary="Record a coordination meeting",
    description="Officers, once the editorial office has taken the dispute up.",
    request=MeetingInputSerializer,
    responses={201: MeetingSerializer, **ERRORS},
)
class DisputeMeetingApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        dispute = _visible(request, pk)
        data = MeetingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        meeting = services.meeting_record(actor=request.user, dispute=dispute, **data.validated_data)
        return Response(MeetingSerializer(meeting).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["disputes"],
    summary="Report the parties' agreement",
    description="A party tells the editorial office the parties agreed during negotiation; the office then "
    "confirms it with `agree/`.",
    request=AgreementReportSerializer,
    responses={200: DisputeDetailSerializer, **ERRORS},
)
class DisputeReportAgreementApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        dispute = _visible(request, pk)
        data = AgreementReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.agreement_report(
            actor=request.user, dispute=dispute, statement=data.validated_data["statement"]
        )
        return Response(dispute_payload(request, pk))


def _ruling(kind: str, summary: str, description: str) -> type[APIView]:
    @extend_schema(
        tags=["disputes"],
        summary=summary,
        description=description
        + " With `scope: class` the ruling drafts a duty-list amendment and submits it for review; its id "
        "is in `amendment`. A gap ruled for a class needs `new_duty`.",
        request=RulingInputSerializer,
        responses={201: RulingSerializer, **ERRORS},
    )
    class RulingStepApi(APIView):
        permission_classes = [IsAuthenticated]

        def post(self, request: Request, pk: int) -> Response:
            dispute = _visible(request, pk)
            data = RulingInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            new_duty = values.get("new_duty")
            ruling = services.ruling_issue(
                actor=request.user,
                dispute=dispute,
                kind=kind,
                lead_agency=values["lead_agency"],
                lead_responsibility=values["lead_responsibility"],
                cooperating=[(c["agency"], c["responsibility"]) for c in values.get("cooperating", [])],
                rationale=values["rationale"],
                legal_bases=values["legal_bases"],
                keywords=values["keywords"],
                scope=values["scope"],
                effective_date=values["effective_date"],
                is_internal=values["is_internal"],
                new_duty=services.NewDuty(**new_duty) if new_duty else None,
                follow_ups=[services.FollowUpSpec(**f) for f in values.get("follow_ups", [])],
            )
            return Response(
                RulingSerializer(ruling_for(request, ruling.pk), context={"request": request}).data,
                status=status.HTTP_201_CREATED,
            )

    RulingStepApi.__name__ = RulingStepApi.__qualname__ = f"Dispute{kind.title()}Api"
    return RulingStepApi


DisputeAgreeApi = _ruling(
    RulingKind.AGREEMENT,
    "Confirm the parties' agreement",
    "Officers, during negotiation: records the agreement as a ruling of kind `agreement` and closes the "
    "dispute.",
)
DisputeRuleApi = _ruling(
    RulingKind.RULING,
    "Issue the editorial office's ruling",
    "Officers, at the editorial office once the dispute is taken up: closes the dispute as ruled.",
)
DisputeDecideApi = _ruling(
    RulingKind.DECISION,
    "Record leadership's decision",
    "Leaders, at the leadership stage: closes the dispute as decided.",
)


@extend_schema(tags=["disputes"], responses={200: DomainSerializer(many=True)})
class DomainListApi(generics.ListAPIView):
    """The policy domains a dispute may be filed under (the codes ``domain`` takes). Public."""

    permission_classes = [AllowAny]
    serializer_class = DomainSerializer
    pagination_class = None
    queryset = Domain.objects.filter(is_active=True).order_by("code")
