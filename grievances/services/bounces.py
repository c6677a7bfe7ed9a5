"""Bounces and gaps become disputes: a grievance returned too often, or a cluster of grievances no duty
covers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from duty_lists.models import Agency, Duty
from grievances import routing
from grievances.models import (
    Grievance,
    GrievanceUrgency,
    OrderRole,
    OrderState,
)
from grievances.services.common import event
from grievances.services.loop import G


def _bounce_check(grievance: Grievance, actor: Any) -> None:
    """Returned N times, or passed through M agencies: the agencies disagree about whose it is, which is
    arbitration's business. Files one dispute per grievance."""
    if grievance.dispute_id is not None:
        return
    agencies = set(grievance.orders.filter(role=OrderRole.LEAD).values_list("agency_id", flat=True))
    if (
        grievance.return_count < settings.ZHIZE_BOUNCE_RETURNS
        and len(agencies) < settings.ZHIZE_BOUNCE_AGENCIES
    ):
        return
    returns = list(grievance.orders.filter(state=OrderState.RETURNED).order_by("returned_at"))
    kind = "gap" if returns and all(o.declared_unlisted for o in returns) else "pushback"
    filer = returns[0].agency if returns else grievance.first_agency
    if filer is None:
        return
    _file_dispute(grievance, kind=kind, filing_agency=filer, respondents=agencies - {filer.pk})


def _domain() -> Any:
    from arbitration.models import Domain

    domain = (
        Domain.objects.filter(is_active=True, code="grievances").first()
        or Domain.objects.filter(is_active=True).first()
    )
    if domain is None:
        domain = Domain.objects.create(code="grievances", name=_("Citizens' grievances"))
    return domain


def _editorial_office() -> Agency | None:
    from duty_lists.models import AgencyKind

    return (
        Agency.objects.filter(kind=AgencyKind.EDITORIAL_OFFICE, is_active=True)
        .order_by("level", "code")
        .first()
    )


def _file_dispute(
    grievance: Grievance, *, kind: str, filing_agency: Agency, respondents: Iterable[int] = ()
) -> Any:
    """File the dispute in the editorial office's name, with the grievance as evidence."""
    from arbitration.services import dispute_file
    from core.actors import SYSTEM

    respondent_ids = set(respondents) - {filing_agency.pk}
    if not respondent_ids:
        # A gap has no other party on the list: the router's other candidates, else the editorial office.
        respondent_ids = {
            s["agency_id"]
            for s in grievance.suggestions
            if s.get("agency_id") and s["agency_id"] != filing_agency.pk
        }
    if not respondent_ids:
        office = _editorial_office()
        if office is None or office.pk == filing_agency.pk:
            return None
        respondent_ids = {office.pk}
    duties = [] if kind == "gap" else list(Duty.objects.filter(pk__in=_cited_duties(grievance)))
    if kind != "gap" and not duties and grievance.duty_id:
        duties = [grievance.duty]  # type: ignore[list-item]
    title = (
        _("Gap in the duty list: %(title)s")
        if kind == "gap"
        else _("Grievance passed between agencies: %(title)s")
    ) % {"title": grievance.title[:150]}
    dispute = dispute_file(
        actor=SYSTEM,
        title=title[:200],
        description=_bounce_description(grievance),
        kind=kind,
        domain=_domain(),
        filing_agency=filing_agency,
        respondents=Agency.objects.filter(pk__in=respondent_ids),
        urgency="urgent" if grievance.urgency == GrievanceUrgency.URGENT else "normal",
        duties=duties,
        evidence_links=[f"/grievances/{grievance.pk}/"],
        source_ref=f"grievances.grievance:{grievance.pk}",
    )
    Grievance.objects.filter(pk=grievance.pk).update(dispute=dispute)
    grievance.dispute = dispute
    event(grievance, "dispute_filed", SYSTEM, data={"dispute": dispute.pk, "kind": kind})
    return dispute


def _cited_duties(grievance: Grievance) -> set[int]:
    return set(grievance.orders.filter(cited_duty__isnull=False).values_list("cited_duty_id", flat=True))


def _bounce_description(grievance: Grievance) -> str:
    lines = [
        _("Grievance %(ref)s, received %(at)s: %(title)s")
        % {
            "ref": grievance.reference,
            "at": f"{timezone.localtime(grievance.received_at):%Y-%m-%d %H:%M}",
            "title": grievance.title,
        },
        "",
    ]
    for order in grievance.orders.filter(role=OrderRole.LEAD).select_related(
        "agency", "cited_duty", "cited_agency"
    ):
        line = f"{order.round}. {order.agency.name}: {order.get_state_display()}"
        if order.state == OrderState.RETURNED:
            cited = (
                _("not on the list")
                if order.declared_unlisted
                else f"{getattr(order.cited_duty, 'code', '')} → {getattr(order.cited_agency, 'name', '')}"
            )
            line += f" — {order.return_reason} ({cited})"
        lines.append(line)
    return "\n".join(lines)


def unlisted_clusters_check(*, now: datetime | None = None) -> list[Any]:
    """A cluster of recent grievances that matched no duty, sharing a word, is a gap in the list: file one
    gap dispute for the cluster, with every grievance in it as evidence."""
    from datetime import timedelta

    now = now or timezone.now()
    since = now - timedelta(days=settings.ZHIZE_UNLISTED_CLUSTER_DAYS)
    candidates = list(
        Grievance.objects.filter(unlisted=True, dispute__isnull=True, received_at__gte=since)
        .exclude(state=G.CANCELLED)
        .order_by("received_at")
    )
    by_word: dict[str, list[Grievance]] = {}
    for grievance in candidates:
        for word in set(w for w in routing.tokens(grievance.title) if len(w) >= 2):
            by_word.setdefault(word, []).append(grievance)
    filed = []
    used: set[int] = set()
    for word, members in sorted(by_word.items(), key=lambda kv: -len(kv[1])):
        members = [g for g in members if g.pk not in used]
        if len(members) < settings.ZHIZE_UNLISTED_CLUSTER_SIZE:
            continue
        dispute = _file_cluster(word, members)
        if dispute is not None:
            filed.append(dispute)
            used |= {g.pk for g in members}
    return filed


def _file_cluster(word: str, members: list[Grievance]) -> Any:
    from arbitration.services import dispute_file
    from core.actors import SYSTEM

    office = _editorial_office()
    if office is None:
        return None
    with transaction.atomic():
        locked_members = list(
            Grievance.objects.select_for_update().filter(pk__in=[g.pk for g in members], dispute__isnull=True)
        )
        if len(locked_members) < settings.ZHIZE_UNLISTED_CLUSTER_SIZE:
            return None
        respondents = {g.handling_agency_id or g.first_agency_id for g in locked_members} - {None, office.pk}
        if not respondents:
            respondents = {
                s["agency_id"] for g in locked_members for s in g.suggestions[:1] if s.get("agency_id")
            } - {office.pk}
        if not respondents:
            return None
        dispute = dispute_file(
            actor=SYSTEM,
            title=(
                _("Gap in the duty list: %(n)d grievances about “%(word)s”")
                % {"n": len(locked_members), "word": word}
            )[:200],
            description="\n".join(f"{g.reference} {g.title}" for g in locked_members),
            kind="gap",
            domain=_domain(),
            filing_agency=office,
            respondents=Agency.objects.filter(pk__in=[r for r in respondents if r is not None]),
            evidence_links=[f"/grievances/{g.pk}/" for g in locked_members],
            source_ref=f"grievances.cluster:{word}",
        )
        Grievance.objects.filter(pk__in=[g.pk for g in locked_members]).update(dispute=dispute)
        for grievance in locked_members:
            event(
                grievance,
                "dispute_filed",
                SYSTEM,
                data={"dispute": dispute.pk, "kind": "gap", "cluster": word},
            )
    return dispute
