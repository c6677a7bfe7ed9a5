from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _

from core.admin_site import RoleAdmin
from duty_lists.models import Role
from grievances.models import ApiClient, DeadlinePolicy, Grievance, GrievanceEvent, RatingCriterion, WorkOrder
from grievances.services import api_client_issue, deadline_policy_update
from grievances.services.ratings import CRITERION_FIELDS, rating_criterion_save

ADMINS = frozenset({Role.SYSTEM_ADMIN})
READERS = frozenset({Role.DISPATCHER, Role.EDITORIAL_OFFICER, Role.AUDITOR})


@admin.register(DeadlinePolicy)
class DeadlinePolicyAdmin(RoleAdmin):
    view_roles = READERS
    change_roles = frozenset({Role.SYSTEM_ADMIN, Role.DISPATCHER})
    list_display = ("kind", "label", "working_days", "accept_hours")
    readonly_fields = ("kind",)
    fields = ("kind", "label", "working_days", "accept_hours")

    def save_model(self, request: HttpRequest, obj: DeadlinePolicy, form: Any, change: bool) -> None:
        deadline_policy_update(
            actor=request.user,
            policy=obj,
            reason="admin",
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )


@admin.register(ApiClient)
class ApiClientAdmin(RoleAdmin):
    """Adding a client issues its key and shows it once; saving an existing one issues a new key only
    when asked (delete is not offered: deactivate instead, so past requests keep their client)."""

    view_roles = ADMINS
    add_roles = ADMINS
    change_roles = ADMINS
    list_display = ("name", "key_prefix", "is_active", "created_at", "last_used_at")
    fields = ("name", "is_active")

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        if not change:
            client, key = api_client_issue(actor=request.user, name=form.cleaned_data["name"])
            obj.pk = client.pk
            messages.warning(
                request,
                _("API key for %(name)s (shown only now): %(key)s") % {"name": client.name, "key": key},
            )
            return
        if "is_active" in form.changed_data and not form.cleaned_data["is_active"]:
            from grievances.services import api_client_revoke

            api_client_revoke(actor=request.user, client=obj, reason="admin")


class EventInline(admin.TabularInline):
    model = GrievanceEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "from_state", "to_state", "actor_name", "agency", "reason")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderInline(admin.TabularInline):
    model = WorkOrder
    extra = 0
    can_delete = False
    fields = (
        "round",
        "role",
        "agency",
        "state",
        "accept_by",
        "accepted_at",
        "cited_duty",
        "declared_unlisted",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Grievance)
class GrievanceAdmin(RoleAdmin):
    """Read-only: grievances move through their own pages and the API, one service per step."""

    view_roles = READERS
    list_display = ("reference", "title", "channel", "state", "handling_agency", "deadline_at")
    list_filter = ("state", "channel", "kind", "urgency")
    search_fields = ("reference", "title")
    inlines = [OrderInline, EventInline]
    exclude = ("contact_name", "contact_phone", "contact_email")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude]


@admin.register(RatingCriterion)
class RatingCriterionAdmin(RoleAdmin):
    """双向考评's criteria, set by the editorial office. Saves go through ``rating_criterion_save`` (audited);
    no delete: past ratings' scores refer to the criterion, so the office sets it out of use instead."""

    view_roles = READERS
    add_roles = frozenset({Role.EDITORIAL_OFFICER})
    change_roles = frozenset({Role.EDITORIAL_OFFICER})
    list_display = ("name", "direction", "weight", "position", "is_active")
    list_filter = ("direction", "is_active")
    ordering = ("direction", "position", "id")
    fields = CRITERION_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("direction",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: RatingCriterion, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in CRITERION_FIELDS}
        if not change:
            values = {name: form.cleaned_data[name] for name in CRITERION_FIELDS if name in form.cleaned_data}
        saved = rating_criterion_save(
            actor=request.user, criterion=obj if change else None, values=values, reason="admin"
        )
        obj.pk = saved.pk
