"""Importing grievances in bulk from a spreadsheet (a hotline system's export): ``grievances_import``.

The columns are documented in docs/grievance-import.md. The import never writes half a file:

1. Read the rows: an .xlsx workbook's first sheet (openpyxl, read-only, formulas *not* evaluated: a cell
   holding ``=…`` is read as that text) or a CSV file (UTF-8 with or without BOM; GB18030, what Excel on a
   Chinese Windows writes, as a fallback). The first non-blank row is the header.
2. Check every row against dictionaries loaded once (the street offices, the grievances an earlier import
   made). Every problem becomes a row error naming the row as Excel numbers it and the column as the file
   spells it.
3. Any row error: nothing is written and every bad row is reported.
4. Otherwise, in one transaction, each new row goes through ``grievance_receive`` (so it is routed, and
   dispatched at once when the router is sure enough) with the idempotency key ``import:<external_id>``
   — or, for a row without an external id, ``import:row:<digest of the row>`` — so importing the same file
   again creates nothing new. A row a service refuses at this point undoes the whole import.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from os import PathLike
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, PermissionRefused
from duty_lists.importing import RowError
from duty_lists.models import Agency, AgencyLevel
from grievances.models import Channel, Grievance, GrievanceKind, GrievanceState, GrievanceUrgency
from grievances.services import grievance_receive
from grievances.services.common import is_dispatcher

MAX_ROWS = 10_000  # a day of a large city's hotline; a bigger file should be split
KEY_PREFIX = "import:"
# The idempotency key holds at most 100 characters, and it is the prefix plus the external id.
EXTERNAL_ID_MAX = 100 - len(KEY_PREFIX)
# A received_at this far ahead of the server's clock is a clock difference, not a mistake.
CLOCK_SKEW = timedelta(minutes=5)
# The export of a spreadsheet writer that neutralises formulas prefixes these with an apostrophe.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Chinese header of the documented layout
    max_length: int
    required: bool = False
    aliases: tuple[str, ...] = ()


COLUMNS = (
    Column("title", "标题", 300, required=True, aliases=("诉求标题", "主题")),
    Column("details", "内容", 20_000, aliases=("详情", "诉求内容")),
    Column("channel", "渠道", 20, aliases=("来源",)),
    Column("kind", "类型", 20, aliases=("诉求类型",)),
    Column("urgency", "紧急程度", 10),
    Column("received_at", "受理时间", 40, aliases=("来电时间",)),
    Column("street", "街道", 200),
    Column("address", "地址", 300, aliases=("发生地址",)),
    Column("contact_name", "联系人", 100, aliases=("姓名",)),
    Column("contact_phone", "联系电话", 40, aliases=("电话",)),
    Column("external_id", "外部编号", EXTERNAL_ID_MAX, aliases=("工单编号",)),
    Column("category", "分类", 100, aliases=("诉求分类",)),
)
BY_KEY = {c.key: c for c in COLUMNS}


def _table(codes: list[str], aliases: dict[str, str]) -> dict[str, str]:
    return {**{c: c for c in codes}, **aliases}


CHANNELS = _table(
    Channel.values,
    {"热线": "hotline", "12345": "hotline", "网站": "web", "网络": "web", "app": "app", "移动端": "app"}
    | {"网格员": "grid", "网格": "grid", "信访": "petition", "街道": "street", "open311": "open311"},
)
KINDS = _table(
    GrievanceKind.values,
    {"咨询": "consultation", "求助": "help", "投诉": "complaint", "举报": "report", "建议": "suggestion"},
)
URGENCIES = _table(GrievanceUrgency.values, {"一般": "normal", "普通": "normal", "紧急": "urgent"})
PHONE = re.compile(r"[0-9+()\-\s转#]*")
DATETIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)


# --- The report ---------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    file_name: str
    rows: int = 0
    new: int = 0  # rows that become (or, written, became) grievances
    existing: int = 0  # rows an earlier import already made
    dispatched: int = 0  # of the new ones: dispatched by the router at once
    errors: list[RowError] = field(default_factory=list)
    written: bool = False
    grievance_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def queued(self) -> int:
        return self.new - self.dispatched if self.written else 0


# --- Reading ------------------------------------------------------------------------------------------------


@dataclass
class Sheet:
    headers: dict[str, str]  # key → header as in the file
    positions: dict[str, int]  # key → column index
    rows: list[tuple[int, tuple[Any, ...]]]  # (Excel row number, values), blank rows left out

    def value(self, values: tuple[Any, ...], key: str) -> Any:
        position = self.positions.get(key)
        return values[position] if position is not None and position < len(values) else None


def _blank(values: tuple[Any, ...]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _rows_xlsx(data: bytes) -> Iterator[tuple[Any, ...]]:
    import openpyxl

    # data_only=False: a formula cell is read as its formula text, never as a value computed from it.
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    finally:
        workbook.close()  # read-only workbooks keep the archive open until closed


def _rows_csv(data: bytes) -> Iterator[tuple[Any, ...]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # what Excel writes when a Chinese Windows saves "CSV"
        except UnicodeDecodeError as error:
            raise ApplicationError(
                _("The CSV file is neither UTF-8 nor GB18030 text. Save it as “CSV UTF-8”."),
                code="unreadable_file",
            ) from error
    yield from (tuple(row) for row in csv.reader(io.StringIO(text, newline="")))


def _header_key(text: str) -> str | None:
    normalized = re.sub(r"\s+", "", text).lower()
    for column in COLUMNS:
        if normalized in (column.key, column.header, *column.aliases):
            return column.key
    return None


def read_sheet(data: bytes, report: ImportReport) -> Sheet | None:
    """The header and the non-blank rows; header problems go into the report (and return None)."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # the OLE container of Excel 97-2003
        raise ApplicationError(
            _("This is an old Excel file (.xls). Save it as .xlsx or as CSV UTF-8, then import that."),
            code="old_excel_format",
        )
    header: tuple[Any, ...] | None = None
    header_row = 0
    rows: list[tuple[int, tuple[Any, ...]]] = []
    try:
        for number, values in enumerate(
            _rows_xlsx(data) if data[:4] == b"PK\x03\x04" else _rows_csv(data), 1
        ):
            if _blank(values):
                continue
            if header is None:
                header, header_row = values, number
                continue
            if len(rows) >= MAX_ROWS:
                raise ApplicationError(
                    _("The file has more than %(n)d rows: split it.") % {"n": MAX_ROWS}, code="file_too_large"
                )
            rows.append((number, values))
    except ApplicationError:
        raise
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) for a file it cannot read
        raise ApplicationError(
            _("The file could not be read as an Excel workbook (.xlsx) or a CSV file."),
            code="unreadable_file",
        ) from exc
    if header is None:
        raise ApplicationError(_("The file is empty."), code="empty_file")
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    for index, cell in enumerate(header):
        text = "" if cell is None else str(cell).strip()
        if not text:
            continue
        key = _header_key(text)
        if key is None:
            report.errors.append(RowError(header_row, text, _("Unknown column.")))
        elif key in positions:
            report.errors.append(RowError(header_row, text, _("This column appears twice.")))
        else:
            positions[key], headers[key] = index, text
    for column in COLUMNS:
        if column.required and column.key not in positions:
            report.errors.append(RowError(header_row, column.key, _("Required column missing.")))
    return Sheet(headers, positions, rows) if not report.errors else None


# --- Cells --------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text. Whatever it holds is data: an apostrophe a formula-neutralising export put before
    ``=`` or ``+`` is dropped, and the rest is kept as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number or an id typed into a number cell
    if isinstance(value, datetime | date):
        value = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text.startswith(FORMULA_TRIGGERS, 1):
        text = text[1:]
    return text


def _received_at(value: Any) -> datetime | None:
    """A date and time (naive ones are local time); None when the cell cannot be read as one."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        text = _text(value)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            for pattern in DATETIME_FORMATS:
                try:
                    moment = datetime.strptime(text, pattern)  # noqa: DTZ007  (made aware below)
                    break
                except ValueError:
                    continue
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


# --- Checking -----------------------------------------------------------------------------------------------


@dataclass
class PlannedRow:
    row: int
    key: str  # the idempotency key
    fields: dict[str, Any]


def _streets() -> dict[str, Agency]:
    """Every active street office by its short name, full name and code."""
    streets: dict[str, Agency] = {}
    for agency in Agency.objects.filter(level=AgencyLevel.STREET, is_active=True).select_related("parent"):
        for name in (agency.short_name, agency.name, agency.code):
            if name:
                streets.setdefault(name, agency)
    return streets


def _imported(keys: list[str]) -> dict[str, tuple[str, str]]:
    """Idempotency key → (title, details) of the grievance an earlier import made with it, by any user."""
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(keys), 500):  # SQLite caps the parameters of one query
        rows = Grievance.objects.filter(idempotency_key__in=keys[start : start + 500]).values_list(
            "idempotency_key", "title", "details"
        )
        found.update((key, (title, details)) for key, title, details in rows)
    return found


def _row_key(fields: dict[str, Any]) -> str:
    if fields["external_id"]:
        return f"{KEY_PREFIX}{fields['external_id']}"
    # No id to tell rows apart: the row's content is its identity, so the same file imports once.
    received, street = fields["received_at"], fields["street"]
    parts = [
        fields["title"],
        fields["details"],
        received.isoformat() if received else "",
        street.code if street else "",
        fields["contact_phone"],
    ]
    return f"{KEY_PREFIX}row:{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()[:40]}"


def _check_row(
    sheet: Sheet, number: int, values: tuple[Any, ...], streets: dict[str, Agency], now: datetime
) -> tuple[dict[str, Any], list[RowError]]:
    errors: list[RowError] = []

    def fail(key: str, message: str) -> None:
        errors.append(RowError(number, sheet.headers.get(key, key), message))

    cells = {key: _text(sheet.value(values, key)) for key in sheet.positions}
    for key, text in cells.items():
        if len(text) > BY_KEY[key].max_length:
            fail(key, _("At most %(n)d characters.") % {"n": BY_KEY[key].max_length})
    fields: dict[str, Any] = {
        key: cells.get(key, "")
        for key in ("title", "details", "address", "contact_name", "contact_phone", "category", "external_id")
    }
    if not fields["title"]:
        fail("title", _("Required."))
    for key, table, default in (
        ("channel", CHANNELS, Channel.HOTLINE),
        ("kind", KINDS, GrievanceKind.COMPLAINT),
        ("urgency", URGENCIES, GrievanceUrgency.NORMAL),
    ):
        text = re.sub(r"\s+", "", cells.get(key, "")).lower()
        fields[key] = table.get(text) if text else str(default)
        if fields[key] is None:
            codes = ", ".join(dict.fromkeys(table.values()))
            fail(
                key,
                _("Unknown value “%(value)s”: use one of %(codes)s.") % {"value": cells[key], "codes": codes},
            )
    fields["received_at"] = None
    raw_time = sheet.value(values, "received_at")
    if _text(raw_time):
        moment = _received_at(raw_time)
        if moment is None:
            fail("received_at", _("Not a date and time: write it as 2025-03-01 09:30."))
        elif moment > now + CLOCK_SKEW:
            fail("received_at", _("In the future."))
        else:
            fields["received_at"] = moment
    fields["street"] = None
    if cells.get("street"):
        fields["street"] = streets.get(cells["street"])
        if fields["street"] is None:
            fail("street", _("No street office with this code or name."))
    if fields["contact_phone"] and not PHONE.fullmatch(fields["contact_phone"]):
        fail("contact_phone", _("Not a phone number."))
    return fields, errors


def make_plan(sheet: Sheet, report: ImportReport) -> list[PlannedRow]:
    """Check every row; the rows to create (none when any row is wrong). Counts go into the report."""
    now = timezone.now()
    streets = _streets()
    checked: list[PlannedRow] = []
    seen: dict[str, int] = {}  # idempotency key → the row that first used it
    for number, values in sheet.rows:
        fields, errors = _check_row(sheet, number, values, streets, now)
        report.errors += errors
        if errors:
            continue
        key = _row_key(fields)
        if key in seen:
            column = sheet.headers.get("external_id", "external_id") if fields["external_id"] else ""
            report.errors.append(
                RowError(number, column, _("The same grievance as row %(row)d.") % {"row": seen[key]})
            )
            continue
        seen[key] = number
        checked.append(PlannedRow(number, key, fields))
    imported = _imported([p.key for p in checked])
    plan: list[PlannedRow] = []
    for planned in checked:
        previous = imported.get(planned.key)
        if previous is None:
            plan.append(planned)
        elif previous != (planned.fields["title"], planned.fields["details"]):
            column = sheet.headers.get("external_id", "external_id")
            report.errors.append(
                RowError(planned.row, column, _("Already imported with a different title or content."))
            )
        else:
            report.existing += 1
    report.new = len(plan)
    return plan if not report.errors else []


# --- Writing ------------------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors


def _write(actor: Any, plan: list[PlannedRow], sheet: Sheet, report: ImportReport) -> None:
    for planned in plan:
        try:
            grievance, created = grievance_receive(actor=actor, idempotency_key=planned.key, **planned.fields)
        except ApplicationError as error:
            raise _Refused(
                [
                    RowError(planned.row, sheet.headers.get(key, key), "; ".join(str(m) for m in messages))
                    for key, messages in error.extra.items()
                ]
                or [RowError(planned.row, "", error.message)]
            ) from error
        if not created:  # a concurrent import of the same file made it first
            report.new -= 1
            report.existing += 1
            continue
        report.grievance_ids.append(grievance.pk)
        if grievance.state == GrievanceState.DISPATCHED:
            report.dispatched += 1


def _as_bytes(source: bytes | IO[bytes] | str | PathLike[str]) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | PathLike):
        return Path(source).read_bytes()
    return source.read()


def grievances_import(
    *,
    actor: Any,
    source: bytes | IO[bytes] | str | PathLike[str],
    file_name: str = "",
    write: bool = True,
) -> ImportReport:
    """Import a spreadsheet of grievances; ``write=False`` only checks it (a dry run).

    1. Only dispatchers (or the system actor) record grievances. An unreadable file raises
       ``ApplicationError``; everything wrong *in* the file is a row error of the report.
    2. Check every row; any error and nothing is written.
    3. Create each new row through ``grievance_receive`` in one transaction: all rows or none.
    """
    if not is_dispatcher(actor):
        raise PermissionRefused(_("Only hotline dispatchers import grievances."))
    if not file_name and isinstance(source, str | PathLike):
        file_name = Path(source).name
    report = ImportReport(file_name=file_name)
    sheet = read_sheet(_as_bytes(source), report)
    if sheet is None:
        return report
    report.rows = len(sheet.rows)
    plan = make_plan(sheet, report)
    if report.errors or not write or not plan:
        return report
    try:
        with transaction.atomic():
            _write(actor, plan, sheet, report)
    except _Refused as refused:
        report.errors += refused.errors
        report.new, report.dispatched, report.grievance_ids = 0, 0, []
        return report
    report.written = True
    return report
