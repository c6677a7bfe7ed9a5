"""One chart's table as an Excel workbook: the table on the first sheet, with numbers as numbers (rates as
percentages, dates as dates), and on a second sheet what it is — title, period, agency, when it was made.

Text that a spreadsheet would run as a formula (an agency or category named "=HYPERLINK(…)") is written as a
text cell, never as a formula (see duty_lists/exporting.py on formula injection)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

from grievances.dashboard.charts import Chart

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = {"rate": "0.0%", "days": "0.0", "number": "0.00", "int": "#,##0", "date": "yyyy-mm-dd"}
BAD_SHEET_CHARACTERS = str.maketrans({c: " " for c in "[]:*?/\\"})


def _text(value: Any) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _cell(sheet: Any, value: Any, kind: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    if kind == "link":
        value = value[0] if value else None
        kind = "text"
    if value is not None and kind == "text":
        value = _text(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        cell.data_type = "s"  # openpyxl made it a formula because of the "="; it is text
    if kind in FORMATS and value is not None:
        cell.number_format = FORMATS[kind]
    return cell


def chart_workbook(chart: Chart, *, about: Iterable[tuple[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(chart.title.translate(BAD_SHEET_CHARACTERS)[:31] or "data")
    sheet.column_dimensions["A"].width = 28
    sheet.freeze_panes = "A2"
    header = []
    for column in chart.columns:
        cell = _cell(sheet, column.heading, "text")
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in chart.rows:
        sheet.append(
            [_cell(sheet, value, column.kind) for value, column in zip(row, chart.columns, strict=True)]
        )
    notes = workbook.create_sheet(_("About")[:31])
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 60
    for label, value in [(_("Chart"), chart.title), *about]:
        kind = "date" if isinstance(value, date) else "text"
        notes.append([_cell(notes, label, "text"), _cell(notes, value, kind)])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
