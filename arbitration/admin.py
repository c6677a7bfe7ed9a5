from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from arbitration.models import Dispute, DisputeEvent, Domain, EscalationPolicy, Ruling
from arbitration.services.disputes import policy_update
from core.admin_site import RoleAdmin
from duty_lists.models import Role

KEEPERS = frozenset({Role.SYSTEM_ADMIN, Role.EDITORIAL_OFFICER})
READERS = frozenset({Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.AUDITOR})


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(RoleAdmin):
    view_roles = KEEPERS
    change_roles = KEEPERS
    list_display = ("stage", "urgency", "working_days", "minutes", "remind_working_days", "remind_minutes")
    list_filter = ("urgency",)
    readonly_fields = ("stage", "urgency")
    fields = ("stage", "urgency", "working_days", "minutes", "remind_working_days", "remind_minutes")

    def save_model(self, request: HttpRequest, obj: EscalationPolicy, form: Any, change: bool) -> None:
        policy_update(
            actor=request.user,
            policy=obj,
            reason="admin",
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )


@admin.register(Domain)
class DomainAdmin(RoleAdmin):
    view_roles = KEEPERS
    list_display = ("code", "name", "is_active")


class EventInline(admin.TabularInline):
    model = DisputeEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "from_stage", "to_stage", "actor_repr", "reason")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Dispute)
class DisputeAdmin(RoleAdmin):
    """Read-only here: disputes move through their own pages and the API, one service per step."""

    view_roles = READERS
    list_display = ("id", "title", "kind", "urgency", "stage", "state", "deadline_at", "overdue")
    list_filter = ("stage", "state", "kind", "urgency", "overdue")
    search_fields = ("title", "description")
    inlines = [EventInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]


@admin.register(Ruling)
class RulingAdmin(RoleAdmin):
    view_roles = READERS
    list_display = ("id", "dispute", "kind", "lead_agency", "scope", "effective_date", "is_current")
    list_filter = ("kind", "scope", "is_current")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]
