"""Importing a duty list from a spreadsheet: ``duty_list_import``.

Two layouts, told apart by the header row (docs/import-template.md):

- the **taxonomy** layout of the organiser's file: 一级分类 / 二级分类 / 三级分类, names only. Codes are
  generated (``01``, ``01-01``, ``01-01-0001``) in order of first appearance, re-using the codes of what the
  list already holds under the same names, so importing the same file again finds every duty unchanged.
  Such a file names no agency: every duty gets the default lead agency given with the import.
- the **template** layout (``exporting.template_workbook``): one row per duty with every field. An export
  has the same columns, so an export re-imports.

The import never writes half a file:

1. Read the rows (openpyxl in read-only mode; a CSV written by the export is accepted too).
2. Plan: resolve codes and parse every row against dictionaries loaded once (agencies, structure, the
   current content of every duty) — no query per row. Every problem becomes a row error naming the row as
   Excel numbers it and the column header as the file spells it.
3. Any row error: nothing is written and every bad row is reported.
4. Otherwise, in one transaction holding the list's lock (a second import of the same list waits, then
   finds the first one's work done): the structure, one *pending* revision per new or changed duty
   (``revisions_stage``, a batch at a time; an edition publishes them), and one audit entry. Unchanged
   duties are skipped.

"Unchanged" is ``diff.changed_fields``' sense of reading the same, the one the edition diff uses, so the
report names every change it counts — its row, the field and the value before and after (``RowChange``) —
and a re-import of an unchanged export finds nothing to change.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from itertools import chain
from os import PathLike
from pathlib import Path
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import audit_record
from core.errors import ApplicationError, Conflict
from duty_lists.diff import FIELD_LABELS, changed_fields, reads_as
from duty_lists.exporting import (
    COLUMNS,
    DUTY_TYPE_LABELS,
    FORMULA_TRIGGERS,
    LAYER_LABELS,
    SERVICE_KIND_LABELS,
    WORD_SEPARATORS,
    content_values,
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
    ServiceKind,
)
from duty_lists.proposals import DutyContent, LegalBasisSpec, ParticipantSpec
from duty_lists.services.registry import (
    pushes_down,
    require_registry_keeper,
    revisions_stage,
    structure_ensure,
)

FORMAT_TAXONOMY = "taxonomy"
FORMAT_TEMPLATE = "template"
MAX_ROWS = 20_000  # five times Shenzhen's 4,155-item list; a bigger file is a mistake, not a list
HEADER_SCAN_ROWS = 10  # offices put a title row or two above the header
PROGRESS_EVERY = 50
WRITE_BATCH = 250  # duties per revisions_stage call: a progress step, not a limit

REQUIRED_KEYS = tuple(c.key for c in COLUMNS if c.required)
TAXONOMY_HEADERS = {"category_name": "一级分类", "classification_name": "二级分类", "title": "三级分类"}


def _aliases(labels: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """What a cell may say for an enumeration → its code: the code itself or the Chinese label (compared
    without spaces, case-insensitively)."""
    table = {re.sub(r"\s+", "", name).lower(): code for name, code in extra.items()}
    for code, chinese in labels.items():
        table[str(code).lower()] = table[chinese] = str(code)
    return table


_DUTY_TYPES = _aliases(DUTY_TYPE_LABELS, {})
_SERVICE_KINDS = _aliases(SERVICE_KIND_LABELS, {"其他服务": ServiceKind.OTHER.value})
_LAYERS = _aliases(
    LAYER_LABELS, {"区": Layer.DISTRICT.value, "街道级": Layer.STREET.value, "镇街": Layer.STREET.value}
)


# --- The report ---------------------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int  # as Excel numbers it
    column: str  # the header as the file spells it; "" for the whole row
    message: str


STRUCTURE_NAME_LABEL = gettext_lazy("Name")
KIND_LABELS = {
    "category": gettext_lazy("Category"),
    "classification": gettext_lazy("Classification"),
    "duty": gettext_lazy("Duty"),
}


@dataclass
class FieldChange:
    field: str  # a name of diff.COMPARED_FIELDS, or "name" for a category or classification
    column: str  # the header(s) as the file spells them; "" where the file has no such column
    old: str  # as the export would write it
    new: str

    @property
    def label(self) -> Any:
        """The field as a person calls it, in the language of whoever reads the report."""
        return FIELD_LABELS.get(self.field, STRUCTURE_NAME_LABEL)


@dataclass
class RowChange:
    """One thing the import adds or changes: a duty, or a category or classification it renames."""

    row: int  # as Excel numbers it: the duty's row, or the first row naming the category or classification
    kind: str  # "duty", "category" or "classification"
    status: str  # "new" or "changed"
    code: str
    title: str  # the duty's title or the structure's name, as the file has it
    fields: list[FieldChange] = field(default_factory=list)  # what changes; empty for a new duty

    @property
    def kind_label(self) -> Any:
        return KIND_LABELS[self.kind]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowChange:
        fields = [FieldChange(**f) for f in data.get("fields", [])]
        return cls(**{k: v for k, v in data.items() if k != "fields"}, fields=fields)

    def to_json(self) -> dict[str, Any]:
        """For the job's status API: the labels as text."""
        return {
            **{k: v for k, v in asdict(self).items() if k != "fields"},
            "kind_label": str(self.kind_label),
            "fields": [{**asdict(f), "label": str(f.label)} for f in self.fields],
        }


@dataclass
class Tally:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.changed + self.unchanged


@dataclass
class ImportReport:
    file_name: str
    file_format: str = ""
    rows: int = 0
    categories: Tally = field(default_factory=Tally)
    classifications: Tally = field(default_factory=Tally)
    duties: Tally = field(default_factory=Tally)
    errors: list[RowError] = field(default_factory=list)
    changes: list[RowChange] = field(default_factory=list)  # in row order; one per new or changed item
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_changes(self) -> bool:
        return any(t.new or t.changed for t in (self.categories, self.classifications, self.duties))

    @property
    def changed(self) -> list[RowChange]:
        """What changes in what the list already has: renamed structure and changed duties."""
        return [c for c in self.changes if c.status == "changed"]

    @property
    def added(self) -> list[RowChange]:
        return [c for c in self.changes if c.status == "new"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        return cls(
            file_name=data["file_name"],
            file_format=data.get("file_format", ""),
            rows=data.get("rows", 0),
            categories=Tally(**data.get("categories", {})),
            classifications=Tally(**data.get("classifications", {})),
            duties=Tally(**data.get("duties", {})),
            errors=[RowError(**e) for e in data.get("errors", [])],
            changes=[RowChange.from_dict(c) for c in data.get("changes", [])],
            written=data.get("written", False),
        )


Progress = Callable[[str, int, int], None]  # (phase, done, total)


# --- Reading ------------------------------------------------------------------------------------------------


@dataclass
class Sheet:
    file_format: str
    headers: dict[str, str]  # key → header as in the file
    positions: dict[str, int]  # key → column index
    rows: list[tuple[int, tuple[Any, ...]]]  # (Excel row number, values), blank rows left out

    def value(self, values: tuple[Any, ...], key: str) -> Any:
        position = self.positions.get(key)
        return values[position] if position is not None and position < len(values) else None


def _header_text(value: Any) -> str:
    return re.sub(r"\s+", "", str(value)) if value is not None else ""


def _match_header(values: tuple[Any, ...]) -> tuple[str, dict[str, int], dict[str, str]] | None:
    texts = [_header_text(v) for v in values]
    if all(h in texts for h in TAXONOMY_HEADERS.values()):
        positions = {key: texts.index(h) for key, h in TAXONOMY_HEADERS.items()}
        return FORMAT_TAXONOMY, positions, dict(TAXONOMY_HEADERS)
    known = {c.header: c.key for c in COLUMNS} | {c.key: c.key for c in COLUMNS}
    positions, headers = {}, {}
    for index, text in enumerate(texts):
        key = known.get(text) or known.get(text.lower())
        if key and key not in positions:
            positions[key], headers[key] = index, str(values[index]).strip()
    if all(k in positions for k in REQUIRED_KEYS):
        return FORMAT_TEMPLATE, positions, headers
    return None


def _row_iter_xlsx(data: bytes) -> Iterator[Iterator[tuple[Any, ...]]]:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for worksheet in workbook.worksheets:
            yield worksheet.iter_rows(values_only=True)
    finally:
        workbook.close()  # read-only workbooks keep the archive open until closed


def _row_iter_csv(data: bytes) -> Iterator[Iterator[tuple[Any, ...]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")  # what Excel writes when a Chinese Windows saves "CSV"
    yield (tuple(row) for row in csv.reader(io.StringIO(text, newline="")))


def read_sheet(data: bytes) -> Sheet:
    """The first worksheet whose header row (within its first rows) is a known layout."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # the OLE container of Excel 97-2003
        raise ApplicationError(
            _("This is an old Excel file (.xls). Open it in Excel and save it as .xlsx, then upload that."),
            code="old_excel_format",
        )
    is_xlsx = data[:4] == b"PK\x03\x04"
    try:
        for rows in _row_iter_xlsx(data) if is_xlsx else _row_iter_csv(data):
            found: tuple[str, dict[str, int], dict[str, str]] | None = None
            collected: list[tuple[int, tuple[Any, ...]]] = []
            for number, values in enumerate(rows, start=1):
                if found is None:
                    if number > HEADER_SCAN_ROWS:
                        break
                    found = _match_header(tuple(values))
                    continue
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                if len(collected) >= MAX_ROWS:
                    raise ApplicationError(
                        _("The file has more than %(n)d rows.") % {"n": MAX_ROWS}, code="file_too_large"
                    )
                collected.append((number, tuple(values)))
            if found is not None:
                file_format, positions, headers = found
                return Sheet(file_format, headers, positions, collected)
    except ApplicationError:
        raise
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) for a file it cannot read
        raise ApplicationError(
            _("The file could not be read as an Excel workbook (.xlsx) or CSV file."), code="unreadable_file"
        ) from exc
    raise ApplicationError(
        _(
            "No header row found. Use the import template's columns, or the three columns "
            "一级分类, 二级分类 and 三级分类."
        ),
        code="unknown_layout",
    )


# --- Cells --------------------------------------------------------------------------------------------------


def _raw(value: Any) -> str:
    """A cell as text, with the export's formula neutralisation undone (``exporting.neutralise``) and
    one kind of line break (LF: a CSV keeps a form's CR LF, an xlsx cell does not); not stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        value = value.isoformat()
    text = str(value)
    if len(text) > 1 and text[0] == "'" and text.lstrip("'").startswith(FORMULA_TRIGGERS):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _text(value: Any) -> str:
    return _raw(value).strip()


_WORD_SPLIT = re.compile("[" + re.escape(WORD_SEPARATORS) + "]")


def _words(value: Any) -> list[str]:
    """Keywords or synonyms: one a line where the cell has a line break (a word may then hold "、", as the
    export writes it: ``exporting.words_cell``; a separator typed at a line's end is dropped), else split
    at "、", commas and semicolons."""
    text = _raw(value)
    if "\n" in text:
        words = [w.strip().strip(WORD_SEPARATORS).strip() for w in text.split("\n")]
    else:
        words = [w.strip() for w in _WORD_SPLIT.split(text)]
    return [w for w in words if w]


# Entries are separated where what follows is clearly a new entry, so that the text of a responsibility
# or an article may itself contain "；" and line breaks (a form's responsibility often has several lines):
# - a cooperating agency: a line break before a line that starts with an agency code (alone, or followed
#   by "：" and its responsibility), or "；" before the next "CODE：" — agency codes are ASCII letters,
#   digits, - _ . and a responsibility's own lines start otherwise ("配合巡查", "1. 巡查");
# - a legal basis: a line break, or "；" before "《" (the title of the next law or document).
_CODE = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_COOPERATING_SPLIT = re.compile(rf"\n(?=[ \t]*{_CODE}[ \t]*(?:[:：]|\n|$))|[;；](?=\s*{_CODE}\s*[:：])")
_LEGAL_SPLIT = re.compile(r"\n|[;；](?=\s*《)")


def _entries(value: Any, pattern: re.Pattern[str]) -> list[str]:
    return [e.strip() for e in pattern.split(_raw(value)) if e.strip()]


def _days(value: Any) -> tuple[int | None, bool]:
    """(number, ok): blank is (None, True)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int):
        return value, True
    if isinstance(value, float) and value.is_integer():
        return int(value), True
    text = _text(value)
    return (int(text), True) if re.fullmatch(r"-?\d+", text) else (None, False)


def _choice(value: Any, table: dict[str, str]) -> str | None:
    return table.get(re.sub(r"\s+", "", _text(value)).lower())


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


# --- Writing ------------------------------------------------------------------------------------------------


class _Refused(Exception):
    """Rows that passed planning but that the service refused while writing (a race with another change
    of the list): undo everything."""

    def __init__(self, errors: list[RowError]):
        super().__init__(errors[0].message if errors else "")
        self.errors = errors


def _row_errors(batch: list[PlannedDuty], error: ApplicationError) -> list[RowError]:
    """``revisions_stage`` refuses one item with its own error, several with ``extra`` by duty code."""
    rows = {d.code: d.row for d in batch}
    if error.code == "invalid_duties":
        return [
            RowError(rows.get(code, 0), "", detail.get("message", error.message))
            for code, detail in error.extra.items()
        ]
    return [RowError(batch[0].row if len(batch) == 1 else 0, "", error.message)]


def _write(
    *,
    actor: Any,
    duty_list: DutyList,
    plan: Plan,
    snapshot: Snapshot,
    file_name: str,
    progress: Progress | None,
) -> None:
    classifications = dict(snapshot.classifications)
    for code, (category_code, name) in plan.classifications.items():
        if code not in classifications:
            classifications[code] = structure_ensure(
                duty_list=duty_list,
                category_code=category_code,
                category_name=plan.categories[category_code],
                classification_code=code,
                classification_name=name,
            )
    # Structure is named, not versioned (structure_ensure): a new name applies to every edition.
    for code in plan.renamed_categories:
        Category.objects.filter(duty_list=duty_list, code=code).update(name=plan.categories[code])
    for code in plan.renamed_classifications:
        name = plan.classifications[code][1]
        Classification.objects.filter(duty_list=duty_list, code=code).update(name=name)

    source_ref = f"import:{file_name}"[:200]
    staged = [d for d in plan.duties if d.status != "unchanged"]
    for start in range(0, len(staged), WRITE_BATCH):
        batch = staged[start : start + WRITE_BATCH]
        try:
            revisions_stage(
                duty_list=duty_list,
                items=[(d.code, d.content) for d in batch],
                source_ref=source_ref,
            )
        except ApplicationError as exc:
            raise _Refused(_row_errors(batch, exc)) from exc
        if progress:
            progress("writing", start + len(batch), len(staged))

    report = plan.report
    audit_record(
        actor=actor,
        action="duty_lists.duty_list.imported",
        target=duty_list,
        reason=file_name,
        after={
            "file": file_name,
            "format": report.file_format,
            "rows": report.rows,
            "categories": asdict(report.categories),
            "classifications": asdict(report.classifications),
            "duties": asdict(report.duties),
        },
    )


def _as_bytes(source: bytes | IO[bytes] | str | PathLike[str]) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | PathLike):
        return Path(source).read_bytes()
    return source.read()


def duty_list_import(
    *,
    actor: Any,
    duty_list: DutyList,
    source: bytes | IO[bytes] | str | PathLike[str],
    file_name: str,
    default_lead: str = "",
    write: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a spreadsheet into ``duty_list`` as pending revisions; ``write=False`` only checks it.

    1. Only the editorial office keeps lists. An unreadable file or an unknown layout raises
       ``ApplicationError``; everything wrong *in* the file is a row error of the report.
    2. Plan every row against one snapshot of the list (under the list's lock when writing).
    3. Any row error, or nothing new: return without writing.
    4. Write structure and pending revisions and one audit entry, all in one transaction; a row a
       service refuses at this point (a race with another writer) undoes the whole import.
    """
    require_registry_keeper(actor)
    sheet = read_sheet(_as_bytes(source))
    report = ImportReport(file_name=file_name, file_format=sheet.file_format, rows=len(sheet.rows))
    if not write:
        make_plan(
            duty_list, sheet, Snapshot.load(duty_list), report, default_lead=default_lead, progress=progress
        )
        return report
    try:
        with transaction.atomic():
            # The lock makes a second import of the same list wait, then plan against this one's result.
            DutyList.objects.select_for_update().get(pk=duty_list.pk)
            snapshot = Snapshot.load(duty_list)
            plan = make_plan(duty_list, sheet, snapshot, report, default_lead=default_lead, progress=progress)
            if report.errors or not report.has_changes:
                return report
            _write(
                actor=actor,
                duty_list=duty_list,
                plan=plan,
                snapshot=snapshot,
                file_name=file_name,
                progress=progress,
            )
            report.written = True
    except _Refused as refused:
        report.errors += refused.errors
        report.written = False
    except IntegrityError as exc:
        # Someone else created one of these duties between our snapshot and our insert (an amendment
        # approved meanwhile): nothing was written; the next attempt plans against their change.
        raise Conflict(
            _("The list changed while it was being imported. Nothing was written; please import again."),
            code="concurrent_change",
        ) from exc
    return report
