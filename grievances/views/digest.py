"""The daily digest's pages: the digests by day, one day's four sections, and the form that builds a day
now (a core.jobs job run by a Celery worker; the day's page follows it). The editorial office builds and
reads; leaders read; everyone else is refused."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.models import DisputeKind
from arbitration.views.common import refuse_if_forbidden
from core import jobs
from core.errors import ApplicationError
from duty_lists import permissions
from grievances.models import Channel, DailyDigest
from grievances.services.digest import overdue_text

PAGE_SIZE = 30
JOB_KIND = "grievances.digest"


def may_build(user: Any) -> bool:
    return permissions.acts_for_office(user)


def may_read(user: Any) -> bool:
    return may_build(user) or permissions.is_leader(user)


def _require_reader(user: Any) -> None:
    if not may_read(user):
        raise PermissionDenied(_("The daily digest is for the editorial office and leaders."))


def job_target(day: date) -> str:
    return f"grievances.digest:{day.isoformat()}"


def parse_day(value: str | None) -> tuple[date | None, str]:
    """A day the digest can be built for, or None and the reason in words."""
    value = (value or "").strip()
    if not value:
        return None, _("Choose a day.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None, _("“%(v)s” is not a date: write it as 2026-12-06.") % {"v": value[:40]}
    if day > timezone.localdate():
        return None, _("%(day)s has not come yet: a digest is built for a day that has begun.") % {
            "day": day.isoformat()
        }
    return day, ""


@login_required
def digest_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request.user)
    return _list_page(request)


def _list_page(request: HttpRequest, *, error: str = "", chosen: str = "", status: int = 200) -> HttpResponse:
    page = Paginator(DailyDigest.objects.order_by("-day"), PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    context = {
        "page": page,
        "rows": [(d, _counts(d.figures)) for d in page],
        "may_build": may_build(request.user),
        "today": today.isoformat(),
        "chosen": chosen or (today - timedelta(days=1)).isoformat(),
        "error": error,
    }
    return render(request, "grievances/digest_list.html", context, status=status)


@login_required
@require_POST
def digest_build(request: HttpRequest) -> HttpResponse:
    _require_reader(request.user)
    if not may_build(request.user):
        raise PermissionDenied(_("Only the editorial office builds the digest."))
    day, problem = parse_day(request.POST.get("day"))
    if day is None:
        return _list_page(request, error=problem, chosen=request.POST.get("day", "")[:40], status=400)
    try:
        jobs.job_start(
            actor=request.user, kind=JOB_KIND, params={"day": day.isoformat()}, target=job_target(day)
        )
    except ApplicationError as error:
        refuse_if_forbidden(error)
        return _list_page(request, error=error.message, chosen=day.isoformat(), status=400)
    return redirect("grievances:digest_detail", day=day.isoformat())


@login_required
def digest_detail(request: HttpRequest, day: str) -> HttpResponse:
    _require_reader(request.user)
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    if chosen > timezone.localdate():
        raise Http404
    digest = DailyDigest.objects.filter(day=chosen).first()
    job = jobs.latest(JOB_KIND, job_target(chosen))
    builder = may_build(request.user)
    context = {
        "day": chosen,
        "digest": digest,
        "sections": _sections(digest.figures) if digest else None,
        "may_build": builder,
        # Leaders may not poll a job they could not start: they see the digest as it stands.
        "job": job if job is not None and builder else None,
        "failed": job is not None
        and job.state == "failed"
        and (digest is None or job.created_at > digest.built_at),
        "previous": (chosen - timedelta(days=1)).isoformat(),
        "next": (chosen + timedelta(days=1)).isoformat() if chosen < timezone.localdate() else "",
    }
    return render(request, "grievances/digest_detail.html", context)


def _counts(figures: dict[str, Any]) -> dict[str, int]:
    return {
        name: int((figures.get(name) or {}).get("count", 0))
        for name in ("new", "overdue", "returned", "disputes")
    }


def _label(choices: Any, code: str) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return code


def _sections(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures with links reversed now, so a renamed URL never leaves a digest pointing nowhere."""
    new = figures.get("new") or {}
    overdue = figures.get("overdue") or {}
    returned = figures.get("returned") or {}
    disputes = figures.get("disputes") or {}
    return {
        "counts": _counts(figures),
        "categories": new.get("categories", []),
        "channels": [
            {"label": _label(Channel, row["code"]), "count": row["count"]} for row in new.get("channels", [])
        ],
        "overdue": [
            {
                **item,
                "url": reverse("grievances:detail", args=[item["id"]]),
                "late": overdue_text(item.get("overdue_hours", 0)),
                "deadline": item.get("deadline_at", "")[:16].replace("T", " "),
            }
            for item in overdue.get("items", [])
        ],
        "returned_agencies": returned.get("agencies", []),
        "returned": [
            {
                **item,
                "url": reverse("grievances:detail", args=[item["id"]]),
                "at": item.get("returned_at", "")[11:16],
            }
            for item in returned.get("items", [])
        ],
        "disputes": [
            {
                **item,
                "url": reverse("arbitration:dispute_detail", args=[item["id"]]),
                "kind_label": _label(DisputeKind, item.get("kind", "")),
                "grievance_url": reverse("grievances:detail", args=[item["grievance"]])
                if item.get("grievance")
                else "",
            }
            for item in disputes.get("items", [])
        ],
    }
