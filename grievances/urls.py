"""Browser pages of the grievance loop. Included at the site root: ``path("", include("grievances.urls"))``.

The services' notifications link to ``/grievances/<id>/``, ``/grievances/whistles/<id>/`` and
``/grievances/handovers/<id>/``: those paths must stay as they are here. ``/g/<token>/`` is the citizen's
status link, printed on SMS and receipts.
"""

from django.urls import include, path

from grievances import digest_urls
from grievances.ratings import urls as rating_urls
from grievances.views import (
    citizen,
    dashboard,
    detail,
    dispatch,
    figures,
    handovers,
    intelligence,
    orders,
    ranking,
    router,
    whistles,
)

app_name = "grievances"

urlpatterns = [
    path("grievances/new/", dispatch.intake, name="new"),
    path("grievances/queue/", dispatch.queue, name="queue"),
    path("grievances/inbox/", orders.inbox, name="inbox"),
    path("grievances/figures/", figures.figures, name="figures"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/export/<slug:chart>/", dashboard.export, name="dashboard_export"),
    path("dashboard/rebuild/", dashboard.rebuild, name="dashboard_rebuild"),
    path("dashboard/rebuild/status/", dashboard.rebuild_status, name="dashboard_rebuild_status"),
    path("grievances/ranking/", ranking.ranking, name="ranking"),
    path("grievances/ranking/export/", ranking.export, name="ranking_export"),
    path("grievances/ranking/weights/", ranking.weights, name="ranking_weights"),
    path("", include(digest_urls.urlpatterns)),
    path("", include(rating_urls.urlpatterns)),
    path("grievances/gaps/", intelligence.gaps, name="gaps"),
    path("grievances/gaps/file/", intelligence.gap_file, name="gap_file"),
    path("grievances/replay/<int:amendment_id>/", intelligence.replay, name="replay"),
    path("grievances/jobs/<int:pk>/status/", intelligence.job_status, name="job_status"),
    path("grievances/router/", router.router, name="router"),
    path("grievances/router/status/", router.router_status, name="router_status"),
    path("grievances/router/retrain/", router.retrain, name="router_retrain"),
    path("grievances/router/<int:pk>/activate/", router.activate, name="router_activate"),
    path("grievances/whistles/", whistles.whistle_list, name="whistle_list"),
    path("grievances/whistles/new/", whistles.whistle_new, name="whistle_new"),
    path("grievances/whistles/<int:pk>/", whistles.whistle_detail, name="whistle_detail"),
    path(
        "grievances/whistles/<int:pk>/summonses/<int:summons_id>/report/",
        whistles.report,
        name="summons_report",
    ),
    path("grievances/handovers/", handovers.handover_list, name="handover_list"),
    path("grievances/handovers/new/", handovers.handover_new, name="handover_new"),
    path("grievances/handovers/<int:pk>/", handovers.handover_detail, name="handover_detail"),
    path("grievances/handovers/<int:pk>/complete/", handovers.complete, name="handover_complete"),
    path("grievances/handovers/<int:pk>/report-back/", handovers.report_back, name="handover_report_back"),
    path("grievances/handovers/<int:pk>/back-up/", handovers.back_up, name="handover_back_up"),
    path("grievances/orders/<int:pk>/accept/", orders.accept, name="order_accept"),
    path("grievances/orders/<int:pk>/return/", orders.return_order, name="order_return"),
    path("grievances/orders/<int:pk>/answer/", orders.answer, name="order_answer"),
    path("grievances/orders/<int:pk>/progress/", orders.progress, name="order_progress"),
    path("grievances/orders/<int:pk>/resolve/", orders.resolve, name="order_resolve"),
    path("grievances/<int:pk>/", detail.grievance_detail, name="detail"),
    path("grievances/<int:pk>/dispatch/", dispatch.dispatch, name="dispatch"),
    path("grievances/<int:pk>/route/", dispatch.route, name="route"),
    path("grievances/<int:pk>/cancel/", dispatch.cancel, name="cancel"),
    path("grievances/<int:pk>/publish/", dispatch.publish, name="publish"),
    path("grievances/<int:pk>/unpublish/", dispatch.unpublish, name="unpublish"),
    path("grievances/<int:pk>/feedback/", dispatch.feedback, name="feedback"),
    path("grievances/<int:pk>/close/", dispatch.close, name="close"),
    path("g/<str:token>/", citizen.citizen_status, name="citizen"),
]
