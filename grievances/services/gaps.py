"""Acting on what the gap finder found: one cluster of grievances becomes one dispute, filed by the editorial
office with every grievance as evidence (主动找: the office opens it before the agencies quarrel)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ApplicationError, PermissionRefused
from duty_lists.models import Agency
from duty_lists.permissions import is_editorial_officer
from grievances.models import Grievance
from grievances.services.common import event

KINDS = ("gap", "overlap")


def gap_cluster_file(*, actor: Any, grievance_ids: Iterable[int], kind: str, words: str = "") -> Any:
    """File a dispute of ``kind`` (gap or overlap) for the cluster's grievances not yet in a dispute, the
    agencies they went to as respondents. Grievances already in a dispute are left there; none left → a
    clear refusal (the cluster was filed already)."""
    from arbitration.services import dispute_file
    from grievances.services.bounces import _domain, _editorial_office

    if not (getattr(actor, "is_superuser", False) or is_editorial_officer(actor)):
        raise PermissionRefused(_("Only the editorial office files disputes from the gap finder."))
    if kind not in KINDS:
        raise ApplicationError(
            _("Choose gap or overlap."), code="invalid_kind", extra={"kind": [_("Unknown.")]}
        )
    office = _editorial_office()
    if office is None:
        raise ApplicationError(_("No editorial office is set up to file the dispute."), code="no_office")
    with transaction.atomic():
        members = list(
            Grievance.objects.select_for_update()
            .filter(pk__in=list(grievance_ids), dispute__isnull=True)
            .order_by("received_at")
        )
        if not members:
            raise ApplicationError(
                _("These grievances are already in a dispute."), code="cluster_already_filed"
            )
        involved = {a for g in members for a in g.orders.values_list("agency_id", flat=True)}
        involved |= {g.handling_agency_id for g in members if g.handling_agency_id}
        respondents = Agency.objects.filter(pk__in=involved - {office.pk}, is_active=True)
        if not respondents.exists():
            raise ApplicationError(
                _("No agency has had these grievances yet: dispatch one first, or draft an amendment."),
                code="no_respondents",
            )
        about = words or members[0].title
        title = (
            _("Gap in the duty list: %(n)d grievances about “%(word)s”")
            if kind == "gap"
            else _("Overlap in the duty list: %(n)d grievances about “%(word)s”")
        ) % {"n": len(members), "word": about}
        dispute = dispute_file(
            actor=actor,
            title=title[:200],
            description="\n".join(f"{g.reference} {g.title}" for g in members),
            kind=kind,
            domain=_domain(),
            filing_agency=office,
            respondents=respondents,
            evidence_links=[f"/grievances/{g.pk}/" for g in members],
            source_ref=f"grievances.cluster:{about}"[:200],
        )
        Grievance.objects.filter(pk__in=[g.pk for g in members]).update(dispute=dispute)
        for grievance in members:
            event(
                grievance,
                "dispute_filed",
                actor,
                data={"dispute": dispute.pk, "kind": kind, "cluster": about},
            )
    return dispute
