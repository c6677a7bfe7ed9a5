from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Max, Prefetch, Q, QuerySet

from duty_lists.diff import EditionDiff, compare
from duty_lists.models import (
    Agency,
    Amendment,
    AmendmentState,
    DelegatedPower,
    Duty,
    DutyList,
    DutyRevision,
    Edition,
    LegalBasis,
    Membership,
    Participation,
    Role,
)


def agencies_public() -> QuerySet[Agency]:
    """The agency directory is public, like the duty list it belongs to."""
    return Agency.objects.select_related("parent").order_by("code")


def memberships_of(user: Any) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return (
        Membership.objects.filter(user=user, is_active=True, agency__is_active=True)
        .select_related("agency")
        .order_by("agency__code", "role")
    )


# --- The registry ---------------------------------------------------------------------------------------


def _with_content(queryset: QuerySet[DutyRevision]) -> QuerySet[DutyRevision]:
    """Everything a duty's page or API entry shows, in a fixed number of queries whatever the page size."""
    return queryset.select_related("classification__category", "duty_list", "edition").prefetch_related(
        Prefetch(
            "participations",
            queryset=Participation.objects.select_related("agency").order_by("position", "id"),
        ),
        Prefetch("legal_bases", queryset=LegalBasis.objects.order_by("position", "id")),
    )


def revisions_in_force(
    *, duty_list: DutyList | None = None, as_of: datetime | None = None, with_content: bool = True
) -> QuerySet[DutyRevision]:
    """The published duties in force now, or at ``as_of`` — "who led this duty on 2026-03-01?" — without
    removed ones. Public: the published list is open to everyone."""
    queryset = DutyRevision.objects.filter(edition__isnull=False, is_removed=False)
    if as_of is None:
        queryset = queryset.filter(valid_until__isnull=True)
    else:
        queryset = queryset.filter(valid_from__lte=as_of).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=as_of)
        )
    if duty_list is not None:
        queryset = queryset.filter(duty_list=duty_list)
    return _with_content(queryset) if with_content else queryset


def revisions_at_edition(edition: Edition, *, with_content: bool = True) -> QuerySet[DutyRevision]:
    """The list exactly as the given edition published it."""
    return revisions_in_force(
        duty_list=edition.duty_list, as_of=edition.published_at, with_content=with_content
    )


def duty_history(duty: Duty) -> QuerySet[DutyRevision]:
    """Every published revision of a duty, newest first (pending ones are not history yet)."""
    return _with_content(DutyRevision.objects.filter(duty=duty, edition__isnull=False)).order_by(
        "-valid_from"
    )


def pending_revisions(duty_list: DutyList) -> QuerySet[DutyRevision]:
    return _with_content(DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True))


def duty_lists_public() -> QuerySet[DutyList]:
    return DutyList.objects.select_related("owner").order_by("code")


def editions_of(duty_list: DutyList) -> QuerySet[Edition]:
    return Edition.objects.filter(duty_list=duty_list).select_related("published_by").order_by("-number")


def amendments_visible_to(user: Any) -> QuerySet[Amendment]:
    """Officers, legal reviewers and leaders see every amendment; agency staff see their own agency's,
    those that change a duty their agency leads or cooperates on (before or after the change) once
    submitted, and those their agency reviews once they reach the joint review (not another agency's
    drafts); everyone else sees only published ones."""
    from duty_lists import permissions

    queryset = Amendment.objects.select_related("duty_list", "duty", "proposing_agency", "published_in")
    if permissions.has_any_role(user, {Role.EDITORIAL_OFFICER, Role.LEGAL_REVIEWER, Role.LEADER}):
        return queryset
    own = permissions.agencies_of(user)
    if own:
        return queryset.filter(
            Q(proposing_agency_id__in=own)
            | Q(
                duty_list__reviewing_agencies__in=own,
                state__in=[AmendmentState.JOINT_REVIEW, AmendmentState.APPROVED, AmendmentState.PUBLISHED],
            )
            | (Q(affected_agencies__in=own) & ~Q(state=AmendmentState.DRAFT))
            | Q(state=AmendmentState.PUBLISHED)
        ).distinct()
    return queryset.filter(state=AmendmentState.PUBLISHED)


def edition_diff(older: Edition | None, newer: Edition) -> EditionDiff:
    """What ``newer`` changed compared with ``older`` (None: the empty list before the first edition).

    Only the duties some edition in between touched are read, so the diff of an edition with ten changes
    in a list of thousands of duties costs what ten duties cost."""
    if older is not None and older.number > newer.number:
        older, newer = newer, older
    between = DutyRevision.objects.filter(duty_list=newer.duty_list, edition__number__lte=newer.number)
    if older is not None:
        between = between.filter(edition__number__gt=older.number)
    touched = between.values("duty_id")
    new = revisions_at_edition(newer).filter(duty_id__in=touched)
    old = (
        revisions_at_edition(older).filter(duty_id__in=touched)
        if older is not None
        else DutyRevision.objects.none()
    )
    return compare(old, new)


def revisions_changed_since(since: datetime) -> QuerySet[DutyRevision]:
    """For incremental sync: the revision now in force of every duty published or removed since ``since``
    (one per duty, however often it changed; removals appear with ``is_removed``)."""
    return _with_content(
        DutyRevision.objects.filter(edition__isnull=False, valid_until__isnull=True, valid_from__gte=since)
    )


def duty_lists_with_latest_edition() -> QuerySet[DutyList]:
    return (
        DutyList.objects.select_related("owner")
        .prefetch_related("reviewing_agencies")
        .annotate(latest_edition=Max("editions__number"))
        .order_by("code")
    )


def delegated_powers(*, street: Agency | None = None, withdrawn: bool = False) -> QuerySet[DelegatedPower]:
    """The register of powers delegated to streets (赋权清单): in force, or (``withdrawn``) taken back.
    Public, like the published list. Everything a row shows in a fixed number of queries."""
    queryset = DelegatedPower.objects.filter(withdrawn_on__isnull=not withdrawn)
    if street is not None:
        queryset = queryset.filter(streets=street)
    return queryset.select_related(
        "duty__duty_list",
        "delegating_agency",
        "granting_amendment__pending_revision",
        "withdrawing_amendment",
    ).prefetch_related(Prefetch("streets", queryset=Agency.objects.order_by("code")))
