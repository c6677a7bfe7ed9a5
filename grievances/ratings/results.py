"""A month's 双向考评 results: the mean score each agency received from the ratings that still count (not
voided by an upheld appeal). The ratings page shows them; the ranking weighs them in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Avg, Count

from grievances.ratings.models import MutualRating


@dataclass(frozen=True)
class Received:
    agency_id: int
    score: Decimal  # mean of the counted ratings' scores, 0–100, two decimals
    ratings: int  # how many counted


def month_start(day: date) -> date:
    return day.replace(day=1)


def received_scores(month: date, agencies: list[int] | None = None) -> dict[int, Received]:
    """Each rated agency's mean received score in ``month`` (any day of it), by agency id."""
    rows = MutualRating.objects.filter(month=month_start(month), voided=False)
    if agencies is not None:
        rows = rows.filter(rated_id__in=agencies)
    return {
        row["rated_id"]: Received(
            agency_id=row["rated_id"], score=Decimal(row["mean"]).quantize(Decimal("0.01")), ratings=row["n"]
        )
        for row in rows.values("rated_id").annotate(mean=Avg("score"), n=Count("id")).order_by()
    }


MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> date:
    """A month written YYYY-MM (as a month input sends it), as its first day; ValueError saying why."""
    from django.utils.translation import gettext as _

    match = MONTH.match(value.strip())
    if match and 2000 <= int(match.group(1)) <= 2100 and 1 <= int(match.group(2)) <= 12:
        return date(int(match.group(1)), int(match.group(2)), 1)
    raise ValueError(
        _("“%(value)s” is not a month: enter one as YYYY-MM, for example 2026-05.") % {"value": value}
    )
