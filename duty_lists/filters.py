import django_filters
from django.db.models import Exists, FloatField, OuterRef, Q, QuerySet, Subquery, Value
from django.utils.translation import gettext_lazy as _

from duty_lists.models import (
    Agency,
    AgencyKind,
    AgencyLevel,
    Amendment,
    AmendmentKind,
    AmendmentState,
    DelegatedPower,
    DutyList,
    DutyRevision,
    DutyType,
    Layer,
    Participation,
    ParticipationRole,
    ServiceKind,
)


class AgencyFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=AgencyLevel.choices, help_text=_("Agency level."))
    kind = django_filters.ChoiceFilter(choices=AgencyKind.choices, help_text=_("Kind of agency."))
    parent = django_filters.CharFilter(field_name="parent__code", help_text=_("Code of the parent agency."))
    is_active = django_filters.BooleanFilter(help_text=_("Only active (true) or inactive (false) agencies."))
    q = django_filters.CharFilter(method="search", help_text=_("Part of the name, short name or code."))

    class Meta:
        model = Agency
        fields = ["level", "kind", "parent", "is_active"]

    def search(self, queryset: QuerySet[Agency], name: str, value: str) -> QuerySet[Agency]:
        return queryset.filter(
            Q(name__icontains=value) | Q(short_name__icontains=value) | Q(code__icontains=value)
        )


class DutyFilter(django_filters.FilterSet):
    """Filters of /api/v1/duties/ (and its export). ``as_of`` and ``updated_since`` choose *which* revisions
    are read and are handled by the view; they are declared here so the schema documents them."""

    list = django_filters.CharFilter(method="filter_list", help_text=_("Duty list code."))
    category = django_filters.CharFilter(
        field_name="classification__category__code", help_text=_("Category code.")
    )
    classification = django_filters.CharFilter(
        field_name="classification__code", help_text=_("Classification code.")
    )
    agency = django_filters.CharFilter(
        method="filter_agency", help_text=_("Agency code: duties it leads or cooperates on.")
    )
    lead = django_filters.CharFilter(method="filter_lead", help_text=_("Agency code: duties it leads."))
    duty_type = django_filters.ChoiceFilter(choices=DutyType.choices, help_text=_("Type of duty."))
    service_kind = django_filters.ChoiceFilter(choices=ServiceKind.choices, help_text=_("Kind of service."))
    layer = django_filters.ChoiceFilter(choices=Layer.choices, help_text=_("District or street layer."))
    q = django_filters.CharFilter(method="filter_search", help_text=_("Chinese full-text search, ranked."))
    as_of = django_filters.CharFilter(
        method="noop",
        help_text=_("Read the list as it stood at this date (end of that day) or time (ISO 8601)."),
    )
    updated_since = django_filters.CharFilter(
        method="noop",
        help_text=_(
            "Only duties published or removed since this time, removals included (incremental sync)."
        ),
    )

    class Meta:
        model = DutyRevision
        fields: list[str] = []

    def filter_list(self, queryset: QuerySet[DutyRevision], name: str, value: str) -> QuerySet[DutyRevision]:
        # By id, not through a join on the list's code: PostgreSQL can then walk the (duty_list, code)
        # index in order for a small list among big ones (bench/registry.py).
        return queryset.filter(duty_list_id=Subquery(DutyList.objects.filter(code=value).values("pk")[:1]))

    def filter_agency(
        self, queryset: QuerySet[DutyRevision], name: str, value: str
    ) -> QuerySet[DutyRevision]:
        return queryset.filter(
            Exists(Participation.objects.filter(revision=OuterRef("pk"), agency__code=value))
        )

    def filter_lead(self, queryset: QuerySet[DutyRevision], name: str, value: str) -> QuerySet[DutyRevision]:
        return queryset.filter(
            Exists(
                Participation.objects.filter(
                    revision=OuterRef("pk"), agency__code=value, role=ParticipationRole.LEAD
                )
            )
        )

    def filter_search(
        self, queryset: QuerySet[DutyRevision], name: str, value: str
    ) -> QuerySet[DutyRevision]:
        from duty_lists.search import search_revisions

        found = search_revisions(queryset, value)
        # A query with nothing searchable in it finds nothing, unranked; the search pages still order by rank.
        if "rank" not in found.query.annotations:
            found = found.annotate(rank=Value(0.0, output_field=FloatField()))
        return found

    def noop(self, queryset: QuerySet[DutyRevision], name: str, value: object) -> QuerySet[DutyRevision]:
        return queryset


class AmendmentFilter(django_filters.FilterSet):
    list = django_filters.CharFilter(field_name="duty_list__code", help_text=_("Duty list code."))
    state = django_filters.ChoiceFilter(choices=AmendmentState.choices, help_text=_("State."))
    kind = django_filters.ChoiceFilter(choices=AmendmentKind.choices, help_text=_("Kind of amendment."))
    agency = django_filters.CharFilter(
        field_name="proposing_agency__code", help_text=_("Proposing agency code.")
    )

    class Meta:
        model = Amendment
        fields: list[str] = []


TRUTH = [("true", "true"), ("false", "false"), ("1", "1"), ("0", "0")]


class DelegatedPowerFilter(django_filters.FilterSet):
    """Filters of /api/v1/delegations/. Without ``withdrawn`` the delegations in force are listed."""

    street = django_filters.ModelChoiceFilter(
        field_name="streets",
        to_field_name="code",
        queryset=Agency.objects.filter(level=AgencyLevel.STREET),
        help_text=_("Street code: the powers delegated to that street."),
    )
    withdrawn = django_filters.ChoiceFilter(
        choices=TRUTH,
        method="filter_withdrawn",
        help_text=_("true: the delegations taken back; false (the default): those in force."),
    )
    list = django_filters.CharFilter(field_name="duty__duty_list__code", help_text=_("Duty list code."))

    class Meta:
        model = DelegatedPower
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[DelegatedPower]) -> QuerySet[DelegatedPower]:
        if not self.form.cleaned_data.get("withdrawn"):
            queryset = queryset.filter(withdrawn_on__isnull=True)
        return super().filter_queryset(queryset)

    def filter_withdrawn(
        self, queryset: QuerySet[DelegatedPower], name: str, value: str
    ) -> QuerySet[DelegatedPower]:
        return queryset.filter(withdrawn_on__isnull=value not in {"true", "1"})
