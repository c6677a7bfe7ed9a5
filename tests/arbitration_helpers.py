"""Building disputes for tests, through the services."""

from __future__ import annotations

from typing import Any

from arbitration.models import Dispute, Domain
from arbitration.services import dispute_file


def file_dispute(
    actor: Any,
    filer: Any,
    respondent: Any,
    *,
    duties: tuple[Any, ...] = (),
    kind: str = "pushback",
    urgency: str = "normal",
    title: str = "占道经营归谁管",
) -> Dispute:
    return dispute_file(
        actor=actor,
        title=title,
        description="夜市摊贩占道经营，城管与市场监管互相推诿。",
        kind=kind,
        # get_or_create: a transactional test's flush also empties what the data migration created
        domain=Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})[0],
        filing_agency=filer,
        respondents=[respondent],
        urgency=urgency,
        duties=duties,
    )
