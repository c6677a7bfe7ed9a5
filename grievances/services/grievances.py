"""The grievance loop: intake, routing, dispatch, acceptance or a return that cites the list, handling,
the citizen's feedback — and the links to arbitration (bounces and gaps become disputes) and to the
registry (a new edition re-routes what its changed duties cover).

    RECEIVED ─dispatch─► DISPATCHED ─accept─► ACCEPTED ─progress─► IN_PROGRESS ─resolve─► RESOLVED
        ▲                   │ return (cites a duty, or "not on the list")                    │ feedback
        └── RETURNED ◄──────┘                                         CLOSED ◄── satisfied ──┤
        └── REOPENED ◄─────────────────────────────────────────────── unsatisfied, redo ◄────┘
    any open state ─cancel─► CANCELLED (a dispatcher, with a reason)

``TRANSITIONS`` is the whole state machine. Every service locks the grievance, re-checks its state,
writes a history row and an audit entry, notifies after commit, and does nothing when the step has
already happened (a double click, a retried request).

The loop's parts: ``loop`` (the states), ``intake``, ``dispatching`` (routing and dispatch), ``orders``
(an agency's answer), ``handling`` (handling and feedback), ``bounces`` (bounces and gaps become
disputes) and ``rerouting`` (after a new edition). Their public names are all here too.
"""

from grievances.services.bounces import unlisted_clusters_check
from grievances.services.dispatching import grievance_dispatch, grievance_route
from grievances.services.handling import (
    grievance_cancel,
    grievance_close,
    grievance_feedback,
    grievance_progress,
    grievance_resolve,
)
from grievances.services.intake import MAX_DETAILS_CHARS, grievance_receive
from grievances.services.loop import TRANSITIONS, UNSATISFIED_AT_OR_BELOW
from grievances.services.orders import order_accept, order_answer, order_return, suggestions_after_returns
from grievances.services.rerouting import grievance_reroute, grievances_reroute_for_edition

__all__ = [
    "MAX_DETAILS_CHARS",
    "TRANSITIONS",
    "UNSATISFIED_AT_OR_BELOW",
    "grievance_cancel",
    "grievance_close",
    "grievance_dispatch",
    "grievance_feedback",
    "grievance_progress",
    "grievance_receive",
    "grievance_reroute",
    "grievance_resolve",
    "grievance_route",
    "grievances_reroute_for_edition",
    "order_accept",
    "order_answer",
    "order_return",
    "suggestions_after_returns",
    "unlisted_clusters_check",
]
