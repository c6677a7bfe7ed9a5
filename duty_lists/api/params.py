"""Query parameters shared by the registry endpoints."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError

from duty_lists.models import Duty, DutyList


def moment(request: Any, name: str, *, end_of_day: bool) -> datetime | None:
    """An ISO date or date-time parameter. A bare date means the end of that day in Asia/Shanghai for
    "as of" (what was in force on that day, including that day's publications) and its start for "since"."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    parsed = parse_datetime(raw)
    if parsed is not None:
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    day = parse_date(raw)
    if day is None:
        raise ValidationError({name: [_("Use an ISO 8601 date or date-time, e.g. 2026-03-01.")]})
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else start


def duty_list_param(request: Any, *, required: bool = False) -> DutyList | None:
    code = request.query_params.get("list")
    if not code:
        if required:
            raise ValidationError({"list": [_("Name the duty list (list=CODE).")]})
        return None
    duty_list = DutyList.objects.filter(code=code).first()
    if duty_list is None:
        raise NotFound(_("No duty list %(code)s.") % {"code": code})
    return duty_list


def resolve_duty(request: Any, code: str) -> Duty:
    """Duty codes are unique within a list; ``list=`` says which list when several have the code."""
    duty_list = duty_list_param(request)
    candidates = Duty.objects.filter(code=code).select_related("duty_list")
    if duty_list is not None:
        candidates = candidates.filter(duty_list=duty_list)
    found = list(candidates[:10])
    if not found:
        raise NotFound(_("No duty %(code)s.") % {"code": code})
    if len(found) > 1:
        lists = sorted(d.duty_list.code for d in found)
        raise ValidationError(
            {
                "list": [
                    _("Several lists have duty %(code)s: %(lists)s. Add list=CODE.")
                    % {"code": code, "lists": ", ".join(lists)}
                ]
            }
        )
    return found[0]
