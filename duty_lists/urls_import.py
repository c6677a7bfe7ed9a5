"""The browser import of duty lists (editorial office only).

Included under ``duty-lists/``, before ``duty_lists.urls_browse``: ``duty-lists/import/`` would otherwise be
read as the page of a list with the code ``import``::

    path("duty-lists/", include("duty_lists.urls_import")),
"""

from django.urls import path

from duty_lists import views_import

app_name = "duty_list_import"

urlpatterns = [
    path("import/", views_import.import_upload, name="upload"),
    path("import/template.xlsx", views_import.import_template, name="template"),
    path("import/jobs/<str:job_id>/", views_import.import_job, name="job"),
    path("import/jobs/<str:job_id>/status.json", views_import.import_job_status, name="status"),
    path("import/jobs/<str:job_id>/confirm/", views_import.import_job_confirm, name="confirm"),
    path("import/jobs/<str:job_id>/publish/", views_import.import_job_publish, name="publish"),
]
