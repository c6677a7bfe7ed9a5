from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core import services
from core.actions import action_label
from core.actors import display_name
from core.admin_site import RoleAdmin
from core.models import AuditEntry, CalendarOverride, User
from core.registry import AUDITOR, SECURITY_ADMIN, SYSTEM_ADMIN

SYSTEM_ADMINS = frozenset({SYSTEM_ADMIN})
SECURITY_ADMINS = frozenset({SECURITY_ADMIN})
AUDITORS = frozenset({AUDITOR})

admin.site.unregister(Group)  # roles come from memberships, not groups
for model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(User)
class UserAdmin(RoleAdmin, DjangoUserAdmin):
    view_roles = SECURITY_ADMINS
    add_roles = SYSTEM_ADMINS
    change_roles = SYSTEM_ADMINS
    list_display = ("username", "name", "email", "is_active", "last_login")
    list_filter = ("is_active",)
    search_fields = ("username", "name", "email")
    ordering = ("username",)
    # is_staff, is_superuser, groups and permissions are deliberately absent: powers come from roles.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("name", "email")}),
        (_("Status"), {"fields": ("is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "name", "email", "password1", "password2")}),
    )
    readonly_fields = ("last_login", "date_joined", "is_active")
    actions = ["deactivate", "activate"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return self._save_details(request, obj, form)
        created = services.user_create(
            actor=request.user,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            name=form.cleaned_data.get("name", ""),
            email=form.cleaned_data.get("email", ""),
            reason="admin",
        )
        obj.pk = created.pk

    def _save_details(self, request: HttpRequest, obj: Any, form: Any) -> None:
        # Only name and e-mail are edited here; status goes through the actions below (audited).
        if form.changed_data:
            super().save_model(request, obj, form, True)

    @admin.action(description=_("Deactivate selected accounts"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_set_active(actor=request.user, user=user, active=False, reason="admin")
        messages.success(request, _("Accounts deactivated."))

    @admin.action(description=_("Activate selected accounts"))
    def activate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_set_active(actor=request.user, user=user, active=True, reason="admin")
        messages.success(request, _("Accounts activated."))


class ActionFilter(admin.SimpleListFilter):
    """Filter by action, offered by label: the codes recorded so far, each under its translated name."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = AuditEntry.objects.order_by().values_list("action", flat=True).distinct()
        return sorted(((code, action_label(code)) for code in codes), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(RoleAdmin):
    view_roles = AUDITORS
    list_display = ("seq", "at", "who", "what", "object_type", "object_id", "ip_address")
    list_filter = (ActionFilter,)
    search_fields = ("actor_repr", "action", "object_id", "reason")
    date_hierarchy = "at"
    readonly_fields = [*(f.name for f in AuditEntry._meta.fields), "who", "what"]
    list_select_related = ("actor",)
    # The entry page reads like the list: people and actions by name first; the stored codes, which tools
    # and the hash chain rely on, folded away below.
    fieldsets = (
        (None, {"fields": ("seq", "at", "who", "what", "object_type", "object_id", "reason", "ip_address")}),
        (_("Before and after"), {"fields": ("before", "after")}),
        (
            _("As stored (for tools and the hash chain)"),
            {
                "classes": ("collapse",),
                "fields": ("actor", "actor_repr", "action", "prev_hash", "entry_hash"),
            },
        ),
    )

    # The rows keep codes and usernames (stable, for tooling); the page shows what people read.
    @admin.display(description=_("who"), ordering="actor_repr")
    def who(self, entry: AuditEntry) -> str:
        return display_name(entry.actor, entry.actor_repr)

    @admin.display(description=_("what"), ordering="action")
    def what(self, entry: AuditEntry) -> str:
        return action_label(entry.action)

    # Nobody edits or deletes the audit log, superusers included.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(RoleAdmin):
    view_roles = SYSTEM_ADMINS
    add_roles = SYSTEM_ADMINS
    change_roles = SYSTEM_ADMINS
    delete_roles = SYSTEM_ADMINS
    list_display = ("date", "is_working_day", "note")
    list_filter = ("is_working_day",)

    def save_model(self, request: HttpRequest, obj: CalendarOverride, form: Any, change: bool) -> None:
        saved = services.calendar_override_set(
            actor=request.user, day=obj.date, is_working_day=obj.is_working_day, note=obj.note
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CalendarOverride) -> None:
        services.calendar_override_remove(actor=request.user, day=obj.date)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CalendarOverride]) -> None:
        for override in queryset:
            services.calendar_override_remove(actor=request.user, day=override.date)


@admin.register(AccessAttempt)
class LockoutAdmin(RoleAdmin):
    """Failed sign-in attempts; the security administrator lifts a lockout here."""

    view_roles = SECURITY_ADMINS
    list_display = ("username", "ip_address", "failures_since_start", "attempt_time")
    search_fields = ("username",)
    actions = ["unlock"]
    readonly_fields = ("username", "ip_address", "user_agent", "failures_since_start", "attempt_time")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not self._allowed(request, SECURITY_ADMINS):
            actions.pop("unlock", None)
        return actions

    @admin.action(description=_("Lift the lockout of the selected accounts"))
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        for username in set(queryset.values_list("username", flat=True)):
            services.lockout_lift(actor=request.user, username=username or "")
        messages.success(request, _("Lockouts lifted."))
