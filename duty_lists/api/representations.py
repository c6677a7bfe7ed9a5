"""How the registry looks in the API. Duties are built as plain dicts (the list endpoint serialises tens of
thousands of them a minute for syncing clients, and DRF's nested serializers cost several times more); the
serializers beside them document the same shape in the OpenAPI schema and are tested to match it."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers
from rest_framework.request import Request

from core.api.times import api_datetime
from duty_lists.models import DutyRevision, Edition, Participation, ParticipationRole


def participant_to_dict(p: Participation) -> dict[str, Any]:
    return {"agency": p.agency.code, "name": p.agency.name, "responsibility": p.responsibility}


def duty_url_prefix(request: Request) -> str:
    """The absolute URL of duty details up to the code: reversed once per page, not once per duty. Django's
    reverse, not DRF's: DRF's carries the request's ``?format=`` into the URL, which would then sit before
    the code (``…/duties/CODE/?format=json`` cut at ``CODE/``)."""
    return request.build_absolute_uri(reverse("api:duty_detail", args=["CODE"])).removesuffix("CODE/")


def duty_to_dict(
    revision: DutyRevision, request: Request | None = None, *, url_prefix: str | None = None
) -> dict[str, Any]:
    participations = list(revision.participations.all())
    lead = next((p for p in participations if p.role == ParticipationRole.LEAD), None)
    classification = revision.classification
    category = classification.category
    data = {
        "id": revision.duty_id,
        "code": revision.code,
        "list": revision.duty_list.code,
        "category": {"code": category.code, "name": category.name},
        "classification": {"code": classification.code, "name": classification.name},
        "title": revision.title,
        "description": revision.description,
        "duty_type": revision.duty_type,
        "service_kind": revision.service_kind or None,
        "layer": revision.layer,
        "lead": participant_to_dict(lead) if lead else None,
        "cooperating": [
            participant_to_dict(p) for p in participations if p.role == ParticipationRole.COOPERATING
        ],
        "legal_bases": [
            {"title": b.title, "article": b.article, "document_number": b.document_number}
            for b in revision.legal_bases.all()
        ],
        "keywords": revision.keywords,
        "synonyms": revision.synonyms,
        "promised_days": revision.promised_days,
        "statutory_days": revision.statutory_days,
        "district_side": revision.district_side,
        "street_side": revision.street_side,
        "removed": revision.is_removed,
        "edition": revision.edition.number if revision.edition else None,
        "in_force_from": api_datetime(revision.valid_from),
        "in_force_until": api_datetime(revision.valid_until),
        "amendment": revision.amendment_id,
        "source": revision.source_ref,
    }
    if url_prefix is None and request is not None:
        url_prefix = duty_url_prefix(request)
    if url_prefix is not None:
        data["url"] = f"{url_prefix}{revision.code}/?list={revision.duty_list.code}"
    return data


# The page of the list endpoint is built from ``.values()`` rows: model instances, their related instances
# and prefetch bookkeeping cost several times the SQL for a 50-duty page (see docs/benchmarks.md).
REVISION_VALUES = (
    "id",
    "duty_id",
    "code",
    "duty_list__code",
    "classification__code",
    "classification__name",
    "classification__category__code",
    "classification__category__name",
    "title",
    "description",
    "duty_type",
    "service_kind",
    "layer",
    "keywords",
    "synonyms",
    "promised_days",
    "statutory_days",
    "district_side",
    "street_side",
    "is_removed",
    "edition__number",
    "valid_from",
    "valid_until",
    "amendment_id",
    "source_ref",
)


def duty_rows_to_dicts(rows: list[dict[str, Any]], *, url_prefix: str | None) -> list[dict[str, Any]]:
    """The same dicts as ``duty_to_dict`` for a page of ``REVISION_VALUES`` rows, in two more queries."""
    from duty_lists.models import LegalBasis

    ids = [row["id"] for row in rows]
    leads: dict[int, dict[str, Any]] = {}
    cooperating: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for p in (
        Participation.objects.filter(revision_id__in=ids)
        .order_by("position", "id")
        .values_list("revision_id", "role", "agency__code", "agency__name", "responsibility")
    ):
        entry = {"agency": p[2], "name": p[3], "responsibility": p[4]}
        if p[1] == ParticipationRole.LEAD:
            leads.setdefault(p[0], entry)
        else:
            cooperating[p[0]].append(entry)
    bases: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for b in (
        LegalBasis.objects.filter(revision_id__in=ids)
        .order_by("position", "id")
        .values_list("revision_id", "title", "article", "document_number")
    ):
        bases[b[0]].append({"title": b[1], "article": b[2], "document_number": b[3]})
    out = []
    for row in rows:
        data = {
            "id": row["duty_id"],
            "code": row["code"],
            "list": row["duty_list__code"],
            "category": {
                "code": row["classification__category__code"],
                "name": row["classification__category__name"],
            },
            "classification": {"code": row["classification__code"], "name": row["classification__name"]},
            "title": row["title"],
            "description": row["description"],
            "duty_type": row["duty_type"],
            "service_kind": row["service_kind"] or None,
            "layer": row["layer"],
            "lead": leads.get(row["id"]),
            "cooperating": cooperating[row["id"]],
            "legal_bases": bases[row["id"]],
            "keywords": row["keywords"],
            "synonyms": row["synonyms"],
            "promised_days": row["promised_days"],
            "statutory_days": row["statutory_days"],
            "district_side": row["district_side"],
            "street_side": row["street_side"],
            "removed": row["is_removed"],
            "edition": row["edition__number"],
            "in_force_from": api_datetime(row["valid_from"]),
            "in_force_until": api_datetime(row["valid_until"]),
            "amendment": row["amendment_id"],
            "source": row["source_ref"],
        }
        if url_prefix is not None:
            data["url"] = f"{url_prefix}{row['code']}/?list={row['duty_list__code']}"
        out.append(data)
    return out


def edition_to_dict(edition: Edition, request: Request | None = None) -> dict[str, Any]:
    return {
        "list": edition.duty_list.code,
        "number": edition.number,
        "published_at": api_datetime(edition.published_at),
        "effective_date": edition.effective_date.isoformat(),  # a day, not an instant
        "note": edition.note,
        "published_by": edition.published_by.get_username() if edition.published_by else None,
    }


# --- Schema documentation of the same shapes ------------------------------------------------------------


class CodeNameSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class ParticipantSerializer(serializers.Serializer):
    agency = serializers.CharField(help_text="Agency code.")
    name = serializers.CharField()
    responsibility = serializers.CharField()


class LegalBasisSerializer(serializers.Serializer):
    title = serializers.CharField()
    article = serializers.CharField()
    document_number = serializers.CharField()


class DutySerializer(serializers.Serializer):
    # The duty's own id, the same through all its revisions: what the grievance API's ``duty`` and
    # ``cited_duty`` take, and what the pages' duty pickers post.
    id = serializers.IntegerField(help_text="Duty id, stable across revisions.")
    code = serializers.CharField()
    list = serializers.CharField(help_text="Duty list code.")
    category = CodeNameSerializer()
    classification = CodeNameSerializer()
    title = serializers.CharField()
    description = serializers.CharField()
    duty_type = serializers.CharField()
    service_kind = serializers.CharField(allow_null=True)
    layer = serializers.CharField()
    lead = ParticipantSerializer(allow_null=True)
    cooperating = ParticipantSerializer(many=True)
    legal_bases = LegalBasisSerializer(many=True)
    keywords = serializers.ListField(child=serializers.CharField())
    synonyms = serializers.ListField(child=serializers.CharField())
    promised_days = serializers.IntegerField(allow_null=True)
    statutory_days = serializers.IntegerField(allow_null=True)
    district_side = serializers.CharField()
    street_side = serializers.CharField()
    removed = serializers.BooleanField()
    edition = serializers.IntegerField(allow_null=True)
    in_force_from = serializers.DateTimeField(allow_null=True)
    in_force_until = serializers.DateTimeField(allow_null=True)
    amendment = serializers.IntegerField(allow_null=True)
    source: Any = serializers.CharField()  # declared fields leave the class, so no clash with Field.source
    url = serializers.URLField(required=False)

    def to_representation(self, instance: DutyRevision) -> dict[str, Any]:
        return duty_to_dict(instance, self.context.get("request"))


class DutyHistoryEntrySerializer(serializers.Serializer):
    edition = serializers.IntegerField()
    in_force_from = serializers.DateTimeField()
    in_force_until = serializers.DateTimeField(allow_null=True)
    title = serializers.CharField()
    lead = ParticipantSerializer(allow_null=True)
    removed = serializers.BooleanField()
    amendment = serializers.IntegerField(allow_null=True)
    source: Any = serializers.CharField()  # declared fields leave the class, so no clash with Field.source


class DutyDetailSerializer(DutySerializer):
    history = DutyHistoryEntrySerializer(many=True)


class EditionSerializer(serializers.Serializer):
    list = serializers.CharField()
    number = serializers.IntegerField()
    published_at = serializers.DateTimeField()
    effective_date = serializers.DateField()
    note = serializers.CharField()
    published_by = serializers.CharField(allow_null=True)

    def to_representation(self, instance: Edition) -> dict[str, Any]:
        return edition_to_dict(instance)
