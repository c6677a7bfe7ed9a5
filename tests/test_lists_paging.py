"""The dispute list and the grievance queue page through ListPaginator: exact counts for short lists, an
estimate ("about N") for long ones, and the same rows on the same pages either way."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from django.core.paginator import Paginator
from django.urls import reverse

from arbitration.models import Dispute, Domain
from arbitration.services import dispute_file
from arbitration.views import paging
from duty_lists.models import Agency


@pytest.fixture
def disputes(member_a: Any, agency_a: Agency, agency_b: Agency) -> list[Dispute]:
    urban = Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})[0]
    return [
        dispute_file(
            actor=member_a,
            domain=urban,
            filing_agency=agency_a,
            respondents=[agency_b],
            title=f"占道经营第{n}号",
            description="两部门均称不属本部门职责。",
            kind="pushback",
        )
        for n in range(7)
    ]


def pages(paginator: paging.ListPaginator) -> list[list[int]]:
    """Every page's ids, following has_next from the first page as the Next link does."""
    seen, number = [], 1
    while True:
        page = paginator.get_page(number)
        seen.append([d.pk for d in page.object_list])
        if not page.has_next():
            return seen
        number = page.next_page_number()


def test_a_short_list_is_counted_exactly_and_paged_as_django_pages_it(disputes: list[Dispute]) -> None:
    ordered = Dispute.objects.order_by("-created_at", "-pk")
    paginator = paging.ListPaginator(ordered, 3)

    assert paginator.count == 7 and not paginator.is_estimate and paginator.num_pages == 3
    django = Paginator(ordered, 3)
    assert pages(paginator) == [[d.pk for d in django.page(n).object_list] for n in django.page_range]


def test_a_long_list_says_about_and_still_shows_every_row_once_in_order(disputes: list[Dispute]) -> None:
    ordered = Dispute.objects.order_by("-created_at", "-pk")
    paginator = paging.ListPaginator(ordered, 2, exact_up_to=3)

    assert paginator.count >= 4 and paginator.is_estimate  # the planner's estimate, never below 4
    assert list(itertools.chain(*pages(paginator))) == [d.pk for d in ordered]
    assert paginator.count == 7 and not paginator.is_estimate  # the last page settles it


def test_a_page_past_the_end_of_an_estimated_list_is_its_last_page(disputes: list[Dispute]) -> None:
    ordered = Dispute.objects.order_by("-created_at", "-pk")
    paginator = paging.ListPaginator(ordered, 2, exact_up_to=3)

    page = paginator.get_page(999)

    assert [d.pk for d in page.object_list] == [ordered.last().pk] and not page.has_next()
    assert paginator.count == 7 and not paginator.is_estimate  # counted once the estimate proved long


def test_the_dispute_list_says_about_for_a_long_list_and_its_next_links_reach_every_dispute(
    english: Any, officer: Any, disputes: list[Dispute], monkeypatch: pytest.MonkeyPatch
) -> None:
    from arbitration.views import disputes as views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    monkeypatch.setattr(paging, "EXACT_UP_TO", 3)
    client = english(officer)
    first = client.get(reverse("arbitration:dispute_list") + "?state=all").content.decode()
    assert re.search(r"About [\d,]+ disputes", first) and re.search(r"Page 1 of about [\d,]+", first)

    url, seen = reverse("arbitration:dispute_list") + "?state=all", []
    while url:
        response = client.get(url)
        seen += [row.dispute.pk for row in response.context["rows"]]
        found = re.search(r'href="\?([^"]*)" rel="next"', response.content.decode())
        url = (
            reverse("arbitration:dispute_list") + "?" + found.group(1).replace("&amp;", "&") if found else ""
        )
    assert seen == [d.pk for d in sorted(disputes, key=lambda d: (d.created_at, d.pk), reverse=True)]
