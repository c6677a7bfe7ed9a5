"""The citizen's status link, ``/g/<token>/``: no sign-in, the unguessable token is the key. It shows the
reference, the state, who handles it now, the deadline and the public history — no personal data, no
staff names, no internal notes — and, once resolved, takes the citizen's rating."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.actors import SYSTEM
from core.errors import ApplicationError
from grievances.forms import FeedbackForm
from grievances.models import Grievance, GrievanceState
from grievances.selectors import public_status
from grievances.services import grievance_feedback
from grievances.views.common import event_label, put_errors

# A public event's reason is shown only where it is written for the citizen.
REASONS_FOR_THE_CITIZEN = frozenset({"resolve"})


def _by_token(token: str) -> Grievance:
    grievance = Grievance.objects.select_related("handling_agency").filter(token=token).first()
    if grievance is None:
        raise Http404("no such grievance")
    return grievance


@never_cache
@require_http_methods(["GET", "POST"])
def citizen_status(request: HttpRequest, token: str) -> HttpResponse:
    grievance = _by_token(token)
    resolved = grievance.state == GrievanceState.RESOLVED
    form = FeedbackForm(request.POST if request.method == "POST" else None, auto_id="id_feedback_%s")
    status = 200
    if request.method == "POST":
        if not resolved:
            messages.info(request, _("There is nothing to rate yet: the grievance is not resolved."))
            return redirect(request.path)
        if form.is_valid():
            data = form.cleaned_data
            try:
                given = grievance_feedback(
                    actor=SYSTEM,
                    grievance=grievance,
                    rating=data["rating"],
                    comment=data["comment"],
                    reopen=data["reopen"],
                    via="citizen_link",
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
                put_errors(form, error)
            else:
                messages.success(
                    request,
                    _("Thank you. Your grievance will be handled again.")
                    if given.reopened
                    else _("Thank you for your rating."),
                )
                return redirect(request.path)
        status = 400
    public = public_status(grievance)
    events = [
        (e, event_label(e.action), e.reason if e.action in REASONS_FOR_THE_CITIZEN else "")
        for e in public["events"]
    ]
    context = {"status": public, "events": events, "form": form if resolved else None}
    response = render(request, "grievances/citizen.html", context, status=status)
    # The token is the key: keep it out of other sites' logs and out of search engines. Not "no-referrer":
    # with it Chromium sends "Origin: null" on the page's own POST, and the CSRF check refuses the rating.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
