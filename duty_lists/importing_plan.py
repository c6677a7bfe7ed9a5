"""Planning an import (duty_lists.importing): what the list holds now, and what each row of the sheet
would change in it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from duty_lists.diff import changed_fields, reads_as
from duty_lists.exporting import (
    content_values,
)
from duty_lists.importing_read import (
    _COOPERATING_SPLIT,
    _DUTY_TYPES,
    _LAYERS,
    _LEGAL_SPLIT,
    _SERVICE_KINDS,
    FORMAT_TAXONOMY,
    PROGRESS_EVERY,
    TAXONOMY_HEADERS,
    Sheet,
    _choice,
    _days,
    _entries,
    _text,
    _words,
)
from duty_lists.importing_report import (
    FieldChange,
    ImportReport,
    Progress,
    RowChange,
    RowError,
    Tally,
)
from duty_lists.models import (
    Agency,
    Category,
    Classification,
    Duty,
    DutyList,
    DutyRevision,
    DutyType,
    Layer,
    LegalBasis,
    Participation,
    ParticipationRole,
)
from duty_lists.proposals import DutyContent, LegalBasisSpec, ParticipantSpec
from duty_lists.services.registry import (
    pushes_down,
)

# --- What the list holds now --------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Everything validation compares against, loaded in a fixed number of queries."""

    agencies: dict[str, Agency]
    categories: dict[str, Category]
    classifications: dict[str, Classification]
    duty_codes: set[str]
    in_force: dict[str, DutyRevision]
    pending: dict[str, DutyRevision]

    @classmethod
    def load(cls, duty_list: DutyList) -> Snapshot:
        current = (
            DutyRevision.objects.filter(duty_list=duty_list, valid_until__isnull=True)  # pending or in force
            .select_related("classification")
            .prefetch_related(
                Prefetch(
                    "participations",
                    queryset=Participation.objects.select_related("agency").order_by("position", "id"),
                ),
                Prefetch("legal_bases", queryset=LegalBasis.objects.order_by("position", "id")),
            )
        )
        in_force: dict[str, DutyRevision] = {}
        pending: dict[str, DutyRevision] = {}
        for revision in current:
            (pending if revision.edition_id is None else in_force)[revision.code] = revision
        return cls(
            agencies={a.code: a for a in Agency.objects.filter(is_active=True)},
            categories={c.code: c for c in Category.objects.filter(duty_list=duty_list).order_by("code")},
            classifications={
                c.code: c
                for c in Classification.objects.filter(duty_list=duty_list)
                .select_related("category")
                .order_by("code")
            },
            duty_codes=set(Duty.objects.filter(duty_list=duty_list).values_list("code", flat=True)),
            in_force=in_force,
            pending=pending,
        )

    def current(self, code: str) -> DutyRevision | None:
        """What the duty says now: its pending revision if any, else the one in force."""
        return self.pending.get(code) or self.in_force.get(code)


# --- Planning -----------------------------------------------------------------------------------------------

# Database lengths the planner checks, so an over-long cell is a row error rather than a database error.
MAX_LENGTHS = {
    "category_code": 20,
    "category_name": 200,
    "classification_code": 30,
    "classification_name": 200,
    "code": 40,
}
LEGAL_BASIS_LENGTHS = (300, 200, 200)
MAX_DAYS = 32767  # a PositiveSmallIntegerField  # law or document, article, document number

# DutyContent.validate's field names that differ from our column keys.
_FIELD_COLUMNS = {"classification": "classification_code", "participants": "lead_agency"}
# The columns that say each field of diff.COMPARED_FIELDS, where they are not the field's own name.
_CHANGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("classification_code",),
    "lead": ("lead_agency", "lead_responsibility"),
}
_KIND_ORDER = {"category": 0, "classification": 1, "duty": 2}


@dataclass
class PlannedDuty:
    row: int
    code: str
    content: DutyContent
    status: str  # "new", "changed" or "unchanged"


@dataclass
class Plan:
    report: ImportReport
    categories: dict[str, str] = field(default_factory=dict)  # code → name, in order of first appearance
    classifications: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (category, name)
    duties: list[PlannedDuty] = field(default_factory=list)
    renamed_categories: list[str] = field(default_factory=list)
    renamed_classifications: list[str] = field(default_factory=list)


def _split_cooperating(entry: str) -> tuple[str, str]:
    """``CODE：职责`` (or ``CODE: 职责``, or just ``CODE``) → (code, responsibility)."""
    match = re.match(r"([^:：]*)[:：]?(.*)", entry, re.DOTALL)
    assert match is not None  # the pattern matches any string
    return match.group(1).strip(), match.group(2).strip()


class Planner:
    """Turns the rows into a plan, recording every problem in the report; reads only the snapshot."""

    def __init__(
        self,
        duty_list: DutyList,
        sheet: Sheet,
        snapshot: Snapshot,
        report: ImportReport,
        reserved: set[str] | None = None,
    ):
        self.duty_list, self.sheet, self.snapshot = duty_list, sheet, snapshot
        self.plan = Plan(report=report)
        self.reported: dict[int, set[str]] = {}  # row → the columns it has errors in ("" = the whole row)
        self.reserved = reserved or set()  # codes the file gives explicitly: never generated for other rows
        self.codes_in_file: dict[str, int] = {}  # duty code → its row
        self.titles_in_file: dict[tuple[str, str], int] = {}  # (classification, title) → its row
        self.last_number: dict[str, int] = {}  # code prefix → highest number used under it
        self.structure_rows: dict[tuple[str, str], int] = {}  # (kind, code) → the first row naming it
        # What the list already calls things, so that a file of names finds the codes it had last time.
        self.category_by_name: dict[str, str] = {}
        for category in snapshot.categories.values():
            self.category_by_name.setdefault(category.name, category.code)
        self.classification_by_name: dict[tuple[str, str], str] = {}
        for classification in snapshot.classifications.values():
            key = (classification.category.code, classification.name)
            self.classification_by_name.setdefault(key, classification.code)
        self.duty_by_title: dict[tuple[str, str], str] = {}
        for code in sorted(snapshot.in_force.keys() | snapshot.pending.keys()):
            revision = snapshot.current(code)
            if revision is not None and not revision.is_removed:
                self.duty_by_title.setdefault((revision.classification.code, revision.title), code)

    def error(self, row: int, key: str, message: str) -> None:
        column = self.sheet.headers.get(key, "")
        self.plan.report.errors.append(RowError(row, column, message))
        self.reported.setdefault(row, set()).add(column)

    def row_has_errors(self, row: int) -> bool:
        return row in self.reported

    # Codes -------------------------------------------------------------------------------------------------

    def next_code(self, prefix: str, width: int, *used: Iterable[str]) -> str:
        """The next ``<prefix><number>`` after every number already used under that prefix. The codes in
        ``used`` are read the first time a prefix is asked for; later codes under it count on from there."""
        if prefix not in self.last_number:
            pattern = re.compile(re.escape(prefix) + r"(\d+)")
            self.last_number[prefix] = max(
                (int(m.group(1)) for code in chain(*used) if (m := pattern.fullmatch(code))), default=0
            )
        self.last_number[prefix] += 1
        return f"{prefix}{self.last_number[prefix]:0{width}d}"

    def category_code_for(self, name: str) -> str:
        if name not in self.category_by_name:
            self.category_by_name[name] = self.next_code(
                "", 2, self.snapshot.categories, self.plan.categories
            )
        return self.category_by_name[name]

    def classification_code_for(self, category_code: str, name: str) -> str:
        key = (category_code, name)
        if key not in self.classification_by_name:
            self.classification_by_name[key] = self.next_code(
                f"{category_code}-", 2, self.snapshot.classifications, self.plan.classifications
            )
        return self.classification_by_name[key]

    def duty_code_for(self, classification_code: str, title: str) -> str:
        code = self.duty_by_title.get((classification_code, title))
        if code is None or code in self.codes_in_file or code in self.reserved:
            code = self.next_code(
                f"{classification_code}-", 4, self.snapshot.duty_codes, self.codes_in_file, self.reserved
            )
        return code

    # Structure ---------------------------------------------------------------------------------------------

    def add_structure(self, row: int, category: tuple[str, str], classification: tuple[str, str]) -> bool:
        """Record the row's category and classification; False (with row errors) when they contradict
        earlier rows or the list."""
        (category_code, category_name), (classification_code, classification_name) = category, classification
        self.structure_rows.setdefault(("category", category_code), row)
        self.structure_rows.setdefault(("classification", classification_code), row)
        named = self.plan.categories.setdefault(category_code, category_name)
        if named != category_name:
            self.error(
                row,
                "category_name",
                _("Category %(code)s is named %(name)s in an earlier row.")
                % {"code": category_code, "name": named},
            )
            return False
        planned = self.plan.classifications.get(classification_code)
        existing = self.snapshot.classifications.get(classification_code)
        owner = planned[0] if planned else (existing.category.code if existing else category_code)
        if owner != category_code:
            self.error(
                row,
                "classification_code",
                _("Classification %(cl)s belongs to category %(other)s, not %(cat)s.")
                % {"cl": classification_code, "other": owner, "cat": category_code},
            )
            return False
        if planned is None:
            self.plan.classifications[classification_code] = (category_code, classification_name)
        elif planned[1] != classification_name:
            self.error(
                row,
                "classification_name",
                _("Classification %(code)s is named %(name)s in an earlier row.")
                % {"code": classification_code, "name": planned[1]},
            )
            return False
        return True

    # Rows --------------------------------------------------------------------------------------------------

    def taxonomy_row(self, row: int, values: tuple[Any, ...], lead: str, carried: dict[str, str]) -> None:
        names = {key: _text(self.sheet.value(values, key)) for key in TAXONOMY_HEADERS}
        # A merged cell (a category written once beside its rows) reads as blanks below: carry it down.
        for key in ("category_name", "classification_name"):
            if names[key]:
                carried[key] = names[key]
            names[key] = names[key] or carried.get(key, "")
            if not names[key]:
                self.error(row, key, _("This column must be filled in."))
            elif len(names[key]) > MAX_LENGTHS[key]:
                self.error(row, key, _("At most %(n)d characters.") % {"n": MAX_LENGTHS[key]})
        if self.row_has_errors(row):
            return
        category_code = self.category_code_for(names["category_name"])
        classification_code = self.classification_code_for(category_code, names["classification_name"])
        if self.add_structure(
            row,
            (category_code, names["category_name"]),
            (classification_code, names["classification_name"]),
        ):
            content = DutyContent(
                classification=classification_code,
                title=names["title"],
                participants=[ParticipantSpec(lead, ParticipationRole.LEAD, "")],
            )
            self.finish_row(row, "", content)

    def template_row(self, row: int, values: tuple[Any, ...]) -> None:
        def cell(key: str) -> Any:
            return self.sheet.value(values, key)

        structure = {key: _text(cell(key)) for key in ("category_code", "category_name")}
        structure |= {key: _text(cell(key)) for key in ("classification_code", "classification_name")}
        for key, value in structure.items():
            if not value:
                self.error(row, key, _("This column must be filled in."))
            elif len(value) > MAX_LENGTHS[key]:
                self.error(row, key, _("At most %(n)d characters.") % {"n": MAX_LENGTHS[key]})
        structure_ok = not self.row_has_errors(row) and self.add_structure(
            row,
            (structure["category_code"], structure["category_name"]),
            (structure["classification_code"], structure["classification_name"]),
        )
        # Every other column is still checked, so that one pass reports every problem of the row.
        content = DutyContent(
            classification=structure["classification_code"],
            title=_text(cell("title")),
            description=_text(cell("description")),
            duty_type=self.choice(row, "duty_type", cell("duty_type"), _DUTY_TYPES, DutyType.MAIN),
            service_kind=self.choice(row, "service_kind", cell("service_kind"), _SERVICE_KINDS, ""),
            layer=self.choice(row, "layer", cell("layer"), _LAYERS, Layer.DISTRICT),
            keywords=_words(cell("keywords")),
            synonyms=_words(cell("synonyms")),
            promised_days=self.days(row, "promised_days", cell("promised_days")),
            statutory_days=self.days(row, "statutory_days", cell("statutory_days")),
            district_side=_text(cell("district_side")),
            street_side=_text(cell("street_side")),
            participants=self.participants(row, values),
            legal_bases=self.legal_bases(row, cell("legal_bases")),
        )
        code = _text(cell("code"))
        if len(code) > MAX_LENGTHS["code"]:
            self.error(row, "code", _("At most %(n)d characters.") % {"n": MAX_LENGTHS["code"]})
            return
        self.finish_row(row, code, content, structure_ok=structure_ok)

    def choice(self, row: int, key: str, value: Any, table: dict[str, str], blank: str) -> str:
        if not _text(value):
            return blank
        code = _choice(value, table)
        if code is None:
            messages = {
                "duty_type": _("Unknown duty type: %(v)s"),
                "service_kind": _("Unknown service kind: %(v)s"),
                "layer": _("Unknown layer: %(v)s"),
            }
            self.error(row, key, messages[key] % {"v": _text(value)})
            return blank
        return code

    def days(self, row: int, key: str, value: Any) -> int | None:
        number, ok = _days(value)
        if not ok or (number is not None and number > MAX_DAYS):
            self.error(row, key, _("A time limit is a positive number of working days."))
        return number

    def participants(self, row: int, values: tuple[Any, ...]) -> list[ParticipantSpec]:
        agencies = self.snapshot.agencies
        result = []
        lead = _text(self.sheet.value(values, "lead_agency"))
        if not lead:
            self.error(row, "lead_agency", _("A duty needs its lead agency."))
        else:
            if lead not in agencies:
                self.error(row, "lead_agency", _("No active agency with code %(code)s.") % {"code": lead})
            responsibility = _text(self.sheet.value(values, "lead_responsibility"))
            result.append(ParticipantSpec(lead, ParticipationRole.LEAD, responsibility))
        for entry in _entries(self.sheet.value(values, "cooperating"), _COOPERATING_SPLIT):
            code, responsibility = _split_cooperating(entry)
            if code not in agencies:
                self.error(row, "cooperating", _("No active agency with code %(code)s.") % {"code": code})
            elif any(p.agency == code for p in result):
                self.error(row, "cooperating", _("An agency appears twice."))
            result.append(ParticipantSpec(code, ParticipationRole.COOPERATING, responsibility))
        return result

    def legal_bases(self, row: int, value: Any) -> list[LegalBasisSpec]:
        result = []
        for entry in _entries(value, _LEGAL_SPLIT):
            parts = [p.strip() for p in re.split(r"[|｜]", entry)]
            if len(parts) > len(LEGAL_BASIS_LENGTHS):
                self.error(row, "legal_bases", _("A legal basis is written name|article|document number."))
                continue
            if any(len(p) > n for p, n in zip(parts, LEGAL_BASIS_LENGTHS, strict=False)):
                self.error(row, "legal_bases", _("A legal basis is too long: %(v)s") % {"v": entry[:50]})
                continue
            result.append(LegalBasisSpec(*parts))
        return result

    def finish_row(self, row: int, code: str, content: DutyContent, *, structure_ok: bool = True) -> None:
        """What every row goes through: the content checks of ``DutyContent.validate``, the duty's code,
        delegation admission, and the comparison with what the list holds."""
        said = set(self.reported.get(row, ()))  # a copy: the loop below adds to the original
        classifications: dict[str, Any] = {**self.snapshot.classifications, **self.plan.classifications}
        problems = content.validate(
            self.duty_list, agencies=self.snapshot.agencies, classifications=classifications
        )
        for name, messages in problems.items():
            key = _FIELD_COLUMNS.get(name, name)
            if name == "classification" and not structure_ok:
                continue
            if name == "participants" and said & {
                self.sheet.headers.get(k) for k in ("lead_agency", "cooperating")
            }:
                continue  # already said, column by column
            if key in self.sheet.headers and self.sheet.headers[key] in said:
                continue
            for message in messages:
                self.error(row, key, message)

        title = content.title.strip()
        code_key = "code" if "code" in self.sheet.headers else "title"
        if not code:
            if not title or not structure_ok:
                return
            seen = self.titles_in_file.setdefault((content.classification, title), row)
            if seen != row:
                self.error(row, "title", _("The same duty as row %(row)d.") % {"row": seen})
                return
            code = self.duty_code_for(content.classification, title)
        seen = self.codes_in_file.setdefault(code, row)
        if seen != row:
            self.error(
                row, code_key, _("Duty %(code)s is also in row %(row)d.") % {"code": code, "row": seen}
            )
            return
        if self.row_has_errors(row):
            return
        self.compare(row, code, content)

    def compare(self, row: int, code: str, content: DutyContent) -> None:
        in_force = self.snapshot.in_force.get(code)
        if pushes_down(in_force, content, self.snapshot.agencies):
            assert in_force is not None
            layer_down = in_force.layer == Layer.DISTRICT and content.layer == Layer.STREET
            self.error(
                row,
                "layer" if layer_down else "lead_agency",
                _(
                    "Moving duty %(code)s from a district agency down to a street needs an approved "
                    "delegation amendment."
                )
                % {"code": code},
            )
            return
        current = self.snapshot.current(code)
        before: DutyContent | None = None
        fields: tuple[str, ...] = ()
        if current is None or current.is_removed:
            status = "new"  # a removed duty comes back: the edition diff shows it as added too
        else:
            # Changed is what the edition diff will show as changed, so every change has its fields.
            before = DutyContent.from_revision(current)
            fields = changed_fields(before, content)
            status = "changed" if fields else "unchanged"
        pending = self.snapshot.pending.get(code)
        if status != "unchanged" and pending is not None and pending.amendment_id is not None:
            # revisions_stage would refuse it too: an approved amendment awaits publication for this duty.
            self.error(
                row,
                "code" if "code" in self.sheet.headers else "title",
                _("Another change to duty %(code)s awaits publication.") % {"code": code},
            )
            return
        self.plan.duties.append(PlannedDuty(row, code, content, status))
        if status != "unchanged":
            changes = [self.field_change(name, before, content) for name in fields] if before else []
            self.plan.report.changes.append(RowChange(row, "duty", status, code, content.title, changes))

    def field_change(self, name: str, before: DutyContent, after: DutyContent) -> FieldChange:
        """One changed field of a duty: the column(s) of the file that say it, and the value before and
        after as the export writes it."""
        keys = _CHANGE_COLUMNS.get(name, (name,))
        if name == "classification" and "classification_code" not in self.sheet.headers:
            keys = ("classification_name",)  # the taxonomy layout names classifications, not codes
        columns = " / ".join(self.sheet.headers[k] for k in keys if k in self.sheet.headers)
        return FieldChange(name, columns, self.shown(name, before, old=True), self.shown(name, after))

    def shown(self, name: str, content: DutyContent, *, old: bool = False) -> str:
        if name == "classification":
            code = content.classification
            known = self.snapshot.classifications.get(code)
            planned = self.plan.classifications.get(code)  # as this file names it
            names = [planned[1]] if planned and not old else []
            return " ".join([code, *(names or ([known.name] if known else []))])
        values = content_values(content)
        if name == "lead":
            agency, responsibility = values["lead_agency"], values["lead_responsibility"]
            return f"{agency}：{responsibility}" if responsibility else str(agency)
        return str(values[name])

    def tally(self) -> None:
        report, plan, snapshot = self.plan.report, self.plan, self.snapshot
        structure: list[tuple[str, dict[str, str], dict[str, Any], Tally, list[str]]] = [
            ("category", plan.categories, snapshot.categories, report.categories, plan.renamed_categories),
            (
                "classification",
                {code: name for code, (_category, name) in plan.classifications.items()},
                snapshot.classifications,
                report.classifications,
                plan.renamed_classifications,
            ),
        ]
        for kind, planned, existing, tally, renamed in structure:
            for code, name in planned.items():
                row = self.structure_rows.get((kind, code), 0)
                known = existing.get(code)
                if known is None:
                    tally.new += 1
                    report.changes.append(RowChange(row, kind, "new", code, name))
                elif reads_as(known.name) != name:
                    tally.changed += 1
                    renamed.append(code)
                    change = FieldChange("name", self.sheet.headers.get(f"{kind}_name", ""), known.name, name)
                    report.changes.append(RowChange(row, kind, "changed", code, name, [change]))
                else:
                    tally.unchanged += 1
        for duty in self.plan.duties:
            setattr(report.duties, duty.status, getattr(report.duties, duty.status) + 1)
        report.changes.sort(key=lambda c: (c.row, _KIND_ORDER[c.kind], c.code))


def make_plan(
    duty_list: DutyList,
    sheet: Sheet,
    snapshot: Snapshot,
    report: ImportReport,
    *,
    default_lead: str = "",
    progress: Progress | None = None,
) -> Plan:
    if sheet.file_format == FORMAT_TAXONOMY:
        if not default_lead:
            message = _("This file names no agencies: choose the default lead agency for its duties.")
            raise ApplicationError(message, code="default_lead_required", extra={"default_lead": [message]})
        if default_lead not in snapshot.agencies:
            message = _("No active agency with code %(code)s.") % {"code": default_lead}
            raise ApplicationError(message, code="unknown_agency", extra={"default_lead": [message]})
    reserved = {_text(sheet.value(values, "code")) for _row, values in sheet.rows} - {""}
    planner = Planner(duty_list, sheet, snapshot, report, reserved)
    carried: dict[str, str] = {}
    total = len(sheet.rows)
    for done, (row, values) in enumerate(sheet.rows, start=1):
        if sheet.file_format == FORMAT_TAXONOMY:
            planner.taxonomy_row(row, values, default_lead, carried)
        else:
            planner.template_row(row, values)
        if progress and (done % PROGRESS_EVERY == 0 or done == total):
            progress("validating", done, total)
    planner.tally()
    return planner.plan
