"""The citizen's status link, ``/g/<token>/``: no sign-in, the unguessable token is the key. It shows the
reference, the state, who handles it now, the deadline and the public history — no personal data, no
staff names, no internal notes — and, once resolved, takes the citizen's rating."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.actors import SYSTEM
from core.errors import ApplicationError
from grievances.forms import FeedbackForm
from grievances.models import Grievance, GrievanceEvent, GrievanceState
from grievances.selectors import public_status
from grievances.services import grievance_feedback
from grievances.views.common import event_label, put_errors

# A public event's reason is shown only where it is written for the citizen.
REASONS_FOR_THE_CITIZEN = frozenset({"resolve"})

# A dispatch, told by the state it left: every dispatch records it, and starts from RECEIVED, RETURNED or
# REOPENED only (grievances.services.TRANSITIONS). Returns are not public — their reasons cite duties and
# name desks — so, labelled alike, a grievance sent back and passed on read "Dispatched", "Dispatched"
# with nothing between: the second row has to say what happened itself. The first row does not repeat the
# state box's "Dispatched" either; it says the grievance went to an agency, which the row names.
FIRST_DISPATCH = gettext_lazy("Sent to an agency for handling")
DISPATCH_AGAIN: dict[str, tuple[Promise, Promise]] = {
    GrievanceState.RETURNED: (
        gettext_lazy("Dispatched again"),
        gettext_lazy(
            "The agency it was sent to before found, by the duty list, that the matter is not its "
            "responsibility and sent it back; it has been passed to another agency."
        ),
    ),
    GrievanceState.REOPENED: (
        gettext_lazy("Dispatched again to be redone"),
        gettext_lazy("You asked for it to be handled again, so it was sent to an agency once more."),
    ),
}
REROUTE_NOTE = gettext_lazy(
    "The duty list was updated and now names another agency for this matter; the grievance was passed to it."
)


@dataclass(frozen=True)
class Step:
    """One row of the citizen's timeline: what happened, when, at which agency — nobody's name."""

    action: str
    at: datetime
    agency: str
    label: str
    note: str


def _dispatch_step(event: GrievanceEvent) -> tuple[str, str]:
    if event.from_state not in DISPATCH_AGAIN:
        return str(FIRST_DISPATCH), ""
    label, note = DISPATCH_AGAIN[event.from_state]
    round_number = event.data.get("round") or 0
    if round_number > 2:  # sent on a third time or more: still not the same row as the one before
        return _("%(step)s (dispatch %(round)d)") % {"step": label, "round": round_number}, str(note)
    return str(label), str(note)


def citizen_steps(events: Iterable[GrievanceEvent]) -> list[Step]:
    steps = []
    for event in events:
        label = event_label(event.action)
        note = event.reason if event.action in REASONS_FOR_THE_CITIZEN else ""
        if event.action == "dispatch":
            label, note = _dispatch_step(event)
        elif event.action == "reroute":
            note = str(REROUTE_NOTE)
        steps.append(Step(event.action, event.at, event.agency.name if event.agency else "", label, note))
    return steps


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
    context = {"status": public, "steps": citizen_steps(public["events"]), "form": form if resolved else None}
    response = render(request, "grievances/citizen.html", context, status=status)
    # The token is the key: keep it out of other sites' logs and out of search engines. Not "no-referrer":
    # with it Chromium sends "Origin: null" on the page's own POST, and the CSRF check refuses the rating.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
