"""The public register of powers delegated to streets (赋权清单): what is in force, or what was taken back.

Public like the published list (DESIGN.md §6); rows are written only when an edition publishes a delegation
or a withdrawal (duty_lists/services/delegations.py). One page runs a fixed number of queries: the streets
for the filter, the count, the rows with their duty and amendments, and their streets.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from duty_lists import selectors
from duty_lists.exporting import export_delegations_xlsx
from duty_lists.models import Agency, AgencyLevel

PAGE_SIZE = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def delegation_list(request: HttpRequest) -> HttpResponse:
    withdrawn = request.GET.get("withdrawn", "") in {"1", "true", "yes"}
    code = request.GET.get("street", "").strip()
    streets = list(
        Agency.objects.filter(level=AgencyLevel.STREET, delegated_powers__isnull=False)
        .distinct()
        .order_by("code")
    )
    street = next((s for s in streets if s.code == code), None)
    if code and street is None:
        street = Agency.objects.filter(code=code, level=AgencyLevel.STREET).first()
    error = _("No street with code %(code)s.") % {"code": code} if code and street is None else ""
    page = None
    if not error:
        powers = selectors.delegated_powers(street=street, withdrawn=withdrawn)
        if request.GET.get("format") == "xlsx":
            response = HttpResponse(export_delegations_xlsx(powers), content_type=XLSX)
            response["Content-Disposition"] = 'attachment; filename="delegations.xlsx"'
            return response
        page = Paginator(powers, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "streets": streets,
        "street": street,
        "street_code": code,
        "withdrawn": withdrawn,
        "error": error,
    }
    return render(request, "duty_lists/browse/delegations.html", context, status=400 if error else 200)
