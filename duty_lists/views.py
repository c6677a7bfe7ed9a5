from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from duty_lists import selectors
from duty_lists.filters import AgencyFilter


def agency_list(request: HttpRequest) -> HttpResponse:
    """The public directory of agencies, by level, with the same filters as the API."""
    agency_filter = AgencyFilter(request.GET or None, queryset=selectors.agencies_public())
    page = Paginator(agency_filter.qs, 100).get_page(request.GET.get("page"))
    return render(request, "duty_lists/agency_list.html", {"filter": agency_filter, "page": page})
