"""The plain pages of /api/v1/duties/ — no filter but the list, no as-of: what syncing clients walk through
most — and its search pages (``?q=``, with or without ``?list=``), answered by one PostgreSQL query that
builds each duty's JSON itself.

Built by the ORM, a 50-duty page cost ~7× its SQL in Python (docs/benchmarks.md); here Python only joins
the JSON texts the database returns. The shape is exactly ``duty_to_dict``'s, which a test checks field by
field against the ORM path. Anything the fast path does not cover (another database, any other filter, a
reversed cursor, an offset cursor of a plain page, a browsable-API request, codes repeated across the
page's edges) falls back to the ORM.

The same query also reads when the lists it shows last changed (an edition published), which the view's
ETag and Last-Modified need: a request without conditional headers then costs one query, not two.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Subquery
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
FAST_SEARCH_PARAMS = FAST_PARAMS | {"q"}


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
def _duty_json() -> str:
    """The JSON of revision ``r`` (joined to ``dl``, ``cl``, ``cat``, ``e`` and ``tz``); one parameter, the
    URL prefix of duty details."""
    participant = "json_build_object('agency', a.code, 'name', a.name, 'responsibility', p.responsibility)"
    participants = f"{_t(Participation)} p JOIN {_t(Agency)} a ON a.id = p.agency_id"
    return f"""json_build_object(
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
)::text"""  # noqa: S608


@functools.cache
def _joins(listed: bool) -> str:
    """The tables a duty's JSON reads, and ``tz``: the time zone (a parameter) and when the lists shown
    last changed (``duties.last_published``: with ``listed``, one more parameter, the list's code)."""
    latest = f"SELECT max(le.published_at) FROM {_t(Edition)} le"  # noqa: S608
    if listed:
        latest += f" WHERE le.duty_list_id IN (SELECT id FROM {_t(DutyList)} WHERE code = %s)"  # noqa: S608
    return f"""JOIN {_t(DutyList)} dl ON dl.id = r.duty_list_id
JOIN {_t(Classification)} cl ON cl.id = r.classification_id
JOIN {_t(Category)} cat ON cat.id = cl.category_id
JOIN {_t(Edition)} e ON e.id = r.edition_id
CROSS JOIN (SELECT %s::text AS name, ({latest}) AS latest) tz"""


@functools.cache
def _page_sql(after: bool, listed: bool = False) -> str:
    """Only table names from the models and fixed fragments are formatted in; values are parameters."""
    sql = f"""
SELECT r.code, {_duty_json()}, tz.latest
FROM {_t(DutyRevision)} r
{_joins(listed)}
WHERE r.edition_id IS NOT NULL AND NOT r.is_removed AND r.valid_until IS NULL
{f"AND r.duty_list_id = (SELECT id FROM {_t(DutyList)} WHERE code = %s)" if listed else ""}
{"AND r.code > %s" if after else ""}
ORDER BY r.code
LIMIT %s
"""  # noqa: S608
    return sql.strip()


@functools.lru_cache(maxsize=64)  # a few shapes of ranked query: the search's values are parameters
def _search_sql(ranked: str, listed: bool) -> str:
    """The page of a search: ``ranked`` is the ORM's query of the page's (id, code, rank), best first."""
    sql = f"""
SELECT found.rank, found.code, {_duty_json()}, tz.latest
FROM ({ranked}) found
JOIN {_t(DutyRevision)} r ON r.id = found.id
{_joins(listed)}
ORDER BY found.rank DESC, found.code, found.id
"""  # noqa: S608
    return sql.strip()


def _json_request(request: Request, allowed: frozenset[str]) -> bool:
    if connection.vendor != "postgresql" or set(request.query_params) - allowed:
        return False
    renderer = getattr(request, "accepted_renderer", None)
    return renderer is not None and renderer.format == "json"


def _remember_latest(request: Request, rows: list[tuple[Any, ...]]) -> None:
    """Hand ``duties.last_published`` what the page's own query read (the same snapshot as the page)."""
    if rows:
        latest: datetime | None = rows[0][-1]
        request._zhize_last_published = latest  # type: ignore[attr-defined]


def _response(next_url: str | None, previous_url: str | None, texts: list[str]) -> HttpResponse:
    head = json.dumps({"next": next_url, "previous": previous_url}, ensure_ascii=False)[:-1]
    body = f'{head},"results":[{",".join(texts)}]}}'
    return HttpResponse(body.encode(), content_type="application/json")


def _list_code(request: Request) -> str | None:
    # A blank ?list= filters nothing, as django-filter skips blank values on the ORM path.
    return request.query_params.get("list") or None


def fast_page(request: Request, paginator: Any, url_prefix: str) -> HttpResponse | None:
    """The page as a ready JSON response, or None when the ORM path must answer."""
    if not _json_request(request, FAST_PARAMS):
        return None
    page_size = paginator.get_page_size(request)
    cursor = paginator.decode_cursor(request)  # an invalid cursor answers 404, as on the ORM path
    if cursor is not None and (cursor.offset or cursor.reverse or cursor.position is None):
        return None
    after = cursor.position if cursor is not None else None
    zone = timezone.get_current_timezone_name()  # what DRF's DateTimeField converts to
    # By the list's id, not a join on its code: PostgreSQL then walks the (duty_list, code) index in order.
    listed = _list_code(request)
    params: list[Any] = [
        url_prefix,
        zone,
        *([listed] * 2 if listed is not None else []),
        *([after] if after is not None else []),
        page_size + 2,
    ]
    with connection.cursor() as db:
        db.execute(_page_sql(after is not None, listed is not None), params)
        rows = db.fetchall()
    _remember_latest(request, rows)
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
    return _response(next_url, previous_url, [row[1] for row in page])


def _ranked_query(
    q: str, listed: str | None, position: str | None, offset: int, limit: int, ordering: tuple[str, ...]
) -> tuple[str, tuple[Any, ...]] | None:
    """The ORM's statement of a search page's (id, code, rank), best first: ``search.search_revisions``
    over the duties in force (of one list), after the cursor's position and offset, as the ORM path reads
    it; None when the query has nothing searchable in it."""
    from duty_lists.search import search_revisions
    from duty_lists.selectors import revisions_in_force

    queryset = revisions_in_force(with_content=False)
    if listed is not None:  # as DutyFilter.filter_list
        queryset = queryset.filter(
            duty_list_id=Subquery(DutyList.objects.filter(code=listed).values("pk")[:1])
        )
    found = search_revisions(queryset, q)
    if "rank" not in found.query.annotations:
        return None
    if position is not None:  # as paginate_queryset: the rank below the cursor's, then its offset
        found = found.filter(**{ordering[0].lstrip("-") + "__lt": position})
    columns = ("id", "code", "rank")  # a tuple, not literals: the stubs' plugin knows no annotations
    ranked = found.order_by(*ordering).values(*columns)[offset : offset + limit]
    try:
        sql, params = ranked.query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, tuple(params)


@functools.lru_cache(maxsize=256)
def _cached_ranked_query(
    q: str,
    listed: str | None,
    position: str | None,
    offset: int,
    limit: int,
    ordering: tuple[str, ...],
    state: tuple[Any, ...],  # search.search_state(): part of the key, not read
) -> tuple[str, tuple[Any, ...]] | None:
    return _ranked_query(q, listed, position, offset, limit, ordering)


def fast_search_page(request: Request, paginator: Any, url_prefix: str) -> HttpResponse | None:
    """A search page (``?q=``, optionally ``?list=``) as a ready JSON response, or None for the ORM path.

    The ranking is the search's own (``search.search_revisions``, compiled by the ORM); PostgreSQL ranks,
    keeps the page and builds its JSON in the same statement. The links are DRF's: the paginator's own
    ``get_next_link``/``get_previous_link`` over what ``paginate_queryset`` would have set, so a cursor from
    either path reads the same on the other.
    """
    from duty_lists.search import query_terms, search_state

    if not _json_request(request, FAST_SEARCH_PARAMS):
        return None
    page_size = paginator.get_page_size(request)
    cursor = paginator.decode_cursor(request)  # an invalid cursor answers 404, as on the ORM path
    if cursor is not None and cursor.reverse:
        return None
    offset, position = (cursor.offset, cursor.position) if cursor is not None else (0, None)
    listed = _list_code(request)
    q = request.query_params["q"]
    shape = (q, listed, position, offset, page_size + 1, tuple(paginator.ordering))
    # A query of several terms asks the registry whether any duty has them all (search_revisions): its
    # statement depends on the data, so it is compiled afresh. Any other is compiled once per vocabulary
    # and synonym table.
    if len(query_terms(q)) > 1:
        ranked = _ranked_query(*shape)
    else:
        ranked = _cached_ranked_query(*shape, search_state())
    if ranked is None:
        return None  # nothing searchable: the ORM path answers its empty page
    ranked_sql, ranked_params = ranked
    zone = timezone.get_current_timezone_name()
    params = [url_prefix, *ranked_params, zone, *([listed] if listed is not None else [])]
    with connection.cursor() as db:
        db.execute(_search_sql(ranked_sql, listed is not None), params)
        rows = db.fetchall()
    _remember_latest(request, rows)

    # What CursorPagination.paginate_queryset sets for a forward page, from the same rows.
    paginator.request = request
    paginator.page_size = page_size
    paginator.base_url = request.build_absolute_uri()
    paginator.cursor = cursor
    paginator.page = [{"rank": row[0], "code": row[1]} for row in rows[:page_size]]
    paginator.has_next = len(rows) > page_size
    paginator.has_previous = position is not None or offset > 0
    if paginator.has_next:
        paginator.next_position = str(rows[page_size][0])
    if paginator.has_previous:
        paginator.previous_position = position
    return _response(
        paginator.get_next_link(), paginator.get_previous_link(), [row[2] for row in rows[:page_size]]
    )
