"""Importing grievances from a spreadsheet: every row checked first, all rows or none, routed like any other
grievance, and the same file imported twice creates nothing new."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from core.errors import PermissionRefused
from core.workdays import SHANGHAI
from duty_lists.models import Agency
from grievances.importing import grievances_import
from grievances.models import Grievance, GrievanceState
from tests.grievance_helpers import World, build_world

pytestmark = pytest.mark.django_db

HEADER = [
    "title",
    "details",
    "channel",
    "kind",
    "urgency",
    "received_at",
    "street",
    "address",
    "contact_name",
    "contact_phone",
    "external_id",
    "category",
]
ROWS = [
    [
        "小区门口流动摊贩占道经营",
        "每天晚上有人摆摊，占道严重",
        "热线",
        "投诉",
        "",
        "2025-03-01 09:30",
        "S-bc",
        "幸福路3号",
        "王先生",
        "13800000001",
        "HL-0001",
        "市容",
    ],
    [
        "夜间施工噪音扰民",
        "工地晚上施工噪音很大",
        "web",
        "complaint",
        "紧急",
        "2025/3/1 22:05:00",
        "北辰街道办事处",
        "",
        "",
        "",
        "HL-0002",
        "",
    ],
    # A territorial duty: the street where it happened handles it. Formula-looking cells are plain text.
    [
        "小区垃圾堆放无人清运",
        '=HYPERLINK("http://example.invalid","垃圾")',
        "",
        "",
        "",
        "",
        "S-bc",
        "+86 幸福小区",
        "",
        "",
        "",
        "",
    ],
]


@pytest.fixture(autouse=True)
def in_english() -> Any:
    """The messages asserted below are the English source strings; the product's default is zh-Hans."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def csv_bytes(rows: list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], header: list[str]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_good_csv_is_imported_and_routed(dispatcher, world, agency_a, agency_b) -> None:
    report = grievances_import(actor=dispatcher, source=csv_bytes(ROWS), file_name="hotline.csv")
    assert report.ok and report.written
    assert (report.rows, report.new, report.existing, report.dispatched) == (3, 3, 0, 2)

    vending = Grievance.objects.get(external_id="HL-0001")
    assert vending.state == GrievanceState.DISPATCHED and vending.handling_agency == agency_a
    assert vending.duty == world.vending and vending.street == world.street
    assert (vending.channel, vending.kind, vending.urgency) == ("hotline", "complaint", "normal")
    assert vending.received_at == datetime(2025, 3, 1, 9, 30, tzinfo=SHANGHAI)
    assert (vending.contact_name, vending.contact_phone, vending.category) == (
        "王先生",
        "13800000001",
        "市容",
    )
    assert vending.idempotency_key == "import:HL-0001" and vending.submitted_by == dispatcher

    # Its title names the duty (噪音扰民) whole: sure enough to go by itself.
    noise = Grievance.objects.get(external_id="HL-0002")
    assert noise.state == GrievanceState.DISPATCHED and noise.handling_agency == agency_b
    assert (noise.suggestions[0]["duty_id"], noise.suggestions[0]["agency_id"]) == (
        world.noise.pk,
        agency_b.pk,
    )
    assert noise.urgency == "urgent" and noise.channel == "web"
    assert noise.street == world.street  # found by its name as well as its code

    # Not sure enough to go by itself: in the dispatchers' queue, with the router's suggestion.
    litter = Grievance.objects.get(title="小区垃圾堆放无人清运")
    assert litter.state == GrievanceState.RECEIVED
    assert litter.suggestions[0]["agency_id"] == world.street.pk  # the area rule
    assert litter.details == '=HYPERLINK("http://example.invalid","垃圾")'
    assert litter.address == "+86 幸福小区"


def test_a_good_xlsx_with_chinese_headers_is_imported(dispatcher, world, agency_a) -> None:
    header = ["标题", "内容", "渠道", "类型", "受理时间", "街道", "联系电话", "外部编号"]
    rows = [
        [
            "流动摊贩占道经营",
            "有人摆摊占道",
            "网格员",
            "举报",
            datetime(2025, 3, 2, 8, 0),  # noqa: DTZ001  (a spreadsheet's datetimes are naive: local time)
            "S-bc",
            13800000002,
            "X-1",
        ],
        # A real formula cell: read as its text, never evaluated.
        ["路边摆摊占道", "=1+2", "", "", "2025-03-02", "", "", "X-2"],
    ]
    report = grievances_import(actor=dispatcher, source=xlsx_bytes(rows, header), file_name="hotline.xlsx")
    assert report.ok and (report.new, report.dispatched) == (2, 1)
    first = Grievance.objects.get(external_id="X-1")
    assert (first.channel, first.kind, first.contact_phone) == ("grid", "report", "13800000002")
    assert first.received_at == datetime(2025, 3, 2, 8, 0, tzinfo=SHANGHAI)
    assert first.handling_agency == agency_a
    second = Grievance.objects.get(external_id="X-2")
    assert second.details == "=1+2" and second.street is None
    assert second.suggestions[0]["duty_id"] == world.vending.pk
    assert second.received_at == datetime(2025, 3, 2, 0, 0, tzinfo=SHANGHAI)


def test_one_bad_row_writes_nothing_and_the_report_names_row_and_column(dispatcher, world) -> None:
    rows = [ROWS[0], [*ROWS[1][:5], "昨天晚上", *ROWS[1][6:]], [*ROWS[2][:6], "S-nowhere", *ROWS[2][7:]]]
    report = grievances_import(actor=dispatcher, source=csv_bytes(rows), file_name="bad.csv")
    assert not report.ok and not report.written
    assert [(e.row, e.column) for e in report.errors] == [(3, "received_at"), (4, "street")]
    assert "2025-03-01 09:30" in report.errors[0].message
    assert not Grievance.objects.exists()


def test_every_kind_of_bad_cell_is_reported_at_once(dispatcher, world) -> None:
    rows = [
        ["", "没有标题", "", "", "", "", "", "", "", "", "", ""],
        ["标题", "", "传真", "抱怨", "特急", "2999-01-01 00:00", "", "", "", "电话号码", "", ""],
        ["标题二", "", "", "", "", "", "", "", "", "", "A" * 94, ""],
    ]
    report = grievances_import(actor=dispatcher, source=csv_bytes(rows), write=False)
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "title"),
        (3, "channel"),
        (3, "kind"),
        (3, "urgency"),
        (3, "received_at"),
        (3, "contact_phone"),
        (4, "external_id"),
    ]


def test_header_problems_are_reported_on_the_header_row(dispatcher, world) -> None:
    report = grievances_import(actor=dispatcher, source=csv_bytes([["x"]], header=["标题x"]))
    assert [(e.row, e.column) for e in report.errors] == [(1, "标题x"), (1, "title")]


def test_importing_the_same_file_twice_creates_nothing_new(dispatcher, world) -> None:
    data = csv_bytes(ROWS)
    grievances_import(actor=dispatcher, source=data)
    count = Grievance.objects.count()
    again = grievances_import(actor=dispatcher, source=data)
    assert again.ok and not again.written and (again.new, again.existing) == (0, 3)
    assert Grievance.objects.count() == count == 3
    # A longer export of the same day: only its new rows are created.
    extra = ["又有流动摊贩摆摊占道", "", "", "", "", "", "S-bc", "", "", "", "HL-0004", ""]
    longer = grievances_import(actor=dispatcher, source=csv_bytes([*ROWS, extra]))
    assert (longer.new, longer.existing) == (1, 3) and Grievance.objects.count() == 4


def test_an_external_id_imported_with_other_content_is_refused(dispatcher, world) -> None:
    grievances_import(actor=dispatcher, source=csv_bytes(ROWS[:1]))
    changed = [["另一件事", *ROWS[0][1:]]]
    report = grievances_import(actor=dispatcher, source=csv_bytes(changed))
    assert [(e.row, e.column) for e in report.errors] == [(2, "external_id")]
    assert Grievance.objects.count() == 1


def test_the_same_row_twice_in_one_file_is_reported(dispatcher, world) -> None:
    report = grievances_import(actor=dispatcher, source=csv_bytes([ROWS[0], ROWS[1], ROWS[0]]))
    assert [(e.row, e.column) for e in report.errors] == [(4, "external_id")]
    assert "row 2" in report.errors[0].message
    assert not Grievance.objects.exists()


def test_a_chinese_windows_csv_is_read(dispatcher, world) -> None:
    report = grievances_import(actor=dispatcher, source=csv_bytes(ROWS[:1], encoding="gb18030"))
    assert report.ok and Grievance.objects.get().title == ROWS[0][0]


def test_only_dispatchers_import(member_a, world) -> None:
    with pytest.raises(PermissionRefused):
        grievances_import(actor=member_a, source=csv_bytes(ROWS))


# --- The command -------------------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    """The command's exit status (a CommandError's return code is what manage.py exits with), stdout and
    stderr. call_command, not manage.py's entry point: that one closes the test's database connection."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_grievances", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), str(error)
    return 0, out.getvalue(), err.getvalue()


def test_the_command_imports_and_prints_a_summary(dispatcher, world, tmp_path: Path) -> None:
    path = tmp_path / "hotline.csv"
    path.write_bytes(csv_bytes(ROWS))
    status, out, _ = run(str(path), "--as", "dispatcher", "--dry-run")
    assert (
        status == 0 and "hotline.csv: 3 rows" in out and "would create          3" in out and "Dry run" in out
    )
    assert not Grievance.objects.exists()

    status, out, _ = run(str(path), "--as", "dispatcher")
    assert status == 0
    assert "created               3  (2 dispatched automatically, 1 in the dispatchers' queue)" in out
    assert Grievance.objects.filter(submitted_by=dispatcher).count() == 3

    status, out, _ = run(str(path))  # as the system actor: the rows are still the ones imported before
    assert status == 0 and "already imported      3" in out and "Nothing new" in out
    assert Grievance.objects.count() == 3


def test_the_command_exits_non_zero_and_lists_each_bad_row(dispatcher, world, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([ROWS[0], [*ROWS[1][:6], "S-nowhere", *ROWS[1][7:]]]))
    status, out, err = run(str(path), "--as", "dispatcher")
    assert status == 1
    assert "row 3, street: No street office with this code or name." in out
    assert err == "1 problems in the file: nothing was imported."
    assert not Grievance.objects.exists()


def test_the_command_refuses_unknown_users_non_dispatchers_and_missing_files(
    member_a, world, tmp_path: Path
) -> None:
    path = tmp_path / "hotline.csv"
    path.write_bytes(csv_bytes(ROWS))
    assert run(str(path), "--as", "nobody")[::2] == (1, "No active user nobody.")
    status, _, err = run(str(path), "--as", member_a.username)
    assert status == 1 and "dispatchers" in err
    status, _, err = run(str(tmp_path / "missing.csv"))
    assert status == 1 and "Cannot read" in err
    assert not Grievance.objects.exists()
