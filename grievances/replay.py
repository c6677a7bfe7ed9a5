"""What-if replay (issue 10): before anyone approves a draft amendment, route the last months' grievances
again with the list as the amendment would leave it, and count who would have got them.

Only grievances whose words touch the amended duty (as it reads now or would read) are routed twice: the
others' best duties score the same either way. Each is routed as the dispatcher received it (its street, no
returns yet) by the router in force — the list and the learned model — once with the list in force and once
with the amended list. Against the agency that finally handled a grievance (after returns):

- **moved**: the first suggestion names another agency;
- **returns avoided**: wrong before, right after; **returns added**: right before, wrong after. Their
  difference is the expected change in returns, in grievances over the window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from duty_lists.models import Agency, Amendment, AmendmentKind, Classification, DutyType, Layer
from duty_lists.proposals import DutyContent
from grievances import routing
from grievances.models import Grievance

MAX_GRIEVANCES = 50_000
SAMPLE = 50
Progress = Callable[[int, str], None]


def amended_index(amendment: Amendment) -> tuple[routing.ListIndex, set[str]]:
    """The list index as the amendment would leave it, and the tokens of the amended duty before and after
    (a grievance with none of them routes the same either way)."""
    items = routing.items_in_force()
    touched: set[str] = set()
    kept: list[tuple[routing.Entry, dict[str, str]]] = []
    for entry, fields in items:
        if amendment.duty_id is not None and entry.duty_id == amendment.duty_id:
            touched |= set(routing.entry_tokens(fields))
        else:
            kept.append((entry, fields))
    if amendment.kind != AmendmentKind.REMOVE and amendment.proposal:
        entry, fields = _proposed(amendment)
        touched |= set(routing.entry_tokens(fields))
        kept.append((entry, fields))
    return routing.index_of(kept), touched


def _proposed(amendment: Amendment) -> tuple[routing.Entry, dict[str, str]]:
    content = DutyContent.from_dict(amendment.proposal)
    lead = Agency.objects.filter(code=content.lead_code).first() if content.lead_code else None
    classification = (
        Classification.objects.select_related("category")
        .filter(duty_list=amendment.duty_list, code=content.classification)
        .first()
    )
    code = amendment.duty.code if amendment.duty_id and amendment.duty else f"{content.classification}-?"
    # A duty that does not exist yet gets an id no duty has: the replay never dispatches it.
    pseudo_id = amendment.duty_id or -amendment.pk
    return routing.make_entry(
        revision_id=-amendment.pk,
        duty_id=pseudo_id,
        code=code,
        title=content.title,
        duty_list=amendment.duty_list.code,
        lead=lead,
        territorial=content.duty_type == DutyType.TERRITORIAL or content.layer == Layer.STREET,
        precedent_ruling=None,
        classification=classification.name if classification else "",
        category=classification.category.name if classification else "",
        keywords=[str(k) for k in content.keywords],
        synonyms=[str(s) for s in content.synonyms],
        description=content.description,
    )


def _first_agency(suggestions: list[routing.Suggestion]) -> int | None:
    return suggestions[0].agency_id if suggestions else None


def replay(amendment: Amendment, *, months: int = 6, progress: Progress | None = None) -> dict[str, Any]:
    """Route the grievances received in the last ``months`` with and without the amendment (see the module
    docstring); the result is plain JSON for a stored run."""
    report = progress or (lambda percent, stage: None)
    report(5, "index")
    amended, touched = amended_index(amendment)
    since = timezone.now() - timedelta(days=30 * months)
    rows = list(
        Grievance.objects.filter(received_at__gte=since)
        .order_by("-received_at")
        .values_list("id", "reference", "title", "details", "street_id", "handling_agency_id")[
            :MAX_GRIEVANCES
        ]
    )
    names = dict(Agency.objects.values_list("id", "name"))
    moves: Counter[tuple[int | None, int | None]] = Counter()
    sample: list[dict[str, Any]] = []
    avoided = added = touched_count = with_final = 0
    for n, (pk, reference, title, details, street_id, final_id) in enumerate(rows):
        if n % 200 == 0:
            report(10 + int(85 * n / max(len(rows), 1)), "routing")
        if not touched.intersection(routing.query_tokens(title, details)):
            continue
        touched_count += 1
        street = SimpleNamespace(pk=street_id, name=names.get(street_id, "")) if street_id else None
        before = _first_agency(routing.route(title, details, street=street, k=3))
        after = _first_agency(routing.route(title, details, street=street, k=3, list_index=amended))
        if final_id is not None:
            with_final += 1
            avoided += before != final_id and after == final_id
            added += before == final_id and after != final_id
        if before == after:
            continue
        moves[(before, after)] += 1
        if len(sample) < SAMPLE:
            sample.append(
                {
                    "id": pk,
                    "reference": reference,
                    "title": title,
                    "from": names.get(before, "") if before else "",
                    "to": names.get(after, "") if after else "",
                    "final": names.get(final_id, "") if final_id else "",
                }
            )
    report(100, "done")
    return {
        "amendment": amendment.pk,
        "months": months,
        "since": timezone.localtime(since).isoformat(),
        "replayed": len(rows),
        "touched": touched_count,
        "moved": sum(moves.values()),
        "moves": [
            {"from": names.get(a, "") if a else "", "to": names.get(b, "") if b else "", "count": count}
            for (a, b), count in moves.most_common()
        ],
        "sample": sample,
        "with_final_agency": with_final,
        "returns_avoided": avoided,
        "returns_added": added,
        "expected_return_change": added - avoided,
    }
