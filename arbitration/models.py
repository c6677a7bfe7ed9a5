"""Responsibility disputes (职责争议) and their arbitration up the ladder: negotiation between the agencies,
the editorial office's coordination and ruling, leadership's decision."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from duty_lists.models import Agency, Amendment, Duty, DutyList


class DisputeKind(models.TextChoices):
    OVERLAP = "overlap", _("Overlap")
    GAP = "gap", _("Gap")
    VAGUE = "vague", _("Vague wording")
    PUSHBACK = "pushback", _("Passing the buck")
    DELEGATION = "delegation", _("Delegation to streets")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent livelihood matter")
    MAJOR = "major", _("Major matter")


class Stage(models.TextChoices):
    NEGOTIATION = "negotiation", _("Negotiation between agencies")
    # A context of its own: the same English names an agency kind, which Chinese calls differently.
    EDITORIAL_OFFICE = "editorial_office", pgettext_lazy("dispute stage", "Editorial office")
    LEADERSHIP = "leadership", _("Leadership")


# The ladder, bottom to top: a stage that stalls escalates to the next.
LADDER = (Stage.NEGOTIATION, Stage.EDITORIAL_OFFICE, Stage.LEADERSHIP)


class DisputeState(models.TextChoices):
    OPEN = "open", _("Open")
    PAUSED = "paused", _("Paused")
    CLOSED = "closed", _("Closed")


class Outcome(models.TextChoices):
    AGREED = "agreed", _("Agreed by the parties")
    RULED = "ruled", _("Ruled by the editorial office")
    DECIDED = "decided", _("Decided by leadership")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    REJECTED = "rejected", _("Not in scope")


class OfficeStep(models.TextChoices):
    """研判—审核—协调—反馈: the editorial office's steps inside its stage."""

    ASSESS = "assess", _("Assess")
    REVIEW = "review", _("Legal review")
    COORDINATE = "coordinate", _("Coordinate")
    FEEDBACK = "feedback", _("Feedback")


class Domain(models.Model):
    """The managed list of policy domains a dispute belongs to (urban management, market regulation …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self) -> str:
        return self.name


class EscalationPolicy(models.Model):
    """Each stage's time limit per urgency: working days for normal and major matters, minutes for urgent
    ones (the field's "minute-level response"). The reminder goes out this long before the deadline."""

    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    working_days = models.PositiveSmallIntegerField(_("limit in working days"), null=True, blank=True)
    minutes = models.PositiveIntegerField(_("limit in minutes"), null=True, blank=True)
    remind_working_days = models.PositiveSmallIntegerField(
        _("remind, working days before"), null=True, blank=True
    )
    remind_minutes = models.PositiveIntegerField(_("remind, minutes before"), null=True, blank=True)

    class Meta:
        ordering = ["urgency", "stage"]
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        constraints = [
            models.UniqueConstraint(fields=["stage", "urgency"], name="one_policy_per_stage_and_urgency"),
            models.CheckConstraint(
                condition=(Q(working_days__isnull=False) & Q(minutes__isnull=True))
                | (Q(working_days__isnull=True) & Q(minutes__isnull=False)),
                name="policy_limit_in_days_or_minutes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} / {self.get_urgency_display()}"


class Dispute(models.Model):
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    kind = models.CharField(_("kind"), max_length=20, choices=DisputeKind.choices)
    domain = models.ForeignKey(
        Domain, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("domain")
    )
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    filing_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="filed_disputes", verbose_name=_("filing agency")
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    duty_list = models.ForeignKey(DutyList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    duties = models.ManyToManyField(
        Duty, blank=True, related_name="disputes", verbose_name=_("duties concerned")
    )
    evidence_links = models.JSONField(_("links to evidence"), default=list, blank=True)
    # Where it came from beyond a person filing it: "grievances.bounce:123".
    source_ref = models.CharField(max_length=200, blank=True)

    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.NEGOTIATION)
    state = models.CharField(
        _("state"), max_length=10, choices=DisputeState.choices, default=DisputeState.OPEN
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    office_step = models.CharField(
        _("editorial-office step"), max_length=20, choices=OfficeStep.choices, blank=True
    )
    stage_started_at = models.DateTimeField()
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_stage = models.CharField(max_length=20, blank=True)  # the stage whose reminder went out
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(_("pause reason"), max_length=300, blank=True)
    overdue = models.BooleanField(_("overdue at leadership"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deadline_at", "id"]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DisputeKind.values), name="dispute_kind_valid"),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="dispute_stage_valid"),
            models.CheckConstraint(condition=Q(state__in=DisputeState.values), name="dispute_state_valid"),
            models.CheckConstraint(
                condition=(Q(state=DisputeState.CLOSED) & ~Q(outcome=""))
                | (~Q(state=DisputeState.CLOSED) & Q(outcome="")),
                name="dispute_outcome_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(state=DisputeState.PAUSED, paused_at__isnull=False)
                | ~Q(state=DisputeState.PAUSED),
                name="dispute_paused_has_time",
            ),
        ]
        indexes = [
            # What the sweep reads every minute: open disputes by deadline, and reminders by their time.
            models.Index(fields=["deadline_at"], condition=Q(state="open"), name="dispute_open_by_deadline"),
            models.Index(fields=["remind_at"], condition=Q(state="open"), name="dispute_open_by_reminder"),
            # The dashboard: disputes filed in a period.
            models.Index(fields=["created_at"], name="dispute_created"),
            # The dispute list (arbitration.views.disputes), in its orders: the open ones (paused included)
            # by deadline, with the filters' columns, so that counting and paging walk the index alone;
            # the closed ones, the latest closed first.
            models.Index(
                fields=["deadline_at", "id"],
                include=["stage", "overdue"],
                condition=~Q(state="closed"),
                name="dispute_unclosed_by_deadline",
            ),
            models.Index(
                fields=["closed_at", "id"], condition=Q(state="closed"), name="dispute_closed_by_time"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class PartyRole(models.TextChoices):
    FILER = "filer", _("Filing agency")
    RESPONDENT = "respondent", _("Respondent agency")


class DisputeParty(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="dispute_parties")
    role = models.CharField(_("role"), max_length=20, choices=PartyRole.choices)

    class Meta:
        ordering = ["dispute", "role", "agency__code"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "agency"], name="agency_once_per_dispute"),
            models.UniqueConstraint(
                fields=["dispute"], condition=Q(role="filer"), name="one_filer_per_dispute"
            ),
        ]
        indexes = [
            # What an agency's staff see (selectors.disputes_visible_to): its disputes' ids, from the index
            # alone.
            models.Index(fields=["agency", "dispute"], name="party_agency_dispute"),
        ]

    def __str__(self) -> str:
        return f"{self.agency} ({self.get_role_display()})"


class Stance(models.TextChoices):
    ACCEPTS = "accepts", _("Accepts the duty")
    DECLINES = "declines", _("Declines the duty")
    PROPOSES = "proposes", _("Proposes another agency")


class Position(models.Model):
    """A party's position; revising it adds a version, every version is kept."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="positions")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveSmallIntegerField()
    stance = models.CharField(_("stance"), max_length=20, choices=Stance.choices)
    proposed_agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("proposed agency"),
    )
    statement = models.TextField(_("statement"))
    legal_basis = models.TextField(_("legal basis"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["dispute", "agency", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "agency", "version"], name="position_version_unique"),
            models.CheckConstraint(
                condition=Q(stance="proposes", proposed_agency__isnull=False) | ~Q(stance="proposes"),
                name="proposal_names_an_agency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} v{self.version}: {self.get_stance_display()}"


class DisputeStage(models.Model):
    """Each stage a dispute entered, once: the unique (dispute, stage) is what makes escalation happen
    exactly once however many sweeps race for it."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="stages")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    entered_at = models.DateTimeField()
    deadline_at = models.DateTimeField(null=True)
    by_sweep = models.BooleanField(default=False)

    class Meta:
        ordering = ["dispute", "entered_at"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "stage"], name="dispute_enters_each_stage_once")
        ]
        # The dashboard: stages the sweep escalated (the one below stalled) in a period.
        indexes = [
            models.Index(fields=["entered_at"], condition=Q(by_sweep=True), name="stage_entered_by_sweep")
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id}: {self.stage}"


class DisputeEvent(models.Model):
    """The dispute's timeline: every transition, position, meeting and note, with who and why."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=40)
    from_stage = models.CharField(max_length=20, blank=True)
    to_stage = models.CharField(max_length=20, blank=True)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_repr = models.CharField(max_length=200)
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["dispute", "at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.action}"


class Meeting(models.Model):
    """A coordination meeting held by the editorial office (协调会)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="meetings")
    held_on = models.DateField(_("held on"))
    attendees = models.TextField(_("attendees"))
    minutes = models.TextField(_("minutes"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["dispute", "held_on"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.held_on}"


class Attachment(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="disputes/%Y/%m/")
    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class RulingKind(models.TextChoices):
    RULING = "ruling", _("Ruling of the editorial office")
    DECISION = "decision", _("Decision of leadership")
    AGREEMENT = "agreement", _("Agreement of the parties, confirmed")


class RulingScope(models.TextChoices):
    CASE = "case", _("This case only")
    CLASS = "class", _("A class of matters")


class Ruling(models.Model):
    """裁决: who leads, who cooperates and with what responsibility, why, and from when. Never edited: a
    correction is a new ruling that supersedes it, and only one ruling per dispute is current."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="rulings")
    kind = models.CharField(_("kind"), max_length=20, choices=RulingKind.choices, default=RulingKind.RULING)
    lead_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="+", verbose_name=_("lead agency")
    )
    lead_responsibility = models.TextField(_("lead agency's responsibility"))
    rationale = models.TextField(_("rationale"))
    legal_bases = models.TextField(_("legal bases"), blank=True)
    # The words grievances of this class use: a class ruling writes them into the duty, so the router sends
    # the next such grievance to the ruled agency.
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    scope = models.CharField(_("scope"), max_length=10, choices=RulingScope.choices, default=RulingScope.CASE)
    effective_date = models.DateField(_("effective date"))
    is_internal = models.BooleanField(_("internal (not published)"), default=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    is_current = models.BooleanField(default=True)
    amendment = models.ForeignKey(
        Amendment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("ruling")
        verbose_name_plural = _("rulings")
        constraints = [
            models.UniqueConstraint(
                fields=["dispute"], condition=Q(is_current=True), name="one_current_ruling_per_dispute"
            ),
            models.CheckConstraint(condition=~Q(supersedes=F("id")), name="ruling_does_not_supersede_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class RulingParticipant(models.Model):
    ruling = models.ForeignKey(Ruling, on_delete=models.CASCADE, related_name="cooperating")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    responsibility = models.TextField(_("responsibility"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ruling", "agency"], name="agency_once_per_ruling")]

    def __str__(self) -> str:
        return str(self.agency)


class FollowUpState(models.TextChoices):
    OPEN = "open", _("Open")
    REPORTED = "reported", _("Reported")
    CLOSED = "closed", _("Closed")


class FollowUp(models.Model):
    """抓落实: an item of a ruling's implementation, reported by the designated agency, closed by the
    officer; the sweep flags those past due."""

    ruling = models.ForeignKey(Ruling, on_delete=models.CASCADE, related_name="follow_ups")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="follow_ups")
    description = models.TextField(_("what to do"))
    due_date = models.DateField(_("due date"))
    state = models.CharField(
        _("state"), max_length=10, choices=FollowUpState.choices, default=FollowUpState.OPEN
    )
    report = models.TextField(_("implementation report"), blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(
                fields=["due_date"],
                condition=Q(state="open", overdue=False),
                name="followup_open_by_due_date",
            ),
            # The dashboard: every open follow-up by due date, overdue ones included.
            models.Index(
                fields=["agency", "due_date"], condition=Q(state="open"), name="followup_open_agency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency}: {self.description[:30]}"


class Notification(models.Model):
    """A message in a user's in-app inbox (and by e-mail). ``key`` makes a retried task's second attempt
    a no-op instead of a duplicate."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    key = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], name="notification_once_per_key")]
        indexes = [
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
            # The sweep's look for messages whose e-mail task was never queued, or lost.
            models.Index(
                fields=["created_at"], condition=Q(emailed_at__isnull=True), name="notification_unemailed"
            ),
        ]

    def __str__(self) -> str:
        return self.title
