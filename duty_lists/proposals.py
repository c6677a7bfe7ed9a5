"""What a duty says, as plain data: the shape shared by amendments (``Amendment.proposal``), the Excel
import, the API's write input and the services that turn it into a revision.

``DutyContent.from_dict`` accepts the JSON form; ``validate`` names every problem by field, so the import can
report "row 12, column lead agency" and the API can answer with field errors, before anything is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from duty_lists.models import (
    Agency,
    Classification,
    DutyList,
    DutyRevision,
    DutyType,
    Layer,
    ParticipationRole,
    ServiceKind,
)


@dataclass
class ParticipantSpec:
    agency: str  # agency code
    role: str = ParticipationRole.LEAD
    responsibility: str = ""


@dataclass
class LegalBasisSpec:
    title: str
    article: str = ""
    document_number: str = ""


@dataclass
class DutyContent:
    classification: str  # classification code, e.g. "03-12"
    title: str
    description: str = ""
    duty_type: str = DutyType.MAIN
    service_kind: str = ""
    layer: str = Layer.DISTRICT
    keywords: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    promised_days: int | None = None
    statutory_days: int | None = None
    district_side: str = ""
    street_side: str = ""
    participants: list[ParticipantSpec] = field(default_factory=list)
    legal_bases: list[LegalBasisSpec] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DutyContent:
        known = {f for f in cls.__dataclass_fields__ if f not in {"participants", "legal_bases"}}
        values = {k: v for k, v in data.items() if k in known}
        for text_field in ("title", "description", "district_side", "street_side", "service_kind"):
            if values.get(text_field) is None:
                values.pop(text_field, None)
        return cls(
            **values,
            participants=[ParticipantSpec(**p) for p in data.get("participants") or []],
            legal_bases=[LegalBasisSpec(**b) for b in data.get("legal_bases") or []],
        )

    @classmethod
    def from_revision(cls, revision: DutyRevision) -> DutyContent:
        return cls(
            classification=revision.classification.code,
            title=revision.title,
            description=revision.description,
            duty_type=revision.duty_type,
            service_kind=revision.service_kind,
            layer=revision.layer,
            keywords=list(revision.keywords),
            synonyms=list(revision.synonyms),
            promised_days=revision.promised_days,
            statutory_days=revision.statutory_days,
            district_side=revision.district_side,
            street_side=revision.street_side,
            participants=[
                ParticipantSpec(p.agency.code, p.role, p.responsibility)
                for p in revision.participations.all()
            ],
            legal_bases=[
                LegalBasisSpec(b.title, b.article, b.document_number) for b in revision.legal_bases.all()
            ],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def lead_code(self) -> str | None:
        return next((p.agency for p in self.participants if p.role == ParticipationRole.LEAD), None)

    def validate(
        self,
        duty_list: DutyList,
        *,
        agencies: dict[str, Agency] | None = None,
        classifications: dict[str, Classification] | None = None,
    ) -> dict[str, list[str]]:
        """Field → messages; empty when the content can become a revision. ``agencies`` and
        ``classifications`` (code → object) may be passed in by callers validating many duties at once."""
        errors: dict[str, list[str]] = {}

        def add(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        if not self.title or not self.title.strip():
            add("title", _("A duty needs a title."))
        elif len(self.title) > 300:
            add("title", _("The title is longer than 300 characters."))
        if classifications is None:
            exists = Classification.objects.filter(duty_list=duty_list, code=self.classification).exists()
        else:
            exists = self.classification in classifications
        if not exists:
            add(
                "classification",
                _("No classification %(code)s in this list.") % {"code": self.classification},
            )
        if self.duty_type not in DutyType.values:
            add("duty_type", _("Unknown duty type: %(v)s") % {"v": self.duty_type})
        if self.duty_type == DutyType.SERVICE and self.service_kind not in ServiceKind.values:
            add("service_kind", _("A service duty needs its service kind."))
        if self.duty_type != DutyType.SERVICE and self.service_kind:
            add("service_kind", _("Only service duties have a service kind."))
        if self.layer not in Layer.values:
            add("layer", _("Unknown layer: %(v)s") % {"v": self.layer})
        for name in ("promised_days", "statutory_days"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                add(name, _("A time limit is a positive number of working days."))
        for name in ("keywords", "synonyms"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                add(name, _("A list of words is expected."))

        leads = [p for p in self.participants if p.role == ParticipationRole.LEAD]
        if len(leads) != 1:
            add("participants", _("A duty has exactly one lead agency (it has %(n)d).") % {"n": len(leads)})
        codes = [p.agency for p in self.participants]
        if len(codes) != len(set(codes)):
            add("participants", _("An agency appears twice."))
        if any(p.role not in ParticipationRole.values for p in self.participants):
            add("participants", _("A participant is either the lead or cooperating."))
        known = (
            agencies
            if agencies is not None
            else {a.code: a for a in Agency.objects.filter(code__in=codes, is_active=True)}
        )
        for code in codes:
            if code not in known:
                add("participants", _("No active agency with code %(code)s.") % {"code": code})
        for basis in self.legal_bases:
            if not basis.title.strip():
                add("legal_bases", _("A legal basis needs the law or document it cites."))
        return errors
