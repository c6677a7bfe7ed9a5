"""Every business operation on grievances, one function each (see STYLE.md)."""

from grievances.services.clients import api_client_for_key, api_client_issue, api_client_revoke
from grievances.services.grievances import (
    TRANSITIONS,
    grievance_cancel,
    grievance_close,
    grievance_dispatch,
    grievance_feedback,
    grievance_progress,
    grievance_receive,
    grievance_reroute,
    grievance_resolve,
    grievance_route,
    grievances_reroute_for_edition,
    order_accept,
    order_answer,
    order_return,
    unlisted_clusters_check,
)
from grievances.services.policy import deadline_policy_update
from grievances.services.publicity import (
    grievance_publish,
    grievance_unpublish,
    publication_proposal,
)
from grievances.services.training import (
    router_model_activate,
    router_model_withdraw,
    router_train,
    router_training_request,
)
from grievances.services.twoway import (
    handover_complete,
    handover_report,
    handover_report_back,
    handovers_flag_late,
    summons_report,
    summonses_flag_late,
    whistle_blow,
)

__all__ = [
    "TRANSITIONS",
    "api_client_for_key",
    "api_client_issue",
    "api_client_revoke",
    "deadline_policy_update",
    "grievance_cancel",
    "grievance_close",
    "grievance_dispatch",
    "grievance_feedback",
    "grievance_progress",
    "grievance_publish",
    "grievance_receive",
    "grievance_reroute",
    "grievance_resolve",
    "grievance_route",
    "grievance_unpublish",
    "grievances_reroute_for_edition",
    "handover_complete",
    "handover_report",
    "handover_report_back",
    "handovers_flag_late",
    "order_accept",
    "order_answer",
    "order_return",
    "publication_proposal",
    "router_model_activate",
    "router_model_withdraw",
    "router_train",
    "router_training_request",
    "summons_report",
    "summonses_flag_late",
    "unlisted_clusters_check",
    "whistle_blow",
]
