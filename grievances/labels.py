"""What the grievance loop's stored codes read as: audit action labels and the references it owns
("grievances.grievance:<id>", "grievances.cluster:<word>"). Discovered by core's ready (core.apps)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import actions, references
from core.references import Reference


def grievance_reference(ident: str, user: Any) -> Reference | None:
    """The grievance by number and title, linked for those who may open it; the rest see only the number
    (its title may carry a citizen's words)."""
    from grievances.selectors import grievances_visible_to

    if not ident.isdigit():
        return None
    grievance = grievances_visible_to(user).filter(pk=int(ident)).first() if user is not None else None
    if grievance is None:
        return Reference(_("Grievance #%(number)s") % {"number": ident})
    return Reference(
        _("Grievance #%(number)s: %(title)s") % {"number": grievance.pk, "title": grievance.title},
        reverse("grievances:detail", args=[grievance.pk]),
    )


def cluster_reference(word: str, user: Any) -> Reference:
    return Reference(_("Recurring grievances about “%(word)s”") % {"word": word})


def _grievance_event(action: str) -> Promise | None:
    from grievances.views.common import EVENT_LABELS

    return EVENT_LABELS.get(action)


def _handover(direction: str) -> Promise | str | None:
    from grievances.models import HandoverDirection

    if direction not in HandoverDirection.values:
        return None
    return _("Handed over: %(direction)s") % {"direction": HandoverDirection(direction).label}


references.register("grievances.grievance:", grievance_reference)
references.register("grievances.cluster:", cluster_reference)
actions.register(
    {
        "grievances.api_client.issue": gettext_lazy("API key issued"),
        "grievances.api_client.revoke": gettext_lazy("API key revoked"),
        "grievances.deadline_policy.update": gettext_lazy("Grievance deadlines changed"),
        "grievances.handover.complete": gettext_lazy("Handover completed"),
        "grievances.handover.done": gettext_lazy("Handover done"),
        "grievances.handover.refused": gettext_lazy("Handover handed back up"),
        "grievances.router.activated": gettext_lazy("Router version put in force"),
        "grievances.router.failed": gettext_lazy("Router training failed"),
        "grievances.router.requested": gettext_lazy("Router retraining requested"),
        "grievances.router.trained": gettext_lazy("Router version trained"),
        "grievances.router.withdrawn": gettext_lazy("Router version withdrawn"),
        "grievances.summons.late": gettext_lazy("Summons answered late"),
        "grievances.summons.report": gettext_lazy("Summons answered"),
        "grievances.whistle.blow": gettext_lazy("Whistle blown"),
    }
)
actions.register_family("grievances.grievance.", _grievance_event)
actions.register_family("grievances.handover.", _handover)
