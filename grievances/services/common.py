"""What every grievance service shares: the history row, locking, who may do what, notifications."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from duty_lists import permissions
from duty_lists.models import Agency, Role
from grievances.models import Grievance, GrievanceEvent, WorkOrder


def actor_name(actor: Any) -> str:
    return actor.get_username() if actor is not None else "system"


def is_dispatcher(actor: Any) -> bool:
    return bool(getattr(actor, "is_superuser", False) or permissions.is_dispatcher(actor))


def is_staff_of(actor: Any, agency: Agency | int | None) -> bool:
    if agency is None:
        return False
    return bool(getattr(actor, "is_superuser", False) or permissions.may_act_for_agency(actor, agency))


def event(
    grievance: Grievance,
    action: str,
    actor: Any,
    *,
    from_state: str = "",
    reason: str = "",
    agency: Agency | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
) -> GrievanceEvent:
    row = GrievanceEvent.objects.create(
        grievance=grievance,
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=actor_name(actor),
        agency=agency,
        from_state=from_state,
        to_state=grievance.state if from_state else "",
        reason=reason,
        data=data or {},
        public=public,
        at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action=f"grievances.grievance.{action}",
        target=grievance,
        reason=reason,
        before={"state": from_state or grievance.state},
        after={"state": grievance.state, **({"agency": agency.pk} if agency else {})},
    )
    return row


def locked(grievance: Grievance | int) -> Grievance:
    pk = grievance.pk if isinstance(grievance, Grievance) else grievance
    return Grievance.objects.select_for_update(of=("self",)).get(pk=pk)


def locked_order(order: WorkOrder | int) -> WorkOrder:
    pk = order.pk if isinstance(order, WorkOrder) else order
    return WorkOrder.objects.select_for_update(of=("self",)).select_related("grievance", "agency").get(pk=pk)


def grievance_url(grievance: Grievance) -> str:
    return f"/grievances/{grievance.pk}/"


def announce(
    grievance: Grievance,
    key: str,
    title: str,
    *,
    agencies: Iterable[Agency | int] = (),
    dispatchers: bool = False,
    body: str = "",
) -> None:
    """Tell an agency's staff (and the dispatchers) after the change commits; once per key."""
    from arbitration.services.notifications import notify, people_of

    agency_ids = [a.pk if isinstance(a, Agency) else a for a in agencies]
    roles = [Role.DISPATCHER] if dispatchers else []

    def send() -> None:
        notify(
            recipients=people_of(agencies=agency_ids, roles=roles),
            key=f"grievance:{grievance.pk}:{key}",
            title=title,
            body=body,
            url=grievance_url(grievance),
        )

    transaction.on_commit(send)
