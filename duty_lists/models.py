from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AgencyLevel(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")
    COMMUNITY = "community", _("Community")


class AgencyKind(models.TextChoices):
    PARTY = "party", _("Party committee body")
    GOVERNMENT = "government", _("Government department")
    EDITORIAL_OFFICE = "editorial_office", _("Editorial office")
    HOTLINE = "hotline", _("Hotline centre")
    STREET_OFFICE = "street_office", _("Street office")
    COMMUNITY = "community", _("Community committee")
    PUBLIC_INSTITUTION = "institution", _("Public institution")
    OTHER = "other", _("Other")


class Agency(models.Model):
    """A government body (部门/单位). Levels nest: a street under its district, a community under its
    street."""

    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    code = models.CharField(_("code"), max_length=50, unique=True)
    level = models.CharField(_("level"), max_length=20, choices=AgencyLevel.choices)
    kind = models.CharField(
        _("kind"), max_length=30, choices=AgencyKind.choices, default=AgencyKind.GOVERNMENT
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        constraints = [
            models.CheckConstraint(condition=Q(level__in=AgencyLevel.values), name="agency_level_valid"),
            models.CheckConstraint(condition=Q(kind__in=AgencyKind.values), name="agency_kind_valid"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="agency_not_own_parent"),
            models.UniqueConstraint(fields=["parent", "name"], name="agency_name_unique_under_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    AGENCY_STAFF = "agency_staff", _("Agency staff")
    EDITORIAL_OFFICER = "editorial_officer", _("Editorial-office officer")
    LEADER = "leader", _("Leader")
    LEGAL_REVIEWER = "legal_reviewer", _("Legal reviewer")
    DISPATCHER = "dispatcher", _("Hotline dispatcher")
    AUDITOR = "auditor", _("Auditor")
    SYSTEM_ADMIN = "system_admin", _("System administrator")
    SECURITY_ADMIN = "security_admin", _("Security administrator")


# The three administrative roles of the national protection scheme (三员分立): one person may hold at most
# one of them, so that nobody can both change the system and erase the traces of it.
SEPARATED_ROLES = (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR)


class Membership(models.Model):
    """A user's role in an agency. A person may hold several (staff of one agency, dispatcher of another)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("agency")
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["agency__code", "role"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agency", "role"], name="membership_unique_role_in_agency"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(role__in=[r.value for r in SEPARATED_ROLES], is_active=True),
                name="membership_one_separated_role_per_user",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.agency} · {self.get_role_display()}"


# --- The registry: duty lists, their hierarchy, duties and their revisions ----------------------------------


class DutyListKind(models.TextChoices):
    DEPARTMENTAL = "departmental", _("Departmental duty list")
    STREET = "street", _("Street duty list")
    LIVELIHOOD = "livelihood", _("Livelihood-complaint duty list")
    SERVICE = "service", _("Government service item list")


class DutyList(models.Model):
    """One official list (职责清单). Several coexist: a district's departmental list, a street list, the
    livelihood-complaint list that routes grievances."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=DutyListKind.choices)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    # The agencies whose joint review an amendment needs (e.g. justice, finance, administrative approval).
    reviewing_agencies = models.ManyToManyField(
        Agency, blank=True, related_name="reviewed_duty_lists", verbose_name=_("joint reviewing agencies")
    )
    is_demo = models.BooleanField(_("demo data"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("duty list")
        verbose_name_plural = _("duty lists")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DutyListKind.values), name="duty_list_kind_valid")
        ]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """职责归口: level 1. Code ``03``."""

    duty_list = models.ForeignKey(DutyList, on_delete=models.CASCADE, related_name="categories")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["duty_list", "code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(fields=["duty_list", "code"], name="category_code_unique_in_list")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Classification(models.Model):
    """职责分类: level 2. Code ``03-12``."""

    duty_list = models.ForeignKey(DutyList, on_delete=models.CASCADE, related_name="classifications")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="classifications")
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["duty_list", "code"]
        verbose_name = _("classification")
        verbose_name_plural = _("classifications")
        constraints = [
            models.UniqueConstraint(fields=["duty_list", "code"], name="classification_code_unique_in_list")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DutyType(models.TextChoices):
    MAIN = "main", _("Core statutory duty")
    TERRITORIAL = "territorial", _("Territorial duty")
    ENFORCEMENT = "enforcement", _("Enforcement duty")
    COOPERATIVE = "cooperative", _("Shared duty")
    SERVICE = "service", _("Public service")


class ServiceKind(models.TextChoices):
    LICENSING = "licensing", _("Administrative licensing")
    ADJUDICATION = "adjudication", _("Administrative adjudication")
    CONFIRMATION = "confirmation", _("Administrative confirmation")
    BENEFIT = "benefit", _("Administrative benefit")
    GUIDANCE = "guidance", _("Administrative guidance")
    OTHER = "other", _("Other service")


class Layer(models.TextChoices):
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")


class Duty(models.Model):
    """The stable identity of a duty (工作职责) in a list: its code. What it says, and who leads it, lives in
    its revisions, so the list can be read as of any date."""

    duty_list = models.ForeignKey(DutyList, on_delete=models.CASCADE, related_name="duties")
    code = models.CharField(_("code"), max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["duty_list", "code"]
        verbose_name = _("duty")
        verbose_name_plural = _("duties")
        constraints = [models.UniqueConstraint(fields=["duty_list", "code"], name="duty_code_unique_in_list")]

    def __str__(self) -> str:
        return self.code


class Edition(models.Model):
    """A published, dated state of a list (清单版本). Never edited after publication."""

    duty_list = models.ForeignKey(DutyList, on_delete=models.PROTECT, related_name="editions")
    number = models.PositiveIntegerField(_("number"))
    published_at = models.DateTimeField(_("published at"))
    effective_date = models.DateField(_("effective date"))
    note = models.TextField(_("note"), blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["duty_list", "-number"]
        verbose_name = _("edition")
        verbose_name_plural = _("editions")
        constraints = [
            models.UniqueConstraint(fields=["duty_list", "number"], name="edition_number_unique_in_list"),
            models.CheckConstraint(condition=Q(number__gte=1), name="edition_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.duty_list.code} #{self.number}"


class DutyRevision(models.Model):
    """One version of a duty's content.

    A revision is *pending* (no edition yet: imported or approved, awaiting publication), then *in force*
    from its edition's publication (``valid_from``) until a later revision supersedes it (``valid_until``).
    A removal is a revision too (``is_removed``), so "as of" reads see the duty vanish at the right date.
    ``duty_list`` and ``code`` repeat the duty's so list reads and keyset pages use one table.
    """

    duty = models.ForeignKey(Duty, on_delete=models.CASCADE, related_name="revisions")
    duty_list = models.ForeignKey(DutyList, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("code"), max_length=40)
    classification = models.ForeignKey(
        Classification, on_delete=models.PROTECT, related_name="revisions", verbose_name=_("classification")
    )
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    duty_type = models.CharField(_("duty type"), max_length=20, choices=DutyType.choices)
    service_kind = models.CharField(_("service kind"), max_length=20, choices=ServiceKind.choices, blank=True)
    layer = models.CharField(_("layer"), max_length=10, choices=Layer.choices, default=Layer.DISTRICT)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    synonyms = models.JSONField(_("synonyms"), default=list, blank=True)
    promised_days = models.PositiveSmallIntegerField(
        _("promised time limit (working days)"), null=True, blank=True
    )
    statutory_days = models.PositiveSmallIntegerField(
        _("statutory time limit (working days)"), null=True, blank=True
    )
    district_side = models.TextField(_("district-side duty"), blank=True)
    street_side = models.TextField(_("street-side duty"), blank=True)
    is_removed = models.BooleanField(_("removed"), default=False)
    # jieba-segmented title, description, keywords and synonyms: what full-text search indexes.
    search_text = models.TextField(blank=True, editable=False)

    edition = models.ForeignKey(
        Edition, null=True, blank=True, on_delete=models.PROTECT, related_name="revisions"
    )
    valid_from = models.DateTimeField(_("in force from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("in force until"), null=True, blank=True)
    amendment = models.ForeignKey(
        "Amendment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="revisions",
        verbose_name=_("amendment"),
    )
    # What caused it beyond the amendment: "arbitration.ruling:12", "import:taxonomy_3level.xlsx".
    source_ref = models.CharField(_("source"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("duty revision")
        verbose_name_plural = _("duty revisions")
        constraints = [
            models.UniqueConstraint(
                fields=["duty"], condition=Q(edition__isnull=True), name="one_pending_revision_per_duty"
            ),
            models.UniqueConstraint(
                fields=["duty"],
                condition=Q(edition__isnull=False, valid_until__isnull=True),
                name="one_revision_in_force_per_duty",
            ),
            models.CheckConstraint(
                condition=Q(duty_type__in=DutyType.values), name="revision_duty_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(duty_type=DutyType.SERVICE, service_kind__in=ServiceKind.values)
                | (~Q(duty_type=DutyType.SERVICE) & Q(service_kind="")),
                name="revision_service_kind_only_for_services",
            ),
            models.CheckConstraint(condition=Q(layer__in=Layer.values), name="revision_layer_valid"),
            models.CheckConstraint(
                condition=Q(edition__isnull=True, valid_from__isnull=True, valid_until__isnull=True)
                | Q(edition__isnull=False, valid_from__isnull=False),
                name="revision_published_has_valid_from",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="revision_valid_until_after_from",
            ),
        ]
        indexes = [
            models.Index(
                fields=["duty_list", "code"],
                condition=Q(valid_until__isnull=True, edition__isnull=False),
                name="revision_in_force_by_code",
            ),
            # The public list across all lists, in code order: a keyset page reads 51 index entries instead
            # of sorting every duty in force (bench/registry.py: 100,000 duties).
            models.Index(
                fields=["code"],
                condition=Q(valid_until__isnull=True, edition__isnull=False, is_removed=False),
                name="revision_in_force_code",
            ),
            models.Index(fields=["duty", "valid_from"], name="revision_by_duty_and_time"),
            models.Index(fields=["duty_list", "valid_from"], name="revision_by_list_and_time"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def lead(self) -> Participation | None:
        return next((p for p in self.participations.all() if p.role == ParticipationRole.LEAD), None)

    @property
    def cooperating(self) -> list[Participation]:
        return [p for p in self.participations.all() if p.role == ParticipationRole.COOPERATING]


class ParticipationRole(models.TextChoices):
    LEAD = "lead", _("Lead")
    COOPERATING = "cooperating", _("Cooperating")


class Participation(models.Model):
    """An agency's part in a duty: the one lead (主办/牵头) or a cooperating agency (配合/协办), each with its
    own responsibility text — the "four clarities" of task, lead, cooperating units and each one's powers."""

    revision = models.ForeignKey(DutyRevision, on_delete=models.CASCADE, related_name="participations")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="participations")
    role = models.CharField(_("role"), max_length=20, choices=ParticipationRole.choices)
    responsibility = models.TextField(_("responsibility"), blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["revision", "position", "id"]
        verbose_name = _("participation")
        verbose_name_plural = _("participations")
        constraints = [
            models.UniqueConstraint(
                fields=["revision"], condition=Q(role=ParticipationRole.LEAD), name="one_lead_per_revision"
            ),
            models.UniqueConstraint(fields=["revision", "agency"], name="agency_once_per_revision"),
            models.CheckConstraint(
                condition=Q(role__in=ParticipationRole.values), name="participation_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["agency", "role"])]

    def __str__(self) -> str:
        return f"{self.agency} ({self.get_role_display()})"


class LegalBasisStatus(models.TextChoices):
    IN_FORCE = "in_force", _("In force")
    AMENDED = "amended", _("Amended")
    REPEALED = "repealed", _("Repealed")


class LegalBasis(models.Model):
    """法律法规及文件依据: law, article, document number; and the office's note on the law's standing."""

    revision = models.ForeignKey(DutyRevision, on_delete=models.CASCADE, related_name="legal_bases")
    title = models.CharField(_("law or document"), max_length=300)
    article = models.CharField(_("article"), max_length=200, blank=True)
    document_number = models.CharField(_("document number"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(_("status"), max_length=10, choices=LegalBasisStatus, default="in_force")
    review_date = models.DateField(_("review by"), null=True, blank=True)

    class Meta:
        ordering = ["revision", "position", "id"]
        verbose_name = _("legal basis")
        verbose_name_plural = _("legal bases")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=LegalBasisStatus.values), name="legal_basis_status_known"
            )
        ]

    def __str__(self) -> str:
        return " ".join(part for part in (self.title, self.article, self.document_number) if part)


# --- Amendments (动态调整) ----------------------------------------------------------------------------------


class AmendmentKind(models.TextChoices):
    ADD = "add", _("Add a duty")
    CHANGE = "change", _("Change a duty")
    REMOVE = "remove", _("Remove a duty")
    TRANSFER = "transfer", _("Transfer to another agency")
    DELEGATE = "delegate", _("Delegate down to streets")
    WITHDRAW_DELEGATION = "withdraw_delegation", _("Withdraw a delegation")


class AmendmentState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LEGAL_REVIEW = "legal_review", _("In legal review")
    JOINT_REVIEW = "joint_review", _("In joint review")
    APPROVED = "approved", _("Approved")
    PUBLISHED = "published", _("Published")
    RETURNED = "returned", _("Returned")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Amendment(models.Model):
    """A proposed change to a list. ``proposal`` holds the duty as it should read afterwards (see
    duty_lists.proposals for its shape); nothing in the list changes until an edition publishes it."""

    duty_list = models.ForeignKey(DutyList, on_delete=models.PROTECT, related_name="amendments")
    kind = models.CharField(_("kind"), max_length=20, choices=AmendmentKind.choices)
    duty = models.ForeignKey(
        Duty,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="amendments",
        verbose_name=_("duty"),
    )
    proposal = models.JSONField(_("proposal"), default=dict, blank=True)
    justification = models.TextField(_("justification"))
    proposing_agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        related_name="proposed_amendments",
        verbose_name=_("proposing agency"),
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(
        _("state"), max_length=20, choices=AmendmentState.choices, default=AmendmentState.DRAFT
    )
    # Each submission starts a new review round; joint-review opinions belong to one round.
    review_round = models.PositiveSmallIntegerField(default=0)
    source_ref = models.CharField(_("source"), max_length=200, blank=True)
    pending_revision = models.OneToOneField(
        DutyRevision, null=True, blank=True, on_delete=models.SET_NULL, related_name="pending_for"
    )
    published_in = models.ForeignKey(
        Edition, null=True, blank=True, on_delete=models.PROTECT, related_name="amendments"
    )
    # The lead and cooperating agencies of the duty before and after the change, kept by the services
    # that write the proposal: they may read the amendment, and the proposal's JSON cannot be queried
    # alike on SQLite and PostgreSQL.
    affected_agencies = models.ManyToManyField(
        Agency, blank=True, related_name="affecting_amendments", verbose_name=_("affected agencies")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("amendment")
        verbose_name_plural = _("amendments")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AmendmentKind.values), name="amendment_kind_valid"),
            models.CheckConstraint(
                condition=Q(state__in=AmendmentState.values), name="amendment_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind=AmendmentKind.ADD) | Q(duty__isnull=False), name="amendment_names_its_duty"
            ),
            models.CheckConstraint(
                condition=~Q(state=AmendmentState.PUBLISHED) | Q(published_in__isnull=False),
                name="published_amendment_has_edition",
            ),
        ]
        indexes = [models.Index(fields=["duty_list", "state"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class AmendmentEvent(models.Model):
    """The history of an amendment: every step, who took it, and why."""

    amendment = models.ForeignKey(Amendment, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=30)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_repr = models.CharField(max_length=200)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"), blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["amendment", "at", "id"]
        verbose_name = _("amendment event")
        verbose_name_plural = _("amendment events")

    def __str__(self) -> str:
        return f"{self.action}: {self.from_state} → {self.to_state}"


class JointReviewOpinion(models.Model):
    """One reviewing agency's opinion in the joint review (会审)."""

    amendment = models.ForeignKey(Amendment, on_delete=models.CASCADE, related_name="opinions")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    review_round = models.PositiveSmallIntegerField()
    concurs = models.BooleanField(_("concurs"))
    opinion = models.TextField(_("opinion"), blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["amendment", "agency", "review_round"], name="one_opinion_per_agency_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agency}: {'concurs' if self.concurs else 'objects'}"


from duty_lists.delegation_models import DelegatedPower  # noqa: E402, F401  (own module: registered here)
from duty_lists.health_models import ListHealthReport  # noqa: E402, F401  (likewise)
from duty_lists.synonym_models import SearchSynonym  # noqa: E402, F401  (likewise)
from duty_lists.vocabulary_models import SearchVocabulary  # noqa: E402, F401  (likewise)
