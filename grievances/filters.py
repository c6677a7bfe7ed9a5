"""Filters of the grievance API's list."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy

from grievances.models import Channel, Grievance, GrievanceKind, GrievanceState


class GrievanceFilter(django_filters.FilterSet):
    """Narrows what ``grievances_visible_to`` already lets the caller see; never widens it."""

    state = django_filters.ChoiceFilter(choices=GrievanceState.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    kind = django_filters.ChoiceFilter(choices=GrievanceKind.choices)
    handling_agency = django_filters.CharFilter(
        field_name="handling_agency__code", help_text=gettext_lazy("Code of the agency handling it now.")
    )
    received_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    q = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", help_text=gettext_lazy("Words in the title.")
    )

    class Meta:
        model = Grievance
        fields: list[str] = []
