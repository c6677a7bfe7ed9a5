"""The published list as linked data: CPSV-AP JSON-LD read back by a JSON-LD processor (pyld), triple by
triple, with the network refused — the @context is inline, so expanding it must never fetch anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pyld import jsonld

from duty_lists import linked_data
from duty_lists.models import DutyList
from duty_lists.proposals import DutyContent, LegalBasisSpec, ParticipantSpec
from duty_lists.services import revision_stage
from tests.factories import AgencyFactory
from tests.registry import make_list, publish, stage

pytestmark = pytest.mark.django_db

SITE = "http://testserver"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"
CPSV = "http://purl.org/vocab/cpsv#"
CV = "http://data.europa.eu/m8g/"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
ORG = "http://www.w3.org/ns/org#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
ELI = "http://data.europa.eu/eli/ontology#"
SHANGHAI = ZoneInfo("Asia/Shanghai")

Triple = tuple[str, str, Any]


def _refuse_network(url: str, options: Any = None) -> Any:
    raise AssertionError(f"the JSON-LD processor tried to fetch {url}")


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Every pyld call in these tests, even one that forgot the option, has only this loader."""
    previous = jsonld.get_document_loader()
    jsonld.set_document_loader(_refuse_network)
    yield
    jsonld.set_document_loader(previous)


def triples(document: dict[str, Any]) -> set[Triple]:
    """The document's RDF, as (subject, predicate, object): an IRI or blank node is its string; a literal is
    (value, language) or (value, datatype)."""
    dataset = jsonld.to_rdf(document, {"documentLoader": _refuse_network})
    out: set[Triple] = set()
    for quad in dataset["@default"]:
        obj = quad["object"]
        if obj["type"] == "literal":
            value: Any = (obj["value"], obj.get("language") or obj["datatype"])
        else:
            value = obj["value"]
        out.add((quad["subject"]["value"], quad["predicate"]["value"], value))
    return out


def objects(graph: set[Triple], subject: str, predicate: str) -> set[Any]:
    return {o for s, p, o in graph if s == subject and p == predicate}


def zh(text: str) -> tuple[str, str]:
    return (text, "zh-hans")  # pyld writes language tags in lower case


@pytest.fixture
def agencies() -> dict[str, Any]:
    city = AgencyFactory(code="C-szf", name="市人民政府", short_name="市政府", level="city")
    lead = AgencyFactory(code="A-zhzf", name="区综合执法局", short_name="区执法局", parent=city)
    partner = AgencyFactory(code="B-sjj", name="区市场监督管理局", short_name="区市监局", parent=city)
    return {"city": city, "lead": lead, "partner": partner}


@pytest.fixture
def published(agencies: dict[str, Any]) -> DutyList:
    """Edition 1 (2026-03-01) has two duties; edition 2 (2026-04-01) removes the second."""
    duty_list = make_list("ms")
    content = DutyContent(
        classification="01-01",
        title="占道经营",
        description="查处占用城市道路摆摊经营",
        keywords=["摆摊", "夜市"],
        synonyms=["流动摊贩"],
        participants=[
            ParticipantSpec(agencies["lead"].code, "lead", "负责查处占道经营"),
            ParticipantSpec(agencies["partner"].code, "cooperating", "配合查处无照经营"),
        ],
        legal_bases=[LegalBasisSpec("《城市市容和环境卫生管理条例》", "第十四条", "国务院令第101号")],
    )
    revision_stage(duty_list=duty_list, code="01-01-0001", content=content, source_ref="test")
    stage(duty_list, "01-01-0002", "乱扔垃圾", agencies["lead"])
    with time_machine.travel(datetime(2026, 3, 1, 9, 30, tzinfo=SHANGHAI), tick=False):
        publish(duty_list, "首版")
    revision_stage(duty_list=duty_list, code="01-01-0002", content=None, source_ref="test")
    with time_machine.travel(datetime(2026, 4, 1, 10, 0, tzinfo=SHANGHAI), tick=False):
        publish(duty_list, "撤销乱扔垃圾")
    return duty_list


def _get(client: Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/ld+json")
    document: dict[str, Any] = response.json()
    return document


LIST_DOC = "/api/v1/duty-lists/ms/linked-data/"
DUTY = f"{SITE}/duty-lists/ms/duties/01-01-0001/"
REMOVED = f"{SITE}/duty-lists/ms/duties/01-01-0002/"
LEAD = f"{SITE}/api/v1/agencies/A-zhzf/"
PARTNER = f"{SITE}/api/v1/agencies/B-sjj/"
CITY = f"{SITE}/api/v1/agencies/C-szf/"


def test_each_duty_in_force_is_a_public_service_with_its_code_title_and_keywords(client, published) -> None:
    document = _get(client, LIST_DOC)
    assert isinstance(document["@context"], dict)  # inline: nothing for a processor to fetch
    graph = triples(document)
    assert (DUTY, RDF_TYPE, CPSV + "PublicService") in graph
    assert objects(graph, DUTY, DCT + "identifier") == {
        ("01-01-0001", XSD + "string"),
        ("ms/01-01-0001", XSD + "string"),
    }
    assert objects(graph, DUTY, DCT + "title") == {zh("占道经营")}
    assert objects(graph, DUTY, DCT + "description") == {zh("查处占用城市道路摆摊经营")}
    assert objects(graph, DUTY, DCAT + "keyword") == {zh("摆摊"), zh("夜市"), zh("流动摊贩")}


def test_the_competent_authority_is_the_lead_agency_an_organization_with_its_name(client, published) -> None:
    graph = triples(_get(client, LIST_DOC))
    assert objects(graph, DUTY, CV + "hasCompetentAuthority") == {LEAD}
    assert {ORG + "Organization", CV + "PublicOrganisation"} <= objects(graph, LEAD, RDF_TYPE)
    assert objects(graph, LEAD, SKOS + "prefLabel") == {zh("区综合执法局")}
    assert objects(graph, LEAD, SKOS + "altLabel") == {zh("区执法局")}
    assert objects(graph, LEAD, ORG + "identifier") == {("A-zhzf", XSD + "string")}
    # Its parent is in the document too, so the hierarchy can be followed without another request.
    assert objects(graph, LEAD, ORG + "subOrganizationOf") == {CITY}
    assert objects(graph, CITY, SKOS + "prefLabel") == {zh("市人民政府")}
    assert objects(graph, CITY, ORG + "classification") == {
        f"{SITE}/agencies/#level-city",
        f"{SITE}/agencies/#kind-government",
    }


def test_lead_and_cooperating_agencies_participate_with_their_roles_and_responsibilities(
    client, published
) -> None:
    graph = triples(_get(client, LIST_DOC))
    parts = {
        next(iter(objects(graph, p, CV + "role"))).rsplit("#", 1)[1]: p
        for p in objects(graph, DUTY, CV + "hasParticipation")
    }
    assert set(parts) == {"role-lead", "role-cooperating"}
    cooperating = parts["role-cooperating"]
    assert (cooperating, RDF_TYPE, CV + "Participation") in graph
    assert objects(graph, cooperating, CV + "hasParticipant") == {PARTNER}
    assert objects(graph, cooperating, DCT + "description") == {zh("配合查处无照经营")}
    assert objects(graph, parts["role-lead"], CV + "hasParticipant") == {LEAD}
    assert objects(graph, PARTNER, SKOS + "prefLabel") == {zh("区市场监督管理局")}
    role = f"{SITE}/duty-lists/#role-cooperating"
    assert objects(graph, role, SKOS + "prefLabel") == {zh("配合"), ("Cooperating", "en")}


def test_the_legal_basis_is_an_article_of_an_eli_legal_resource(client, published) -> None:
    graph = triples(_get(client, LIST_DOC))
    (article,) = objects(graph, DUTY, CV + "hasLegalResource")
    assert ELI + "LegalResourceSubdivision" in objects(graph, article, RDF_TYPE)
    assert objects(graph, article, ELI + "number") == {("第十四条", XSD + "string")}
    (law,) = objects(graph, article, ELI + "is_part_of")
    assert (law, RDF_TYPE, ELI + "LegalResource") in graph
    assert objects(graph, law, ELI + "title") == {zh("《城市市容和环境卫生管理条例》")}
    assert objects(graph, law, ELI + "id_local") == {("国务院令第101号", XSD + "string")}


def test_category_and_classification_are_skos_concepts_of_the_lists_scheme(client, published) -> None:
    graph = triples(_get(client, LIST_DOC))
    (classification,) = objects(graph, DUTY, CV + "thematicArea")
    assert classification == f"{SITE}/duty-lists/ms/#classification-01-01"
    assert (classification, RDF_TYPE, SKOS + "Concept") in graph
    assert objects(graph, classification, SKOS + "prefLabel") == {zh("城市管理")}
    (category,) = objects(graph, classification, SKOS + "broader")
    assert objects(graph, category, SKOS + "prefLabel") == {zh("城乡建设")}
    assert objects(graph, category, SKOS + "notation") == {("01", XSD + "string")}
    types = objects(graph, DUTY, CV + "isClassifiedBy")
    assert types == {f"{SITE}/duty-lists/#duty-type-main"}


def test_the_edition_is_a_dataset_of_the_lists_series_published_at_shanghai_time(client, published) -> None:
    graph = triples(_get(client, LIST_DOC))
    edition = f"{SITE}/duty-lists/ms/editions/2/"
    assert objects(graph, DUTY, DCT + "isPartOf") == {edition}
    assert (edition, RDF_TYPE, DCAT + "Dataset") in graph
    assert objects(graph, edition, DCAT + "version") == {("2", XSD + "string")}
    assert objects(graph, edition, DCT + "issued") == {("2026-04-01T10:00:00+08:00", XSD + "dateTime")}
    assert objects(graph, edition, DCAT + "inSeries") == {f"{SITE}/duty-lists/ms/"}
    assert (f"{SITE}/duty-lists/ms/", RDF_TYPE, DCAT + "DatasetSeries") in graph


def test_a_duty_removed_by_a_later_edition_is_absent_but_an_older_edition_still_has_it(
    client, published
) -> None:
    subjects = {s for s, _p, _o in triples(_get(client, LIST_DOC))}
    assert DUTY in subjects and REMOVED not in subjects

    for params in ({"edition": 1}, {"as_of": "2026-03-15"}):
        graph = triples(_get(client, LIST_DOC, **params))
        assert (REMOVED, RDF_TYPE, CPSV + "PublicService") in graph, params
        assert objects(graph, DUTY, DCT + "isPartOf") == {f"{SITE}/duty-lists/ms/editions/1/"}


def test_json_is_the_same_document_when_asked_for(client, published) -> None:
    as_json = client.get(LIST_DOC, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200
    assert as_json["Content-Type"] == "application/json"
    assert as_json.json() == _get(client, LIST_DOC)


def test_unknown_lists_and_editions_are_404s_in_the_error_shape(client, published) -> None:
    for path, params in (
        ("/api/v1/duty-lists/nope/linked-data/", {}),
        (LIST_DOC, {"edition": 9}),
        (LIST_DOC, {"edition": 10**12}),  # beyond the column's range: still "no such edition"
        (LIST_DOC, {"as_of": "2020-01-01"}),
    ):
        response = client.get(path, params)
        assert response.status_code == 404, (path, params)
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["message"]
    refused: list[tuple[dict[str, Any], str]] = [
        ({"edition": 1, "as_of": "2026-03-15"}, "as_of"),
        ({"edition": "first"}, "edition"),
        ({"as_of": "March"}, "as_of"),
    ]
    for bad, field in refused:
        response = client.get(LIST_DOC, bad)
        assert response.status_code == 400, bad
        assert set(response.json()["error"]["details"]) == {field}


def test_a_list_never_published_has_no_linked_data(client) -> None:
    make_list("draft")
    assert client.get("/api/v1/duty-lists/draft/linked-data/").status_code == 404


def test_the_download_is_a_jsonld_file_named_after_the_list_and_edition(client, published) -> None:
    response = client.get(LIST_DOC, {"download": "1"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="ms-edition-2.jsonld"'
    assert response["Content-Type"] == "application/ld+json; charset=utf-8"
    assert "占道经营" in response.content.decode("utf-8")  # Chinese as itself, not \\u escapes
    older = client.get(LIST_DOC, {"download": "1", "edition": "1"})
    assert older["Content-Disposition"] == 'attachment; filename="ms-edition-1.jsonld"'


def test_the_command_writes_the_same_file_as_the_download(client, published, tmp_path: Path) -> None:
    path = tmp_path / "ms.jsonld"
    call_command("export_linked_data", "ms", "--output", str(path), "--base-url", SITE, stdout=None)
    assert path.read_bytes() == client.get(LIST_DOC, {"download": "1"}).content
    older = tmp_path / "ms-1.jsonld"
    call_command("export_linked_data", "ms", "-o", str(older), "--edition", "1", "--base-url", SITE)
    assert older.read_bytes() == client.get(LIST_DOC, {"download": "1", "edition": "1"}).content


def test_the_command_refuses_without_a_site_address_or_a_list(published, settings) -> None:
    with pytest.raises(CommandError, match="base-url"):
        call_command("export_linked_data", "ms")
    settings.SITE_URL = SITE
    with pytest.raises(CommandError, match="nope"):
        call_command("export_linked_data", "nope")
    with pytest.raises(CommandError):
        call_command("export_linked_data", "ms", "--edition", "9")


def test_the_agency_directory_as_w3c_org(client, agencies) -> None:
    retired = AgencyFactory(code="Z-old", name="原区城管局", is_active=False)
    document = _get(client, "/api/v1/agencies/linked-data/")
    graph = triples(document)
    for agency in (*agencies.values(), retired):
        iri = f"{SITE}/api/v1/agencies/{agency.code}/"
        assert (iri, RDF_TYPE, ORG + "Organization") in graph
        assert objects(graph, iri, SKOS + "prefLabel") == {zh(agency.name)}
    assert objects(graph, PARTNER, ORG + "subOrganizationOf") == {CITY}
    city_level = f"{SITE}/agencies/#level-city"
    assert city_level in objects(graph, CITY, ORG + "classification")
    assert objects(graph, city_level, SKOS + "prefLabel") == {zh("市级"), ("City", "en")}
    download = client.get("/api/v1/agencies/linked-data/", {"download": "true"})
    assert download["Content-Disposition"] == 'attachment; filename="agencies.jsonld"'


def test_the_schema_documents_both_endpoints_as_json_ld(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/duty-lists/{code}/linked-data/"]["get"]
    assert "application/ld+json" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"edition", "as_of", "download"}
    assert operation["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert (
        "application/ld+json"
        in (schema["paths"]["/api/v1/agencies/linked-data/"]["get"]["responses"]["200"]["content"])
    )


def test_the_list_page_links_to_the_linked_data_file(client, published) -> None:
    page = client.get("/duty-lists/ms/").content.decode()
    assert f'href="{LIST_DOC}?download=1"' in page


def test_the_document_costs_the_same_queries_however_many_duties(agencies) -> None:
    counts = []
    for code, size in (("small", 1), ("large", 6)):
        duty_list = make_list(code)
        for i in range(size):
            lead = agencies["lead"] if i % 2 else agencies["partner"]
            stage(duty_list, f"01-01-{i:04d}", f"职责{i}", lead, cooperating=(agencies["city"],))
        publish(duty_list)
        with CaptureQueriesContext(connection) as queries:
            linked_data.duty_list_document(linked_data.edition_for(duty_list), base_url=SITE)
        counts.append(len(queries))
    assert counts[0] == counts[1]
