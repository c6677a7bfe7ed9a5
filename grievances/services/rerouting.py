"""A new edition re-routes the open grievances whose duties it changed."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from duty_lists.models import Agency
from duty_lists.search import refresh_user_dictionary
from grievances import routing
from grievances.models import (
    ACTIVE_ORDER_STATES,
    Grievance,
    OrderState,
)
from grievances.services.common import locked
from grievances.services.dispatching import _dispatch_locked
from grievances.services.loop import TRANSITIONS


def grievances_reroute_for_edition(*, edition_id: int) -> int:
    """After an edition is published, every open grievance whose duty now has another lead goes to that
    lead; the citizen's status page says who handles it now. Returns how many moved. Grievances waiting in
    the queue are re-scored instead (services/rescoring.py): nobody has them, so nothing moves."""
    from core.actors import SYSTEM

    moved = 0
    open_ids = list(
        Grievance.objects.filter(
            state__in=TRANSITIONS["reroute"],
            duty__duty_list__editions__pk=edition_id,
        ).values_list("pk", flat=True)
    )
    # Route by this edition's vocabulary: requests may go on with the one it replaces while it loads.
    refresh_user_dictionary()
    routing.forget()
    for pk in open_ids:
        if grievance_reroute(actor=SYSTEM, grievance_id=pk, edition_id=edition_id):
            moved += 1
    return moved


def grievance_reroute(*, actor: Any, grievance_id: int, edition_id: int) -> bool:
    with transaction.atomic():
        grievance = locked(grievance_id)
        if grievance.duty_id is None:
            return False
        suggestion = routing.suggestion_for_duty(grievance.duty_id, street=grievance.street)
        if suggestion is None or suggestion.agency_id is None:
            return False  # the duty was removed: its grievances stay with whoever has them
        if grievance.state not in TRANSITIONS["reroute"]:
            # Back in the queue meanwhile (a return names the duty's lead as the one who sent it back):
            # putting that lead first again would offer a one-click resend to it. Re-scoring handles it.
            return False
        if grievance.handling_agency_id == suggestion.agency_id:
            return False
        new_lead = Agency.objects.get(pk=suggestion.agency_id)
        grievance.orders.filter(state__in=ACTIVE_ORDER_STATES).update(state=OrderState.WITHDRAWN)
        note = _("The duty list's edition changed the lead of duty %(code)s: now handled by %(agency)s.") % {
            "code": suggestion.duty_code,
            "agency": new_lead.name,
        }
        _dispatch_locked(
            grievance,
            actor,
            agency=new_lead,
            duty=grievance.duty,
            cooperating=(),
            note=note,
            action="reroute",
        )
    return True
