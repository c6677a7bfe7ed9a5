"""The registry's REST API: filters, keyset pages, conditional GETs, diffs, and refusals on every write."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import openpyxl
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from duty_lists.models import Amendment, AmendmentState
from tests.factories import AgencyFactory
from tests.registry import make_list, publish, stage


@pytest.fixture
def registry(agency_a, agency_b):
    duty_list = make_list("ms")
    stage(duty_list, "01-01-0001", "占道经营", agency_a, keywords=["摆摊", "夜市"])
    stage(duty_list, "01-01-0002", "违章建筑", agency_a, cooperating=(agency_b,))
    stage(duty_list, "01-01-0003", "物业管理纠纷", agency_b, duty_type="cooperative")
    stage(duty_list, "02-01-0001", "噪音扰民", agency_b, classification="02-01", layer="street")
    publish(duty_list, "首版")
    return duty_list


def _codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [d["code"] for d in response.json()["results"]]


@pytest.mark.django_db
def test_duties_are_public_and_carry_the_four_clarities(client, registry, agency_a, agency_b) -> None:
    duty = client.get("/api/v1/duties/", {"list": "ms"}).json()["results"][1]
    assert duty["code"] == "01-01-0002"
    assert duty["lead"] == {"agency": agency_a.code, "name": agency_a.name, "responsibility": "负责违章建筑"}
    assert duty["cooperating"] == [{"agency": agency_b.code, "name": agency_b.name, "responsibility": "配合"}]
    assert duty["legal_bases"][0]["article"] == "第十四条"
    assert duty["category"] == {"code": "01", "name": "城乡建设"} and duty["edition"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "02"}, ["02-01-0001"]),
        ({"classification": "01-01"}, ["01-01-0001", "01-01-0002", "01-01-0003"]),
        ({"agency": "B-sjj"}, ["01-01-0002", "01-01-0003", "02-01-0001"]),
        ({"lead": "B-sjj"}, ["01-01-0003", "02-01-0001"]),
        ({"duty_type": "cooperative"}, ["01-01-0003"]),
        ({"layer": "street"}, ["02-01-0001"]),
        ({"q": "噪音"}, ["02-01-0001"]),
        ({"q": "占道"}, ["01-01-0001"]),
        ({"q": "夜市"}, ["01-01-0001"]),
    ],
)
def test_duty_filters(client, registry, params, expected) -> None:
    assert _codes(client.get("/api/v1/duties/", {"list": "ms", **params})) == expected


@pytest.mark.django_db
def test_keyset_pages_walk_the_whole_list_once(client, registry) -> None:
    seen: list[str] = []
    url: str | None = "/api/v1/duties/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [d["code"] for d in body["results"]]
        url = body["next"]
    assert seen == ["01-01-0001", "01-01-0002", "01-01-0003", "02-01-0001"]


@pytest.mark.django_db
def test_as_of_and_updated_since(client, registry, agency_a, agency_b) -> None:
    first_published = timezone.now()
    with time_machine.travel(first_published + timedelta(days=10), tick=False):
        stage(registry, "01-01-0001", "占道经营", agency_b)
        publish(registry)
    current = client.get("/api/v1/duties/", {"list": "ms", "lead": agency_b.code})
    assert "01-01-0001" in _codes(current)
    then = client.get(
        "/api/v1/duties/",
        {"list": "ms", "lead": agency_b.code, "as_of": (first_published + timedelta(days=1)).isoformat()},
    )
    assert "01-01-0001" not in _codes(then)
    since = client.get(
        "/api/v1/duties/", {"updated_since": (first_published + timedelta(days=5)).isoformat()}
    )
    assert _codes(since) == ["01-01-0001"]
    bad = client.get("/api/v1/duties/", {"as_of": "yesterday"})
    assert bad.status_code == 400 and "as_of" in bad.json()["error"]["details"]


@pytest.mark.django_db
def test_an_unchanged_list_answers_304(client, registry, agency_a) -> None:
    first = client.get("/api/v1/duties/", {"list": "ms"})
    assert first.status_code == 200 and first["ETag"] and first["Last-Modified"]
    again = client.get("/api/v1/duties/", {"list": "ms"}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    since = client.get("/api/v1/duties/", {"list": "ms"}, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    stage(registry, "01-01-0009", "新增事项", agency_a)
    publish(registry)
    assert client.get("/api/v1/duties/", {"list": "ms"}, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


@pytest.mark.django_db
def test_duty_detail_has_history_and_resolves_codes_across_lists(
    client, registry, agency_a, agency_b
) -> None:
    stage(registry, "01-01-0001", "占道经营", agency_b)
    publish(registry)
    body = client.get("/api/v1/duties/01-01-0001/").json()
    assert body["lead"]["agency"] == agency_b.code
    assert [h["lead"]["agency"] for h in body["history"]] == [agency_b.code, agency_a.code]
    other = make_list("jd", kind="street")
    stage(other, "01-01-0001", "占道经营", agency_a)
    publish(other)
    ambiguous = client.get("/api/v1/duties/01-01-0001/")
    assert ambiguous.status_code == 400 and "list" in ambiguous.json()["error"]["details"]
    assert client.get("/api/v1/duties/01-01-0001/", {"list": "jd"}).json()["list"] == "jd"
    assert client.get("/api/v1/duties/09-09-0009/").status_code == 404


@pytest.mark.django_db
def test_edition_diff_endpoint_flags_the_lead_change(client, registry, agency_b) -> None:
    stage(registry, "01-01-0001", "占道经营", agency_b)
    publish(registry)
    diff = client.get("/api/v1/editions/2/diff/", {"against": 1, "list": "ms"}).json()
    assert diff["changed"][0]["code"] == "01-01-0001" and diff["changed"][0]["lead_changed"] is True
    assert diff["changed"][0]["lead_after"]["agency"] == agency_b.code
    assert diff["added"] == [] and diff["removed"] == []
    first = client.get("/api/v1/editions/1/diff/", {"list": "ms"}).json()
    assert len(first["added"]) == 4 and first["against"] is None


@pytest.mark.django_db
def test_amendment_walk_through_the_api(
    login, registry, member_a, legal_reviewer, officer, agency_a, agency_b
):
    proposal = {
        "classification": "01-01",
        "title": "占道经营",
        "duty_type": "main",
        "layer": "district",
        "participants": [{"agency": agency_b.code, "role": "lead", "responsibility": "查处无照占道经营"}],
    }
    staff = login(member_a)
    created = staff.post(
        "/api/v1/amendments/",
        {
            "list": "ms",
            "kind": "transfer",
            "duty": "01-01-0001",
            "proposing_agency": agency_a.code,
            "justification": "属市场监管",
            "proposal": proposal,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert staff.post(f"/api/v1/amendments/{pk}/submit/").json()["state"] == "legal_review"
    assert (
        login(legal_reviewer).post(f"/api/v1/amendments/{pk}/pass-legal-review/").json()["state"]
        == "joint_review"
    )
    approved = login(officer).post(f"/api/v1/amendments/{pk}/approve/")
    assert approved.json()["state"] == "approved"
    published = login(officer).post(
        "/api/v1/duty-lists/ms/publish/", {"note": "调整"}, content_type="application/json"
    )
    assert published.status_code == 201 and published.json()["number"] == 2
    assert Amendment.objects.get(pk=pk).state == AmendmentState.PUBLISHED
    detail = Client().get(f"/api/v1/amendments/{pk}/").json()  # published: public
    assert [e["action"] for e in detail["events"]][-1] == "publish"


@pytest.mark.django_db
def test_invalid_proposal_is_a_400_with_field_errors_and_nothing_saved(login, registry, member_a, agency_a):
    response = login(member_a).post(
        "/api/v1/amendments/",
        {
            "list": "ms",
            "kind": "add",
            "proposing_agency": agency_a.code,
            "justification": "新增",
            "proposal": {"classification": "09-09", "title": "", "participants": []},
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"classification", "title", "participants"} <= set(details)
    assert not Amendment.objects.exists()


@pytest.mark.django_db
def test_outsiders_are_refused_on_every_write_endpoint(client, login, registry, member_a, member_b, agency_a):
    staff = login(member_a)
    pk = staff.post(
        "/api/v1/amendments/",
        {
            "list": "ms",
            "kind": "remove",
            "duty": "01-01-0003",
            "proposing_agency": agency_a.code,
            "justification": "取消",
        },
        content_type="application/json",
    ).json()["id"]
    writes = [
        (
            "post",
            "/api/v1/amendments/",
            {
                "list": "ms",
                "kind": "remove",
                "duty": "01-01-0003",
                "proposing_agency": agency_a.code,
                "justification": "x",
            },
        ),
        ("patch", f"/api/v1/amendments/{pk}/", {"justification": "改"}),
        ("post", f"/api/v1/amendments/{pk}/submit/", {}),
        ("post", f"/api/v1/amendments/{pk}/pass-legal-review/", {}),
        ("post", f"/api/v1/amendments/{pk}/opinion/", {"agency": agency_a.code, "concurs": True}),
        ("post", f"/api/v1/amendments/{pk}/approve/", {}),
        ("post", f"/api/v1/amendments/{pk}/return/", {"reason": "x"}),
        ("post", f"/api/v1/amendments/{pk}/withdraw/", {"reason": "x"}),
        ("post", "/api/v1/duty-lists/ms/publish/", {}),
    ]
    outsider = login(member_b)
    for method, url, body in writes:
        anonymous = getattr(client, method)(url, body, content_type="application/json")
        assert anonymous.status_code == 401, (url, anonymous.status_code)
        refused = getattr(outsider, method)(url, body, content_type="application/json")
        # another agency's draft is invisible to member_b (404); the rest is forbidden (403)
        assert refused.status_code in {403, 404}, (url, refused.status_code)
        assert refused.json()["error"]["code"] in {"permission_denied", "not_found"}
    assert Amendment.objects.get(pk=pk).state == AmendmentState.DRAFT
    assert Amendment.objects.count() == 1


@pytest.mark.django_db
def test_schema_documents_every_duty_filter(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    names = {p["name"] for p in schema["paths"]["/api/v1/duties/"]["get"]["parameters"]}
    expected = {
        "list",
        "category",
        "classification",
        "agency",
        "lead",
        "duty_type",
        "layer",
        "q",
        "as_of",
        "updated_since",
        "cursor",
        "page_size",
    }
    assert expected <= names


@pytest.mark.django_db
def test_list_page_runs_a_fixed_number_of_queries(client, registry, agency_a, django_assert_max_num_queries):
    def count(page_size: int) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/duties/", {"page_size": page_size}).status_code == 200
        return len(queries)

    small = count(2)
    for i in range(20):
        stage(registry, f"01-01-{i + 10:04d}", f"事项{i}", AgencyFactory())
    publish(registry)
    assert count(20) == small


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_the_whole_list_downloads_in_one_request_with_the_same_filters(client, registry, fmt) -> None:
    response = client.get("/api/v1/duties/export/", {"format": fmt, "list": "ms", "category": "01"})
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if fmt == "json":
        assert [d["code"] for d in json.loads(body)] == ["01-01-0001", "01-01-0002", "01-01-0003"]
    elif fmt == "csv":
        text = body.decode("utf-8-sig")
        assert "01-01-0003" in text and "02-01-0001" not in text
        assert response["Content-Disposition"].startswith("attachment")
    else:
        rows = list(
            openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0].iter_rows(values_only=True)
        )
        codes = {cell for row in rows for cell in row if isinstance(cell, str) and cell.startswith("0")}
        assert {"01-01-0001", "01-01-0003"} <= codes and "02-01-0001" not in codes


@pytest.mark.django_db
def test_export_neutralises_formula_cells(client, agency_a) -> None:
    duty_list = make_list("fx")
    stage(duty_list, "01-01-0001", '=HYPERLINK("http://evil")', agency_a)
    publish(duty_list)
    text = b"".join(client.get("/api/v1/duties/export/", {"format": "csv", "list": "fx"}).streaming_content)
    assert "'=HYPERLINK" in text.decode("utf-8-sig")


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["\x16\U000f1c6a", "&|!:*", "   ", "'); DROP TABLE x; --"])
def test_a_search_with_nothing_searchable_answers_an_empty_page(client, registry, q) -> None:
    response = client.get("/api/v1/duties/", {"q": q, "list": "ms", "page_size": 5})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results == [] if q.strip() else len(results) == 4  # a blank search is no search


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_plain_pages_built_in_postgresql_match_the_orm_pages_exactly(client, registry, agency_b) -> None:
    """``/duties/`` without filters (or with only ``?list=``) is answered by one SQL query that builds the
    JSON (fastpage.py); with ``?format=json`` the ORM builds it. Walked page by page, both must say exactly
    the same."""
    from duty_lists.api import fastpage
    from duty_lists.models import Duty, LegalBasis

    revision = Duty.objects.get(code="01-01-0002").revisions.get()
    LegalBasis.objects.create(revision=revision, title="《物业管理条例》", article="第七条", position=1)
    served: list[str] = []
    original = fastpage.fast_page

    def spy(*args, **kwargs):
        response = original(*args, **kwargs)
        served.append("sql" if response is not None else "orm")
        return response

    fast_url, orm_url = (
        "/api/v1/duties/?page_size=3&list=ms",
        "/api/v1/duties/?page_size=3&format=json&list=ms",
    )
    import duty_lists.api.duties as duties_module

    duties_module.fast_page = spy
    try:
        pages = 0
        while fast_url:
            fast, orm = client.get(fast_url).json(), client.get(orm_url).json()
            assert fast["results"] == orm["results"]
            assert [d["url"] for d in fast["results"]] == [d["url"] for d in orm["results"]]
            assert (fast["next"] is None) == (orm["next"] is None)
            assert (fast["previous"] is None) == (orm["previous"] is None)
            fast_url, orm_url = fast["next"], orm["next"]
            pages += 1
    finally:
        duties_module.fast_page = original
    assert pages == 2
    assert served == ["sql", "orm"] * 2  # the ORM path is asked too, and answers for ?format=
    assert client.get("/api/v1/duties/?list=no-such-list").json()["results"] == []
    first = client.get("/api/v1/duties/").json()["results"][1]
    basis = {"title": "《物业管理条例》", "article": "第七条", "document_number": ""}
    assert first["legal_bases"][-1] == basis
    helper = {"agency": agency_b.code, "name": agency_b.name, "responsibility": "配合"}
    assert first["cooperating"] == [helper]
