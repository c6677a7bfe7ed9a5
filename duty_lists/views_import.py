"""The browser import (editorial office only): upload → check in the background → preview → confirm →
write in the background → publish an edition.

The checking and writing run as a Celery task (``duty_lists.tasks.import_job_run``) on a job kept in the
cache; these views only start it, show its progress and report, and take the two decisions (confirm,
publish). A job belongs to the officer who uploaded it: anyone else gets a 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from core.forms import StyledForm
from duty_lists import permissions
from duty_lists.exporting import template_workbook
from duty_lists.importing import ImportReport
from duty_lists.models import Agency, DutyList
from duty_lists.services import edition_publish
from duty_lists.tasks import (
    IMPORT_FOLDER,
    ImportJob,
    JobState,
    import_job_run,
    job_claim,
    job_load,
    job_release,
    job_save,
    new_job_id,
)

MAX_UPLOAD_MB = 10
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_FILE_NAME = "职责清单导入模板.xlsx"
PHASE_LABELS = {
    "": gettext_lazy("Waiting for a worker"),
    "queued": gettext_lazy("Waiting for a worker"),
    "reading": gettext_lazy("Reading the file"),
    "validating": gettext_lazy("Checking the rows"),
    "writing": gettext_lazy("Writing the duties"),
}


class AgencyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.code})"  # files name agencies by code


class ImportUploadForm(StyledForm):
    duty_list = forms.ModelChoiceField(
        label=gettext_lazy("Duty list"),
        queryset=DutyList.objects.order_by("code"),
        to_field_name="code",
        empty_label=None,
    )
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        help_text=gettext_lazy(
            "An Excel workbook (.xlsx) with the import template's columns, a CSV file exported from "
            "zhize, or a three-column taxonomy (一级分类, 二级分类, 三级分类)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    default_lead = AgencyChoiceField(
        label=gettext_lazy("Default lead agency"),
        queryset=Agency.objects.filter(is_active=True).order_by("code"),
        to_field_name="code",
        required=False,
        empty_label="—",
        help_text=gettext_lazy(
            "Leads every duty of a file that names no agencies, such as the three-column taxonomy."
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".xlsx", ".csv")):
            raise ValidationError(_("Upload an Excel workbook (.xlsx) or a CSV file."))
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            raise ValidationError(_("The file is larger than %(mb)d MB.") % {"mb": MAX_UPLOAD_MB})
        return upload


class ImportPublishForm(StyledForm):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What this edition changes and on whose decision, for the public record."),
    )


def _require_registry_keeper(request: HttpRequest) -> None:
    user = request.user
    if not (user.is_superuser or permissions.is_editorial_officer(user)):
        raise PermissionDenied(_("Only an editorial-office officer may import duty lists."))


def _own_job(request: HttpRequest, job_id: str) -> ImportJob:
    job = job_load(job_id)
    if job is None or job.user_id != request.user.pk:
        raise Http404
    return job


def _job_url(job: ImportJob) -> str:
    return reverse("duty_list_import:job", kwargs={"job_id": job.id})


def _enqueue(job_id: str, *, write: bool) -> None:
    # After commit, as every enqueue (nothing here writes to the database today, but a caller may wrap
    # this view in a transaction, and the task must then see what it committed).
    transaction.on_commit(lambda: import_job_run.delay(job_id, write=write))


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    _require_registry_keeper(request)
    form = ImportUploadForm(request.POST, request.FILES) if request.method == "POST" else ImportUploadForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        lead = form.cleaned_data["default_lead"]
        job_id = new_job_id()
        user_id = request.user.pk
        assert user_id is not None  # login_required
        suffix = ".csv" if upload.name.lower().endswith(".csv") else ".xlsx"
        # The stored name is ours (the job id); the uploaded name is kept only as text for the report.
        path = default_storage.save(f"{IMPORT_FOLDER}/{job_id}{suffix}", upload)
        job = ImportJob(
            id=job_id,
            user_id=user_id,
            duty_list_id=form.cleaned_data["duty_list"].pk,
            file_path=path,
            file_name=Path(upload.name).name[:150],
            default_lead=lead.code if lead else "",
            language=translation.get_language() or "",
        )
        job_save(job)
        _enqueue(job_id, write=False)
        return redirect(_job_url(job))
    return render(request, "duty_lists/import/upload.html", {"form": form, "max_upload_mb": MAX_UPLOAD_MB})


@login_required
def import_template(request: HttpRequest) -> HttpResponse:
    _require_registry_keeper(request)
    response = HttpResponse(template_workbook(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, TEMPLATE_FILE_NAME)
    return response


def _edition_url(duty_list: DutyList | None, number: int | None) -> str | None:
    if duty_list is None or number is None:
        return None
    try:  # the registry's edition page, where the lead has wired it
        return reverse("duty_lists:edition_detail", kwargs={"code": duty_list.code, "number": number})
    except NoReverseMatch:
        return None


@never_cache
@login_required
def import_job(request: HttpRequest, job_id: str) -> HttpResponse:
    _require_registry_keeper(request)
    job = _own_job(request, job_id)
    duty_list = DutyList.objects.filter(pk=job.duty_list_id).first()
    report = ImportReport.from_dict(job.report) if job.report else None
    context = {
        "job": job,
        "duty_list": duty_list,
        "report": report,
        "phase_label": PHASE_LABELS.get(job.phase, job.phase),
        "publish_form": ImportPublishForm(),
        "edition_url": _edition_url(duty_list, job.edition),
        "can_confirm": job.state == JobState.VALIDATED and report is not None and report.has_changes,
    }
    return render(request, "duty_lists/import/job.html", context)


@never_cache
@login_required
def import_job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    _require_registry_keeper(request)
    job = _own_job(request, job_id)
    status: dict[str, Any] = {
        "state": job.state,
        "running": job.is_running,
        "phase": job.phase,
        "phase_label": str(PHASE_LABELS.get(job.phase, job.phase)),
        "processed": job.processed,
        "total": job.total,
    }
    if job.report:  # once checked: what the page shows, each change with its row and fields
        report = ImportReport.from_dict(job.report)
        status["report"] = {
            "ok": report.ok,
            "has_changes": report.has_changes,
            "categories": asdict(report.categories),
            "classifications": asdict(report.classifications),
            "duties": asdict(report.duties),
            "changes": [change.to_json() for change in report.changes],
            "errors": [asdict(error) for error in report.errors],
        }
    return JsonResponse(status)


@require_POST
@login_required
def import_job_confirm(request: HttpRequest, job_id: str) -> HttpResponse:
    _require_registry_keeper(request)
    job = _own_job(request, job_id)
    report = ImportReport.from_dict(job.report) if job.report else None
    if job.state != JobState.VALIDATED or report is None or not report.has_changes:
        if job.state not in {JobState.WRITING, JobState.WRITTEN}:  # not a double click: say why
            messages.error(
                request, _("This import cannot be confirmed: it has not been checked successfully.")
            )
        return redirect(_job_url(job))
    if job_claim(job.id, "write"):
        job.state, job.phase, job.processed, job.total = JobState.WRITING, "queued", 0, 0
        job_save(job)
        _enqueue(job.id, write=True)
    return redirect(_job_url(job))


@require_POST
@login_required
def import_job_publish(request: HttpRequest, job_id: str) -> HttpResponse:
    _require_registry_keeper(request)
    job = _own_job(request, job_id)
    form = ImportPublishForm(request.POST)
    duty_list = DutyList.objects.filter(pk=job.duty_list_id).first()
    if job.state == JobState.PUBLISHED:
        return redirect(_edition_url(duty_list, job.edition) or _job_url(job))
    if job.state != JobState.WRITTEN or duty_list is None:
        messages.error(request, _("Only a written import can be published."))
        return redirect(_job_url(job))
    if not form.is_valid():
        messages.error(request, _("The note is too long."))
        return redirect(_job_url(job))
    if not job_claim(job.id, "publish"):
        return redirect(_job_url(job))  # a second click while the first publishes
    try:
        edition = edition_publish(
            actor=request.user, duty_list=duty_list, note=form.cleaned_data["note"].strip()
        )
    except ApplicationError as error:
        job_release(job.id, "publish")
        messages.error(request, error.message)
        return redirect(_job_url(job))
    job.state, job.edition = JobState.PUBLISHED, edition.number
    job_save(job)
    messages.success(
        request, _("Edition %(n)d of %(list)s is published.") % {"n": edition.number, "list": duty_list}
    )
    return redirect(_edition_url(duty_list, edition.number) or _job_url(job))
