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

Its parts: ``importing_read`` (the sheet, its header and cells), ``importing_plan`` (what the list holds
now and what each row would change) and ``importing_report`` (what was found and done). This module writes
the plan and keeps their public names.
"""

from __future__ import annotations

from dataclasses import asdict
from os import PathLike
from pathlib import Path
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, Conflict
from duty_lists.importing_plan import (
    LEGAL_BASIS_LENGTHS,
    MAX_DAYS,
    MAX_LENGTHS,
    Plan,
    PlannedDuty,
    Planner,
    Snapshot,
    make_plan,
)
from duty_lists.importing_read import (
    FORMAT_TAXONOMY,
    FORMAT_TEMPLATE,
    HEADER_SCAN_ROWS,
    MAX_ROWS,
    PROGRESS_EVERY,
    REQUIRED_KEYS,
    TAXONOMY_HEADERS,
    WRITE_BATCH,
    Sheet,
    read_sheet,
)
from duty_lists.importing_report import (
    KIND_LABELS,
    STRUCTURE_NAME_LABEL,
    FieldChange,
    ImportReport,
    Progress,
    RowChange,
    RowError,
    Tally,
)
from duty_lists.models import (
    Category,
    Classification,
    DutyList,
)
from duty_lists.services.registry import (
    require_registry_keeper,
    revisions_stage,
    structure_ensure,
)

__all__ = [
    "FORMAT_TAXONOMY",
    "FORMAT_TEMPLATE",
    "HEADER_SCAN_ROWS",
    "KIND_LABELS",
    "LEGAL_BASIS_LENGTHS",
    "MAX_DAYS",
    "MAX_LENGTHS",
    "MAX_ROWS",
    "PROGRESS_EVERY",
    "REQUIRED_KEYS",
    "STRUCTURE_NAME_LABEL",
    "TAXONOMY_HEADERS",
    "WRITE_BATCH",
    "FieldChange",
    "ImportReport",
    "Plan",
    "PlannedDuty",
    "Planner",
    "Progress",
    "RowChange",
    "RowError",
    "Sheet",
    "Snapshot",
    "Tally",
    "duty_list_import",
    "make_plan",
    "read_sheet",
]


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
