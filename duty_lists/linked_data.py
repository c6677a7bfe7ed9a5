"""The published duty list as linked data: CPSV-AP 3 JSON-LD, with the agencies in W3C ORG.

One edition of a list is one document (an ``@graph``): the list as a ``dcat:DatasetSeries``, the edition as
a ``dcat:Dataset`` in it, the list's categories and classifications as a SKOS concept scheme, every duty in
force as a ``cpsv:PublicService``, its legal bases as ELI legal resources, and the agencies it names (with
their parents) as ``org:Organization``. The API endpoint, the downloaded file and ``manage.py
export_linked_data`` all call ``duty_list_document``, so they give the same document.

IRIs are the site's own pages, so a person who follows one lands on it: a duty is its page
(``/duty-lists/<list>/duties/<code>/``), a list and an edition theirs; an agency, which has no page of its
own, is its API entry (``/api/v1/agencies/<code>/``). Concepts are fragments of the page that shows them:
a list's categories of the list's page, duty types and roles of the duty-list index, agency levels and
kinds of the agency directory.

The ``@context`` is written out in full, never a remote URL: a consumer expands the document without a
network, and a context we do not control cannot change what our data says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from core.api.times import api_datetime
from core.errors import ApplicationError
from duty_lists import selectors
from duty_lists.models import (
    Agency,
    AgencyKind,
    AgencyLevel,
    Category,
    Classification,
    DutyList,
    DutyRevision,
    DutyType,
    Edition,
    LegalBasis,
    Participation,
    ParticipationRole,
    ServiceKind,
)

MEDIA_TYPE = "application/ld+json"

CONTEXT: dict[str, Any] = {
    "@version": 1.1,
    "cpsv": "http://purl.org/vocab/cpsv#",
    "cv": "http://data.europa.eu/m8g/",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "org": "http://www.w3.org/ns/org#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "eli": "http://data.europa.eu/eli/ontology#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    # Chinese first: a plain string is Simplified Chinese unless its property says otherwise below.
    "@language": "zh-Hans",
    # Codes and numbers are not text in a language.
    "dct:identifier": {"@language": None},
    "org:identifier": {"@language": None},
    "skos:notation": {"@language": None},
    "dcat:version": {"@language": None},
    "eli:id_local": {"@language": None},
    "eli:number": {"@language": None},
    # Labels of concepts carry Chinese and English; an agency's name is Chinese only.
    "skos:prefLabel": {"@container": "@language"},
    "skos:altLabel": {"@container": "@language"},
    "dct:issued": {"@type": "xsd:dateTime"},
    "dct:valid": {"@type": "xsd:date"},
    **{
        link: {"@type": "@id"}
        for link in (
            "cv:hasCompetentAuthority",
            "cv:hasParticipant",
            "cv:role",
            "cv:hasLegalResource",
            "cv:thematicArea",
            "cv:isClassifiedBy",
            "dct:isPartOf",
            "dct:publisher",
            "dcat:inSeries",
            "org:subOrganizationOf",
            "org:classification",
            "skos:inScheme",
            "skos:topConceptOf",
            "skos:broader",
            "eli:is_part_of",
            "rdfs:seeAlso",
        )
    },
}


class NoEdition(ApplicationError):
    """The list has no edition to export: none published yet, or none by that number or at that date."""

    status_code = 404
    default_code = "not_found"


def edition_for(duty_list: DutyList, *, number: int | None = None, as_of: datetime | None = None) -> Edition:
    """The edition the export shows: the one numbered ``number``, the one in force at ``as_of``, or the
    latest. The duties in force at any moment are exactly those its latest edition published (a change
    reaches readers only through an edition), so an edition alone decides the document."""
    editions = selectors.editions_of(duty_list).select_related("duty_list__owner")
    if number is not None:
        edition = editions.filter(number=number).first()
        if edition is None:
            raise NoEdition(_("No edition %(n)d in this list.") % {"n": number})
        return edition
    if as_of is not None:
        editions = editions.filter(published_at__lte=as_of)
    edition = editions.first()
    if edition is None:
        raise NoEdition(_("No edition of the list %(code)s was in force then.") % {"code": duty_list.code})
    return edition


def to_json(document: dict[str, Any]) -> str:
    """The document as a file: UTF-8 Chinese, indented, ending in a newline — the same bytes whether
    downloaded from the API or written by the command."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def filename(edition: Edition) -> str:
    return f"{edition.duty_list.code}-edition-{edition.number}.jsonld"


class Iris:
    """Absolute IRIs on one site: ``base`` is its scheme and host (``https://zhize.example.gov.cn``); the
    paths come from the URL configuration, so they follow it if it moves."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.duty_index = self.base + reverse("duty_lists:index")
        self.agency_index = self.base + reverse("agency_list")
        self._lists: dict[str, str] = {}
        self._agencies: dict[str, str] = {}

    def duty_list(self, code: str) -> str:
        if code not in self._lists:
            self._lists[code] = self.base + reverse("duty_lists:list_detail", args=[code])
        return self._lists[code]

    def edition(self, code: str, number: int) -> str:
        return self.base + reverse("duty_lists:edition_detail", args=[code, number])

    def duty(self, list_code: str, code: str) -> str:
        return self.base + reverse("duty_lists:duty_detail", args=[list_code, code])

    def duty_api(self, list_code: str, code: str) -> str:
        path = reverse("api:duty_detail", args=[code])
        return f"{self.base}{path}?{urlencode({'list': list_code})}"

    def agency(self, code: str) -> str:
        # Asked for again and again (every participation, every parent): reversed once each.
        if code not in self._agencies:
            self._agencies[code] = self.base + reverse("api:agency_detail", args=[code])
        return self._agencies[code]

    def in_list(self, list_code: str, kind: str, code: str) -> str:
        return f"{self.duty_list(list_code)}#{kind}-{quote(code, safe='')}"

    def duty_vocabulary(self, kind: str, value: str) -> str:
        return f"{self.duty_index}#{kind}-{value}"

    def agency_vocabulary(self, kind: str, value: str) -> str:
        return f"{self.agency_index}#{kind}-{value}"


def _labels(label: Any) -> dict[str, str]:
    """A choice's label in Chinese and in English (its msgid)."""
    with translation.override("zh-hans"):
        zh = str(label)
    with translation.override("en"):
        en = str(label)
    return {"zh-Hans": zh, "en": en}


def _concept(iri: str, scheme: str, notation: str, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "@id": iri,
        "@type": "skos:Concept",
        "skos:inScheme": scheme,
        "skos:notation": notation,
        "skos:prefLabel": labels,
        **extra,
    }


def _vocabulary(
    scheme: str, title: dict[str, str], concepts: Iterable[tuple[str, str, Any]]
) -> list[dict[str, Any]]:
    """A small controlled vocabulary of ours (duty types, roles, agency levels): the scheme and its
    concepts, each given as (IRI, code, label)."""
    nodes: list[dict[str, Any]] = [{"@id": scheme, "@type": "skos:ConceptScheme", "skos:prefLabel": title}]
    for iri, code, label in concepts:
        nodes.append(_concept(iri, scheme, code, _labels(label), **{"skos:topConceptOf": scheme}))
    return nodes


def _field_title(model: type[models.Model], name: str) -> dict[str, str]:
    """A scheme named after the model field its codes fill ("duty type" → 职责类型 / Duty type)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return _labels(capfirst(field.verbose_name))


def _duty_vocabularies(iris: Iris) -> list[dict[str, Any]]:
    v = iris.duty_vocabulary
    return [
        *_vocabulary(
            v("scheme", "duty-types"),
            _field_title(DutyRevision, "duty_type"),
            ((v("duty-type", c.value), c.value, c.label) for c in DutyType),
        ),
        *_vocabulary(
            v("scheme", "service-kinds"),
            _field_title(DutyRevision, "service_kind"),
            ((v("service-kind", c.value), c.value, c.label) for c in ServiceKind),
        ),
        *_vocabulary(
            v("scheme", "participation-roles"),
            _field_title(Participation, "role"),
            ((v("role", c.value), c.value, c.label) for c in ParticipationRole),
        ),
    ]


def _agency_vocabularies(iris: Iris) -> list[dict[str, Any]]:
    v = iris.agency_vocabulary
    return [
        *_vocabulary(
            v("scheme", "levels"),
            _field_title(Agency, "level"),
            ((v("level", c.value), c.value, c.label) for c in AgencyLevel),
        ),
        *_vocabulary(
            v("scheme", "kinds"),
            _field_title(Agency, "kind"),
            ((v("kind", c.value), c.value, c.label) for c in AgencyKind),
        ),
    ]


def organization(agency: Agency, iris: Iris) -> dict[str, Any]:
    """An agency in W3C ORG. It is also a ``cv:PublicOrganisation`` (a subclass of ``org:Organization``),
    the range CPSV-AP gives a service's competent authority."""
    node: dict[str, Any] = {
        "@id": iris.agency(agency.code),
        "@type": ["org:Organization", "cv:PublicOrganisation"],
        "org:identifier": agency.code,
        "dct:identifier": agency.code,
        "skos:prefLabel": {"zh-Hans": agency.name},
        "org:classification": [
            iris.agency_vocabulary("level", agency.level),
            iris.agency_vocabulary("kind", agency.kind),
        ],
    }
    if agency.short_name and agency.short_name != agency.name:
        node["skos:altLabel"] = {"zh-Hans": agency.short_name}
    if agency.parent is not None:  # selected with the agency
        node["org:subOrganizationOf"] = iris.agency(agency.parent.code)
    return node


def _with_ancestors(agency_ids: set[int]) -> list[Agency]:
    """The agencies, and every parent up the chain (a street's district, a community's street), so each
    ``org:subOrganizationOf`` in the document leads to a node that is in it. One query per level."""
    found: dict[int, Agency] = {}
    wanted = set(agency_ids)
    while wanted:
        batch = list(Agency.objects.select_related("parent").filter(pk__in=wanted))
        found.update((a.pk, a) for a in batch)
        wanted = {a.parent_id for a in batch if a.parent_id is not None} - found.keys()
    return sorted(found.values(), key=lambda a: a.code)


def agencies_document(*, base_url: str) -> dict[str, Any]:
    """Every agency in the public directory, as W3C ORG, with the level and kind vocabularies."""
    iris = Iris(base_url)
    agencies = selectors.agencies_public()
    return {
        "@context": CONTEXT,
        "@graph": [*_agency_vocabularies(iris), *(organization(a, iris) for a in agencies)],
    }


def _structure(duty_list: DutyList, iris: Iris) -> list[dict[str, Any]]:
    """The list's categories and classifications as one SKOS scheme: a classification is narrower than
    its category. Two queries."""
    code = duty_list.code
    scheme = iris.in_list(code, "scheme", "structure")
    nodes: list[dict[str, Any]] = [
        {"@id": scheme, "@type": "skos:ConceptScheme", "skos:prefLabel": {"zh-Hans": duty_list.name}}
    ]
    for category in Category.objects.filter(duty_list=duty_list).order_by("position", "code"):
        nodes.append(
            _concept(
                iris.in_list(code, "category", category.code),
                scheme,
                category.code,
                {"zh-Hans": category.name},
                **{"skos:topConceptOf": scheme},
            )
        )
    classifications = Classification.objects.filter(duty_list=duty_list).select_related("category")
    for classification in classifications.order_by(
        "category__position", "category__code", "position", "code"
    ):
        nodes.append(
            _concept(
                iris.in_list(code, "classification", classification.code),
                scheme,
                classification.code,
                {"zh-Hans": classification.name},
                **{"skos:broader": iris.in_list(code, "category", classification.category.code)},
            )
        )
    return nodes


class _LegalResources:
    """The laws and documents the duties cite, one node each however many duties cite them (a blank node:
    they have no IRI of their own yet). A basis that names an article points at that article, an
    ``eli:LegalResourceSubdivision`` that ``eli:is_part_of`` the law — ELI's model for "article 14 of"."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[str, str], dict[str, Any]] = {}

    def cite(self, basis: LegalBasis) -> dict[str, Any]:
        key = (basis.title, basis.document_number)
        law = self.nodes.get(key)
        if law is None:
            # ELI puts a title on an expression (one language version of the law); there is only the
            # Chinese one, so the title sits on the resource itself.
            law = {
                "@id": f"_:law-{len(self.nodes) + 1}",
                "@type": "eli:LegalResource",
                "eli:title": basis.title,
            }
            if basis.document_number:
                law["eli:id_local"] = basis.document_number
            self.nodes[key] = law
        if not basis.article:
            return {"@id": law["@id"]}
        return {
            "@type": ["eli:LegalResourceSubdivision", "eli:LegalResource"],
            "eli:number": basis.article,
            "eli:title": f"{basis.title} {basis.article}",
            "eli:is_part_of": law["@id"],
        }


def public_service(
    revision: DutyRevision, iris: Iris, edition_iri: str, laws: _LegalResources
) -> dict[str, Any]:
    list_code = revision.duty_list.code
    participations = list(revision.participations.all())
    node: dict[str, Any] = {
        "@id": iris.duty(list_code, revision.code),
        "@type": "cpsv:PublicService",
        # The code is unique within its list; the list-qualified one is unique everywhere.
        "dct:identifier": [revision.code, f"{list_code}/{revision.code}"],
        "dct:title": revision.title,
    }
    if revision.description:
        node["dct:description"] = revision.description
    keywords = list(dict.fromkeys([*revision.keywords, *revision.synonyms]))
    if keywords:
        node["dcat:keyword"] = keywords
    lead = next((p for p in participations if p.role == ParticipationRole.LEAD), None)
    if lead is not None:
        node["cv:hasCompetentAuthority"] = iris.agency(lead.agency.code)
    # CPSV-AP 3 names one role outright, the competent authority (our lead). Every other part an agency
    # plays is a cv:Participation with a cv:role from a vocabulary of the publisher's: that keeps the
    # cooperating agencies' own responsibility texts (the "four clarities"), which dct:contributor would
    # lose. The lead has its participation too, for its responsibility text.
    if participations:
        node["cv:hasParticipation"] = [
            {
                "@type": "cv:Participation",
                "cv:role": iris.duty_vocabulary("role", p.role),
                "cv:hasParticipant": iris.agency(p.agency.code),
                **({"dct:description": p.responsibility} if p.responsibility else {}),
            }
            for p in participations
        ]
    bases = list(revision.legal_bases.all())
    if bases:
        node["cv:hasLegalResource"] = [laws.cite(b) for b in bases]
    # The list's own taxonomy is a thematic area in CPSV-AP's sense ("environment, housing, …"); cv:sector
    # is meant for an industry code list and dct:type for COFOG functions of government. Duty type and
    # service kind are our own classifications, which cv:isClassifiedBy is for.
    node["cv:thematicArea"] = iris.in_list(list_code, "classification", revision.classification.code)
    classified = [iris.duty_vocabulary("duty-type", revision.duty_type)]
    if revision.service_kind:
        classified.append(iris.duty_vocabulary("service-kind", revision.service_kind))
    node["cv:isClassifiedBy"] = classified
    node["dct:isPartOf"] = edition_iri
    node["rdfs:seeAlso"] = iris.duty_api(list_code, revision.code)
    return node


def duty_list_document(edition: Edition, *, base_url: str) -> dict[str, Any]:
    """The list as ``edition`` published it, with what it refers to, as one JSON-LD document.

    Queries, whatever the size: the revisions with their agencies and legal bases (three), the structure
    (two), and the agencies' parents (one per level above them)."""
    iris = Iris(base_url)
    duty_list = edition.duty_list
    list_iri = iris.duty_list(duty_list.code)
    edition_iri = iris.edition(duty_list.code, edition.number)

    series: dict[str, Any] = {
        "@id": list_iri,
        "@type": "dcat:DatasetSeries",
        "dct:identifier": duty_list.code,
        "dct:title": duty_list.name,
    }
    dataset: dict[str, Any] = {
        "@id": edition_iri,
        "@type": "dcat:Dataset",
        "dct:identifier": f"{duty_list.code}/{edition.number}",
        "dct:title": duty_list.name,
        "dcat:version": str(edition.number),
        "dcat:inSeries": list_iri,
        "dct:issued": api_datetime(edition.published_at),  # Asia/Shanghai, +08:00
        "dct:valid": edition.effective_date.isoformat(),
    }
    if duty_list.description:
        series["dct:description"] = duty_list.description
    if edition.note:
        dataset["dct:description"] = edition.note
    agency_ids: set[int] = set()
    if duty_list.owner is not None:  # selected with the edition
        series["dct:publisher"] = dataset["dct:publisher"] = iris.agency(duty_list.owner.code)
        agency_ids.add(duty_list.owner.pk)

    revisions = selectors.revisions_at_edition(edition).order_by(
        "classification__category__code", "classification__code", "code"
    )
    laws = _LegalResources()
    services = []
    for revision in revisions:
        services.append(public_service(revision, iris, edition_iri, laws))
        agency_ids.update(p.agency_id for p in revision.participations.all())

    return {
        "@context": CONTEXT,
        "@graph": [
            series,
            dataset,
            *_structure(duty_list, iris),
            *_duty_vocabularies(iris),
            *services,
            *laws.nodes.values(),
            *_agency_vocabularies(iris),
            *(organization(a, iris) for a in _with_ancestors(agency_ids)),
        ],
    }
