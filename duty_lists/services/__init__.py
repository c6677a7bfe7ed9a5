"""Every write to the registry goes through these functions: views, API, admin, tasks and commands alike."""

from duty_lists.services.agencies import agency_create, agency_update, membership_grant, membership_revoke
from duty_lists.services.amendments import (
    TRANSITIONS,
    amendment_approve,
    amendment_create,
    amendment_give_opinion,
    amendment_pass_legal_review,
    amendment_return,
    amendment_submit,
    amendment_update,
    amendment_withdraw,
    missing_concurrences,
)
from duty_lists.services.delegations import delegated_power_grant, delegated_power_withdraw
from duty_lists.services.health import list_health_compute, list_health_compute_request
from duty_lists.services.legal_bases import legal_basis_mark
from duty_lists.services.registry import (
    duty_list_create,
    edition_publish,
    next_duty_code,
    revision_stage,
    revisions_stage,
    structure_ensure,
)
from duty_lists.services.synonyms import search_synonym_delete, search_synonym_save

__all__ = [
    "TRANSITIONS",
    "agency_create",
    "agency_update",
    "amendment_approve",
    "amendment_create",
    "amendment_give_opinion",
    "amendment_pass_legal_review",
    "amendment_return",
    "amendment_submit",
    "amendment_update",
    "amendment_withdraw",
    "delegated_power_grant",
    "delegated_power_withdraw",
    "duty_list_create",
    "edition_publish",
    "legal_basis_mark",
    "list_health_compute",
    "list_health_compute_request",
    "membership_grant",
    "membership_revoke",
    "missing_concurrences",
    "next_duty_code",
    "revision_stage",
    "revisions_stage",
    "search_synonym_delete",
    "search_synonym_save",
    "structure_ensure",
]
