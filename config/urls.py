from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from arbitration.api import disputes as disputes_api
from arbitration.api import rulings as rulings_api
from core import views as core_views
from core.api.views import ApiRootView
from duty_lists import views as duty_lists_views
from duty_lists.api import agencies as agencies_api
from duty_lists.api import amendments as amendments_api
from duty_lists.api import duties as duties_api
from duty_lists.api import editions as editions_api

api_v1: tuple[list[URLPattern | URLResolver], str] = (
    [
        path("", ApiRootView.as_view(), name="root"),
        path("", include("duty_lists.api.urls")),  # before agencies/<code>/: see that module
        path("agencies/", agencies_api.AgencyListApi.as_view(), name="agency_list"),
        path("agencies/<str:code>/", agencies_api.AgencyDetailApi.as_view(), name="agency_detail"),
        path("me/", agencies_api.MeApi.as_view(), name="me"),
        path("duty-lists/", editions_api.DutyListListApi.as_view(), name="duty_list_list"),
        path("duty-lists/<slug:code>/", editions_api.DutyListDetailApi.as_view(), name="duty_list_detail"),
        path(
            "duty-lists/<slug:code>/publish/",
            editions_api.PublishEditionApi.as_view(),
            name="edition_publish",
        ),
        path("duties/", duties_api.DutyListApi.as_view(), name="duty_list"),
        path("duties/export/", duties_api.DutyExportApi.as_view(), name="duty_export"),
        path("duties/<str:code>/", duties_api.DutyDetailApi.as_view(), name="duty_detail"),
        path("editions/", editions_api.EditionListApi.as_view(), name="edition_list"),
        path("editions/<int:number>/", editions_api.EditionDetailApi.as_view(), name="edition_detail"),
        path("editions/<int:number>/diff/", editions_api.EditionDiffApi.as_view(), name="edition_diff"),
        path("amendments/", amendments_api.AmendmentListApi.as_view(), name="amendment_list"),
        path("amendments/<int:pk>/", amendments_api.AmendmentDetailApi.as_view(), name="amendment_detail"),
        path(
            "amendments/<int:pk>/submit/",
            amendments_api.AmendmentSubmitApi.as_view(),
            name="amendment_submit",
        ),
        path(
            "amendments/<int:pk>/pass-legal-review/",
            amendments_api.AmendmentPassLegalReviewApi.as_view(),
            name="amendment_pass_legal_review",
        ),
        path(
            "amendments/<int:pk>/opinion/",
            amendments_api.AmendmentOpinionApi.as_view(),
            name="amendment_opinion",
        ),
        path(
            "amendments/<int:pk>/approve/",
            amendments_api.AmendmentApproveApi.as_view(),
            name="amendment_approve",
        ),
        path(
            "amendments/<int:pk>/return/",
            amendments_api.AmendmentReturnApi.as_view(),
            name="amendment_return",
        ),
        path(
            "amendments/<int:pk>/withdraw/",
            amendments_api.AmendmentWithdrawApi.as_view(),
            name="amendment_withdraw",
        ),
        path("domains/", disputes_api.DomainListApi.as_view(), name="domain_list"),
        path("disputes/", disputes_api.DisputeListApi.as_view(), name="dispute_list"),
        path("disputes/<int:pk>/", disputes_api.DisputeDetailApi.as_view(), name="dispute_detail"),
        path(
            "disputes/<int:pk>/position/", disputes_api.DisputePositionApi.as_view(), name="dispute_position"
        ),
        path(
            "disputes/<int:pk>/escalate/", disputes_api.DisputeEscalateApi.as_view(), name="dispute_escalate"
        ),
        path("disputes/<int:pk>/pause/", disputes_api.DisputePauseApi.as_view(), name="dispute_pause"),
        path("disputes/<int:pk>/resume/", disputes_api.DisputeResumeApi.as_view(), name="dispute_resume"),
        path(
            "disputes/<int:pk>/withdraw/", disputes_api.DisputeWithdrawApi.as_view(), name="dispute_withdraw"
        ),
        path(
            "disputes/<int:pk>/accept-scope/",
            disputes_api.DisputeAcceptScopeApi.as_view(),
            name="dispute_accept_scope",
        ),
        path(
            "disputes/<int:pk>/reject-scope/",
            disputes_api.DisputeRejectScopeApi.as_view(),
            name="dispute_reject_scope",
        ),
        path(
            "disputes/<int:pk>/request-legal-review/",
            disputes_api.DisputeRequestLegalReviewApi.as_view(),
            name="dispute_request_legal_review",
        ),
        path(
            "disputes/<int:pk>/legal-opinion/",
            disputes_api.DisputeGiveLegalOpinionApi.as_view(),
            name="dispute_legal_opinion",
        ),
        path(
            "disputes/<int:pk>/feedback/",
            disputes_api.DisputeGiveFeedbackApi.as_view(),
            name="dispute_feedback",
        ),
        path("disputes/<int:pk>/meeting/", disputes_api.DisputeMeetingApi.as_view(), name="dispute_meeting"),
        path(
            "disputes/<int:pk>/report-agreement/",
            disputes_api.DisputeReportAgreementApi.as_view(),
            name="dispute_report_agreement",
        ),
        path("disputes/<int:pk>/agree/", disputes_api.DisputeAgreeApi.as_view(), name="dispute_agree"),
        path("disputes/<int:pk>/rule/", disputes_api.DisputeRuleApi.as_view(), name="dispute_rule"),
        path("disputes/<int:pk>/decide/", disputes_api.DisputeDecideApi.as_view(), name="dispute_decide"),
        path("rulings/", rulings_api.RulingListApi.as_view(), name="ruling_list"),
        path("rulings/<int:pk>/", rulings_api.RulingDetailApi.as_view(), name="ruling_detail"),
        path("", include("grievances.api.urls")),
    ],
    "api",
)

accounts = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]

urlpatterns = [
    # The API first: it is what other systems call many times a second, and Django tries the patterns in
    # order (no page pattern starts with "api/").
    path("api/v1/", include(api_v1)),
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("agencies/", duty_lists_views.agency_list, name="agency_list"),
    # Before the browse pages: otherwise duty-lists/import/ would read as the list with code "import".
    path("duty-lists/", include("duty_lists.urls_import")),
    path("", include("duty_lists.urls_browse")),
    path("", include("arbitration.urls")),
    path("", include("grievances.urls")),
    path("accounts/", include(accounts)),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("open311/v2/", include("config.open311_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
