"""A work order as its agency sees it: the deadlines, and the forms of the steps it may take now. The inbox
and the grievance page show the same card, so the two offer the same steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.forms import Form

from arbitration.views.common import Countdown
from grievances.forms import AnswerForm, DutyOption, NoteForm, ResolveForm, ReturnForm
from grievances.models import Grievance, GrievanceState, OrderRole, OrderState, WorkOrder
from grievances.views.common import Clock, acts_for


@dataclass
class OrderView:
    order: WorkOrder
    grievance: Grievance
    accept_countdown: Countdown
    deadline_countdown: Countdown
    mine: bool = False
    accept_form: Form | None = None
    return_form: Form | None = None
    answer_form: Form | None = None
    progress_form: Form | None = None
    resolve_form: Form | None = None
    # The list covers nothing here and this agency was asked first: it cannot return the matter as
    # unlisted (首问负责制), only cite a duty that names someone else.
    first_asked: bool = False
    cooperators: list[WorkOrder] = field(default_factory=list)

    @property
    def accept_overdue(self) -> bool:
        return self.order.state == OrderState.PENDING and self.accept_countdown.is_overdue

    @property
    def has_actions(self) -> bool:
        return any(
            (self.accept_form, self.return_form, self.answer_form, self.progress_form, self.resolve_form)
        )


def _form(bound: dict[str, Form], key: str, make: Callable[[], Form]) -> Form:
    """The submitted form when the page is shown again with its errors, else a fresh one."""
    form = bound.get(key)
    return form if form is not None else make()


def order_view(
    user: Any,
    order: WorkOrder,
    *,
    clock: Clock,
    back: str,
    bound: dict[str, Form],
    duties: Callable[[], list[DutyOption]],
    cooperators: list[WorkOrder] | None = None,
) -> OrderView:
    grievance = order.grievance
    active = order.state in (OrderState.PENDING, OrderState.ACCEPTED)
    view = OrderView(
        order=order,
        grievance=grievance,
        accept_countdown=clock.of(order.accept_by, running=order.state == OrderState.PENDING),
        deadline_countdown=clock.of(order.deadline_at, running=active and grievance.is_open),
        cooperators=cooperators or [],
        mine=acts_for(user, order.agency_id),
    )
    if not view.mine or not active:
        return view
    pk, initial = order.pk, {"back": back}
    lead = order.role == OrderRole.LEAD
    if order.state == OrderState.PENDING and (not lead or grievance.state == GrievanceState.DISPATCHED):
        view.accept_form = _form(
            bound, f"accept:{pk}", lambda: NoteForm(initial=initial, auto_id=f"id_accept_{pk}_%s")
        )
    if lead and order.state == OrderState.PENDING and grievance.state == GrievanceState.DISPATCHED:
        view.first_asked = grievance.unlisted and grievance.first_agency_id == order.agency_id
        view.return_form = _form(
            bound,
            f"return:{pk}",
            lambda: ReturnForm(initial=initial, duties=duties(), auto_id=f"id_return_{pk}_%s"),
        )
    if not lead:
        view.answer_form = _form(
            bound, f"answer:{pk}", lambda: AnswerForm(initial=initial, auto_id=f"id_answer_{pk}_%s")
        )
    if lead and order.state == OrderState.ACCEPTED:
        gk = grievance.pk
        if grievance.state == GrievanceState.ACCEPTED:
            view.progress_form = NoteForm(initial=initial, auto_id=f"id_progress_{gk}_%s")
        if grievance.state in (GrievanceState.ACCEPTED, GrievanceState.IN_PROGRESS):
            view.resolve_form = _form(
                bound, f"resolve:{gk}", lambda: ResolveForm(initial=initial, auto_id=f"id_resolve_{gk}_%s")
            )
    return view


def cooperators_by_round(orders: list[WorkOrder]) -> dict[tuple[int, int], list[WorkOrder]]:
    """(grievance, round) → that round's cooperating orders: the lead sees who has yet to answer."""
    found: dict[tuple[int, int], list[WorkOrder]] = {}
    for order in orders:
        if order.role == OrderRole.COOPERATING:
            found.setdefault((order.grievance_id, order.round), []).append(order)
    return found


class LazyDuties:
    """The duties in force, read only when a return form is shown, and then once per page."""

    def __init__(self) -> None:
        self._options: list[DutyOption] | None = None

    def __call__(self) -> list[DutyOption]:
        if self._options is None:
            from grievances.forms import duties_in_force

            self._options = duties_in_force()
        return self._options
