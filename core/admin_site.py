from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import registry
from core.errors import ApplicationError


class RoleAuthenticationForm(AdminAuthenticationForm):
    """The admin's own sign-in asks for is_staff; ours asks for an administrative role instead."""

    def confirm_login_allowed(self, user: Any) -> None:
        if not user.is_active or not registry.access().may_use_admin_site(user):
            raise forms.ValidationError(_("This account has no administrative role."), code="invalid_login")


class ZhizeAdminSite(admin.AdminSite):
    site_header = gettext_lazy("zhize administration")
    site_title = gettext_lazy("zhize administration")
    index_title = gettext_lazy("Administration")
    login_form = RoleAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return registry.access().may_use_admin_site(request.user)


class RoleAdmin(admin.ModelAdmin):
    """Admin permissions from roles (core.registry, answered by duty_lists), not from Django's per-model
    permissions, so the admin answers exactly as the rest of the product does. Superusers are the
    break-glass account."""

    view_roles: frozenset[str] = frozenset()
    add_roles: frozenset[str] = frozenset()
    change_roles: frozenset[str] = frozenset()
    delete_roles: frozenset[str] = frozenset()

    def _allowed(self, request: HttpRequest, roles: frozenset[str]) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_superuser or registry.has_any_role(user, roles)))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.view_roles | self.change_roles)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, self.add_roles)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.change_roles)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.delete_roles)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        # Saves go through services, which may refuse; show the refusal instead of a server error.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.get_full_path())
