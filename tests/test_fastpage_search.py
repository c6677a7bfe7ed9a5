"""Search pages of /api/v1/duties/ built in one PostgreSQL query (fastpage.py) say exactly what the ORM
path says — results, order, cursors — and the conditional GETs work as before on both."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client

from duty_lists.search import invalidate_user_dictionary
from tests.factories import AgencyFactory
from tests.registry import make_list, publish, stage

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def registry(agency_a, agency_b):
    duty_list = make_list("ms")
    stage(duty_list, "01-01-0001", "占道经营", agency_a, keywords=["摆摊", "夜市"])
    stage(duty_list, "01-01-0002", "违章建筑", agency_a, cooperating=(agency_b,))
    stage(duty_list, "01-01-0003", "物业管理纠纷", agency_b, duty_type="cooperative")
    stage(duty_list, "02-01-0001", "噪音扰民", agency_b, classification="02-01", layer="street")
    # Many equal ranks, so that pages end inside a run of them and the cursors need their offsets.
    for i in range(7):
        stage(duty_list, f"02-01-{i + 10:04d}", f"夜间施工噪音{i}", AgencyFactory(), classification="02-01")
    stage(duty_list, "01-01-0010", "小区物业管理服务", agency_a, description="小区噪音和占道的管理")
    publish(duty_list, "首版")
    other = make_list("jd", kind="street")
    stage(other, "01-01-0001", "占道经营（街道）", agency_b)  # the same code in another list
    stage(other, "02-01-0001", "噪音扰民", agency_a, classification="02-01")
    publish(other, "首版")
    invalidate_user_dictionary()
    return duty_list


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import duty_lists.api.duties as duties_module

    served: list[str] = []
    original = duties_module.fast_search_page

    def spy(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        served.append("sql" if response is not None else "orm")
        return response

    monkeypatch.setattr(duties_module, "fast_search_page", spy)
    return served


def _without_format(url: str | None) -> str | None:
    """A link of the ORM path (asked with ``?format=json``, which DRF carries into its links) as the fast
    path writes it."""
    if url is None:
        return None
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "format"])
    return parts._replace(query=query).geturl()


@pytest.mark.parametrize(
    "params",
    [
        {"q": "噪音", "page_size": 3},
        {"q": "噪音", "page_size": 3, "list": "ms"},
        {"q": "占道", "page_size": 1},
        {"q": "物业管理", "page_size": 2},
        {"q": "小区 噪音", "page_size": 2},
        {"q": "夜市 没有的词", "page_size": 2},  # no duty has both: any of them
        {"q": "噪音"},
    ],
)
def test_search_pages_built_in_postgresql_match_the_orm_pages_exactly(
    client: Client, registry: Any, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    served = _spy(monkeypatch)
    fast_url: str | None = f"/api/v1/duties/?{urlencode(params)}"
    orm_url: str | None = f"{fast_url}&format=json"
    pages, seen = 0, []
    while fast_url:
        assert orm_url is not None
        fast_response, orm_response = client.get(fast_url), client.get(orm_url)
        assert fast_response.status_code == orm_response.status_code == 200
        fast, orm = fast_response.json(), orm_response.json()
        assert list(fast) == list(orm) == ["next", "previous", "results"]
        assert fast["results"] == orm["results"]
        assert fast["next"] == _without_format(orm["next"])
        assert fast["previous"] == _without_format(orm["previous"])
        assert not fast_response.has_header("Last-Modified")  # a search is revalidated by ETag alone
        seen += [(d["list"], d["code"]) for d in fast["results"]]
        fast_url, orm_url = fast["next"], orm["next"]
        pages += 1
    assert seen and len(seen) == len(set(seen))  # every hit once, across the pages
    assert set(served) == {"sql", "orm"} and served.count("sql") == pages


def test_a_search_page_is_one_query(client: Client, registry: Any, django_assert_num_queries: Any) -> None:
    client.get("/api/v1/duties/", {"q": "噪音"})  # the process loads the vocabulary and synonyms once
    with django_assert_num_queries(1):
        body = client.get("/api/v1/duties/", {"q": "噪音", "page_size": 2}).json()
    assert body["results"][0]["title"] == "噪音扰民"
    with django_assert_num_queries(1):
        client.get("/api/v1/duties/", {"page_size": 2})  # and so is a plain page


def test_the_best_match_comes_first_on_the_fast_path(client: Client, registry: Any) -> None:
    titles = [d["title"] for d in client.get("/api/v1/duties/", {"q": "物业管理"}).json()["results"]]
    assert titles == ["物业管理纠纷", "小区物业管理服务"]
    codes = [d["code"] for d in client.get("/api/v1/duties/", {"q": "占道", "list": "jd"}).json()["results"]]
    assert codes == ["01-01-0001"]


def test_conditional_gets_answer_304_on_both_paths(client: Client, registry: Any, agency_a: Any) -> None:
    for params in ({"q": "噪音"}, {"list": "ms"}, {}, {"q": "噪音", "format": "json"}):
        first = client.get("/api/v1/duties/", params)
        assert first.status_code == 200 and first["ETag"]
        again = client.get("/api/v1/duties/", params, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304 and again["ETag"] == first["ETag"]
        if "q" not in params:
            assert first["Last-Modified"]
            since = client.get("/api/v1/duties/", params, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
            assert since.status_code == 304
    plain = client.get("/api/v1/duties/", {"list": "ms"})
    orm = client.get("/api/v1/duties/", {"list": "ms", "format": "json"})
    assert plain["Last-Modified"] == orm["Last-Modified"]
    before = client.get("/api/v1/duties/", {"q": "噪音"})
    stage(registry, "02-01-0099", "噪音新事项", agency_a, classification="02-01")
    publish(registry)
    after = client.get("/api/v1/duties/", {"q": "噪音"}, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]


def test_bad_cursors_and_empty_searches_answer_as_before(client: Client, registry: Any) -> None:
    for cursor in ("!!!", base64.b64encode(b"o=x").decode()):
        fast = client.get("/api/v1/duties/", {"q": "噪音", "cursor": cursor})
        orm = client.get("/api/v1/duties/", {"q": "噪音", "cursor": cursor, "format": "json"})
        assert fast.status_code == orm.status_code
        assert fast.json() == orm.json()
    bad = client.get("/api/v1/duties/", {"q": "噪音", "cursor": base64.b64encode(b"o=x").decode()})
    assert bad.status_code == 404 and set(bad.json()) == {"error"}
    empty = client.get("/api/v1/duties/", {"q": "&|!:*"}).json()
    assert empty == {"next": None, "previous": None, "results": []}
    none = client.get("/api/v1/duties/", {"q": "没有这个词"}).json()
    assert none == {"next": None, "previous": None, "results": []}


def test_a_compiled_search_is_kept_only_for_the_vocabulary_it_was_compiled_with(
    client: Client, registry: Any, agency_a: Any
) -> None:
    from duty_lists.search import refresh_user_dictionary, search_state

    assert client.get("/api/v1/duties/", {"q": "共享单车堆积点"}).json()["results"] == []
    before = search_state()
    stage(registry, "01-01-0077", "共享单车堆积点清理", agency_a)
    publish(registry)
    invalidate_user_dictionary()  # what publishing does on commit
    refresh_user_dictionary()
    assert search_state() != before
    found = client.get("/api/v1/duties/", {"q": "共享单车堆积点"}).json()["results"]
    assert [d["code"] for d in found] == ["01-01-0077"]
