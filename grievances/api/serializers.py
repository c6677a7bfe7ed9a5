"""Input and output shapes of the grievance API. Inputs check types and resolve codes and ids to rows; every
business rule (who may, in which state, what a return must cite) stays in the services, which report their
own field errors in the same error shape. Text the services require is optional here on purpose, so that a
blank and a missing field get the same answer from the one place that knows the rule."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arbitration.api.serializers import AgencyRefSerializer
from duty_lists.models import Agency, Duty
from grievances import selectors
from grievances.models import (
    Channel,
    Feedback,
    Grievance,
    GrievanceEvent,
    GrievanceKind,
    GrievanceUrgency,
    Handover,
    HandoverDirection,
    Summons,
    Whistle,
    WorkOrder,
)
from grievances.services.intake import MAX_DETAILS_CHARS

# --- Outputs --------------------------------------------------------------------------------------------


class GrievanceDutySerializer(serializers.ModelSerializer):
    list: Any = serializers.SlugRelatedField(source="duty_list", slug_field="code", read_only=True)

    class Meta:
        model = Duty
        fields = ["id", "list", "code"]


class SuggestionSerializer(serializers.Serializer):
    """One ranked candidate of the router (documents the JSON kept on the grievance)."""

    duty_id = serializers.IntegerField(allow_null=True)
    duty_code = serializers.CharField()
    duty_title = serializers.CharField()
    duty_list = serializers.CharField()
    agency_id = serializers.IntegerField(allow_null=True)
    agency_name = serializers.CharField()
    confidence = serializers.FloatField(help_text="0..1; the suggestions of one grievance sum to at most 1.")
    matched_words = serializers.ListField(child=serializers.CharField())
    area_rule = serializers.CharField(help_text="territorial: the street where it happened leads.")
    precedent_ruling = serializers.IntegerField(allow_null=True)
    learned_words = serializers.ListField(child=serializers.CharField())
    source: Any = serializers.CharField(help_text="list, history, both, named or cited.")


class StatusSerializer(serializers.Serializer):
    """What the citizen's status page says, without the citizen's token."""

    state = serializers.CharField()
    state_display = serializers.CharField()
    handling_agency = serializers.CharField()
    deadline_at = serializers.DateTimeField()


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    masked = serializers.BooleanField(help_text="true: you do not handle the grievance, so it is masked.")


class WorkOrderSerializer(serializers.ModelSerializer):
    agency = AgencyRefSerializer(read_only=True)
    cited_duty: Any = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    cited_agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "agency",
            "role",
            "state",
            "round",
            "dispatched_at",
            "accept_by",
            "deadline_at",
            "accepted_at",
            "answered_at",
            "answer",
            "returned_at",
            "return_reason",
            "cited_duty",
            "cited_agency",
            "declared_unlisted",
            "note",
        ]


class OrderGrievanceSerializer(serializers.ModelSerializer):
    """The grievance as an agency's inbox shows it: the matter, not the citizen."""

    street: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    duty = GrievanceDutySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Grievance
        fields = ["id", "reference", "title", "kind", "urgency", "state", "street", "duty", "deadline_at"]


class InboxOrderSerializer(WorkOrderSerializer):
    grievance = OrderGrievanceSerializer(read_only=True)

    class Meta(WorkOrderSerializer.Meta):
        fields = [*WorkOrderSerializer.Meta.fields, "grievance"]


class GrievanceEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)
    agency: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = GrievanceEvent
        fields = ["action", "actor", "agency", "from_state", "to_state", "reason", "data", "public", "at"]


class FeedbackSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feedback
        fields = ["round", "rating", "satisfied", "comment", "reopened", "via", "at"]


class GrievanceSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:grievance_detail")
    handling_agency = AgencyRefSerializer(read_only=True, allow_null=True)
    first_agency = AgencyRefSerializer(read_only=True, allow_null=True)
    duty = GrievanceDutySerializer(read_only=True, allow_null=True)
    street: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    district: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    dispute: Any = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    suggestions = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    orders = WorkOrderSerializer(many=True, read_only=True, help_text="Every round's orders, oldest first.")

    class Meta:
        model = Grievance
        fields = [
            "id",
            "url",
            "reference",
            "title",
            "channel",
            "kind",
            "urgency",
            "category",
            "state",
            "received_at",
            "deadline_at",
            "accept_by",
            "street",
            "district",
            "handling_agency",
            "first_agency",
            "duty",
            "unlisted",
            "provisional",
            "route_confidence",
            "suggestions",
            "status",
            "orders",
            "dispatch_count",
            "return_count",
            "dispute",
            "published_at",
        ]

    @extend_schema_field(SuggestionSerializer(many=True))
    def get_suggestions(self, obj: Grievance) -> list[dict[str, Any]]:
        return list(obj.suggestions)

    @extend_schema_field(StatusSerializer)
    def get_status(self, obj: Grievance) -> dict[str, Any]:
        return {
            "state": obj.state,
            "state_display": obj.get_state_display(),
            "handling_agency": obj.handling_agency.name if obj.handling_agency else "",
            "deadline_at": serializers.DateTimeField().to_representation(obj.deadline_at),
        }


class GrievanceDetailSerializer(GrievanceSerializer):
    contact = serializers.SerializerMethodField()
    events = GrievanceEventSerializer(many=True, read_only=True, help_text="The history, oldest first.")
    feedback = FeedbackSerializer(many=True, read_only=True)

    class Meta(GrievanceSerializer.Meta):
        fields = [
            *GrievanceSerializer.Meta.fields,
            "details",
            "address",
            "latitude",
            "longitude",
            "contact",
            "external_id",
            "dispatched_at",
            "accepted_at",
            "resolved_at",
            "closed_at",
            "resolution",
            "rating",
            "reopen_count",
            "first_dispatch_accepted",
            "public_description",
            "public_address",
            "events",
            "feedback",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(ContactSerializer)
    def get_contact(self, obj: Grievance) -> dict[str, Any]:
        return selectors.contact_of(self.context["request"].user, obj)


class SummonsSerializer(serializers.ModelSerializer):
    agency = AgencyRefSerializer(read_only=True)
    late = serializers.SerializerMethodField(help_text="Reported after the time, or flagged by the sweep.")

    class Meta:
        model = Summons
        fields = ["id", "agency", "due_at", "reported_at", "note", "late"]

    def get_late(self, obj: Summons) -> bool:
        return obj.is_late or obj.late_flagged_at is not None


class WhistleSerializer(serializers.ModelSerializer):
    street = AgencyRefSerializer(read_only=True)
    grievance: Any = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    summonses = SummonsSerializer(many=True, read_only=True)

    class Meta:
        model = Whistle
        fields = [
            "id",
            "street",
            "title",
            "description",
            "address",
            "grievance",
            "blown_at",
            "closed_at",
            "summonses",
        ]


class HandoverSerializer(serializers.ModelSerializer):
    from_agency = AgencyRefSerializer(read_only=True)
    to_agency = AgencyRefSerializer(read_only=True)
    grievance: Any = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    duty = GrievanceDutySerializer(read_only=True, allow_null=True)
    reported_late = serializers.BooleanField(read_only=True)
    handed_over_late = serializers.SerializerMethodField(help_text="Flagged by the sweep past handover_due.")
    parent: Any = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="For a matter handed back up: the handover it came down as.",
    )

    class Meta:
        model = Handover
        fields = [
            "id",
            "direction",
            "state",
            "from_agency",
            "to_agency",
            "grievance",
            "duty",
            "matter",
            "found_at",
            "reported_at",
            "report_due",
            "reported_late",
            "handover_due",
            "handed_over_late",
            "completed_at",
            "done_at",
            "report_back",
            "parent",
        ]

    def get_handed_over_late(self, obj: Handover) -> bool:
        return obj.late_flagged_at is not None


class FiguresSerializer(serializers.Serializer):
    """One row of the numbers; every rate is 0..1 over the grievances it can apply to, null when none."""

    key = serializers.JSONField(
        help_text="The group: agency id, category, or the period's first day; null when not grouped."
    )
    label: Any = serializers.CharField()
    received = serializers.IntegerField()
    dispatched = serializers.IntegerField()
    first_dispatch_success_rate = serializers.FloatField(allow_null=True)
    return_rate = serializers.FloatField(allow_null=True)
    redo_rate = serializers.FloatField(allow_null=True)
    on_time_acceptance_rate = serializers.FloatField(allow_null=True)
    on_time_completion_rate = serializers.FloatField(allow_null=True)
    satisfaction_rate = serializers.FloatField(allow_null=True)
    mean_rating = serializers.FloatField(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField())


class StatsSerializer(serializers.Serializer):
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    group_by = serializers.CharField(allow_null=True)
    figures = FiguresSerializer(many=True)


# --- Inputs ---------------------------------------------------------------------------------------------


def _agency_field(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(
        slug_field="code", queryset=Agency.objects.filter(is_active=True), **kwargs
    )


def _duty_field(**kwargs: Any) -> Any:
    return serializers.PrimaryKeyRelatedField(queryset=Duty.objects.all(), **kwargs)


def _text(**kwargs: Any) -> Any:
    return serializers.CharField(required=False, allow_blank=True, default="", **kwargs)


class GrievanceCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    details = _text(max_length=MAX_DETAILS_CHARS)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.HOTLINE)
    kind = serializers.ChoiceField(choices=GrievanceKind.choices, default=GrievanceKind.COMPLAINT)
    urgency = serializers.ChoiceField(choices=GrievanceUrgency.choices, default=GrievanceUrgency.NORMAL)
    category = _text(max_length=100)
    district = _agency_field(required=False, allow_null=True, default=None, help_text="District code.")
    street = _agency_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="Code of the street office where it happened (decides territorial duties).",
    )
    address = _text(max_length=300)
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False, allow_null=True
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False, allow_null=True
    )
    contact_name = _text(max_length=100)
    contact_phone = _text(max_length=40)
    contact_email = serializers.EmailField(required=False, allow_blank=True, default="")
    received_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When the citizen called; default: now."
    )
    duty = _duty_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="Id of a duty the caller already knows covers it; it is suggested first.",
    )
    external_id = _text(max_length=100, help_text="The id the submitting system gives it.")


class DispatchSerializer(serializers.Serializer):
    agency = _agency_field(help_text="Code of the lead agency.")
    duty = _duty_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="Id of the duty it is dispatched under; none declares the matter not on the list.",
    )
    cooperating = _agency_field(many=True, required=False, default=list, help_text="Agency codes.")
    note = _text()


class NoteSerializer(serializers.Serializer):
    note = _text()


class GrievanceReasonSerializer(serializers.Serializer):
    reason = _text(help_text="Why (required).")


class PublishSerializer(serializers.Serializer):
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The public text; omitted, the citizen's text with personal data masked. Masked again on "
        "the way in for the citizen's contact data, phone and identity-card numbers and flats.",
    )
    address = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The public address; omitted, the address without house numbers.",
    )
    reason = _text(help_text="Why (optional).")


class ResolveSerializer(serializers.Serializer):
    resolution = _text(help_text="How it was resolved (required).")


class FeedbackInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = _text()
    reopen = serializers.BooleanField(
        default=False, help_text="Unsatisfied (rating 1 or 2) and the citizen asks for it to be redone."
    )


class ReturnSerializer(serializers.Serializer):
    reason = _text(help_text="Why it is not your agency's (required).")
    cited_duty = _duty_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="Id of the duty that names the responsible agency.",
    )
    unlisted = serializers.BooleanField(
        default=False, help_text="true instead of cited_duty: the list covers no such matter."
    )


class AnswerSerializer(serializers.Serializer):
    answer = _text(help_text="What your agency did (required).")


class WhistleInputSerializer(serializers.Serializer):
    street = _agency_field(help_text="Code of your street office.")
    title = _text(max_length=200)
    agencies = _agency_field(many=True, required=False, default=list, help_text="Departments summoned.")
    description = _text()
    address = _text(max_length=300)
    grievance = serializers.IntegerField(required=False, allow_null=True, default=None)


class HandoverInputSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=HandoverDirection.choices)
    from_agency = _agency_field(help_text="Your agency.")
    to_agency = _agency_field()
    matter = _text()
    found_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    grievance = serializers.IntegerField(required=False, allow_null=True, default=None)
    duty = _duty_field(required=False, allow_null=True, default=None)
    parent: Any = serializers.PrimaryKeyRelatedField(
        queryset=Handover.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="For back_up: the handover that came down to your street.",
    )


class HandoverCompleteSerializer(serializers.Serializer):
    note = _text()


class ReportBackSerializer(serializers.Serializer):
    report = _text(help_text="What was done (required).")


class StatsQuerySerializer(serializers.Serializer):
    since = serializers.CharField(
        required=False, help_text="Received at or after: a date (its start) or an ISO date-time."
    )
    until = serializers.CharField(
        required=False, help_text="Received before: a date (up to its end) or an ISO date-time."
    )
    group_by = serializers.ChoiceField(
        choices=["agency", "category", "day", "week", "month"], required=False, allow_null=True, default=None
    )
    agency = _agency_field(
        required=False, allow_null=True, default=None, help_text="Code of the first agency asked."
    )
    category = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_since(self, value: str) -> datetime:
        return _moment(value, end_of_day=False)

    def validate_until(self, value: str) -> datetime:
        return _moment(value, end_of_day=True)


def _moment(value: str, *, end_of_day: bool) -> datetime:
    """A date means the whole local day (``until=2025-03-31`` includes the 31st); a date-time without an
    offset is local time."""
    try:
        day = parse_date(value)
        moment = parse_datetime(value) if day is None else None
    except ValueError:
        day = moment = None
    if day is not None:
        start = timezone.make_aware(datetime.combine(day, time.min))
        return start + timedelta(days=1) if end_of_day else start
    if moment is None:
        raise serializers.ValidationError(_("Give a date (2025-03-31) or an ISO 8601 date-time."))
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
