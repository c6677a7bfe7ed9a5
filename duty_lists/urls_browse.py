"""Browser pages of the registry: the public duty lists and the amendment screens.

Included at the site root: ``path("", include("duty_lists.urls_browse"))``.
"""

from django.urls import path

from duty_lists import views_amendments, views_browse, views_delegations, views_health

app_name = "duty_lists"

urlpatterns = [
    path("duty-lists/", views_browse.duty_list_index, name="index"),
    # Before the list pages: otherwise search/, health/ and delegations/ would read as lists with those codes.
    path("duty-lists/search/", views_browse.duty_search, name="search"),
    path("duty-lists/health/", views_health.list_health, name="health"),
    path("duty-lists/health/status/", views_health.list_health_status, name="health_status"),
    path("duty-lists/health/recompute/", views_health.list_health_recompute, name="health_recompute"),
    path("duty-lists/delegations/", views_delegations.delegation_list, name="delegations"),
    path("duty-lists/<slug:code>/", views_browse.duty_list_detail, name="list_detail"),
    path("duty-lists/<slug:code>/duties/<str:duty_code>/", views_browse.duty_detail, name="duty_detail"),
    path("duty-lists/<slug:code>/editions/", views_browse.edition_list, name="edition_list"),
    path("duty-lists/<slug:code>/editions/<int:number>/", views_browse.edition_detail, name="edition_detail"),
    path("duty-lists/<slug:code>/publish/", views_browse.edition_publish, name="edition_publish"),
    path("amendments/", views_amendments.amendment_queue, name="amendment_queue"),
    path("amendments/new/", views_amendments.amendment_new, name="amendment_new"),
    path("amendments/<int:pk>/", views_amendments.amendment_detail, name="amendment_detail"),
    path("amendments/<int:pk>/edit/", views_amendments.amendment_edit, name="amendment_edit"),
    path("amendments/<int:pk>/opinion/", views_amendments.amendment_opinion, name="amendment_opinion"),
    path("amendments/<int:pk>/<slug:step>/", views_amendments.amendment_step, name="amendment_step"),
]
