"""The router's page: which learned version routes now, what it measured on the office's own newest
grievances (and so where auto-dispatch stands), the versions to compare, retraining with its progress."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.views.common import refuse_if_forbidden
from core.errors import ApplicationError
from duty_lists import permissions
from grievances import routing, services
from grievances.models import RouterModel
from grievances.services.training import PENDING

PENDING_STATES = frozenset(PENDING)


def may_see(user: Any) -> bool:
    return bool(
        user.is_superuser or permissions.is_editorial_officer(user) or permissions.is_dispatcher(user)
    )


def may_manage(user: Any) -> bool:
    return bool(user.is_superuser or permissions.is_editorial_officer(user))


def _visible(request: HttpRequest) -> None:
    if not may_see(request.user):
        raise PermissionDenied(_("The router's page is for the editorial office and hotline dispatchers."))


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def _row(model: RouterModel) -> dict[str, Any]:
    m = model.metrics or {}
    return {
        "model": model,
        "pending": model.state in PENDING_STATES,
        "top1": _percent(m.get("top1")),
        "list_top1": _percent(m.get("list_top1")),
        "history_top1": _percent(m.get("history_top1")),
        "top3": _percent(m.get("top3")),
        "threshold": "—" if m.get("threshold") is None or m["threshold"] > 1 else _percent(m["threshold"]),
        "coverage": _percent(m.get("coverage")),
        "precision": _percent(m.get("precision")),
        "test_size": m.get("test_size", 0),
    }


@login_required
def router(request: HttpRequest) -> HttpResponse:
    _visible(request)
    models = list(RouterModel.objects.select_related("requested_by").defer("model")[:20])
    in_force = next((m for m in models if m.in_force), None)
    context = {
        "rows": [_row(m) for m in models],
        "in_force": _row(in_force) if in_force else None,
        "status": routing.status(),
        "pending": any(m.state in PENDING_STATES for m in models),
        "may_manage": may_manage(request.user),
    }
    return render(request, "grievances/router.html", context)


@login_required
def router_status(request: HttpRequest) -> JsonResponse:
    """What the page's script polls while a version trains."""
    _visible(request)
    pending = RouterModel.objects.filter(state__in=PENDING).values("id", "state", "progress", "stage").first()
    return JsonResponse({"running": pending is not None, **(pending or {})})


@login_required
@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    if not may_manage(request.user):
        raise PermissionDenied(_("Only the editorial office retrains the router."))
    try:
        model = services.router_training_request(actor=request.user, reason=_("Requested by an officer"))
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("Version #%(id)s is being trained: this page follows it.") % {"id": model.pk}
        )
    return redirect("grievances:router")


@login_required
@require_POST
def activate(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(RouterModel.objects.defer("model"), pk=pk)
    if not may_manage(request.user):
        raise PermissionDenied(_("Only the editorial office chooses the router version in force."))
    withdraw = request.POST.get("action") == "withdraw"
    try:
        if withdraw:
            services.router_model_withdraw(
                actor=request.user, model=model, reason=_("Withdrawn by an officer")
            )
        else:
            services.router_model_activate(actor=request.user, model=model)
    except ApplicationError as error:
        refuse_if_forbidden(error)
        messages.error(request, error.message)
    else:
        if withdraw:
            messages.success(request, _("Version #%(id)s is withdrawn: the list routes alone.") % {"id": pk})
        else:
            messages.success(request, _("Version #%(id)s is in force.") % {"id": pk})
    return redirect("grievances:router")
