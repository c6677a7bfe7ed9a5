"""/api/v1/ grievance endpoints (mounted inside the project's ``api`` namespace)."""

from django.urls import URLPattern, path

from grievances.api import views

urlpatterns: list[URLPattern] = [
    path("grievances/", views.GrievanceListApi.as_view(), name="grievance_list"),
    path("grievances/stats/", views.GrievanceStatsApi.as_view(), name="grievance_stats"),
    path("grievances/<int:pk>/", views.GrievanceDetailApi.as_view(), name="grievance_detail"),
    path("grievances/<int:pk>/dispatch/", views.GrievanceDispatchApi.as_view(), name="grievance_dispatch"),
    path("grievances/<int:pk>/route/", views.GrievanceRouteApi.as_view(), name="grievance_route"),
    path("grievances/<int:pk>/progress/", views.GrievanceProgressApi.as_view(), name="grievance_progress"),
    path("grievances/<int:pk>/resolve/", views.GrievanceResolveApi.as_view(), name="grievance_resolve"),
    path("grievances/<int:pk>/feedback/", views.GrievanceFeedbackApi.as_view(), name="grievance_feedback"),
    path("grievances/<int:pk>/close/", views.GrievanceCloseApi.as_view(), name="grievance_close"),
    path("grievances/<int:pk>/cancel/", views.GrievanceCancelApi.as_view(), name="grievance_cancel"),
    path("grievances/<int:pk>/publish/", views.GrievancePublishApi.as_view(), name="grievance_publish"),
    path("grievances/<int:pk>/unpublish/", views.GrievanceUnpublishApi.as_view(), name="grievance_unpublish"),
    path("work-orders/", views.WorkOrderListApi.as_view(), name="work_order_list"),
    path("work-orders/<int:pk>/accept/", views.WorkOrderAcceptApi.as_view(), name="work_order_accept"),
    path("work-orders/<int:pk>/return/", views.WorkOrderReturnApi.as_view(), name="work_order_return"),
    path("work-orders/<int:pk>/answer/", views.WorkOrderAnswerApi.as_view(), name="work_order_answer"),
    path("whistles/", views.WhistleListApi.as_view(), name="whistle_list"),
    path("summonses/<int:pk>/report/", views.SummonsReportApi.as_view(), name="summons_report"),
    path("handovers/", views.HandoverListApi.as_view(), name="handover_list"),
    path("handovers/<int:pk>/complete/", views.HandoverCompleteApi.as_view(), name="handover_complete"),
    path(
        "handovers/<int:pk>/report-back/",
        views.HandoverReportBackApi.as_view(),
        name="handover_report_back",
    ),
]
