"""/api/v1/ registry endpoints kept with their app (mounted inside the project's ``api`` namespace, before
``agencies/<code>/`` so that ``agencies/linked-data/`` is not read as the agency with that code)."""

from django.urls import URLPattern, path

from duty_lists.api import delegations, linked_data

urlpatterns: list[URLPattern] = [
    path("agencies/linked-data/", linked_data.AgencyLinkedDataApi.as_view(), name="agency_linked_data"),
    path("delegations/", delegations.DelegatedPowerListApi.as_view(), name="delegation_list"),
    path(
        "duty-lists/<slug:code>/linked-data/",
        linked_data.DutyListLinkedDataApi.as_view(),
        name="duty_list_linked_data",
    ),
]
