"""Reads of arbitration that apply permissions: what a person may see, they may reach; nothing else."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from arbitration.models import (
    Dispute,
    DisputeEvent,
    DisputeParty,
    DisputeState,
    FollowUp,
    Notification,
    Position,
    Ruling,
)
from duty_lists import permissions
from duty_lists.models import Role

OVERSEERS = frozenset({Role.EDITORIAL_OFFICER, Role.LEADER, Role.LEGAL_REVIEWER})


def disputes_visible_to(user: Any) -> QuerySet[Dispute]:
    """The editorial office, leaders and legal reviewers see every dispute; agency staff see the disputes
    their agency is a party to; nobody else sees any."""
    disputes = Dispute.objects.select_related("domain", "filing_agency")
    if not getattr(user, "is_authenticated", False):
        return disputes.none()
    if user.is_superuser or permissions.has_any_role(user, OVERSEERS):
        return disputes
    own = permissions.agencies_of(user)
    return disputes.filter(Exists(DisputeParty.objects.filter(dispute=OuterRef("pk"), agency_id__in=own)))


def dispute_detail(user: Any, pk: int) -> Dispute:
    """One visible dispute with its timeline, parties, positions, meetings and rulings (raises
    Dispute.DoesNotExist when the user may not see it)."""
    return (
        disputes_visible_to(user)
        .prefetch_related(
            Prefetch("parties", queryset=DisputeParty.objects.select_related("agency")),
            Prefetch("positions", queryset=Position.objects.select_related("agency", "proposed_agency")),
            Prefetch("events", queryset=DisputeEvent.objects.order_by("at", "id")),
            "meetings",
            Prefetch(
                "rulings",
                queryset=Ruling.objects.select_related("lead_agency", "amendment").prefetch_related(
                    "cooperating__agency", "follow_ups__agency"
                ),
            ),
            "duties",
            "stages",
        )
        .get(pk=pk)
    )


def work_queue(user: Any) -> QuerySet[Dispute]:
    """Open disputes waiting for this person, soonest deadline first: the editorial office's stage for
    officers, leadership's for leaders, their agency's for staff."""
    disputes = disputes_visible_to(user).exclude(state=DisputeState.CLOSED)
    if permissions.is_editorial_officer(user):
        return disputes.filter(stage="editorial_office").order_by("deadline_at", "pk")
    if permissions.is_leader(user):
        return disputes.filter(stage="leadership").order_by("deadline_at", "pk")
    if permissions.is_legal_reviewer(user):
        return disputes.filter(stage="editorial_office", office_step="review").order_by("deadline_at", "pk")
    return disputes.order_by("deadline_at", "pk")


def rulings_visible_to(user: Any) -> QuerySet[Ruling]:
    """Issued rulings are public unless marked internal; internal ones are seen by those who see the
    dispute."""
    rulings = Ruling.objects.select_related("dispute", "lead_agency").prefetch_related("cooperating__agency")
    visible_disputes = disputes_visible_to(user).values("pk")
    return rulings.filter(is_internal=False) | rulings.filter(dispute__in=visible_disputes)


def ruling_detail(user: Any, pk: int) -> Ruling:
    """One ruling this person may see (``rulings_visible_to``), with its dispute, amendment and follow-up
    (raises Ruling.DoesNotExist otherwise)."""
    return (
        rulings_visible_to(user)
        .select_related("dispute__domain", "amendment")
        .prefetch_related(Prefetch("follow_ups", queryset=FollowUp.objects.select_related("agency")))
        .get(pk=pk)
    )


def ruling_chain(user: Any, ruling: Ruling) -> list[tuple[Ruling, bool]]:
    """The corrections ``ruling`` belongs to, oldest first, each with whether this person may see it: a
    correction stays in its dispute, so the chain is read from the dispute's rulings in two queries. One
    the person may not see (internal) keeps its place in the chain, to be shown without its content."""
    rulings = {
        r.pk: r
        for r in Ruling.objects.filter(dispute_id=ruling.dispute_id).only(
            "pk", "kind", "supersedes_id", "is_current", "issued_at", "effective_date"
        )
    }
    visible = set(rulings_visible_to(user).filter(dispute_id=ruling.dispute_id).values_list("pk", flat=True))
    successor = {r.supersedes_id: r.pk for r in rulings.values() if r.supersedes_id}
    # Both walks are bounded by the number of rulings: a cycle in bad data ends them instead of hanging.
    first = ruling.pk
    for _step in range(len(rulings)):
        earlier = rulings[first].supersedes_id
        if earlier is None or earlier not in rulings:
            break
        first = earlier
    chain = [first]
    while chain[-1] in successor and len(chain) < len(rulings):
        chain.append(successor[chain[-1]])
    return [(rulings[pk], pk in visible) for pk in chain]


def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def inbox(user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")
