"""The plain pages of /api/v1/duties/ — no filter but the list, no search, no as-of: what syncing clients
walk through most — answered by one PostgreSQL query that builds each duty's JSON itself.

Built by the ORM, a 50-duty page cost ~7× its SQL in Python (docs/benchmarks.md); here Python only joins
the JSON texts the database returns. The shape is exactly ``duty_to_dict``'s, which a test checks field by
field against the ORM path. Anything the fast path does not cover (another database, any filter, a reversed
or offset cursor, a browsable-API request, codes repeated across the page's edges) falls back to the ORM.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.pagination import Cursor
from rest_framework.request import Request

from duty_lists.models import (
    Agency,
    Category,
    Classification,
    DutyList,
    DutyRevision,
    Edition,
    LegalBasis,
    Participation,
)

FAST_PARAMS = frozenset({"cursor", "page_size", "list"})


def _t(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _iso(column: str) -> str:
    """``core.api.times.api_datetime`` in SQL: Python's ``isoformat()`` of the timestamp in the time zone
    ``tz.name`` (the request's, Asia/Shanghai), microseconds only when non-zero, then the offset that held
    at that instant (``Z`` for none, as DRF writes it) — computed, not written as +08:00, so it agrees with
    Python for any zone and date (China kept summer time 1986-91; before 1901 the zone is local mean time,
    +08:05:43)."""
    local = f"({column} AT TIME ZONE tz.name)"
    offset = f"({local} - ({column} AT TIME ZONE 'UTC'))"
    behind = f"{offset} < interval '0'"
    size = f"(CASE WHEN {behind} THEN -{offset} ELSE {offset} END)"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE "
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| CASE WHEN mod(date_part('microseconds', {local})::bigint, 1000000) = 0 THEN '' "
        f"ELSE to_char({local}, '.US') END "
        f"|| CASE WHEN {offset} = interval '0' THEN 'Z' ELSE "
        f"CASE WHEN {behind} THEN '-' ELSE '+' END || to_char({size}, 'HH24:MI') "
        f"|| CASE WHEN date_part('second', {size}) = 0 THEN '' ELSE to_char({size}, ':SS') END END END"
    )


@functools.cache
def _page_sql(after: bool, listed: bool = False) -> str:
    """Only table names from the models and fixed fragments are formatted in; values are parameters."""
    participant = "json_build_object('agency', a.code, 'name', a.name, 'responsibility', p.responsibility)"
    participants = f"{_t(Participation)} p JOIN {_t(Agency)} a ON a.id = p.agency_id"
    sql = f"""
SELECT r.code, json_build_object(
  'id', r.duty_id,
  'code', r.code,
  'list', dl.code,
  'category', json_build_object('code', cat.code, 'name', cat.name),
  'classification', json_build_object('code', cl.code, 'name', cl.name),
  'title', r.title,
  'description', r.description,
  'duty_type', r.duty_type,
  'service_kind', NULLIF(r.service_kind, ''),
  'layer', r.layer,
  'lead', (SELECT {participant} FROM {participants}
           WHERE p.revision_id = r.id AND p.role = 'lead' ORDER BY p.position, p.id LIMIT 1),
  'cooperating', COALESCE((SELECT json_agg({participant} ORDER BY p.position, p.id) FROM {participants}
                           WHERE p.revision_id = r.id AND p.role = 'cooperating'), '[]'::json),
  'legal_bases', COALESCE((SELECT json_agg(json_build_object('title', b.title, 'article', b.article,
                                                             'document_number', b.document_number)
                                           ORDER BY b.position, b.id)
                           FROM {_t(LegalBasis)} b WHERE b.revision_id = r.id), '[]'::json),
  'keywords', r.keywords,
  'synonyms', r.synonyms,
  'promised_days', r.promised_days,
  'statutory_days', r.statutory_days,
  'district_side', r.district_side,
  'street_side', r.street_side,
  'removed', r.is_removed,
  'edition', e.number,
  'in_force_from', {_iso("r.valid_from")},
  'in_force_until', {_iso("r.valid_until")},
  'amendment', r.amendment_id,
  'source', r.source_ref,
  'url', %s || r.code || '/?list=' || dl.code
)::text
FROM {_t(DutyRevision)} r
JOIN {_t(DutyList)} dl ON dl.id = r.duty_list_id
JOIN {_t(Classification)} cl ON cl.id = r.classification_id
JOIN {_t(Category)} cat ON cat.id = cl.category_id
JOIN {_t(Edition)} e ON e.id = r.edition_id
CROSS JOIN (SELECT %s::text AS name) tz
WHERE r.edition_id IS NOT NULL AND NOT r.is_removed AND r.valid_until IS NULL
{f"AND r.duty_list_id = (SELECT id FROM {_t(DutyList)} WHERE code = %s)" if listed else ""}
{"AND r.code > %s" if after else ""}
ORDER BY r.code
LIMIT %s
"""  # noqa: S608
    return sql.strip()


def fast_page(request: Request, paginator: Any, url_prefix: str) -> HttpResponse | None:
    """The page as a ready JSON response, or None when the ORM path must answer."""
    if connection.vendor != "postgresql" or set(request.query_params) - FAST_PARAMS:
        return None
    if getattr(request, "accepted_renderer", None) is None or request.accepted_renderer.format != "json":
        return None
    page_size = paginator.get_page_size(request)
    cursor = paginator.decode_cursor(request)  # an invalid cursor answers 404, as on the ORM path
    if cursor is not None and (cursor.offset or cursor.reverse or cursor.position is None):
        return None
    after = cursor.position if cursor is not None else None
    zone = timezone.get_current_timezone_name()  # what DRF's DateTimeField converts to
    # By the list's id, not a join on its code: PostgreSQL then walks the (duty_list, code) index in order.
    listed = request.query_params.get("list")
    params: list[Any] = [
        url_prefix,
        zone,
        *([listed] if listed is not None else []),
        *([after] if after is not None else []),
        page_size + 2,
    ]
    with connection.cursor() as db:
        db.execute(_page_sql(after is not None, listed is not None), params)
        rows = db.fetchall()
    page = rows[:page_size]
    # DRF disambiguates a code repeated across a page boundary with an offset; leave that to it.
    if len(rows) > page_size and rows[page_size][0] == page[-1][0]:
        return None
    if after is not None and len(page) > 1 and page[0][0] == page[1][0]:
        return None
    paginator.base_url = request.build_absolute_uri()
    paginator.request = request
    next_url = (
        paginator.encode_cursor(Cursor(offset=0, reverse=False, position=page[-1][0]))
        if len(rows) > page_size
        else None
    )
    previous_url = (
        paginator.encode_cursor(Cursor(offset=0, reverse=True, position=page[0][0]))
        if after is not None and page
        else None
    )
    head = json.dumps({"next": next_url, "previous": previous_url}, ensure_ascii=False)[:-1]
    body = f'{head},"results":[{",".join(text for _, text in page)}]}}'
    return HttpResponse(body.encode(), content_type="application/json")
