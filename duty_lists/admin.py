from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_site import RoleAdmin
from core.errors import ApplicationError
from duty_lists import services
from duty_lists.models import (
    Agency,
    Amendment,
    AmendmentEvent,
    DelegatedPower,
    DutyList,
    DutyRevision,
    Edition,
    LegalBasis,
    LegalBasisStatus,
    Membership,
    Participation,
    Role,
    SearchSynonym,
)

AGENCY_KEEPERS = frozenset({Role.SYSTEM_ADMIN, Role.EDITORIAL_OFFICER})


@admin.register(Agency)
class AgencyAdmin(RoleAdmin):
    view_roles = frozenset({Role.SECURITY_ADMIN, Role.AUDITOR})
    add_roles = AGENCY_KEEPERS
    change_roles = AGENCY_KEEPERS
    list_display = ("code", "name", "short_name", "level", "kind", "parent", "is_active")
    list_filter = ("level", "kind", "is_active")
    search_fields = ("code", "name", "short_name")
    autocomplete_fields = ("parent",)
    fields = ("name", "short_name", "code", "level", "kind", "parent", "is_active")

    def save_model(self, request: HttpRequest, obj: Agency, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in self.fields if name in form.cleaned_data}
        if change:
            services.agency_update(actor=request.user, agency=obj, reason="admin", **values)
        else:
            obj.pk = services.agency_create(actor=request.user, reason="admin", **values).pk


@admin.register(Membership)
class MembershipAdmin(RoleAdmin):
    view_roles = frozenset({Role.AUDITOR})
    add_roles = frozenset({Role.SECURITY_ADMIN})
    change_roles = frozenset({Role.SECURITY_ADMIN})
    list_display = ("user", "agency", "role", "is_active", "granted_at", "granted_by")
    list_filter = ("role", "is_active")
    search_fields = ("user__username", "user__name", "agency__name", "agency__code")
    autocomplete_fields = ("user", "agency")
    list_select_related = ("user", "agency", "granted_by")

    def get_fields(self, request: HttpRequest, obj: Membership | None = None) -> Any:
        return ["user", "agency", "role"] if obj is None else ["user", "agency", "role", "is_active"]

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        # A role is granted or revoked, never rewritten: to move someone, revoke and grant.
        return [] if obj is None else ["user", "agency", "role"]

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if not change or obj.is_active:
            saved = services.membership_grant(
                actor=request.user, user=obj.user, agency=obj.agency, role=obj.role, reason="admin"
            )
            obj.pk = saved.pk
        else:
            services.membership_revoke(actor=request.user, membership=obj, reason="admin")


# --- The registry ---------------------------------------------------------------------------------------

OFFICERS = frozenset({Role.EDITORIAL_OFFICER})
REGISTRY_READERS = frozenset({Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.AUDITOR})


@admin.register(DutyList)
class DutyListAdmin(RoleAdmin):
    view_roles = REGISTRY_READERS
    add_roles = OFFICERS
    list_display = ("code", "name", "kind", "owner", "is_demo")
    list_filter = ("kind", "is_demo")
    search_fields = ("code", "name")
    filter_horizontal = ("reviewing_agencies",)
    fields = ("code", "name", "kind", "description", "owner", "reviewing_agencies")
    autocomplete_fields = ("owner",)
    actions = ["publish_edition"]

    def save_model(self, request: HttpRequest, obj: DutyList, form: Any, change: bool) -> None:
        if change:
            return  # a list's identity is fixed once created; its content changes through amendments
        created = services.duty_list_create(
            actor=request.user,
            code=form.cleaned_data["code"],
            name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            description=form.cleaned_data["description"],
            owner=form.cleaned_data["owner"],
            reviewing_agencies=list(form.cleaned_data["reviewing_agencies"]),
            reason="admin",
        )
        obj.pk, obj._state.adding, obj._state.db = created.pk, False, created._state.db

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The service saved the reviewing agencies with the list."""

    @admin.action(description=_("Publish pending changes as the next edition"))
    def publish_edition(self, request: HttpRequest, queryset: QuerySet[DutyList]) -> None:
        for duty_list in queryset:
            try:
                edition = services.edition_publish(actor=request.user, duty_list=duty_list, note="admin")
            except ApplicationError as exc:
                messages.warning(request, f"{duty_list}: {exc.message}")
            else:
                messages.success(
                    request,
                    _("%(list)s: edition %(n)d published.") % {"list": duty_list, "n": edition.number},
                )


class ReadOnlyAdmin(RoleAdmin):
    """Published content is never edited in place: the admin shows it; changes go through amendments."""

    view_roles = REGISTRY_READERS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]


class ParticipationInline(admin.TabularInline):
    model = Participation
    extra = 0
    can_delete = False
    fields = ("agency", "role", "responsibility")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LegalBasisInline(admin.TabularInline):
    model = LegalBasis
    extra = 0
    can_delete = False
    fields = ("title", "article", "document_number", "status", "review_date")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DutyRevision)
class DutyRevisionAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "title",
        "duty_list",
        "duty_type",
        "layer",
        "edition",
        "valid_from",
        "valid_until",
        "is_removed",
    )
    list_filter = ("duty_list", "duty_type", "layer", "is_removed")
    search_fields = ("code", "title")
    list_select_related = ("duty_list", "edition")
    inlines = [ParticipationInline, LegalBasisInline]
    exclude = ("search_text",)


class LegalBasisMarkForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("reason"), max_length=500, help_text=_("Why it is marked so: the audit log records it.")
    )

    class Meta:
        model = LegalBasis
        fields = ("status", "review_date")


@admin.register(LegalBasis)
class LegalBasisAdmin(RoleAdmin):
    """Officers mark a cited law repealed, amended, or due for review (the list-health page shows them);
    what the basis says is edition content and stays as published."""

    view_roles = REGISTRY_READERS
    change_roles = OFFICERS
    form = LegalBasisMarkForm
    fields = ("title", "article", "document_number", "duty", "status", "review_date", "reason")
    readonly_fields = ("title", "article", "document_number", "duty")
    list_display = ("title", "article", "document_number", "duty", "status", "review_date")
    list_filter = ("status", "revision__duty_list")
    search_fields = ("title", "document_number", "revision__code")
    list_select_related = ("revision__duty_list",)
    actions = ["mark_repealed"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LegalBasis]:
        # The bases cited now (in force or awaiting publication): a superseded revision's are history.
        return super().get_queryset(request).filter(revision__valid_until__isnull=True)

    @admin.display(description=_("duty"))
    def duty(self, obj: LegalBasis) -> str:
        return f"{obj.revision.duty_list.code} · {obj.revision.code} {obj.revision.title}"

    def save_model(self, request: HttpRequest, obj: LegalBasis, form: Any, change: bool) -> None:
        services.legal_basis_mark(
            actor=request.user,
            legal_basis=obj,
            status=form.cleaned_data["status"],
            review_date=form.cleaned_data["review_date"],
            reason=form.cleaned_data["reason"],
        )

    @admin.action(description=_("Mark as repealed"), permissions=["change"])
    def mark_repealed(self, request: HttpRequest, queryset: QuerySet[LegalBasis]) -> None:
        for basis in queryset:
            services.legal_basis_mark(
                actor=request.user,
                legal_basis=basis,
                status=LegalBasisStatus.REPEALED,
                review_date=basis.review_date,
                reason=str(_("Marked repealed in the administration")),
            )
        n = len(queryset)
        messages.success(
            request,
            ngettext("%(n)d legal basis marked repealed.", "%(n)d legal bases marked repealed.", n)
            % {"n": n},
        )


@admin.register(Edition)
class EditionAdmin(ReadOnlyAdmin):
    list_display = ("duty_list", "number", "published_at", "effective_date", "published_by", "note")
    list_filter = ("duty_list",)
    list_select_related = ("duty_list", "published_by")


@admin.register(DelegatedPower)
class DelegatedPowerAdmin(ReadOnlyAdmin):
    """The register of delegated powers: written by published amendments only (services/delegations.py)."""

    list_display = ("duty", "decision", "granted_on", "withdrawn_on", "granting_amendment")
    list_select_related = ("duty", "granting_amendment")
    search_fields = ("duty__code", "decision")


class AmendmentEventInline(admin.TabularInline):
    model = AmendmentEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "from_state", "to_state", "actor_repr", "agency", "reason")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Amendment)
class AmendmentAdmin(RoleAdmin):
    """Amendments are drafted in the browser or the API; here officers and legal reviewers move them on."""

    view_roles = REGISTRY_READERS
    list_display = ("id", "duty_list", "kind", "duty", "proposing_agency", "state", "updated_at")
    list_filter = ("state", "kind", "duty_list")
    search_fields = ("justification", "duty__code")
    list_select_related = ("duty_list", "duty", "proposing_agency")
    inlines = [AmendmentEventInline]
    actions = ["pass_legal_review", "approve"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def _step(self, request: HttpRequest, queryset: QuerySet[Amendment], service: Any) -> None:
        for amendment in queryset:
            try:
                service(actor=request.user, amendment=amendment, reason="admin")
            except ApplicationError as exc:
                messages.warning(request, f"#{amendment.pk}: {exc.message}")
            else:
                messages.success(request, f"#{amendment.pk}: {_('done')}")

    @admin.action(description=_("Pass the legal review"))
    def pass_legal_review(self, request: HttpRequest, queryset: QuerySet[Amendment]) -> None:
        self._step(request, queryset, services.amendment_pass_legal_review)

    @admin.action(description=_("Approve after the joint review"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Amendment]) -> None:
        self._step(request, queryset, services.amendment_approve)


# --- Search synonyms --------------------------------------------------------------------------------------

_ALIAS_SEPARATORS = re.compile(r"[\s,，、/;；|]+")


class SearchSynonymForm(forms.ModelForm):
    """The synonyms as one line of words (噪音、噪声扰民、施工噪音), not as JSON."""

    aliases_text = forms.CharField(
        label=_("synonyms"),
        help_text=_("Words searched together with the term, separated by 、 , / or spaces."),
        max_length=1000,
    )

    class Meta:
        model = SearchSynonym
        fields = ("term", "note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["aliases_text"].initial = "、".join(self.instance.aliases)

    def validate_unique(self) -> None:
        """The service says whether the term is taken, under its lock."""

    def aliases(self) -> list[str]:
        return [word for word in _ALIAS_SEPARATORS.split(self.cleaned_data["aliases_text"]) if word]


@admin.register(SearchSynonym)
class SearchSynonymAdmin(RoleAdmin):
    """The editorial office keeps the words search treats as one (噪声 = 噪音); each save is audited."""

    view_roles = REGISTRY_READERS
    add_roles = OFFICERS
    change_roles = OFFICERS
    delete_roles = OFFICERS
    form = SearchSynonymForm
    fields = ("term", "aliases_text", "note")
    list_display = ("term", "aliases_display", "note", "updated_at")
    search_fields = ("term", "note")

    @admin.display(description=_("synonyms"))
    def aliases_display(self, obj: SearchSynonym) -> str:
        return "、".join(obj.aliases)

    def save_model(self, request: HttpRequest, obj: SearchSynonym, form: Any, change: bool) -> None:
        saved = services.search_synonym_save(
            actor=request.user,
            term=form.cleaned_data["term"],
            aliases=form.aliases(),
            note=form.cleaned_data.get("note") or "",
            synonym=obj if change else None,
            reason="admin",
        )
        obj.pk, obj._state.adding, obj._state.db = saved.pk, False, saved._state.db

    def delete_model(self, request: HttpRequest, obj: SearchSynonym) -> None:
        services.search_synonym_delete(actor=request.user, synonym=obj, reason="admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SearchSynonym]) -> None:
        for synonym in queryset:
            services.search_synonym_delete(actor=request.user, synonym=synonym, reason="admin")
