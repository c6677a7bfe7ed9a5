"""The inbox: a person's notifications, unread first; opening one marks it read and follows its link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from arbitration import selectors
from arbitration.services import notification_mark_read

PAGE_SIZE = 50


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notifications = selectors.inbox(request.user).order_by(
        Case(When(read_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()),
        "-created_at",
        "-id",
    )
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "arbitration/inbox.html",
        {"page": page, "unread": selectors.unread_count(request.user)},
    )


@login_required
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go where it points. A GET, so that it works as a plain link (and
    in a new tab); reading is the only thing it changes, and only for the reader's own notification."""
    notification = get_object_or_404(selectors.inbox(request.user), pk=pk)
    if notification.read_at is None:
        notification_mark_read(actor=request.user, notification_ids=[notification.pk])
    target = notification.url
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("arbitration:inbox")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = notification_mark_read(actor=request.user)
    if count:
        messages.success(
            request,
            ngettext("%(n)d notification marked read.", "%(n)d notifications marked read.", count)
            % {"n": count},
        )
    else:
        messages.info(request, _("Nothing was unread."))
    return redirect("arbitration:inbox")
