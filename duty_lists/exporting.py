"""The spreadsheet format of a duty list, and writing it: exports (xlsx, CSV) and the import template.

An export has exactly the template's columns, so an exported list re-imports (``duty_lists.importing``).
The columns are documented for the people who fill them in in docs/import-template.md.

Formula injection (OWASP "CSV injection"): a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``
or ``@`` (or a tab or carriage return that it strips first) as a formula, so a duty title such as
``=HYPERLINK(...)`` would become a live link in the office's Excel. Every such text cell is written with a
leading ``'``, which Excel shows as text; the import removes that ``'`` again (and a text that itself starts
with ``'`` before such a character gets one more, so that it comes back as it was).

Every cell reads back as it was written (a re-import of an unchanged export finds nothing to change): texts
with several entries are written so that the import splits them where the export joined them — see
``words_cell`` and the cooperating and legal-basis rules in ``duty_lists.importing``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from duty_lists.models import DutyList, DutyRevision, DutyType, Edition, Layer, ParticipationRole, ServiceKind
from duty_lists.proposals import DutyContent
from duty_lists.selectors import revisions_at_edition, revisions_in_force

CHUNK_SIZE = 500  # revisions per query while exporting; prefetches run per chunk (Django ≥ 4.1)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ENTRY_SEPARATOR = "\n"  # cooperating agencies and legal bases: one per line of the cell
WORD_SEPARATOR = "、"  # keywords and synonyms
WORD_SEPARATORS = "、,，;；"  # what the import splits keywords and synonyms at (besides line breaks)


@dataclass(frozen=True)
class Column:
    key: str  # internal name; the import also accepts it as a header
    header: str  # the header in the file
    required: bool
    help: str  # the template's instructions sheet
    example: str | int = ""


# The columns, in order. The file is for Chinese offices, so headers and instructions are fixed Chinese
# text: a file format, not interface text, and it must not change with the reader's language.
COLUMNS: tuple[Column, ...] = (
    Column(
        "category_code", "归口编码", True, "职责归口（第一级）编码，如 03。按文本填写，保留开头的 0。", "03"
    ),
    Column("category_name", "职责归口", True, "职责归口名称。同一编码在各行须同名。", "城乡建设"),
    Column("classification_code", "分类编码", True, "职责分类（第二级）编码，如 03-02。", "03-02"),
    Column("classification_name", "职责分类", True, "职责分类名称。", "城市建设和市政管理"),
    Column(
        "code",
        "事项编码",
        False,
        "工作职责（第三级）编码。留空时：同一分类下已有同名事项则沿用其编码，否则自动编为“分类编码-四位序号”。",
        "03-02-0001",
    ),
    Column("title", "工作职责", True, "事项名称，300 字以内。", "占道经营查处"),
    Column(
        "description",
        "职责描述",
        False,
        "事项的具体内容。",
        "查处在城市道路两侧和公共场地擅自摆摊设点的行为。",
    ),
    Column(
        "duty_type",
        "职责类型",
        False,
        "主责主业、属地管理、执法职责、部门分工合作、对外行政服务之一（也可填代码）；留空为主责主业。",
        "执法职责",
    ),
    Column(
        "service_kind",
        "服务类别",
        False,
        "仅“对外行政服务”填写：行政许可、行政裁决、行政确认、行政给付、行政指导、其他。",
        "",
    ),
    Column("layer", "层级", False, "区级或街道；留空为区级。", "区级"),
    Column(
        "lead_agency",
        "主办单位编码",
        True,
        "主办（牵头）单位的编码，见“部门”页；每项恰有一个。",
        "511602-zhzf",
    ),
    Column("lead_responsibility", "主办单位职责", False, "主办单位承担的职责。", "负责查处占道经营行为。"),
    Column(
        "cooperating",
        "配合单位",
        False,
        "每个配合单位写作“编码：职责”（没有职责时只写编码），一行一个（单元格内按 Alt+Enter 换行），"
        "或用“；”分隔。以单位编码开头的一行、“；”后紧接的“编码：”才开始下一个单位，"
        "因此职责文字里可以有“；”，也可以换行。",
        "511602-sjj：配合查处无照经营",
    ),
    Column(
        "legal_bases",
        "法律法规及文件依据",
        False,
        "每条写作“名称|条款|文号”，条款和文号可省略；一行一条，或用“；”分隔（“；”后须紧接下一条的“《”）。",
        "《城市市容和环境卫生管理条例》|第十四条",
    ),
    Column(
        "keywords",
        "关键词",
        False,
        "用“、”、逗号或分号分隔；或一行一个，此时只按行分隔，词语里可以有“、”。",
        "占道经营、流动摊贩",
    ),
    Column(
        "synonyms",
        "同义词",
        False,
        "用“、”、逗号或分号分隔；或一行一个，此时只按行分隔，词语里可以有“、”。",
        "摆摊设点",
    ),
    Column("promised_days", "承诺时限（工作日）", False, "正整数，可留空。", 5),
    Column("statutory_days", "法定时限（工作日）", False, "正整数，可留空。", 15),
    Column("district_side", "区级职责", False, "属地管理事项中区级部门的职责。", ""),
    Column("street_side", "街道职责", False, "属地管理事项中街道的职责。", ""),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
HEADERS = [c.header for c in COLUMNS]

# The enumerations as the file writes them. The import also accepts the code values (``main``).
DUTY_TYPE_LABELS: dict[str, str] = {
    DutyType.MAIN: "主责主业",
    DutyType.TERRITORIAL: "属地管理",
    DutyType.ENFORCEMENT: "执法职责",
    DutyType.COOPERATIVE: "部门分工合作",
    DutyType.SERVICE: "对外行政服务",
}
SERVICE_KIND_LABELS: dict[str, str] = {
    ServiceKind.LICENSING: "行政许可",
    ServiceKind.ADJUDICATION: "行政裁决",
    ServiceKind.CONFIRMATION: "行政确认",
    ServiceKind.BENEFIT: "行政给付",
    ServiceKind.GUIDANCE: "行政指导",
    ServiceKind.OTHER: "其他",
}
LAYER_LABELS: dict[str, str] = {Layer.DISTRICT: "区级", Layer.STREET: "街道"}


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading ``'``; anything else is unchanged.
    So does a text that already starts with ``'`` before such a character (``'=1``): the import takes one
    ``'`` off whatever starts that way, and must give back the text as it was."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


# --- Rows ---------------------------------------------------------------------------------------------------


def _entries(items: list[str]) -> str:
    return ENTRY_SEPARATOR.join(items)


def words_cell(words: list[str]) -> str:
    """Keywords or synonyms in one cell: "、" between them; or one a line where a word itself holds a
    separator (the demo's keyword "房产证登记、办理"), since the import then splits at line breaks only. A
    single such word ends with a line break, so that the cell still has one."""
    if not any(separator in word for word in words for separator in WORD_SEPARATORS):
        return WORD_SEPARATOR.join(words)
    return ENTRY_SEPARATOR.join(words) + (ENTRY_SEPARATOR if len(words) == 1 else "")


def content_values(content: DutyContent) -> dict[str, str | int]:
    """What a duty says, as the template's columns from ``title`` on (not yet neutralised): what the
    export writes and what the import's report shows as a value before and after."""
    lead = next((p for p in content.participants if p.role == ParticipationRole.LEAD), None)
    bases = []
    for basis in content.legal_bases:
        parts = [basis.title, basis.article, basis.document_number]
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        bases.append("|".join(parts))
    return {
        "title": content.title,
        "description": content.description,
        "duty_type": DUTY_TYPE_LABELS.get(content.duty_type, content.duty_type),
        "service_kind": SERVICE_KIND_LABELS.get(content.service_kind, content.service_kind),
        "layer": LAYER_LABELS.get(content.layer, content.layer),
        "lead_agency": lead.agency if lead else "",
        "lead_responsibility": lead.responsibility if lead else "",
        "cooperating": _entries(
            [
                f"{p.agency}：{p.responsibility}" if p.responsibility else p.agency
                for p in content.participants
                if p.role == ParticipationRole.COOPERATING
            ]
        ),
        "legal_bases": _entries(bases),
        "keywords": words_cell(content.keywords),
        "synonyms": words_cell(content.synonyms),
        "promised_days": content.promised_days if content.promised_days is not None else "",
        "statutory_days": content.statutory_days if content.statutory_days is not None else "",
        "district_side": content.district_side,
        "street_side": content.street_side,
    }


def revision_values(revision: DutyRevision) -> dict[str, str | int]:
    """One duty as the template's columns (not yet neutralised). Needs the revision's classification,
    category, participations with agencies and legal bases loaded (``revisions_in_force`` does)."""
    classification = revision.classification
    return {
        "category_code": classification.category.code,
        "category_name": classification.category.name,
        "classification_code": classification.code,
        "classification_name": classification.name,
        "code": revision.code,
        **content_values(DutyContent.from_revision(revision)),
    }


def _revisions(revisions: Iterable[DutyRevision]) -> Iterator[DutyRevision]:
    # A queryset is read in chunks, each with its prefetches, so memory stays flat for any list size.
    if isinstance(revisions, QuerySet):
        return revisions.iterator(chunk_size=CHUNK_SIZE)
    return iter(revisions)


def export_rows(revisions: Iterable[DutyRevision]) -> Iterator[list[str | int]]:
    """The data rows, neutralised, in the template's column order (no header)."""
    for revision in _revisions(revisions):
        values = revision_values(revision)
        yield [neutralise(values[c.key]) for c in COLUMNS]


# --- CSV ----------------------------------------------------------------------------------------------------


def export_csv(revisions: Iterable[DutyRevision]) -> Iterator[str]:
    """The list as CSV text, a row at a time (for ``StreamingHttpResponse``). The first chunk starts with
    a byte-order mark, so that Excel opens the UTF-8 as UTF-8 and the Chinese reads right: encode every
    chunk as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(HEADERS)
    yield "\ufeff" + take()
    for row in export_rows(revisions):
        writer.writerow(row)
        yield take()


def export_csv_bytes(revisions: Iterable[DutyRevision]) -> bytes:
    return "".join(export_csv(revisions)).encode("utf-8")


# --- xlsx ---------------------------------------------------------------------------------------------------

COLUMN_WIDTHS = {
    "category_name": 16,
    "classification_name": 20,
    "code": 14,
    "title": 30,
    "description": 40,
    "lead_agency": 16,
    "lead_responsibility": 30,
    "cooperating": 36,
    "legal_bases": 40,
    "district_side": 24,
    "street_side": 24,
}


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _cell_text(value: Any) -> Any:
    """openpyxl refuses control characters other than tab, newline and carriage return: drop them."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def export_xlsx(revisions: Iterable[DutyRevision], *, sheet_title: str = "职责清单") -> bytes:
    """The list as an Excel workbook, written in openpyxl's streaming (write-only) mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    for index, column in enumerate(COLUMNS):
        sheet.column_dimensions[_letter(index)].width = COLUMN_WIDTHS.get(column.key, 12)
    sheet.freeze_panes = "A2"
    header = []
    for title in HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in export_rows(revisions):
        sheet.append([_cell_text(v) for v in row])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# --- What to export -----------------------------------------------------------------------------------------


def revisions_for_export(
    duty_list: DutyList, *, edition: Edition | None = None, as_of: date | datetime | None = None
) -> QuerySet[DutyRevision]:
    """The list as the edition published it, as it stood at the end of day ``as_of`` (or at that instant),
    or as it stands now; in code order."""
    if edition is not None:
        queryset = revisions_at_edition(edition)
    elif as_of is not None:
        if not isinstance(as_of, datetime):
            # The end of that day: what was published that day counts.
            next_day = datetime.combine(as_of + timedelta(days=1), time.min)
            as_of = timezone.make_aware(next_day) - timedelta(microseconds=1)
        queryset = revisions_in_force(duty_list=duty_list, as_of=as_of)
    else:
        queryset = revisions_in_force(duty_list=duty_list)
    return queryset.order_by("classification__category__code", "classification__code", "code")


# --- The import template ------------------------------------------------------------------------------------

GENERAL_NOTES = (
    "第一个工作表第一行是表头，不要改动列名；每行一个工作职责（事项）。可以删去不用的可选列，也可以增加其他列（导入时忽略）。",
    "编码类的列请设为“文本”格式，以免 Excel 去掉开头的 0（本模板已设好）。",
    "导入前会检查所有行：任何一行有错，整个文件都不导入，并逐行列出出错的行号和列名。",
    "导入的内容先成为“待发布”的修订，发布新版本后才生效。再次导入同一文件不会产生任何变化。",
    "把职责从区级部门下沉到街道（层级由区级改为街道，或主办单位由区级部门改为街道）须经职责下沉准入审批，不能通过导入完成。",
    "也可以导入只有“一级分类、二级分类、三级分类”三列的分类表：编码自动生成，所有事项使用上传时选择的默认主办单位。",
    "以 = + - @ 开头的文字在导出时前面加了 '（防止被当作公式执行），导入时会自动去掉。",
)


def template_workbook() -> bytes:
    """The import template: the header row and one example row, an instructions sheet, drop-down lists for
    the enumerations and text format for the code columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "职责清单"
    sheet.append(HEADERS)
    sheet.append([c.example for c in COLUMNS])
    required_fill = PatternFill("solid", fgColor="FBEEEE")
    for index, column in enumerate(COLUMNS):
        letter = _letter(index)
        cell = sheet.cell(row=1, column=index + 1)
        cell.font = Font(bold=True)
        if column.required:
            cell.fill = required_fill
        dimension = sheet.column_dimensions[letter]
        dimension.width = COLUMN_WIDTHS.get(column.key, 12)
        if column.key.endswith("code") or column.key == "lead_agency":
            dimension.number_format = "@"
            sheet.cell(row=2, column=index + 1).number_format = "@"
    sheet.freeze_panes = "A2"
    for key, labels in (
        ("duty_type", DUTY_TYPE_LABELS),
        ("service_kind", SERVICE_KIND_LABELS),
        ("layer", LAYER_LABELS),
    ):
        letter = _letter(list(COLUMN_BY_KEY).index(key))
        validation = DataValidation(
            type="list", formula1='"' + ",".join(labels.values()) + '"', allow_blank=True
        )
        validation.add(f"{letter}2:{letter}5000")
        sheet.add_data_validation(validation)

    notes = workbook.create_sheet("填写说明")
    notes.append(["填写说明"])
    notes["A1"].font = Font(bold=True, size=14)
    for line in GENERAL_NOTES:
        notes.append([line])
        notes.merge_cells(start_row=notes.max_row, start_column=1, end_row=notes.max_row, end_column=5)
    notes.append([])
    notes.append(["列名", "内部名", "是否必填", "说明", "示例"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        notes.append(
            [column.header, column.key, "必填" if column.required else "可选", column.help, column.example]
        )
    for letter, width in zip("ABCDE", (20, 22, 10, 80, 36), strict=True):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# --- The register of delegated powers (赋权清单) -------------------------------------------------------

DELEGATION_HEADERS = [
    "事项编码",
    "事项名称",
    "承接街道",
    "赋权部门",
    "法律依据",
    "赋权决定",
    "赋权日期",
    "动态调整编号",
    "收回日期",
]


def export_delegations_xlsx(powers: Iterable[Any]) -> bytes:
    """The delegated powers a page lists, one a row, as an Excel workbook (its headers are the register's
    official column names, in Chinese whatever the interface language, like the duty list's)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("赋权清单")
    sheet.append(DELEGATION_HEADERS)
    for power in powers:
        revision = power.granting_amendment.pending_revision
        row = [
            power.duty.code,
            revision.title if revision is not None else "",
            "、".join(s.name for s in power.streets.all()),
            power.delegating_agency.name if power.delegating_agency else "",
            power.legal_basis,
            power.decision,
            power.granted_on.isoformat(),
            power.granting_amendment_id,
            power.withdrawn_on.isoformat() if power.withdrawn_on else "",
        ]
        sheet.append([_cell_text(neutralise(v)) for v in row])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
