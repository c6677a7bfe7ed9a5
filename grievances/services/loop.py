"""The grievance loop's states and the steps allowed from each (see grievances.services.grievances)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core.errors import Conflict
from grievances.models import (
    Grievance,
    GrievanceState,
)

G = GrievanceState

# action -> the states it may start from. Who may do it is checked by each service.
TRANSITIONS: dict[str, frozenset[str]] = {
    "dispatch": frozenset({G.RECEIVED, G.RETURNED, G.REOPENED}),
    "accept": frozenset({G.DISPATCHED}),
    "return": frozenset({G.DISPATCHED}),
    "progress": frozenset({G.ACCEPTED}),
    "resolve": frozenset({G.ACCEPTED, G.IN_PROGRESS}),
    "feedback": frozenset({G.RESOLVED}),
    "close": frozenset({G.RESOLVED}),
    "cancel": frozenset({G.RECEIVED, G.DISPATCHED, G.ACCEPTED, G.IN_PROGRESS, G.RETURNED, G.REOPENED}),
    "reroute": frozenset({G.DISPATCHED, G.ACCEPTED, G.IN_PROGRESS}),
}
UNSATISFIED_AT_OR_BELOW = 2


def _require(grievance: Grievance, action: str) -> None:
    if grievance.state not in TRANSITIONS[action]:
        raise Conflict(
            _("This grievance is %(state)s: it cannot be %(action)s now.")
            % {"state": grievance.get_state_display(), "action": _(action)},
            code="invalid_state",
        )
