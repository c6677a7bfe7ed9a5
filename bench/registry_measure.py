"""What bench/registry.py times: pages, searches and their raw SQL, in-process and over HTTP."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    Timing,
)
from bench.registry_base import (
    LIST_CODE,
    MIN_SAMPLES,
    PAGE,
    PAIRED_FACTOR,
    PREVIOUS_VECTOR,
    ROOT,
    SCENARIO_SECONDS,
    SEARCHES,
    STORED_VECTOR,
    registry_size,
)
from bench.registry_build import (
    BuildReport,
)


def drf_cursor(position: str) -> str:
    """The ``cursor`` parameter DRF's CursorPagination writes for "after ``position``" (its encode_cursor:
    base64 of the query string ``p=<position>``)."""
    return base64.b64encode(urlencode({"p": position}).encode("ascii")).decode("ascii")


def url(**params: Any) -> str:
    return f"{PAGE}?{urlencode(params)}" if params else PAGE


def repeat(call: Callable[[], Any], requests: int, warmup: int) -> Timing:
    """``requests`` timed calls after ``warmup`` untimed ones; a slow scenario stops once it has spent
    SCENARIO_SECONDS and has MIN_SAMPLES, so that one slow page cannot stretch a run to many minutes."""
    for _ in range(warmup):
        call()
    samples: list[float] = []
    budget_ends = time.perf_counter() + SCENARIO_SECONDS
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
        if started > budget_ends and len(samples) >= MIN_SAMPLES:
            break
    return Timing(samples)


class InProcess:
    """Requests through Django's whole stack (middleware, view, rendering) minus the HTTP server.

    Timed requests go to the WSGI application itself, called as gunicorn calls it (an environ in, the
    body iterated and closed): Django's test ``Client`` adds instrumentation no served request pays
    (template and exception signals, a copy of the request on the response, its cookie jar), some 0.3 ms
    a request. The client is kept for what needs a response object (reading JSON, counting queries)."""

    def __init__(self) -> None:
        from django.test import Client

        # What gunicorn imports: whatever the WSGI module sets up for a serving process applies here too.
        from config.wsgi import application

        self.client = Client()
        self.application = application

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {response.content[:300]!r}")
        return response

    def served(self, path: str) -> bytes:
        """``path`` as the WSGI server would serve it: the body's bytes."""
        import io
        from urllib.parse import urlsplit

        parts = urlsplit(path)
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None, /) -> Callable[[bytes], object]:
            statuses.append(status)
            return lambda data: None

        body = self.application(environ, start_response)
        try:
            content = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if not statuses or not statuses[0].startswith("200"):
            raise SystemExit(f"GET {path} answered {statuses[:1]}: {content[:300]!r}")
        return content

    def timing(self, path: str, requests: int, warmup: int = 20) -> Timing:
        return repeat(lambda: self.served(path), requests, warmup)

    def queries(self, path: str) -> list[str]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            self.get(path)
        return [query["sql"] for query in captured.captured_queries]


def raw_timing(statements: list[str], requests: int, warmup: int = 20) -> Timing:
    """The same SQL, sent by a bare psycopg2 cursor and fetched: what the database and driver cost."""
    cursor = _bare_cursor()

    def run() -> None:
        for statement in statements:
            cursor.execute(statement)
            cursor.fetchall()

    try:
        return repeat(run, requests, warmup)
    finally:
        cursor.close()


def _bare_cursor() -> Any:
    """A psycopg2 cursor on the very connection (the same session and server process) the requests use."""
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.cursor()


def paired_timing(
    client: InProcess, path: str, statements: list[str], pairs: int, warmup: int = 20
) -> tuple[Timing, Timing]:
    """The request and its raw SQL timed in turns, ``pairs`` times each, on the same connection: whatever
    else the machine does at that moment (its load drifts over a run) falls on both alike, so their ratio
    measures the request path and not the moment each was timed at. Which of the two goes first alternates,
    so that neither always finds the other's pages freshly in cache."""
    cursor = _bare_cursor()

    def run_sql() -> None:
        for statement in statements:
            cursor.execute(statement)
            cursor.fetchall()

    def timed(call: Callable[[], Any], samples: list[float]) -> None:
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)

    try:
        for _ in range(warmup):
            client.served(path)
            run_sql()
        page: list[float] = []
        raw: list[float] = []
        budget_ends = time.perf_counter() + 2 * SCENARIO_SECONDS
        for i in range(pairs):
            if i % 2:
                timed(run_sql, raw)
                timed(lambda: client.served(path), page)
            else:
                timed(lambda: client.served(path), page)
                timed(run_sql, raw)
            if time.perf_counter() > budget_ends and len(page) >= MIN_SAMPLES:
                break
        return Timing(page), Timing(raw)
    finally:
        cursor.close()


DATA_TABLES = ('"duty_lists_dutyrevision"', '"duty_lists_participation"', '"duty_lists_legalbasis"')


def data_statements(statements: list[str]) -> list[str]:
    """The queries that fetch the rows shown (the page, its participations, its legal bases), without the
    conditional-GET query that asks when the list last changed."""
    return [
        s for s in statements if s.startswith("SELECT") and s.split(" FROM ", 1)[1].startswith(DATA_TABLES)
    ]


def explain(statement: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
        return "\n".join(row[0] for row in cursor.fetchall())


def deep_position(fraction: float) -> tuple[str, str]:
    """The code after which the page ``fraction`` deep starts, and the code that page must start with."""
    from duty_lists.selectors import revisions_in_force

    codes = revisions_in_force(with_content=False).order_by("code").values_list("code", flat=True)
    index = int(codes.count() * fraction)
    before, first = list(codes[index - 1 : index + 1])
    return before, first


@dataclass
class HttpServer:
    """gunicorn, one sync worker, on a free loopback port: the HTTP parsing and socket work in-process
    requests skip. Started and stopped by the benchmark itself."""

    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls) -> HttpServer:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        gunicorn = Path(sys.executable).parent / "gunicorn"
        process = subprocess.Popen(
            [
                str(gunicorn),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
        )
        server = cls(process, port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                server.get("/api/v1/")
                return server
            except OSError:
                time.sleep(0.2)
        server.stop()
        raise SystemExit("gunicorn did not answer on loopback within 30 s")

    def get(self, path: str) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"HTTP GET {path} answered {response.status}")
            return body
        finally:
            connection.close()

    def timing(self, path: str, requests: int, warmup: int = 20) -> Timing:
        return repeat(lambda: self.get(path), requests, warmup)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Results:
    duties: int
    requests: int
    first: Timing
    deep: Timing
    listed: Timing  # first page with ?list=
    raw: Timing
    raw_statements: int
    deep_raw: Timing
    searches: dict[str, Timing]
    search_raw: Timing  # the search statement of q=噪音 as the product sends it, replayed
    search_previous_raw: Timing  # the same statement recomputing the vector (the previous code path)
    search_hits: dict[str, int]
    vocabulary_seconds: float  # the words worked out again from the registry (once per edition) and stored
    fresh_process_seconds: float  # the first search of a new process, which reads the stored words
    edition_search_ms: float  # the first search after an edition, answered with the vocabulary in place
    edition_reload_seconds: float  # until the new vocabulary was loaded beside it
    page_queries: dict[int, int]
    search_queries: dict[int, int]
    http: dict[str, Timing]
    build: BuildReport | None
    plans: dict[str, str]

    @property
    def search_all(self) -> Timing:
        return Timing([s for timing in self.searches.values() for s in timing.samples])


def search_hits(q: str) -> int:
    from duty_lists.search import search_revisions
    from duty_lists.selectors import revisions_in_force

    return search_revisions(revisions_in_force(with_content=False), q).count()


FRESH_PROCESS = """
import sys, time
sys.path.insert(0, {root!r})
import django
django.setup()
import config.wsgi  # what a serving process imports
from django.test import Client
from duty_lists import search
search._jieba()  # jieba's own dictionary, loaded by any process that segments (0.2 s), not the registry's
started = time.perf_counter()
response = Client().get({path!r})
assert response.status_code == 200, response.status_code
print(time.perf_counter() - started)
"""


def warm_queries(client: InProcess, path: str) -> list[str]:
    """The queries of a request after the same one warmed the process: a once-a-process load or a check
    every few minutes (the synonyms, the vocabulary's stamp) is not a cost of the page size."""
    client.get(path)
    return client.queries(path)


def fresh_process_search_seconds(path: str) -> float:
    """The first search in a new Python process (this benchmark's settings and database), timed inside it:
    it finds the registry's words stored and reads them, instead of reading every duty in force."""
    script = FRESH_PROCESS.format(root=str(ROOT), path=path)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=os.environ.copy()
    )
    return float(done.stdout.strip().splitlines()[-1])


def measure(requests: int, *, over_http: bool, build_report: BuildReport | None) -> Results:
    from duty_lists import search

    client = InProcess()
    count = registry_size() or 0
    before, first_code = deep_position(0.95)
    deep_path = url(cursor=drf_cursor(before))
    landed = client.get(deep_path).json()["results"][0]["code"]
    if landed != first_code:
        raise SystemExit(
            f"The deep cursor landed on {landed}, not {first_code}: DRF's cursor format changed?"
        )

    print("  first page, deep page, ?list= page …", flush=True)
    page_statements = client.queries(PAGE)
    deep_statements = client.queries(deep_path)
    # The first page and its raw SQL in turns (their ratio is a target), with more samples than the rest.
    first, raw = paired_timing(client, PAGE, data_statements(page_statements), PAIRED_FACTOR * requests)
    deep = client.timing(deep_path, requests)
    listed = client.timing(url(list=LIST_CODE), requests)
    deep_raw = raw_timing(data_statements(deep_statements), requests)
    page_queries = {size: len(warm_queries(client, url(page_size=size))) for size in (10, 50, 200)}

    print("  searches …", flush=True)
    search._jieba()  # loaded once per process; what is timed next is the registry's vocabulary
    search.invalidate_user_dictionary()
    started = time.perf_counter()
    client.get(url(q=SEARCHES[0]))
    vocabulary_seconds = time.perf_counter() - started
    # An edition published: the vocabulary in place answers while a thread loads the new one beside it.
    search.invalidate_user_dictionary()
    started = time.perf_counter()
    client.get(url(q=SEARCHES[0]))
    edition_search_ms = (time.perf_counter() - started) * 1000
    while search._user_dictionary.reloading:
        time.sleep(0.01)
    edition_reload_seconds = time.perf_counter() - started
    searches = {q: client.timing(url(q=q), requests // 2) for q in SEARCHES}
    ranked = next(s for s in client.queries(url(q=SEARCHES[0])) if "ts_rank" in s)
    if STORED_VECTOR not in ranked:
        raise SystemExit(
            "The search statement does not read the stored vector: has duty_lists/search.py changed?"
        )
    search_raw = raw_timing([ranked], requests // 2)
    search_previous_raw = raw_timing([ranked.replace(STORED_VECTOR, PREVIOUS_VECTOR)], requests // 2)
    search_queries = {
        size: len(warm_queries(client, url(q="物业管理", page_size=size))) for size in (10, 50, 200)
    }
    plans = {
        "first page": explain(data_statements(page_statements)[0]),
        "deep page": explain(data_statements(deep_statements)[0]),
        "search 噪音": explain(next(s for s in client.queries(url(q="噪音")) if "ts_rank" in s)),
    }

    http: dict[str, Timing] = {}
    if over_http:
        print("  the same over HTTP (gunicorn on loopback) …", flush=True)
        server = HttpServer.start()
        try:
            http["first page"] = server.timing(PAGE, requests)
            http["deep page"] = server.timing(deep_path, requests)
            http[f"search {SEARCHES[2]}"] = server.timing(url(q=SEARCHES[2]), requests // 2)
        finally:
            server.stop()
    return Results(
        duties=count,
        requests=requests,
        first=first,
        deep=deep,
        listed=listed,
        raw=raw,
        raw_statements=len(data_statements(page_statements)),
        deep_raw=deep_raw,
        searches=searches,
        search_raw=search_raw,
        search_previous_raw=search_previous_raw,
        search_hits={q: search_hits(q) for q in SEARCHES},
        vocabulary_seconds=vocabulary_seconds,
        fresh_process_seconds=fresh_process_search_seconds(url(q=SEARCHES[0])),
        edition_search_ms=edition_search_ms,
        edition_reload_seconds=edition_reload_seconds,
        page_queries=page_queries,
        search_queries=search_queries,
        http=http,
        build=build_report,
        plans=plans,
    )
