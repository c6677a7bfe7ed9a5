"""Citizens' grievances (民生诉求, hotline work orders): intake, routing by the duty list, the dispatch loop
with returns that must cite the list, first-asked responsibility, bounces that become disputes, two-way
dispatch between streets and district agencies, whistles (吹哨报到) and the citizen's feedback."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from duty_lists.models import Agency, Duty, DutyRevision


class Channel(models.TextChoices):
    HOTLINE = "hotline", _("Hotline")
    WEB = "web", _("Website")
    APP = "app", _("Mobile app")
    GRID = "grid", _("Grid worker")
    PETITION = "petition", _("Letters and visits")
    STREET = "street", _("Street report")
    OPEN311 = "open311", _("Open311 client")


class GrievanceKind(models.TextChoices):
    CONSULTATION = "consultation", _("Consultation")
    HELP = "help", _("Request for help")
    COMPLAINT = "complaint", _("Complaint")
    REPORT = "report", _("Report of wrongdoing")
    SUGGESTION = "suggestion", _("Suggestion")


class GrievanceUrgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class GrievanceState(models.TextChoices):
    RECEIVED = "received", _("Received")
    DISPATCHED = "dispatched", _("Dispatched")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    RETURNED = "returned", _("Returned")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Reopened")
    CANCELLED = "cancelled", _("Cancelled")


# States in which the grievance is still someone's work; the citizen's clock runs in all of them.
OPEN_STATES = (
    GrievanceState.RECEIVED,
    GrievanceState.DISPATCHED,
    GrievanceState.ACCEPTED,
    GrievanceState.IN_PROGRESS,
    GrievanceState.RETURNED,
    GrievanceState.REOPENED,
)
# States in which a dispatcher must act: nobody is handling it.
QUEUE_STATES = (GrievanceState.RECEIVED, GrievanceState.RETURNED, GrievanceState.REOPENED)


class DeadlinePolicy(models.Model):
    """How long each kind of grievance may take, in working days (0 = the same working day), and how
    soon the agency must accept it. Urgent grievances always take the urgent row."""

    kind = models.CharField(_("kind"), max_length=20, unique=True)
    label = models.CharField(_("label"), max_length=100, blank=True)
    working_days = models.PositiveSmallIntegerField(_("complete within, working days"))
    accept_hours = models.PositiveSmallIntegerField(_("accept within, hours"), default=24)

    class Meta:
        ordering = ["kind"]
        verbose_name = _("grievance deadline policy")
        verbose_name_plural = _("grievance deadline policies")
        constraints = [
            models.CheckConstraint(condition=Q(accept_hours__gte=1), name="accept_within_at_least_an_hour")
        ]

    def __str__(self) -> str:
        return f"{self.label or self.kind}: {self.working_days}"


def new_token() -> str:
    return secrets.token_urlsafe(16)


class Grievance(models.Model):
    reference = models.CharField(_("reference"), max_length=30, unique=True)
    # The citizen's tokenised link and the Open311 token: unguessable, unlike the reference.
    token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    received_at = models.DateTimeField(_("received at"))
    title = models.CharField(_("title"), max_length=300)
    details = models.TextField(_("details"), blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=GrievanceKind.choices, default=GrievanceKind.COMPLAINT
    )
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=GrievanceUrgency.choices, default=GrievanceUrgency.NORMAL
    )
    category = models.CharField(_("category"), max_length=100, blank=True)

    district = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("district")
    )
    street = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("street")
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    # Open311 GeoReport's own fields: a place id from the city's address register, and a photo's URL.
    # Returned to the client that posted them, never published.
    address_id = models.CharField(_("address id"), max_length=100, blank=True)
    media_url = models.URLField(_("media URL"), max_length=500, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)

    # Personal data: shown only to dispatchers and the agency handling the grievance (see selectors).
    contact_name = models.CharField(_("citizen's name"), max_length=100, blank=True)
    contact_phone = models.CharField(_("citizen's phone"), max_length=40, blank=True)
    contact_email = models.EmailField(_("citizen's e-mail"), blank=True)

    state = models.CharField(
        _("state"), max_length=20, choices=GrievanceState.choices, default=GrievanceState.RECEIVED
    )
    # The duty it was dispatched under (none: the list does not cover it) and who handles it now.
    duty = models.ForeignKey(
        Duty,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grievances",
        verbose_name=_("duty"),
    )
    duty_revision = models.ForeignKey(
        DutyRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handling_agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handled_grievances",
        verbose_name=_("handling agency"),
    )
    first_agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("first asked"),
    )
    # 首问负责制: the list covers nothing here, so the first agency asked handles it provisionally.
    provisional = models.BooleanField(_("handled provisionally (first asked)"), default=False)
    unlisted = models.BooleanField(_("not covered by the duty list"), default=False)

    deadline_at = models.DateTimeField(_("deadline"))
    accept_by = models.DateTimeField(_("accept by"), null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)

    dispatch_count = models.PositiveSmallIntegerField(default=0)
    return_count = models.PositiveSmallIntegerField(default=0)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    # Accepted by the first agency it was sent to: the field's headline number (首派成功率).
    first_dispatch_accepted = models.BooleanField(null=True, blank=True)

    route_confidence = models.FloatField(null=True, blank=True)
    suggestions = models.JSONField(default=list, blank=True)
    routed_at = models.DateTimeField(null=True, blank=True)

    dispute = models.ForeignKey(
        "arbitration.Dispute", null=True, blank=True, on_delete=models.SET_NULL, related_name="grievances"
    )
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    # Open311 shows a grievance only once a dispatcher publishes it, and then only this reviewed, redacted
    # text and address — never the citizen's own words, which may name people and flats.
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    public_description = models.TextField(_("public description"), blank=True)
    public_address = models.CharField(_("public address"), max_length=300, blank=True)

    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    client = models.ForeignKey(
        "grievances.ApiClient", null=True, blank=True, on_delete=models.PROTECT, related_name="grievances"
    )
    # A hotline system's retry carries the same key: the pair (submitter, key) names one grievance.
    idempotency_key = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("grievance")
        verbose_name_plural = _("grievances")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=GrievanceState.values), name="grievance_state_is_known"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="rating_one_to_five"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="latitude_in_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="longitude_in_range",
            ),
            # Nothing of an unpublished grievance may sit ready for the public output.
            models.CheckConstraint(
                condition=Q(published_at__isnull=False) | Q(public_description="", public_address=""),
                name="unpublished_grievance_has_no_public_text",
            ),
            # Someone must be handling anything past the dispatchers' queue.
            models.CheckConstraint(
                condition=Q(state__in=[*QUEUE_STATES, GrievanceState.CANCELLED])
                | Q(handling_agency__isnull=False),
                name="handled_grievance_has_agency",
            ),
            models.UniqueConstraint(
                fields=["submitted_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_grievance_per_user_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["client", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_grievance_per_client_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "received_at"], name="grievance_state_received"),
            models.Index(fields=["handling_agency", "state"], name="grievance_agency_state"),
            models.Index(fields=["duty"], name="grievance_duty"),
            # The dashboard's summary: days are rebuilt by receipt date, changes are found by updated_at.
            models.Index(fields=["received_at"], name="grievance_received"),
            models.Index(fields=["updated_at"], name="grievance_updated"),
            # The dispatchers' queue (selectors.dispatch_queue), in its order.
            models.Index(
                fields=["deadline_at", "received_at", "id"],
                condition=Q(state__in=QUEUE_STATES),
                name="grievance_queue_by_deadline",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class OrderRole(models.TextChoices):
    LEAD = "lead", _("Lead")
    COOPERATING = "cooperating", _("Cooperating")


class OrderState(models.TextChoices):
    PENDING = "pending", _("Awaiting acceptance")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned")
    ANSWERED = "answered", _("Answered")
    WITHDRAWN = "withdrawn", _("Withdrawn")


ACTIVE_ORDER_STATES = (OrderState.PENDING, OrderState.ACCEPTED)


class WorkOrder(models.Model):
    """One agency's part of one dispatch: the lead's order, or a cooperating agency's sub-order, each with
    its own deadline. A return must cite the duty list or declare the matter unlisted."""

    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="orders")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="work_orders")
    role = models.CharField(_("role"), max_length=20, choices=OrderRole.choices)
    state = models.CharField(
        _("state"), max_length=20, choices=OrderState.choices, default=OrderState.PENDING
    )
    round = models.PositiveSmallIntegerField(_("dispatch round"))
    dispatched_at = models.DateTimeField()
    accept_by = models.DateTimeField()
    deadline_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.TextField(_("reason for return"), blank=True)
    cited_duty = models.ForeignKey(
        Duty, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("duty cited")
    )
    cited_agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("agency the list names"),
    )
    declared_unlisted = models.BooleanField(_("matter not on the list"), default=False)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["round", "role", "id"]
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        constraints = [
            models.UniqueConstraint(
                fields=["grievance", "agency", "round"], name="one_order_per_agency_per_round"
            ),
            models.UniqueConstraint(
                fields=["grievance"],
                condition=Q(role="lead", state__in=["pending", "accepted"]),
                name="one_active_lead_order",
            ),
            # "Not ours" must say whose it is by the list, or that the list does not cover it.
            models.CheckConstraint(
                condition=~Q(state="returned")
                | Q(cited_duty__isnull=False, declared_unlisted=False)
                | Q(cited_duty__isnull=True, declared_unlisted=True),
                name="return_cites_the_list",
            ),
        ]
        indexes = [models.Index(fields=["agency", "state"], name="order_agency_state")]

    def __str__(self) -> str:
        return f"{self.grievance.reference} → {self.agency}"


class GrievanceEvent(models.Model):
    """The grievance's history: who did what, when and why. Never edited."""

    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Shown on the citizen's status page (who handles it now), unlike internal notes.
    public = models.BooleanField(default=False)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.grievance_id} {self.action}"


class Feedback(models.Model):
    """The citizen's rating of one round of handling; an unsatisfied one may reopen the grievance (redo)."""

    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="feedback")
    round = models.PositiveSmallIntegerField()
    rating = models.PositiveSmallIntegerField(_("rating"))
    satisfied = models.BooleanField(_("satisfied"))
    comment = models.TextField(_("comment"), blank=True)
    reopened = models.BooleanField(default=False)
    via = models.CharField(max_length=20)  # "dispatcher" or "citizen_link"
    at = models.DateTimeField()

    class Meta:
        ordering = ["at"]
        constraints = [
            models.UniqueConstraint(fields=["grievance", "round"], name="one_feedback_per_round"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="feedback_one_to_five"),
        ]

    def __str__(self) -> str:
        return f"{self.grievance_id}/{self.round}: {self.rating}"


class ApiClient(models.Model):
    """An application allowed to post Open311 requests. Only a hash of its key is stored: the key is shown
    once, when it is issued."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    key_prefix = models.CharField(max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Open311 API client")
        verbose_name_plural = _("Open311 API clients")

    def __str__(self) -> str:
        return self.name


class RouterModelState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    TRAINING = "training", _("Training")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class RouterModel(models.Model):
    """One version of the router's learned half (grievances/router_model.py), trained by a Celery task from
    the grievances agencies accepted in ``window_start … window_end``. At most one is in force; the others
    stay so that an officer can compare them and switch back."""

    state = models.CharField(
        _("state"), max_length=10, choices=RouterModelState.choices, default=RouterModelState.QUEUED
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    # What the worker is doing, for the page that follows it; written outside the training's transaction.
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    stage = models.CharField(_("stage"), max_length=100, blank=True)
    trained_at = models.DateTimeField(_("trained at"), null=True, blank=True)
    window_start = models.DateTimeField(_("oldest grievance"), null=True, blank=True)
    window_end = models.DateTimeField(_("newest grievance"), null=True, blank=True)
    samples = models.PositiveIntegerField(_("grievances"), default=0)
    labels = models.PositiveIntegerField(_("agencies"), default=0)
    # joblib bytes of router_model.TextClassifier: only this application writes them.
    model = models.BinaryField(default=b"", editable=False)
    # Measured on the newest grievances of the window by a model trained on the older ones: top1, top3,
    # threshold, coverage, precision, list_top1 (the list alone), usual_duties (agency → duty).
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    in_force = models.BooleanField(_("in force"), default=False)
    activated_at = models.DateTimeField(_("put in force at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("router model")
        verbose_name_plural = _("router models")
        constraints = [
            models.UniqueConstraint(
                fields=["in_force"], condition=Q(in_force=True), name="router_model_one_in_force"
            ),
            # One version queued or training at a time (they are never in force, so "in_force" is constant).
            models.UniqueConstraint(
                fields=["in_force"],
                condition=Q(state__in=[RouterModelState.QUEUED, RouterModelState.TRAINING]),
                name="router_model_one_pending",
            ),
            models.CheckConstraint(
                condition=Q(state__in=RouterModelState.values), name="router_model_state_valid"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="router_model_progress_at_most_100"),
            models.CheckConstraint(
                condition=Q(in_force=False) | Q(state=RouterModelState.READY),
                name="router_model_in_force_only_when_ready",
            ),
        ]

    def __str__(self) -> str:
        return f"router #{self.pk} {self.get_state_display()} ({self.samples})"


# The dashboard's summary tables (grievances/dashboard/models.py) belong to this app.
from grievances.dashboard.models import (  # noqa: E402, F401
    DailyDigest,
    GrievanceDailySummary,
    SummaryCursor,
    SummaryDirtyDay,
    SummaryRebuild,
    SummaryRebuildState,
)

# 双向考评 and the ranking's weights (grievances/ratings/models.py) belong to this app too.
from grievances.ratings.models import (  # noqa: E402, F401
    AppealState,
    MutualRating,
    MutualRatingScore,
    RankingMetric,
    RankingWeight,
    RatingAppeal,
    RatingCriterion,
    RatingDirection,
)
from grievances.twoway_models import (  # noqa: E402, F401  (own module: registered here)
    Handover,
    HandoverDirection,
    HandoverState,
    Summons,
    Whistle,
)
