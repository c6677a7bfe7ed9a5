"""Documents attached to a dispute: uploaded by the parties or the office, downloaded only by those who
may see the dispute."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from arbitration.models import Attachment
from arbitration.selectors import disputes_visible_to
from arbitration.services.disputes import attachment_add
from core.errors import ApplicationError, PermissionRefused


@login_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_visible_to(request.user), pk=pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file to attach."))
        return redirect("arbitration:dispute_detail", pk=pk)
    try:
        attachment_add(actor=request.user, dispute=dispute, upload=upload, name=request.POST.get("name", ""))
    except PermissionRefused as exc:
        raise PermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The document is attached."))
    return redirect("arbitration:dispute_detail", pk=pk)


@login_required
def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> FileResponse:
    dispute = get_object_or_404(disputes_visible_to(request.user), pk=pk)
    attachment = get_object_or_404(Attachment, pk=attachment_id, dispute=dispute)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("The file is missing.")) from exc
    return FileResponse(handle, as_attachment=True, filename=attachment.name)
