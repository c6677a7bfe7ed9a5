from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_safe

from core import registry
from core.api.errors import json_error
from core.audit import audit_access_refused
from core.models import Heartbeat

HEARTBEAT_STALE_AFTER = timedelta(minutes=3)  # beat records one a minute; three missed means it is down


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"memberships": registry.access().memberships_of(request.user)})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and compose: 200 while the database answers; says how fresh the worker is."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means unhealthy
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    beat = Heartbeat.objects.filter(component="worker").first()
    worker = (
        "unknown"
        if beat is None
        else ("ok" if timezone.now() - beat.seen_at < HEARTBEAT_STALE_AFTER else "stale")
    )
    return JsonResponse(
        {"status": "ok", "database": "ok", "worker": worker, "worker_seen_at": beat.seen_at if beat else None}
    )


@require_safe
@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers, feed readers and crawlers ask for /favicon.ico whatever a page links (and the API's and
    Open311's answers link nothing): send them to the SVG mark. Not permanent: in production the target is
    the hashed name, which changes when the file does."""
    return redirect(static("img/favicon.svg"))


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/open311/"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    audit_access_refused(request=request, reason=str(exception or ""))
    if _wants_json(request):
        return json_error(request, 403, "permission_denied", _("You do not have permission to do this."))
    return render(request, "errors/403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error(request, 404, "not_found", _("Not found."))
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return json_error(
            request, 500, "server_error", _("Something went wrong on our side. It has been logged.")
        )
    return render(request, "errors/500.html", status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error(request, 400, "bad_request", _("The request could not be understood."))
    return render(request, "errors/400.html", status=400)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _wants_json(request):
        return json_error(request, 403, "csrf_failed", _("CSRF check failed: reload the page and try again."))
    return render(request, "errors/csrf.html", {"reason": reason}, status=403)
