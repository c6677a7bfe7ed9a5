"""The one definition of the filters of disputes and rulings, for their pages and their API
(/api/v1/disputes/, /api/v1/rulings/). They narrow what the selectors already let the caller see; none of
them widens it. The API applies them through django-filter's backend (a bad value is a 400 in the API's
error shape); the pages through ``narrow``, with the values their own forms cleaned."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from arbitration.models import (
    Dispute,
    DisputeKind,
    DisputeParty,
    DisputeState,
    Ruling,
    RulingKind,
    RulingParticipant,
    RulingScope,
    Stage,
    Urgency,
)


def overdue_q() -> Q:
    """Past the current stage's deadline: open with the deadline gone, or flagged by the sweep at leadership
    (the top of the ladder, where nothing escalates further) and not yet closed. A paused dispute's clock is
    stopped, so only the leadership flag makes it overdue."""
    return Q(state=DisputeState.OPEN, deadline_at__lt=timezone.now()) | (
        Q(overdue=True) & ~Q(state=DisputeState.CLOSED)
    )


def is_overdue(dispute: Dispute) -> bool:
    """``overdue_q`` for one dispute in hand, so the list shows what the ``overdue`` filter selects."""
    if dispute.state == DisputeState.CLOSED:
        return False
    return dispute.overdue or (
        dispute.state == DisputeState.OPEN
        and dispute.deadline_at is not None
        and dispute.deadline_at < timezone.now()
    )


def narrow(filterset: type[django_filters.FilterSet], queryset: QuerySet[Any], values: dict[str, Any]) -> Any:
    """``queryset`` narrowed by the filters of ``filterset`` named in ``values`` (a page's cleaned form: an
    empty or unset value narrows nothing)."""
    filters = filterset(queryset=queryset).filters
    for name, value in values.items():
        if name in filters and value not in (None, "", False):
            queryset = filters[name].filter(queryset, value)
    return queryset


class DisputeFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text", help_text=_("Words of the dispute's title or description.")
    )
    stage = django_filters.ChoiceFilter(choices=Stage.choices, help_text=_("Stage of the ladder."))
    state = django_filters.ChoiceFilter(choices=DisputeState.choices, help_text=_("Open, paused or closed."))
    kind = django_filters.ChoiceFilter(choices=DisputeKind.choices, help_text=_("Kind of dispute."))
    domain = django_filters.CharFilter(field_name="domain__code", help_text=_("Domain code."))
    urgency = django_filters.ChoiceFilter(choices=Urgency.choices, help_text=_("Urgency."))
    agency = django_filters.CharFilter(
        method="filter_agency", help_text=_("Agency code: disputes it is a party to (filer or respondent).")
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        help_text=_(
            "true: open disputes past their current deadline, and those flagged overdue at leadership; "
            "false: all others."
        ),
    )

    class Meta:
        model = Dispute
        fields: list[str] = []

    def filter_agency(self, queryset: QuerySet[Dispute], name: str, value: str) -> QuerySet[Dispute]:
        return queryset.filter(
            Exists(DisputeParty.objects.filter(dispute=OuterRef("pk"), agency__code=value))
        )

    def filter_text(self, queryset: QuerySet[Dispute], name: str, value: str) -> QuerySet[Dispute]:
        words = value.strip()
        if not words:
            return queryset
        return queryset.filter(Q(title__icontains=words) | Q(description__icontains=words))

    def filter_overdue(self, queryset: QuerySet[Dispute], name: str, value: bool | None) -> QuerySet[Dispute]:
        if value is None:
            return queryset
        return queryset.filter(overdue_q()) if value else queryset.exclude(overdue_q())


class RulingFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text", help_text=_("Words of the dispute's title, the rationale or the legal bases.")
    )
    kind = django_filters.ChoiceFilter(
        choices=RulingKind.choices, help_text=_("Ruling, leadership decision or confirmed agreement.")
    )
    scope = django_filters.ChoiceFilter(choices=RulingScope.choices, help_text=_("This case or a class."))
    agency = django_filters.CharFilter(
        method="filter_agency", help_text=_("Agency code: rulings that make it lead or cooperate.")
    )
    lead = django_filters.CharFilter(
        field_name="lead_agency__code", help_text=_("Agency code: rulings that make it the lead.")
    )
    current = django_filters.BooleanFilter(
        field_name="is_current", help_text=_("true: only rulings not superseded by a correction.")
    )

    class Meta:
        model = Ruling
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Ruling], name: str, value: str) -> QuerySet[Ruling]:
        words = value.strip()
        if not words:
            return queryset
        return queryset.filter(
            Q(dispute__title__icontains=words)
            | Q(rationale__icontains=words)
            | Q(legal_bases__icontains=words)
        )

    def filter_agency(self, queryset: QuerySet[Ruling], name: str, value: str) -> QuerySet[Ruling]:
        return queryset.filter(
            Q(lead_agency__code=value)
            | Exists(RulingParticipant.objects.filter(ruling=OuterRef("pk"), agency__code=value))
        )
