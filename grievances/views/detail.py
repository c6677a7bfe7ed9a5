"""The grievance page: what the citizen asked, where it stands and by when, the router's suggestions with
their explanation, the work orders of every round, the history, the citizen's contact (masked unless this
reader may see it), and the steps this reader may take now."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString

from arbitration import selectors as arbitration_selectors
from core.actors import display_name
from grievances import selectors
from grievances.forms import (
    DispatchForm,
    FeedbackForm,
    PublishForm,
    QuickDispatchForm,
    ReasonForm,
    duties_in_force,
)
from grievances.models import QUEUE_STATES, Grievance, GrievanceState, OrderRole
from grievances.services import TRANSITIONS, publication_proposal
from grievances.views.common import (
    Clock,
    active_agencies,
    event_label,
    highlight,
    is_dispatcher,
    percent,
    returned_agency_ids,
    visible_grievance,
)
from grievances.views.work import LazyDuties, OrderView, cooperators_by_round, order_view

WEAK_PERCENT = 35  # the confidence bar turns from amber to grey here too (_suggestion.html)


@dataclass
class SuggestionView:
    """One of the router's suggestions, as a dispatcher reads it: whose, under which duty, how sure, and
    why (the citizen's words that matched, the area rule, a ruling that settled the duty)."""

    data: dict[str, Any]
    percent: int
    marked_title: SafeString
    ruling_url: str = ""
    quick_form: QuickDispatchForm | None = None
    is_current: bool = False

    @property
    def agency_name(self) -> str:
        return str(self.data.get("agency_name") or "")

    @property
    def is_weak(self) -> bool:
        """Below this the router is mostly guessing (a word or two in common): the page asks the dispatcher
        to read the grievance before a one-click dispatch."""
        return self.percent < WEAK_PERCENT


def suggestion_views(
    grievance: Grievance,
    *,
    dispatchable: bool,
    back: str,
    limit: int | None = None,
    returned: Collection[int] | None = None,
) -> list[SuggestionView]:
    """``returned``: the agencies that sent this grievance back (looked up when not given). Their
    suggestions keep their explanation but never get the one-click button: sending it back to them is a
    deliberate choice in the dispatch form, with a note."""
    if returned is None:
        returned = returned_agency_ids(grievance)
    views = []
    for data in grievance.suggestions[:limit]:
        if not isinstance(data, dict):
            continue
        ruling = data.get("precedent_ruling")
        view = SuggestionView(
            data=data,
            percent=percent(data.get("confidence")),
            marked_title=highlight(grievance.title, data.get("matched_words") or []),
            # Rulings are public once issued (unless internal, which the ruling's page then refuses).
            ruling_url=reverse("arbitration:ruling_detail", kwargs={"pk": ruling}) if ruling else "",
            is_current=bool(data.get("agency_id")) and data.get("agency_id") == grievance.handling_agency_id,
        )
        if dispatchable and data.get("agency_id") and data["agency_id"] not in returned:
            view.quick_form = QuickDispatchForm(
                initial={"agency": data["agency_id"], "duty": data.get("duty_id"), "back": back}
            )
        views.append(view)
    return views


def dispute_link(user: Any, grievance: Grievance) -> str:
    """The dispute the grievance became, linked only for those who may open it."""
    if grievance.dispute_id is None:
        return ""
    visible = arbitration_selectors.disputes_visible_to(user).filter(pk=grievance.dispute_id).exists()
    return reverse("arbitration:dispute_detail", kwargs={"pk": grievance.dispute_id}) if visible else ""


def _order_views(
    user: Any, grievance: Grievance, bound: dict[str, Form], clock: Clock
) -> list[tuple[int, list[OrderView]]]:
    orders = list(grievance.orders.all())
    for order in orders:
        order.grievance = grievance  # already loaded: no query per order
    cooperators = cooperators_by_round(orders)
    duties = LazyDuties()
    rounds: dict[int, list[OrderView]] = {}
    for order in orders:
        view = order_view(
            user,
            order,
            clock=clock,
            back="detail",
            bound=bound,
            duties=duties,
            cooperators=(
                cooperators.get((grievance.pk, order.round), []) if order.role == OrderRole.LEAD else None
            ),
        )
        rounds.setdefault(order.round, []).append(view)
    return sorted(rounds.items(), reverse=True)  # the current round first


def _dispatcher_forms(grievance: Grievance, bound: dict[str, Form]) -> dict[str, Any]:
    state = grievance.state
    forms: dict[str, Any] = {}
    if state in TRANSITIONS["dispatch"]:
        # The dispatcher's own choice starts from the router's best guess.
        returned = returned_agency_ids(grievance)
        top = next(
            (
                s
                for s in grievance.suggestions
                if isinstance(s, dict) and s.get("agency_id") and s["agency_id"] not in returned
            ),
            {},
        )
        forms["dispatch_form"] = bound.get("dispatch") or DispatchForm(
            initial={"back": "detail", "agency": top.get("agency_id"), "duty": top.get("duty_id")},
            agencies=active_agencies(),
            duties=duties_in_force(),
            auto_id="id_dispatch_%s",
        )
        forms["may_route"] = True
    if state in TRANSITIONS["cancel"]:
        forms["cancel_form"] = bound.get("cancel") or ReasonForm(auto_id="id_cancel_%s")
    if state in TRANSITIONS["feedback"]:
        forms["feedback_form"] = bound.get("feedback") or FeedbackForm(auto_id="id_feedback_%s")
        forms["close_form"] = bound.get("close") or ReasonForm(auto_id="id_close_%s")
    if state != GrievanceState.CANCELLED:
        # Starts from the masked proposal (or what is public now), which the dispatcher reads and edits.
        forms["publish_form"] = bound.get("publish") or PublishForm(
            initial=publication_proposal(grievance), auto_id="id_publish_%s"
        )
    if grievance.published_at is not None:
        forms["unpublish_form"] = bound.get("unpublish") or ReasonForm(auto_id="id_unpublish_%s")
    return forms


def detail_context(request: HttpRequest, grievance: Grievance, bound: dict[str, Form]) -> dict[str, Any]:
    user = request.user
    clock = Clock()
    dispatcher = is_dispatcher(user)
    dispatchable = dispatcher and grievance.state in TRANSITIONS["dispatch"]
    events = list(grievance.events.select_related("agency", "actor").order_by("at", "id"))
    context: dict[str, Any] = {
        "grievance": grievance,
        "is_dispatcher": dispatcher,
        "in_queue": grievance.state in QUEUE_STATES,
        "contact": selectors.contact_of(user, grievance),
        "countdown": clock.of(grievance.deadline_at, running=grievance.is_open),
        "accept_countdown": clock.of(
            grievance.accept_by, running=grievance.state == GrievanceState.DISPATCHED
        ),
        "suggestions": suggestion_views(grievance, dispatchable=dispatchable, back="detail"),
        "rounds": _order_views(user, grievance, bound, clock),
        "events": [(e, event_label(e.action), _who(e)) for e in events],
        "feedback": list(grievance.feedback.all()),
        "dispute_url": dispute_link(user, grievance),
        "citizen_url": (
            request.build_absolute_uri(reverse("grievances:citizen", kwargs={"token": grievance.token}))
            if dispatcher
            else ""
        ),
    }
    if dispatcher:
        context |= _dispatcher_forms(grievance, bound)
    return context


def _who(event: Any) -> str:
    # The stored username is only the fallback for an account that is gone: pages name people, not logins.
    return display_name(event.actor, event.actor_name)


def render_detail(
    request: HttpRequest, pk: int, *, bound: dict[str, Form] | None = None, status: int = 200
) -> HttpResponse:
    grievance = visible_grievance(request, pk)
    context = detail_context(request, grievance, bound or {})
    return render(request, "grievances/detail.html", context, status=status)


@login_required
def grievance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_detail(request, pk)
