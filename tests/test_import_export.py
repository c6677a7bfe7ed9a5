"""Excel import and export of duty lists: the service, the commands and the browser flow."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import NoReverseMatch, include, path, reverse
from django.utils import translation

from config import urls as config_urls
from config.celery_app import app as celery_app
from core.actors import SYSTEM
from core.errors import ApplicationError, PermissionRefused
from core.models import AuditEntry
from duty_lists.exporting import (
    HEADERS,
    export_csv,
    export_csv_bytes,
    export_xlsx,
    revisions_for_export,
    template_workbook,
)
from duty_lists.importing import FieldChange, ImportReport, RowChange, duty_list_import
from duty_lists.models import (
    AgencyLevel,
    Category,
    Classification,
    Duty,
    DutyList,
    DutyRevision,
    Edition,
    Participation,
)
from duty_lists.proposals import DutyContent, LegalBasisSpec, ParticipantSpec
from duty_lists.search import build_search_text
from duty_lists.selectors import revisions_in_force
from duty_lists.services import (
    duty_list_create,
    edition_publish,
    revision_stage,
    revisions_stage,
    structure_ensure,
)
from duty_lists.tasks import ImportJob, JobState, import_job_execute, job_load, job_save
from tests.factories import AgencyFactory, MembershipFactory, UserFactory

TAXONOMY = Path(settings.BASE_DIR).parent / "shared" / "data" / "tipdm2020" / "taxonomy_3level.xlsx"

# The browser tests need the import pages routed whether or not config/urls.py includes them yet; the
# import's include goes first, as it must in the real URLconf (see duty_lists/urls_import.py).
_wired = any(getattr(p, "namespace", None) == "duty_list_import" for p in config_urls.urlpatterns)
urlpatterns = [
    *([] if _wired else [path("duty-lists/", include("duty_lists.urls_import"))]),
    *config_urls.urlpatterns,
]
handler400, handler403 = config_urls.handler400, config_urls.handler403
handler404, handler500 = config_urls.handler404, config_urls.handler500
with_import_urls = pytest.mark.urls(__name__)


# --- Helpers ------------------------------------------------------------------------------------------------


def _taxonomy() -> bytes:
    if not TAXONOMY.exists():
        pytest.fail(f"The organiser's taxonomy file is missing: {TAXONOMY} (shared/data/tipdm2020)")
    return TAXONOMY.read_bytes()


def _workbook(rows: list[list[Any]], headers: list[str] = HEADERS) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _row(**values: Any) -> list[Any]:
    """A template row: the given columns (by internal name), the rest blank."""
    from duty_lists.exporting import COLUMNS

    defaults = {
        "category_code": "01",
        "category_name": "城乡建设",
        "classification_code": "01-01",
        "classification_name": "城市管理",
        "duty_type": "主责主业",
        "layer": "区级",
    }
    merged = defaults | values
    return [merged.get(c.key, "") for c in COLUMNS]


def _job(job_id: str) -> ImportJob:
    job = job_load(job_id)
    assert job is not None
    return job


def _new_list(code: str = "ms") -> DutyList:
    return duty_list_create(actor=SYSTEM, code=code, name=f"清单{code}", kind="livelihood")


def _import(duty_list: DutyList, data: bytes, **kwargs: Any) -> ImportReport:
    kwargs.setdefault("actor", SYSTEM)
    kwargs.setdefault("file_name", "list.xlsx")
    return duty_list_import(duty_list=duty_list, source=data, **kwargs)


def _contents(duty_list: DutyList, *, pending: bool = False) -> dict[str, DutyContent]:
    if pending:
        revisions = DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True)
    else:
        revisions = revisions_in_force(duty_list=duty_list)
    return {
        r.code: DutyContent.from_revision(r)
        for r in revisions.select_related("classification").prefetch_related(
            "participations__agency", "legal_bases"
        )
    }


@pytest.fixture
def street(db: None) -> Any:
    return AgencyFactory(code="S-bc", name="北辰街道办事处", level=AgencyLevel.STREET)


@pytest.fixture
def eager_celery() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


# --- The organiser's taxonomy -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_organisers_taxonomy_imports_as_15_categories_118_classifications_517_duties(agency_a) -> None:
    duty_list = _new_list()
    report = _import(duty_list, _taxonomy(), default_lead=agency_a.code, file_name="taxonomy_3level.xlsx")

    assert report.ok and report.written and report.file_format == "taxonomy" and report.rows == 517
    assert (report.categories.new, report.classifications.new, report.duties.new) == (15, 118, 517)
    assert Category.objects.filter(duty_list=duty_list).count() == 15
    assert Classification.objects.filter(duty_list=duty_list).count() == 118
    assert Duty.objects.filter(duty_list=duty_list).count() == 517
    pending = DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True)
    assert pending.count() == 517
    assert not pending.exclude(duty_type="main").exists() and not pending.exclude(layer="district").exists()
    assert (
        Participation.objects.filter(revision__duty_list=duty_list, role="lead", agency=agency_a).count()
        == 517
    )
    # Codes in order of first appearance: the file starts 城乡建设 / 安全生产 / 事故处理.
    first = pending.get(code="01-01-0001")
    assert (first.title, first.classification.name, first.classification.category.name) == (
        "事故处理",
        "安全生产",
        "城乡建设",
    )
    assert first.source_ref == "import:taxonomy_3level.xlsx"
    assert Category.objects.get(duty_list=duty_list, code="15")
    entry = AuditEntry.objects.get(action="duty_lists.duty_list.imported")
    assert entry.object_id == str(duty_list.pk)
    after = entry.after or {}
    assert after["file"] == "taxonomy_3level.xlsx"
    assert after["duties"] == {"new": 517, "changed": 0, "unchanged": 0}


@pytest.mark.django_db
def test_reimporting_the_same_file_changes_nothing_before_and_after_publication(agency_a) -> None:
    duty_list = _new_list()
    data = _taxonomy()
    _import(duty_list, data, default_lead=agency_a.code)
    revision_ids = set(DutyRevision.objects.values_list("id", flat=True))

    again = _import(duty_list, data, default_lead=agency_a.code)
    assert again.ok and not again.written
    assert (again.categories.unchanged, again.classifications.unchanged, again.duties.unchanged) == (
        15,
        118,
        517,
    )
    assert again.duties.new == again.duties.changed == 0
    assert set(DutyRevision.objects.values_list("id", flat=True)) == revision_ids

    edition_publish(actor=SYSTEM, duty_list=duty_list)
    after_publication = _import(duty_list, data, default_lead=agency_a.code)
    assert after_publication.duties.unchanged == 517 and not after_publication.written
    assert not DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True).exists()
    assert AuditEntry.objects.filter(action="duty_lists.duty_list.imported").count() == 1


@pytest.mark.django_db
def test_a_file_of_names_only_needs_a_default_lead_agency(agency_a) -> None:
    duty_list = _new_list()
    with pytest.raises(ApplicationError) as refused:
        _import(
            duty_list, _workbook([["城乡建设", "安全生产", "事故处理"]], ["一级分类", "二级分类", "三级分类"])
        )
    assert refused.value.code == "default_lead_required"
    with pytest.raises(ApplicationError) as unknown:
        _import(duty_list, _taxonomy(), default_lead="no-such-agency")
    assert unknown.value.code == "unknown_agency"
    assert not Duty.objects.exists()


@pytest.mark.django_db
def test_names_only_reuse_the_codes_the_list_already_has(agency_a) -> None:
    """A second, longer version of a taxonomy keeps the first one's codes and numbers what is new after
    them, even where the new row comes first."""
    duty_list = _new_list()
    headers = ["一级分类", "二级分类", "三级分类"]
    _import(duty_list, _workbook([["城乡建设", "安全生产", "事故处理"]], headers), default_lead=agency_a.code)
    report = _import(
        duty_list,
        _workbook([["城乡建设", "安全生产", "安全隐患"], ["城乡建设", "安全生产", "事故处理"]], headers),
        default_lead=agency_a.code,
    )
    assert (report.duties.new, report.duties.unchanged) == (1, 1)
    titles = dict(DutyRevision.objects.values_list("code", "title"))
    assert titles == {"01-01-0001": "事故处理", "01-01-0002": "安全隐患"}


@pytest.mark.django_db
def test_blank_names_below_a_merged_cell_take_the_name_above(agency_a) -> None:
    duty_list = _new_list()
    rows: list[list[Any]] = [
        ["城乡建设", "安全生产", "事故处理"],
        [None, None, "安全隐患"],
        [None, "城乡规划", "违法建设"],
    ]
    report = _import(
        duty_list, _workbook(rows, ["一级分类", "二级分类", "三级分类"]), default_lead=agency_a.code
    )
    assert report.ok and (report.categories.new, report.classifications.new, report.duties.new) == (1, 2, 3)
    assert dict(DutyRevision.objects.values_list("title", "code")) == {
        "事故处理": "01-01-0001",
        "安全隐患": "01-01-0002",
        "违法建设": "01-02-0001",
    }


# --- The template layout ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_broken_template_file_writes_nothing_and_names_each_bad_row_and_column(agency_a) -> None:
    duty_list = _new_list()
    data = _workbook(
        [
            _row(title="占道经营", lead_agency=agency_a.code),  # row 2: fine
            _row(title="噪音扰民", lead_agency="no-such-agency"),  # row 3
            _row(title="", lead_agency=agency_a.code),  # row 4
            _row(title="油烟污染", lead_agency=agency_a.code, duty_type="重要职责"),  # row 5
        ]
    )
    report = _import(duty_list, data)

    assert not report.written
    assert {(e.row, e.column) for e in report.errors} == {
        (3, "主办单位编码"),
        (4, "工作职责"),
        (5, "职责类型"),
    }
    assert "no-such-agency" in next(e.message for e in report.errors if e.row == 3)
    assert not Category.objects.exists() and not Duty.objects.exists() and not DutyRevision.objects.exists()
    assert not AuditEntry.objects.filter(action="duty_lists.duty_list.imported").exists()


@pytest.mark.django_db
def test_every_template_column_is_read_with_chinese_labels_or_codes(agency_a, agency_b) -> None:
    duty_list = _new_list()
    data = _workbook(
        [
            _row(
                code="01-01-0007",
                title="  占道经营  ",
                description="查处占道经营。",
                duty_type="对外行政服务",
                service_kind="行政许可",
                layer="街道",
                lead_agency=agency_a.code,
                lead_responsibility="负责查处；负责劝导",
                cooperating=f"{agency_b.code}：配合查处；移送线索",
                legal_bases="《城市市容和环境卫生管理条例》|第十四条；第十五条|文号1；《广安区规定》||广府发〔2024〕1号",
                keywords="占道、摆摊, 流动摊贩",
                synonyms="摆摊设点",
                promised_days=5,
                statutory_days="15",
                district_side="区级督办",
                street_side="街道巡查",
            ),
            _row(
                classification_code="01-02",
                classification_name="市容环境",
                title="违规广告",
                duty_type="enforcement",
                layer="district",
                lead_agency=agency_b.code,
                cooperating=f"{agency_a.code}: 巡查；上报",
                legal_bases="关于规范户外广告的通知|第二条\n《条例》",
            ),
        ]
    )
    report = _import(duty_list, data)
    assert report.ok, report.errors
    contents = _contents(duty_list, pending=True)
    assert contents["01-01-0007"] == DutyContent(
        classification="01-01",
        title="占道经营",
        description="查处占道经营。",
        duty_type="service",
        service_kind="licensing",
        layer="street",
        keywords=["占道", "摆摊", "流动摊贩"],
        synonyms=["摆摊设点"],
        promised_days=5,
        statutory_days=15,
        district_side="区级督办",
        street_side="街道巡查",
        participants=[
            ParticipantSpec(agency_a.code, "lead", "负责查处；负责劝导"),
            ParticipantSpec(agency_b.code, "cooperating", "配合查处；移送线索"),
        ],
        legal_bases=[
            LegalBasisSpec("《城市市容和环境卫生管理条例》", "第十四条；第十五条", "文号1"),
            LegalBasisSpec("《广安区规定》", "", "广府发〔2024〕1号"),
        ],
    )
    second = contents["01-02-0001"]  # a blank code is generated in its classification
    assert (second.duty_type, second.layer) == ("enforcement", "district")
    assert second.participants == [
        ParticipantSpec(agency_b.code, "lead", ""),
        ParticipantSpec(agency_a.code, "cooperating", "巡查；上报"),
    ]
    assert second.legal_bases == [
        LegalBasisSpec("关于规范户外广告的通知", "第二条"),
        LegalBasisSpec("《条例》"),
    ]


@pytest.mark.django_db
def test_contradicting_structure_and_duplicate_codes_are_row_errors(agency_a) -> None:
    duty_list = _new_list()
    structure_ensure(
        duty_list=duty_list,
        category_code="02",
        category_name="环境保护",
        classification_code="02-01",
        classification_name="噪音污染",
    )
    data = _workbook(
        [
            _row(code="X-1", title="甲", lead_agency=agency_a.code),
            _row(code="X-1", title="乙", lead_agency=agency_a.code),  # row 3: same code
            _row(
                category_name="另一个名字", title="丙", lead_agency=agency_a.code
            ),  # row 4: 01 renamed mid-file
            _row(
                classification_code="02-01", title="丁", lead_agency=agency_a.code
            ),  # row 5: 02-01 is under 02
            _row(title="甲", lead_agency=agency_a.code, promised_days="三天"),  # row 6
        ]
    )
    report = _import(duty_list, data)
    assert {(e.row, e.column) for e in report.errors} == {
        (3, "事项编码"),
        (4, "职责归口"),
        (5, "分类编码"),
        (6, "承诺时限（工作日）"),
    }
    assert not report.written and not Duty.objects.exists()


@pytest.mark.django_db
def test_generated_codes_avoid_the_codes_the_file_gives_explicitly(agency_a) -> None:
    duty_list = _new_list()
    report = _import(
        duty_list,
        _workbook(
            [
                _row(title="甲", lead_agency=agency_a.code),  # no code: must not take 01-01-0001 from row 3
                _row(code="01-01-0001", title="乙", lead_agency=agency_a.code),
            ]
        ),
    )
    assert report.ok, report.errors
    assert dict(DutyRevision.objects.values_list("code", "title")) == {"01-01-0001": "乙", "01-01-0002": "甲"}


@pytest.mark.django_db
def test_a_changed_row_is_staged_and_the_rest_left_alone(agency_a, agency_b) -> None:
    duty_list = _new_list()
    rows = [_row(code=f"01-01-000{i}", title=f"职责{i}", lead_agency=agency_a.code) for i in range(1, 4)]
    _import(duty_list, _workbook(rows))
    edition_publish(actor=SYSTEM, duty_list=duty_list)

    # The category renamed in every row, one lead changed, one duty added.
    renamed = "城乡建设与管理"
    rows = [
        _row(code=f"01-01-000{i}", title=f"职责{i}", lead_agency=agency_a.code, category_name=renamed)
        for i in (1, 3, 4)
    ]
    rows.insert(1, _row(code="01-01-0002", title="职责2", lead_agency=agency_b.code, category_name=renamed))
    report = _import(duty_list, _workbook(rows))

    assert report.written
    assert (report.duties.new, report.duties.changed, report.duties.unchanged) == (1, 1, 2)
    assert (report.categories.changed, report.classifications.unchanged) == (1, 1)
    pending = DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True)
    assert sorted(pending.values_list("code", flat=True)) == ["01-01-0002", "01-01-0004"]
    assert Category.objects.get(duty_list=duty_list, code="01").name == "城乡建设与管理"


@pytest.mark.django_db
def test_pushing_a_duty_down_to_a_street_is_a_row_error(agency_a, street) -> None:
    duty_list = _new_list()
    _import(duty_list, _workbook([_row(code="01-01-0001", title="占道经营", lead_agency=agency_a.code)]))
    edition_publish(actor=SYSTEM, duty_list=duty_list)

    by_lead = _import(
        duty_list, _workbook([_row(code="01-01-0001", title="占道经营", lead_agency=street.code)])
    )
    by_layer = _import(
        duty_list,
        _workbook([_row(code="01-01-0001", title="占道经营", lead_agency=agency_a.code, layer="街道")]),
    )

    assert [(e.row, e.column) for e in by_lead.errors] == [(2, "主办单位编码")]
    assert [(e.row, e.column) for e in by_layer.errors] == [(2, "层级")]
    assert "delegation" in by_lead.errors[0].message or "下沉" in by_lead.errors[0].message
    assert not by_lead.written and not by_layer.written
    assert not DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True).exists()
    # A new duty may start at a street: only moving one down needs the delegation procedure.
    new = _import(duty_list, _workbook([_row(code="01-01-0002", title="门前三包", lead_agency=street.code)]))
    assert new.ok and new.written


@pytest.mark.django_db
def test_an_unreadable_file_or_unknown_header_is_refused_as_a_whole(agency_a) -> None:
    duty_list = _new_list()
    with pytest.raises(ApplicationError) as unreadable:
        _import(duty_list, b"PK\x03\x04 not really a zip")
    assert unreadable.value.code == "unreadable_file"
    with pytest.raises(ApplicationError) as unknown:
        _import(duty_list, _workbook([["a", "b"]], ["名称", "备注"]))
    assert unknown.value.code == "unknown_layout"


# --- Export -------------------------------------------------------------------------------------------------


def _rich_rows(agency_a: Any, agency_b: Any) -> list[list[Any]]:
    return [
        _row(
            code="01-01-0001",
            title="占道经营",
            description="第一行\n第二行",
            duty_type="执法职责",
            lead_agency=agency_a.code,
            lead_responsibility="负责查处；负责劝导",
            cooperating=f"{agency_b.code}：配合；移送",
            legal_bases="《条例》|第十四条；第十五条|文号1",
            keywords="占道、摆摊",
            synonyms="摆摊设点",
            promised_days=5,
        ),
        _row(
            category_code="02",
            category_name="环境保护",
            classification_code="02-01",
            classification_name="噪音污染",
            code="02-01-0001",
            title="社会生活噪音",
            duty_type="属地管理",
            lead_agency=agency_b.code,
            district_side="区级统筹",
            street_side="街道巡查",
            statutory_days=10,
        ),
        _row(
            code="01-01-0002",
            title="户外广告审批",
            duty_type="对外行政服务",
            service_kind="行政许可",
            lead_agency=agency_a.code,
            cooperating=f"{agency_b.code}\n",
        ),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_an_export_reimports_into_a_fresh_list_with_the_same_content(agency_a, agency_b, file_format) -> None:
    source = _new_list("source")
    assert _import(source, _workbook(_rich_rows(agency_a, agency_b))).written
    edition_publish(actor=SYSTEM, duty_list=source)

    revisions = revisions_for_export(source)
    data = export_xlsx(revisions) if file_format == "xlsx" else export_csv_bytes(revisions)
    copy = _new_list("copy")
    report = _import(copy, data, file_name=f"export.{file_format}")

    assert report.ok and report.written and report.duties.new == 3
    assert _contents(copy, pending=True) == _contents(source)
    for model, fields in ((Category, ["code", "name"]), (Classification, ["code", "name", "category__code"])):
        assert list(model.objects.filter(duty_list=copy).values_list(*fields)) == list(
            model.objects.filter(duty_list=source).values_list(*fields)
        )
    # And back into the source itself: nothing to change.
    assert _import(source, data).duties.unchanged == 3


# --- Round trip: an unchanged export is no change, and every change names its row and field ------------


@pytest.fixture
def agency_c(db: None) -> Any:
    return AgencyFactory(code="C-zjj", name="区住建局")


def _rich_list(agency_a: Any, agency_b: Any, agency_c: Any) -> DutyList:
    """A published list as people fill one in: the rich rows of an import, and two duties as the amendment
    form and the API store them — a form's "\\r\\n", blank space around a text, keywords that hold "、"
    themselves (the demo's "房产证登记、办理"), a cooperating responsibility of several lines, three legal
    bases, a text that starts like a formula, empty optional fields."""
    duty_list = _new_list("rich")
    assert _import(duty_list, _workbook(_rich_rows(agency_a, agency_b))).written
    revisions_stage(
        duty_list=duty_list,
        items=[
            (
                "01-01-0003",
                DutyContent(
                    classification="01-01",
                    title="房产证办理",
                    description="受理房产证登记、办理的诉求。\r\n第二段：答复时限。\r\n",
                    duty_type="cooperative",
                    keywords=["房产证登记、办理", "住房保障与房地产"],
                    synonyms=["办证；过户"],
                    promised_days=3,
                    district_side="-负责统筹（以减号开头）",
                    street_side="'=不是公式",
                    participants=[
                        ParticipantSpec(agency_a.code, "lead", "负责受理\r\n负责答复"),
                        ParticipantSpec(
                            agency_c.code, "cooperating", "配合核查\r\n1. 调取档案\r\n2. 出具意见"
                        ),
                        ParticipantSpec(agency_b.code, "cooperating", ""),
                    ],
                    legal_bases=[
                        LegalBasisSpec("《不动产登记暂行条例》", "第十四条；第十五条", "国务院令第656号"),
                        LegalBasisSpec("《广安区办事指南》"),
                        LegalBasisSpec("关于规范不动产登记的通知", "", "广府办〔2024〕3号"),
                    ],
                ),
            ),
            (
                "01-01-0004",
                DutyContent(
                    classification="01-01",
                    title="供水供电报装指导",
                    duty_type="service",
                    service_kind="guidance",
                    keywords=["供水、供电"],
                    participants=[ParticipantSpec(agency_b.code, "lead", " 受理并指导 ")],
                    legal_bases=[LegalBasisSpec("《电力供应与使用条例》", "第八条")],
                ),
            ),
        ],
        source_ref="amendment:form",
    )
    edition_publish(actor=SYSTEM, duty_list=duty_list)
    return duty_list


def _export(duty_list: DutyList, file_format: str) -> bytes:
    revisions = revisions_for_export(duty_list)
    return export_xlsx(revisions) if file_format == "xlsx" else export_csv_bytes(revisions)


def _edited(data: bytes, code: str, key: str, value: Any) -> bytes:
    """An exported workbook with one cell changed: column ``key`` of duty ``code``'s row."""
    from duty_lists.exporting import COLUMNS

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    keys = [c.key for c in COLUMNS]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[keys.index("code")].value == code)
    row[keys.index(key)].value = value
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_an_unchanged_export_reimported_into_its_list_reports_no_change(
    agency_a, agency_b, agency_c, file_format
) -> None:
    duty_list = _rich_list(agency_a, agency_b, agency_c)
    data = _export(duty_list, file_format)

    preview = _import(duty_list, data, write=False, file_name=f"export.{file_format}")
    assert preview.ok, preview.errors
    assert preview.changes == [] and preview.changed == [] and preview.added == []
    assert not preview.has_changes
    assert (preview.duties.new, preview.duties.changed, preview.duties.unchanged) == (0, 0, 5)
    for tally in (preview.categories, preview.classifications):
        assert tally.new == tally.changed == 0
    assert ImportReport.from_dict(preview.to_dict()) == preview  # as the browser's job keeps it

    again = _import(duty_list, data, file_name=f"export.{file_format}")
    assert again.ok and not again.written and again.changes == []
    assert not DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True).exists()


@pytest.mark.django_db
def test_a_keyword_holding_a_separator_is_exported_one_a_line_and_read_back_whole(
    agency_a, agency_b, agency_c
) -> None:
    duty_list = _rich_list(agency_a, agency_b, agency_c)
    sheet = openpyxl.load_workbook(io.BytesIO(_export(duty_list, "xlsx"))).worksheets[0]
    cells = {
        row[4]: dict(zip(HEADERS, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert cells["01-01-0003"]["关键词"] == "房产证登记、办理\n住房保障与房地产"
    assert cells["01-01-0004"]["关键词"] == "供水、供电\n"  # one word: the line break still says "by line"
    assert cells["01-01-0001"]["关键词"] == "占道、摆摊"  # plain words keep the short form
    assert cells["01-01-0003"]["街道职责"] == "''=不是公式"

    copy = _new_list("copy")
    assert _import(copy, _export(duty_list, "xlsx")).written
    copied = _contents(copy, pending=True)
    assert copied["01-01-0003"].keywords == ["房产证登记、办理", "住房保障与房地产"]
    assert copied["01-01-0004"].keywords == ["供水、供电"]
    assert copied["01-01-0003"].street_side == "'=不是公式"
    assert copied["01-01-0003"].participants[1] == ParticipantSpec(
        agency_c.code, "cooperating", "配合核查\n1. 调取档案\n2. 出具意见"
    )


@pytest.mark.django_db
def test_a_cooperating_cell_starts_a_new_agency_only_on_a_line_that_starts_with_a_code(
    agency_a, agency_b, agency_c
) -> None:
    duty_list = _new_list()
    cooperating = f"{agency_b.code}：配合巡查\n移送线索\n{agency_c.code}\n"
    report = _import(
        duty_list, _workbook([_row(title="甲", lead_agency=agency_a.code, cooperating=cooperating)])
    )
    assert report.ok, report.errors
    assert _contents(duty_list, pending=True)["01-01-0001"].participants[1:] == [
        ParticipantSpec(agency_b.code, "cooperating", "配合巡查\n移送线索"),
        ParticipantSpec(agency_c.code, "cooperating", ""),
    ]
    typo = _import(
        _new_list("other"),
        _workbook(
            [_row(title="甲", lead_agency=agency_a.code, cooperating=f"{agency_b.code}：配合\nB-sjx：配合")]
        ),
    )
    assert [(e.row, e.column) for e in typo.errors] == [(2, "配合单位")]
    assert "B-sjx" in typo.errors[0].message


CHANGED_CELLS = [
    pytest.param(
        "01-01-0001",
        "lead_agency",
        "C-zjj",
        FieldChange(
            "lead", "主办单位编码 / 主办单位职责", "A-zhzf：负责查处；负责劝导", "C-zjj：负责查处；负责劝导"
        ),
        "牵头单位",
        id="lead agency",
    ),
    pytest.param(
        "01-01-0003",
        "legal_bases",
        "《不动产登记暂行条例》|第十四条；第十五条|国务院令第656号\n《广安区办事指南（2025年版）》\n"
        "关于规范不动产登记的通知||广府办〔2024〕3号",
        FieldChange(
            "legal_bases",
            "法律法规及文件依据",
            "《不动产登记暂行条例》|第十四条；第十五条|国务院令第656号\n《广安区办事指南》\n"
            "关于规范不动产登记的通知||广府办〔2024〕3号",
            "《不动产登记暂行条例》|第十四条；第十五条|国务院令第656号\n《广安区办事指南（2025年版）》\n"
            "关于规范不动产登记的通知||广府办〔2024〕3号",
        ),
        "法律法规及文件依据",
        id="legal basis",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "key", "value", "expected", "label"), CHANGED_CELLS)
def test_one_changed_cell_is_one_change_naming_its_row_field_and_both_values(
    agency_a, agency_b, agency_c, code, key, value, expected, label
) -> None:
    duty_list = _rich_list(agency_a, agency_b, agency_c)
    data = _edited(_export(duty_list, "xlsx"), code, key, value)
    rows = {"01-01-0001": 2, "01-01-0003": 4}  # the export is in code order, under its header row

    report = _import(duty_list, data, write=False)
    assert report.ok, report.errors
    assert (report.duties.new, report.duties.changed, report.duties.unchanged) == (0, 1, 4)
    assert report.categories.changed == report.classifications.changed == 0
    title = _contents(duty_list)[code].title
    assert report.changes == [RowChange(rows[code], "duty", "changed", code, title, [expected])]
    with translation.override("zh-hans"):
        assert str(report.changes[0].fields[0].label) == label
        assert str(report.changes[0].kind_label) == "职责"

    assert _import(duty_list, data).written
    pending = DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True)
    assert list(pending.values_list("code", flat=True)) == [code]


@pytest.mark.django_db
def test_a_renamed_category_is_reported_with_its_first_row_and_both_names(agency_a) -> None:
    duty_list = _new_list()
    rows = [_row(code=f"01-01-000{i}", title=f"职责{i}", lead_agency=agency_a.code) for i in (1, 2)]
    _import(duty_list, _workbook(rows))
    edition_publish(actor=SYSTEM, duty_list=duty_list)
    for row in rows:
        row[1] = "城乡建设与管理"
    report = _import(duty_list, _workbook(rows), write=False)
    assert report.ok and report.categories.changed == 1 and report.duties.unchanged == 2
    assert report.changes == [
        RowChange(
            2,
            "category",
            "changed",
            "01",
            "城乡建设与管理",
            [FieldChange("name", "职责归口", "城乡建设", "城乡建设与管理")],
        )
    ]


@pytest.mark.django_db
def test_a_new_duty_is_listed_with_its_row_and_code(agency_a) -> None:
    duty_list = _new_list()
    _import(duty_list, _workbook([_row(code="01-01-0001", title="甲", lead_agency=agency_a.code)]))
    edition_publish(actor=SYSTEM, duty_list=duty_list)
    rows = [
        _row(code="01-01-0001", title="甲", lead_agency=agency_a.code),
        _row(title="乙", lead_agency=agency_a.code),
    ]
    report = _import(duty_list, _workbook(rows), write=False)
    assert report.added == [RowChange(3, "duty", "new", "01-01-0002", "乙")] and report.changed == []


@with_import_urls
@pytest.mark.django_db
def test_the_preview_of_an_unchanged_export_says_no_change_and_of_one_changed_cell_names_row_and_field(
    login, officer, agency_a, agency_b, agency_c, eager_celery, django_capture_on_commit_callbacks
) -> None:
    duty_list = _rich_list(agency_a, agency_b, agency_c)
    browser = login(officer)
    exported = _export(duty_list, "xlsx")

    def preview(data: bytes, name: str) -> tuple[str, str, dict[str, Any]]:
        upload = io.BytesIO(data)
        upload.name = name
        with django_capture_on_commit_callbacks(execute=True):
            job_url = browser.post(
                reverse("duty_list_import:upload"), {"duty_list": duty_list.code, "file": upload}
            )["Location"]
        job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
        status = browser.get(reverse("duty_list_import:status", args=[job_id])).json()
        return job_id, browser.get(job_url).content.decode(), status

    job_id, page, status = preview(exported, "导出.xlsx")
    assert _job(job_id).state == JobState.VALIDATED
    assert "无需导入" in page  # "Nothing to import: the list already says everything this file says."
    assert reverse("duty_list_import:confirm", args=[job_id]) not in page
    assert 'data-testid="import-changes"' not in page and 'data-testid="import-added"' not in page
    assert status["report"]["changes"] == [] and status["report"]["has_changes"] is False
    assert status["report"]["duties"] == {"new": 0, "changed": 0, "unchanged": 5}

    job_id, page, status = preview(_edited(exported, "01-01-0001", "lead_agency", agency_c.code), "改.xlsx")
    assert reverse("duty_list_import:confirm", args=[job_id]) in page
    changes = page.split('data-testid="import-changes"', 1)[1].split("</table>", 1)[0]
    for shown in (
        '<td class="num">2</td>',
        "01-01-0001",
        "占道经营",
        "牵头单位",
        "主办单位编码 / 主办单位职责",
    ):
        assert shown in changes
    assert "A-zhzf：负责查处；负责劝导" in changes and "C-zjj：负责查处；负责劝导" in changes
    assert changes.count("<tr>") == 2  # the header and the one change
    [change] = status["report"]["changes"]
    assert (change["row"], change["kind"], change["status"], change["code"]) == (
        2,
        "duty",
        "changed",
        "01-01-0001",
    )
    assert change["fields"] == [
        {
            "field": "lead",
            "label": "牵头单位",
            "column": "主办单位编码 / 主办单位职责",
            "old": "A-zhzf：负责查处；负责劝导",
            "new": "C-zjj：负责查处；负责劝导",
        }
    ]


@pytest.mark.django_db
def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(agency_a) -> None:
    duty_list = _new_list()
    dangerous = {
        "title": '=HYPERLINK("http://evil.example","点击")',
        "description": "+1+2",
        "lead_responsibility": "@SUM(A1:A2)",
        "district_side": "-2+3",
        "street_side": "\t=1",
    }
    # Typed into a form or an API, not an import: openpyxl would store "=..." as a formula cell.
    structure_ensure(
        duty_list=duty_list,
        category_code="01",
        category_name="城乡建设",
        classification_code="01-01",
        classification_name="城市管理",
    )
    revision_stage(
        duty_list=duty_list,
        code="01-01-0001",
        content=DutyContent(
            classification="01-01",
            title=dangerous["title"],
            description=dangerous["description"],
            district_side=dangerous["district_side"],
            street_side=dangerous["street_side"],
            participants=[ParticipantSpec(agency_a.code, "lead", dangerous["lead_responsibility"])],
        ),
    )
    edition_publish(actor=SYSTEM, duty_list=duty_list)
    revisions = revisions_for_export(duty_list)

    csv_text = "".join(export_csv(revisions))
    header, row = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    csv_cells = dict(zip(header, row, strict=True))
    sheet = openpyxl.load_workbook(io.BytesIO(export_xlsx(revisions))).active
    assert sheet is not None
    xlsx_cells = {h.value: c for h, c in zip(sheet[1], sheet[2], strict=True)}

    from duty_lists.exporting import COLUMN_BY_KEY

    for key, value in dangerous.items():
        header_text = COLUMN_BY_KEY[key].header
        assert csv_cells[header_text] == "'" + value
        assert xlsx_cells[header_text].value == "'" + value
        assert xlsx_cells[header_text].data_type == "s"  # text, not a formula
    assert csv_cells["工作职责"].startswith("'=")
    # The harmless rest is untouched, and a re-import gives back the original text.
    assert csv_cells["主办单位编码"] == agency_a.code
    copy = _new_list("copy")
    assert _import(copy, export_xlsx(revisions)).ok
    reimported = DutyRevision.objects.get(duty_list=copy)
    assert (reimported.title, reimported.description, reimported.district_side) == (
        dangerous["title"],
        dangerous["description"],
        dangerous["district_side"],
    )
    assert reimported.participations.get().responsibility == dangerous["lead_responsibility"]
    assert reimported.street_side == "=1"  # the import trims white space around a cell


@pytest.mark.django_db
def test_csv_export_is_utf8_with_a_byte_order_mark_for_excel(agency_a) -> None:
    duty_list = _new_list()
    _import(duty_list, _workbook([_row(title="占道经营", lead_agency=agency_a.code)]))
    edition_publish(actor=SYSTEM, duty_list=duty_list)
    data = export_csv_bytes(revisions_for_export(duty_list))
    assert data.startswith(b"\xef\xbb\xbf")
    assert "占道经营" in data.decode("utf-8-sig")
    assert data.decode("utf-8-sig").splitlines()[0].split(",") == HEADERS


@pytest.mark.django_db
def test_export_of_an_edition_or_a_date_shows_the_list_as_it_was(agency_a) -> None:
    duty_list = _new_list()
    with time_machine.travel("2026-03-02 10:00 +0800", tick=False):
        _import(duty_list, _workbook([_row(code="01-01-0001", title="旧名称", lead_agency=agency_a.code)]))
        first = edition_publish(actor=SYSTEM, duty_list=duty_list)
    with time_machine.travel("2026-04-01 10:00 +0800", tick=False):
        _import(duty_list, _workbook([_row(code="01-01-0001", title="新名称", lead_agency=agency_a.code)]))
        edition_publish(actor=SYSTEM, duty_list=duty_list)

    def titles(**kwargs: Any) -> list[str]:
        return [r.title for r in revisions_for_export(duty_list, **kwargs)]

    assert titles(edition=first) == ["旧名称"]
    assert titles(as_of=date(2026, 3, 31)) == ["旧名称"]
    assert titles(as_of=date(2026, 4, 1)) == ["新名称"]  # the end of the day counts
    assert titles(as_of=date(2026, 3, 1)) == []
    assert titles() == ["新名称"]


@pytest.mark.django_db
def test_export_reads_in_a_fixed_number_of_queries(agency_a, agency_b, django_assert_max_num_queries) -> None:
    duty_list = _new_list()
    rows = [
        _row(
            code=f"01-01-{i:04d}",
            title=f"职责{i}",
            lead_agency=agency_a.code,
            cooperating=agency_b.code,
            legal_bases="《条例》",
        )
        for i in range(1, 41)
    ]
    _import(duty_list, _workbook(rows))
    edition_publish(actor=SYSTEM, duty_list=duty_list)
    with django_assert_max_num_queries(3):
        assert len(list(export_csv(revisions_for_export(duty_list)))) == 41


@pytest.mark.django_db
def test_the_template_has_the_columns_instructions_and_an_importable_example(agency_a) -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(template_workbook()))
    data_sheet, notes = workbook.worksheets
    assert [c.value for c in data_sheet[1]] == HEADERS
    assert data_sheet.max_row == 2  # the header and one example row
    documented = {row[0] for row in notes.iter_rows(values_only=True)}
    assert set(HEADERS) <= documented
    AgencyFactory(code="511602-zhzf", name="广安区综合行政执法局")
    AgencyFactory(code="511602-sjj", name="广安区市场监督管理局")
    report = _import(_new_list(), template_workbook())
    assert report.ok and report.duties.new == 1, report.errors


# --- Permission ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_editorial_office_may_import(member_a, officer, agency_a) -> None:
    duty_list = _new_list()
    data = _workbook([_row(title="占道经营", lead_agency=agency_a.code)])
    with pytest.raises(PermissionRefused):
        _import(duty_list, data, actor=member_a)
    with pytest.raises(PermissionRefused):
        _import(duty_list, data, actor=member_a, write=False)
    assert not Duty.objects.exists()
    assert _import(duty_list, data, actor=officer).written


@with_import_urls
@pytest.mark.django_db
def test_agency_staff_get_403_from_every_import_page(login, member_a, officer, client) -> None:
    staff = login(member_a)
    assert staff.get(reverse("duty_list_import:upload")).status_code == 403
    assert staff.get(reverse("duty_list_import:template")).status_code == 403
    upload = io.BytesIO(b"x")
    upload.name = "x.xlsx"
    assert staff.post(reverse("duty_list_import:upload"), {"file": upload}).status_code == 403
    assert staff.get(reverse("duty_list_import:job", args=["nope"])).status_code == 403
    assert client.get(reverse("duty_list_import:upload")).status_code == 302  # anonymous: to the sign-in page
    assert login(officer).get(reverse("duty_list_import:upload")).status_code == 200


# --- The browser flow ---------------------------------------------------------------------------------------


@with_import_urls
@pytest.mark.django_db
def test_upload_check_confirm_and_publish_in_the_browser(
    login, officer, agency_a, agency_b, eager_celery, django_capture_on_commit_callbacks
) -> None:
    duty_list = _new_list()
    browser = login(officer)
    page = browser.get(reverse("duty_list_import:upload"))
    assert page.status_code == 200 and reverse("duty_list_import:template").encode() in page.content
    template = browser.get(reverse("duty_list_import:template"))
    assert template["Content-Type"].startswith("application/vnd.openxmlformats")
    assert openpyxl.load_workbook(io.BytesIO(template.content)).worksheets[0]["A1"].value == HEADERS[0]

    upload = io.BytesIO(_workbook(_rich_rows(agency_a, agency_b)))
    upload.name = "清单.xlsx"
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            reverse("duty_list_import:upload"), {"duty_list": duty_list.code, "file": upload}
        )
    assert response.status_code == 302
    job_url = response["Location"]
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]

    status = browser.get(reverse("duty_list_import:status", args=[job_id])).json()
    assert status["state"] == "validated" and status["running"] is False
    preview = browser.get(job_url)
    assert preview.status_code == 200
    assert reverse("duty_list_import:confirm", args=[job_id]).encode() in preview.content
    assert not DutyRevision.objects.exists()  # checked, not written

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = browser.post(reverse("duty_list_import:confirm", args=[job_id]))
    assert confirmed.status_code == 302
    assert _job(job_id).state == JobState.WRITTEN
    assert DutyRevision.objects.filter(duty_list=duty_list, edition__isnull=True).count() == 3
    written = browser.get(job_url)
    assert reverse("duty_list_import:publish", args=[job_id]).encode() in written.content

    published = browser.post(
        reverse("duty_list_import:publish", args=[job_id]), {"note": "首次导入"}, follow=True
    )
    edition = Edition.objects.get(duty_list=duty_list)
    assert (edition.number, edition.note, edition.published_by) == (1, "首次导入", officer)
    assert published.status_code == 200
    assert _job(job_id).state == JobState.PUBLISHED and _job(job_id).edition == 1
    # The edition's page where the registry's pages are wired, else the job's page, which names it.
    try:
        edition_page = reverse("duty_lists:edition_detail", kwargs={"code": duty_list.code, "number": 1})
    except NoReverseMatch:
        assert published.redirect_chain[-1][0] == job_url
        assert published.context["job"].edition == 1
    else:
        assert published.redirect_chain[-1][0] == edition_page
    assert revisions_in_force(duty_list=duty_list).count() == 3
    # The uploaded file is gone once written.
    assert not list((Path(settings.MEDIA_ROOT) / "imports").iterdir())


@with_import_urls
@pytest.mark.django_db
def test_a_file_with_errors_shows_its_rows_and_cannot_be_confirmed(
    login, officer, agency_a, eager_celery, django_capture_on_commit_callbacks
) -> None:
    duty_list = _new_list()
    browser = login(officer)
    upload = io.BytesIO(
        _workbook([_row(title="甲", lead_agency="nobody"), _row(title="", lead_agency=agency_a.code)])
    )
    upload.name = "bad.xlsx"
    with django_capture_on_commit_callbacks(execute=True):
        job_url = browser.post(
            reverse("duty_list_import:upload"), {"duty_list": duty_list.code, "file": upload}
        )["Location"]
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
    page = browser.get(job_url).content.decode()
    assert _job(job_id).state == JobState.INVALID
    assert "主办单位编码" in page and "工作职责" in page
    assert reverse("duty_list_import:confirm", args=[job_id]) not in page
    browser.post(reverse("duty_list_import:confirm", args=[job_id]))
    assert _job(job_id).state == JobState.INVALID and not DutyRevision.objects.exists()


@with_import_urls
@pytest.mark.django_db
def test_a_running_job_page_polls_and_refreshes_without_script(login, officer, agency_a) -> None:
    """Without a worker (no eager mode), the job stays queued: the page shows progress and refreshes."""
    duty_list = _new_list()
    browser = login(officer)
    upload = io.BytesIO(_workbook([_row(title="甲", lead_agency=agency_a.code)]))
    upload.name = "a.xlsx"
    job_url = browser.post(reverse("duty_list_import:upload"), {"duty_list": duty_list.code, "file": upload})[
        "Location"
    ]
    page = browser.get(job_url).content.decode()
    assert '<meta http-equiv="refresh"' in page and "import_progress.js" in page
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
    assert browser.get(reverse("duty_list_import:status", args=[job_id])).json()["running"] is True


@with_import_urls
@pytest.mark.django_db
def test_a_job_is_visible_only_to_the_officer_who_started_it(
    login, officer, editorial_office, agency_a
) -> None:
    duty_list = _new_list()
    upload = io.BytesIO(_workbook([_row(title="甲", lead_agency=agency_a.code)]))
    upload.name = "a.xlsx"
    job_url = login(officer).post(
        reverse("duty_list_import:upload"), {"duty_list": duty_list.code, "file": upload}
    )["Location"]
    colleague = UserFactory(username="officer2")
    MembershipFactory(user=colleague, agency=editorial_office, role="editorial_officer")
    colleague = login(colleague)
    assert colleague.get(job_url).status_code == 404


@pytest.mark.django_db
def test_the_task_runs_each_phase_once(officer, agency_a, tmp_path) -> None:
    """A repeated delivery of the write finds the job written and does nothing."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    duty_list = _new_list()
    stored = default_storage.save(
        "imports/j.xlsx", ContentFile(_workbook([_row(title="甲", lead_agency=agency_a.code)]))
    )
    job_save(
        ImportJob(id="j", user_id=officer.pk, duty_list_id=duty_list.pk, file_path=stored, file_name="a.xlsx")
    )
    assert import_job_execute("j", write=True) == JobState.QUEUED  # not checked yet: refused
    assert import_job_execute("j", write=False) == JobState.VALIDATED
    assert import_job_execute("j", write=False) == JobState.VALIDATED
    assert import_job_execute("j", write=True) == JobState.WRITTEN
    assert import_job_execute("j", write=True) == JobState.WRITTEN
    assert DutyRevision.objects.count() == 1
    assert AuditEntry.objects.filter(action="duty_lists.duty_list.imported").count() == 1
    assert import_job_execute("missing", write=False) == "missing"


# --- Commands -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_command_creates_imports_and_publishes(agency_a) -> None:
    out = io.StringIO()
    call_command(
        "import_duty_list",
        str(TAXONOMY),
        "--list",
        "ms",
        "--create-list",
        "--name",
        "民生诉求职责清单",
        "--default-lead",
        agency_a.code,
        "--publish",
        "--note",
        "首版",
        stdout=out,
    )
    duty_list = DutyList.objects.get(code="ms")
    assert (duty_list.name, duty_list.kind) == ("民生诉求职责清单", "livelihood")
    assert Edition.objects.get(duty_list=duty_list).note == "首版"
    assert revisions_in_force(duty_list=duty_list).count() == 517
    assert "Published edition 1" in out.getvalue()


@pytest.mark.django_db
def test_import_command_fails_with_the_row_errors_and_dry_run_writes_nothing(agency_a, tmp_path) -> None:
    _new_list()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(_workbook([_row(title="甲", lead_agency="nobody")]))
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 problems"):
        call_command("import_duty_list", str(bad), "--list", "ms", stdout=out)
    assert "row 2, 主办单位编码" in out.getvalue()

    good = tmp_path / "good.xlsx"
    good.write_bytes(_workbook([_row(title="甲", lead_agency=agency_a.code)]))
    call_command("import_duty_list", str(good), "--list", "ms", "--dry-run", stdout=out)
    assert not Duty.objects.exists()
    with pytest.raises(CommandError, match="No duty list"):
        call_command("import_duty_list", str(good), "--list", "other", stdout=out)


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_export_command_writes_a_file_that_reimports(agency_a, agency_b, tmp_path, suffix) -> None:
    source = _new_list("source")
    _import(source, _workbook(_rich_rows(agency_a, agency_b)))
    edition_publish(actor=SYSTEM, duty_list=source)
    target = tmp_path / f"out.{suffix}"
    call_command(
        "export_duty_list", "--list", "source", "--edition", "1", "-o", str(target), stdout=io.StringIO()
    )
    copy = _new_list("copy")
    assert _import(copy, target.read_bytes()).duties.new == 3
    with pytest.raises(CommandError, match="no edition 2"):
        call_command("export_duty_list", "--list", "source", "--edition", "2", "-o", str(target))


@pytest.mark.django_db
def test_a_1200_row_file_imports_in_a_few_dozen_queries_not_one_per_row(
    agency_a, agency_b, django_assert_max_num_queries
) -> None:
    duty_list = _new_list()
    rows = [
        _row(title=f"职责{i}", lead_agency=agency_a.code, cooperating=agency_b.code, legal_bases="《条例》")
        for i in range(1, 1201)
    ]
    data = _workbook(rows)
    build_search_text(title="预热", description="", keywords=[], synonyms=[])  # jieba's dictionary, once
    # A fixed part (snapshot, structure, audit) and about ten per batch of revisions_stage: 66 today.
    with django_assert_max_num_queries(80):
        report = _import(duty_list, data)
    assert report.written and report.duties.new == 1200
    assert DutyRevision.objects.filter(duty_list=duty_list).count() == 1200


@pytest.mark.django_db
def test_a_refusal_while_writing_undoes_the_whole_import(agency_a, monkeypatch) -> None:
    """If the service refuses a row that planning let through (another change raced in), nothing stays —
    not even the categories written before it — and the row is reported."""
    from duty_lists import importing

    def refuse(*, duty_list: DutyList, items: list[tuple[str, Any]], source_ref: str) -> None:
        raise ApplicationError(
            "2 duties cannot be staged.",
            code="invalid_duties",
            extra={
                code: {"code": "pending_change_exists", "message": f"{code} is taken"} for code, _ in items
            },
        )

    monkeypatch.setattr(importing, "revisions_stage", refuse)
    duty_list = _new_list()
    report = _import(
        duty_list,
        _workbook(
            [
                _row(code="01-01-0001", title="甲", lead_agency=agency_a.code),
                _row(code="01-01-0002", title="乙", lead_agency=agency_a.code),
            ]
        ),
    )
    assert not report.written
    assert [(e.row, e.message) for e in report.errors] == [
        (2, "01-01-0001 is taken"),
        (3, "01-01-0002 is taken"),
    ]
    assert not Category.objects.exists() and not Duty.objects.exists()
    assert not AuditEntry.objects.filter(action="duty_lists.duty_list.imported").exists()
