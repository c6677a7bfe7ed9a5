"""Browser pages of arbitration. Included at the site root: ``path("", include("arbitration.urls"))``.

The services' notifications link to ``/disputes/<id>/``: that path must stay as it is here.
"""

from django.urls import path

from arbitration.views import attachments, detail, disputes, inbox, rulings, steps

app_name = "arbitration"

urlpatterns = [
    path("disputes/", disputes.dispute_list, name="dispute_list"),
    path("disputes/new/", disputes.dispute_new, name="dispute_new"),
    path("disputes/queue/", disputes.work_queue, name="queue"),
    path("disputes/<int:pk>/", detail.dispute_detail, name="dispute_detail"),
    path("disputes/<int:pk>/position/", steps.position, name="position"),
    path("disputes/<int:pk>/agreement/", steps.agreement, name="agreement"),
    path("disputes/<int:pk>/meeting/", steps.meeting, name="meeting"),
    path("disputes/<int:pk>/ruling/", rulings.ruling_new, {"kind": "ruling"}, name="ruling"),
    path("disputes/<int:pk>/decision/", rulings.ruling_new, {"kind": "decision"}, name="decision"),
    path(
        "disputes/<int:pk>/confirm-agreement/",
        rulings.ruling_new,
        {"kind": "agreement"},
        name="confirm_agreement",
    ),
    path(
        "disputes/<int:pk>/follow-ups/<int:item>/report/",
        steps.follow_up_report,
        name="follow_up_report",
    ),
    path(
        "disputes/<int:pk>/follow-ups/<int:item>/close/",
        steps.follow_up_close,
        name="follow_up_close",
    ),
    # Last among the dispute's URLs: a step is any other slug (escalate, accept_scope, withdraw …).
    path("disputes/<int:pk>/attachments/", attachments.attachment_upload, name="attachment_upload"),
    path(
        "disputes/<int:pk>/attachments/<int:attachment_id>/",
        attachments.attachment_download,
        name="attachment_download",
    ),
    path("disputes/<int:pk>/<slug:step>/", steps.dispute_step, name="step"),
    path("rulings/", rulings.ruling_list, name="ruling_list"),
    path("rulings/<int:pk>/", rulings.ruling_detail, name="ruling_detail"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read/", inbox.mark_all_read, name="mark_all_read"),
    path("inbox/<int:pk>/", inbox.notification_open, name="notification_open"),
]
