"""Input and output shapes of the arbitration API. Inputs only check types and resolve codes to rows; every
business rule (who may, in which stage, what a gap needs) stays in the services, which report their own
field errors in the same error shape."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arbitration.filters import is_overdue
from arbitration.models import (
    Dispute,
    DisputeEvent,
    DisputeKind,
    DisputeParty,
    DisputeStage,
    Domain,
    FollowUp,
    Meeting,
    Position,
    Ruling,
    RulingParticipant,
    RulingScope,
    Stance,
    Urgency,
)
from duty_lists.models import Agency, Duty

# --- Outputs --------------------------------------------------------------------------------------------


class AgencyRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["code", "name"]


class DomainSerializer(serializers.ModelSerializer):
    class Meta:
        model = Domain
        fields = ["code", "name"]


class PartySerializer(serializers.ModelSerializer):
    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = DisputeParty
        fields = ["agency", "role"]


class PositionSerializer(serializers.ModelSerializer):
    agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)
    proposed_agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Position
        fields = ["id", "agency", "version", "stance", "proposed_agency", "statement", "legal_basis", "at"]


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_repr", read_only=True)

    class Meta:
        model = DisputeEvent
        fields = ["action", "from_stage", "to_stage", "from_state", "to_state", "actor", "reason", "at"]


class MeetingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Meeting
        fields = ["id", "held_on", "attendees", "minutes", "at"]


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisputeStage
        fields = ["stage", "entered_at", "deadline_at", "by_sweep"]


class CooperatingSerializer(serializers.ModelSerializer):
    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = RulingParticipant
        fields = ["agency", "responsibility"]


class FollowUpSerializer(serializers.ModelSerializer):
    agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "agency",
            "description",
            "due_date",
            "state",
            "report",
            "reported_at",
            "overdue",
            "closed_at",
        ]


class RulingDisputeSerializer(serializers.ModelSerializer):
    """What a ruling says about its dispute: enough to know the matter, not the parties' file."""

    domain: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Dispute
        fields = ["id", "title", "kind", "domain"]


class RulingSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:ruling_detail")
    dispute = RulingDisputeSerializer(read_only=True)
    lead_agency = AgencyRefSerializer(read_only=True)
    cooperating = CooperatingSerializer(many=True, read_only=True)
    follow_ups = FollowUpSerializer(many=True, read_only=True)
    supersedes: Any = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The ruling this one corrects."
    )
    amendment: Any = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The duty-list amendment a class-scope ruling drafted (see /api/v1/amendments/{id}/).",
    )

    class Meta:
        model = Ruling
        fields = [
            "id",
            "url",
            "kind",
            "dispute",
            "lead_agency",
            "lead_responsibility",
            "cooperating",
            "rationale",
            "legal_bases",
            "keywords",
            "scope",
            "effective_date",
            "is_internal",
            "issued_at",
            "is_current",
            "supersedes",
            "amendment",
            "follow_ups",
        ]


class DisputeSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:dispute_detail")
    domain: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)
    filing_agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)
    parties = PartySerializer(many=True, read_only=True)
    overdue = serializers.SerializerMethodField(
        help_text="Past the current deadline (or flagged overdue at leadership) and not closed."
    )

    class Meta:
        model = Dispute
        fields = [
            "id",
            "url",
            "title",
            "kind",
            "domain",
            "urgency",
            "filing_agency",
            "parties",
            "stage",
            "office_step",
            "state",
            "outcome",
            "deadline_at",
            "overdue",
            "created_at",
            "closed_at",
        ]

    def get_overdue(self, obj: Dispute) -> bool:
        return is_overdue(obj)


class DutyRefSerializer(serializers.ModelSerializer):
    list: Any = serializers.SlugRelatedField(source="duty_list", slug_field="code", read_only=True)
    title = serializers.SerializerMethodField(help_text="Its title in the list in force; null if removed.")

    class Meta:
        model = Duty
        fields = ["list", "code", "title"]

    def get_title(self, obj: Duty) -> str | None:
        titles: dict[int, str] = self.context.get("duty_titles", {})
        return titles.get(obj.pk)


class DisputeDetailSerializer(DisputeSerializer):
    duties = DutyRefSerializer(many=True, read_only=True)
    latest_positions = serializers.SerializerMethodField(help_text="Each party's current position.")
    positions = PositionSerializer(
        many=True, read_only=True, help_text="Every version of every position, newest version first."
    )
    events = EventSerializer(many=True, read_only=True, help_text="The timeline, oldest first.")
    meetings = MeetingSerializer(many=True, read_only=True)
    stages = StageSerializer(many=True, read_only=True, help_text="The stages entered, with their deadlines.")
    rulings = RulingSerializer(many=True, read_only=True)

    class Meta(DisputeSerializer.Meta):
        fields = [
            *DisputeSerializer.Meta.fields,
            "description",
            "evidence_links",
            "source_ref",
            "duties",
            "stage_started_at",
            "paused_at",
            "pause_reason",
            "latest_positions",
            "positions",
            "events",
            "meetings",
            "stages",
            "rulings",
        ]

    @extend_schema_field(PositionSerializer(many=True))
    def get_latest_positions(self, obj: Dispute) -> list[dict[str, Any]]:
        latest: dict[int, Position] = {}
        for position in obj.positions.all():
            if position.agency_id not in latest or position.version > latest[position.agency_id].version:
                latest[position.agency_id] = position
        ordered = sorted(latest.values(), key=lambda p: p.agency.code)
        return list(PositionSerializer(ordered, many=True).data)


# --- Inputs ---------------------------------------------------------------------------------------------


def _agency_field(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(
        slug_field="code", queryset=Agency.objects.filter(is_active=True), **kwargs
    )


class DutyRefInputSerializer(serializers.Serializer):
    """A duty named by its list and code (codes are unique only within a list)."""

    list = serializers.CharField(help_text="Duty list code.")
    code = serializers.CharField(help_text="Duty code in that list.")

    def validate(self, attrs: dict[str, Any]) -> Any:
        duty = Duty.objects.filter(duty_list__code=attrs["list"], code=attrs["code"]).first()
        if duty is None:
            raise serializers.ValidationError(
                {
                    "code": [
                        _("No duty %(code)s in list %(list)s.")
                        % {"code": attrs["code"], "list": attrs["list"]}
                    ]
                }
            )
        return duty


class DisputeFileSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=DisputeKind.choices)
    domain: Any = serializers.SlugRelatedField(
        slug_field="code", queryset=Domain.objects.filter(is_active=True), help_text="Domain code."
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.NORMAL)
    filing_agency = _agency_field(
        help_text="Code of the agency filing (your own, unless you are an officer)."
    )
    respondents = _agency_field(many=True, allow_empty=False, help_text="Codes of the other agencies.")
    duties = DutyRefInputSerializer(
        many=True,
        required=False,
        help_text="The duties in dispute, each as {list, code}; none for a gap.",
    )
    evidence_links = serializers.ListField(
        child=serializers.URLField(max_length=500), required=False, default=list
    )


class PositionInputSerializer(serializers.Serializer):
    agency = _agency_field(help_text="The party agency you state the position for (your own).")
    stance = serializers.ChoiceField(choices=Stance.choices)
    statement = serializers.CharField()
    legal_basis = serializers.CharField(required=False, allow_blank=True, default="")
    proposed_agency = _agency_field(
        required=False, allow_null=True, default=None, help_text="Code of the agency proposed instead."
    )


class DisputeReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why (required for escalate, reject-scope, legal-opinion, feedback, pause, withdraw).",
    )


class MeetingInputSerializer(serializers.Serializer):
    held_on = serializers.DateField()
    attendees = serializers.CharField()
    minutes = serializers.CharField()


class AgreementReportSerializer(serializers.Serializer):
    statement = serializers.CharField(help_text="What the parties agreed.")


class CooperatingInputSerializer(serializers.Serializer):
    agency = _agency_field()
    responsibility = serializers.CharField()


class FollowUpInputSerializer(serializers.Serializer):
    agency = _agency_field(help_text="The agency that carries the item out and reports on it.")
    description = serializers.CharField()
    due_date = serializers.DateField()


class NewDutyInputSerializer(serializers.Serializer):
    classification = serializers.CharField(help_text="Classification code where the new duty goes.")
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")


class RulingInputSerializer(serializers.Serializer):
    lead_agency = _agency_field()
    lead_responsibility = serializers.CharField()
    cooperating = CooperatingInputSerializer(many=True, required=False)
    rationale = serializers.CharField()
    legal_bases = serializers.CharField(required=False, allow_blank=True, default="")
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        default=list,
        help_text="Words of the grievances this settles; a class ruling adds them to the duty it rewrites.",
    )
    scope = serializers.ChoiceField(
        choices=RulingScope.choices,
        default=RulingScope.CASE,
        help_text="case: this dispute only; class: a class of matters (drafts a duty-list amendment).",
    )
    effective_date = serializers.DateField(default=timezone.localdate, help_text="Default: today.")
    is_internal = serializers.BooleanField(default=False, help_text="true: not published.")
    new_duty = NewDutyInputSerializer(
        required=False, allow_null=True, help_text="For a gap ruled with class scope: the duty to add."
    )
    follow_ups = FollowUpInputSerializer(many=True, required=False)
