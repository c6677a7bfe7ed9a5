"""Reading a duty list's spreadsheet for the import (duty_lists.importing): its header, its rows and
its cells, in the template's format or the taxonomy's."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _

from core.errors import ApplicationError
from duty_lists.exporting import (
    COLUMNS,
    DUTY_TYPE_LABELS,
    FORMULA_TRIGGERS,
    LAYER_LABELS,
    SERVICE_KIND_LABELS,
    WORD_SEPARATORS,
)
from duty_lists.models import (
    Layer,
    ServiceKind,
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
