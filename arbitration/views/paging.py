"""Pages of lists that hold up to millions of rows: the dispute list and the dispatchers' grievance queue.

Django's ``Paginator`` counts the whole list (``SELECT COUNT(*)``) and reads a page with ``OFFSET``; at a
million disputes the count alone reads every row, and a page deep in the list fetches every row before it
from the table. ``ListPaginator`` keeps what the person sees — the same rows on the same page numbers, in
the same order — and changes how they are read:

- **the count** is exact when PostgreSQL's planner expects the list to be short and cheap to count
  (``EXACT_UP_TO``, ``EXACT_COST``; counted with a ``LIMIT``, so that a wrong guess still reads at most that
  many rows); otherwise the page says "about N", N being the planner's estimate of the rows, to two
  figures. Whether there is a next page never depends on the estimate: each page reads one row more than
  it shows.
- **a page** is read in two steps: the ids of its rows, ordered and offset over the list's index alone
  (an index-only scan when the index holds the ordering columns), then those rows with their relations by
  primary key — the ``OFFSET`` walks index entries, not table rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet

# Counted exactly: lists the planner expects to hold at most EXACT_UP_TO rows, at a cost of at most
# EXACT_COST (PostgreSQL's cost units; about what reading 20,000 entries of an index alone costs). Above
# either, the count is the planner's estimate: a count that must join a million rows to another table, as an
# agency's disputes do, costs as much as a large one.
EXACT_UP_TO = 20_000
EXACT_COST = 2_500.0


class ListPage(Page):
    """A page that knows from its own read whether another one follows."""

    def __init__(self, object_list: Sequence[Any], number: int, paginator: ListPaginator, more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more


class ListPaginator(Paginator):
    """``Paginator`` for an ordered queryset, read as the module docstring says. ``is_estimate``: the count
    is PostgreSQL's estimate (the templates then say "about")."""

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, exact_up_to: int | None = None) -> None:
        super().__init__(object_list, per_page)
        self.queryset = object_list
        self.exact_up_to = EXACT_UP_TO if exact_up_to is None else exact_up_to
        self.is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.queryset.order_by()
        if connections[queryset.db].vendor != "postgresql":
            return int(queryset.count())
        rows, cost = _plan(queryset)
        if rows <= self.exact_up_to and cost <= EXACT_COST:
            counted = int(queryset[: self.exact_up_to + 1].count())
            if counted <= self.exact_up_to:
                return counted
            rows = max(rows, counted)  # the planner was short: say "about", at least what was counted
        self.is_estimate = True
        return _rounded(rows)

    def validate_number(self, number: Any) -> int:
        """Any page number from 1 while the count is an estimate (it may fall short of the end)."""
        if not (self.count and self.is_estimate):
            return int(super().validate_number(number))
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            value = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if value < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return value

    def page(self, number: Any) -> ListPage:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(
            self.queryset.prefetch_related(None).values_list("pk", flat=True)[
                bottom : bottom + self.per_page + 1
            ]
        )
        more = len(ids) > self.per_page
        ids = ids[: self.per_page]
        if self.is_estimate and not ids and number > 1:
            # Past the real end: the estimate was long. Count them all to find the last page.
            self._settle(int(self.queryset.order_by().count()), estimate=False)
            return self.page(self.num_pages)
        if self.is_estimate and not more:
            self._settle(bottom + len(ids), estimate=False)  # the last page: now the count is known
        elif self.is_estimate and number >= self.num_pages:
            self._settle(bottom + len(ids) + 1, estimate=True)  # the estimate is short: more pages follow
        rows = {row.pk: row for row in self.queryset.filter(pk__in=ids).order_by()}
        return ListPage([rows[pk] for pk in ids if pk in rows], number, self, more)

    def _settle(self, count: int, *, estimate: bool) -> None:
        self.__dict__["count"] = count
        self.__dict__.pop("num_pages", None)
        self.is_estimate = estimate


def _rounded(n: int) -> int:
    """An estimate to two significant figures (101,234 → 100,000): it is not exact, so it does not look it."""
    return int(float(f"{n:.2g}"))


def _plan(queryset: QuerySet[Any]) -> tuple[int, float]:
    """The number of rows PostgreSQL's planner expects ``queryset`` to return, and the cost it expects
    reading them to have (planning only: nothing is read)."""
    plan = json.loads(queryset.values("pk").explain(format="json"))[0]["Plan"]
    return int(plan["Plan Rows"]), float(plan["Total Cost"])
