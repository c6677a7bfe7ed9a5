"""Building bench/registry.py's registry of 100,000 published duties through the product's own write path."""

from __future__ import annotations

import csv
import dataclasses
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.registry_base import (
    LIST_CODE,
    ROOT,
)

# Matters citizens and agencies name, per top-level category of the real livelihood taxonomy
# (duty_lists/demo_data/taxonomy_3level.csv): titles are "<matter><action>（<scope>）".
# fmt: off
MATTERS = {
    "城乡建设": ("违章搭建", "占道施工", "物业管理", "房屋漏水", "电梯安全", "燃气安全", "供水停水",
             "路灯维修", "井盖缺失", "建筑工地噪音", "小区停车", "垃圾清运"),
    "党务政务": ("政务公开", "信访事项", "干部作风", "政府信息公开", "基层党建", "热线工单督办"),
    "国土资源": ("土地征收", "宅基地审批", "违法占地", "矿产开采", "不动产登记", "地质灾害防治"),
    "环境保护": ("噪音扰民", "餐饮油烟", "工业废气", "污水排放", "扬尘污染", "固体废物", "夜间施工噪音",
             "河道污染"),
    "纪检监察": ("违纪举报", "公款吃喝", "违规发放津贴补贴", "基层微腐败"),
    "交通运输": ("出租车拒载", "公交线路", "道路破损", "占道经营", "违规停车", "网约车管理", "货车超载"),
    "经济管理": ("拖欠工资", "企业债务", "价格违法", "招商引资", "非法集资", "统计违法"),
    "科技与信息产业": ("通信基站", "网络诈骗", "专利侵权", "宽带故障"),
    "民政": ("低保申请", "养老服务", "殡葬管理", "婚姻登记", "社会组织", "残疾人补贴"),
    "农村农业": ("农资质量", "动物防疫", "耕地保护", "农村饮水", "农田灌溉", "村务公开"),
    "商贸旅游": ("占道经营", "无证经营", "预付卡消费", "食品安全", "假冒伪劣", "景区服务"),
    "卫生计生": ("医疗纠纷", "食品安全", "非法行医", "药品质量", "疫苗接种", "公共场所卫生"),
    "政法": ("治安管理", "社区矫正", "法律援助", "矛盾纠纷调解", "电信诈骗", "流动人口"),
    "教育文体": ("校外培训", "学位申请", "校园安全", "广场舞噪音", "文化市场", "体育场馆"),
    "劳动和社会保障": ("拖欠工资", "社保缴纳", "工伤认定", "劳动合同", "失业登记", "医保报销"),
}


ACTIONS = ("投诉处理", "监督检查", "违法行为查处", "日常监管", "纠纷调处", "隐患排查整治", "举报受理",
           "行政处罚", "综合整治", "政策咨询答复")


SCOPES = ("住宅小区", "城区主干道", "农村地区", "商业街区", "学校周边", "建筑工地", "集贸市场", "旅游景区",
          "工业园区", "城中村", "背街小巷", "高速公路沿线")


SERVICE_VARIANTS = ("个人", "企业", "首次申请", "变更", "延续", "注销", "补办")


SYNONYMS = {"噪音扰民": "噪声扰民", "占道经营": "马路市场", "违章搭建": "违建", "物业管理": "物管",
            "餐饮油烟": "油烟扰民", "拖欠工资": "欠薪", "违规停车": "乱停车"}


STREETS = ("浜河街道", "北辰街道", "广福街道", "万盛街道", "中桥街道", "枣山街道", "官盛镇", "协兴镇",
           "花桥镇", "龙台镇", "悦来镇", "兴平镇", "井河镇", "大安镇", "彭家乡")


LAWS = (
    ("中华人民共和国噪声污染防治法", ""), ("中华人民共和国大气污染防治法", ""),
    ("中华人民共和国水污染防治法", ""), ("中华人民共和国固体废物污染环境防治法", ""),
    ("中华人民共和国行政许可法", ""), ("中华人民共和国行政处罚法", ""), ("中华人民共和国治安管理处罚法", ""),
    ("中华人民共和国食品安全法", ""), ("中华人民共和国劳动合同法", ""), ("中华人民共和国社会保险法", ""),
    ("中华人民共和国城乡规划法", ""), ("中华人民共和国土地管理法", ""), ("中华人民共和国道路交通安全法", ""),
    ("中华人民共和国消费者权益保护法", ""), ("中华人民共和国安全生产法", ""),
    ("物业管理条例", "国务院令第379号"), ("城市市容和环境卫生管理条例", "国务院令第101号"),
    ("保障农民工工资支付条例", "国务院令第724号"), ("社会救助暂行办法", "国务院令第649号"),
    ("城市道路管理条例", "国务院令第198号"), ("医疗纠纷预防和处理条例", "国务院令第701号"),
    ("中华人民共和国政府信息公开条例", "国务院令第711号"),
)


# Service categories: national item-type codes of the real service items → category name.
SERVICE_GROUPS = {"1": "行政许可", "20": "公共服务", "10": "其他行政权力", "7": "行政确认",
                  "5": "行政给付与裁决", "9": "行政给付与裁决", "8": "行政给付与裁决"}


# fmt: on
CHINESE_NUMERALS = "一二三四五六七八九十"


@dataclass
class Slot:
    """A classification and what its duties are about."""

    code: str
    category: str  # category name
    name: str
    middle: str = ""  # the taxonomy's second level (livelihood classifications)
    items: list[tuple[str, str]] = field(default_factory=list)  # (title, service kind) of service items
    department: str = ""  # short name of the department of service items


def _taxonomy() -> OrderedDict[str, list[tuple[str, str]]]:
    tree: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
    with (ROOT / "duty_lists" / "demo_data" / "taxonomy_3level.csv").open(encoding="utf-8") as source:
        for top, middle, leaf in list(csv.reader(source))[1:]:
            tree.setdefault(top, []).append((middle, leaf))
    return tree


def _service_items() -> OrderedDict[tuple[str, str], list[tuple[str, str]]]:
    from duty_lists.demo_registry import TASK_TYPES

    groups: OrderedDict[tuple[str, str], list[tuple[str, str]]] = OrderedDict()
    with (ROOT / "duty_lists" / "demo_data" / "guangan_service_items.csv").open(encoding="utf-8") as source:
        for row in csv.DictReader(source):
            key = (SERVICE_GROUPS[row["taskType"]], row["department"])
            groups.setdefault(key, []).append((row["item_name"][:280], TASK_TYPES[row["taskType"]][1]))
    return groups


def slots() -> list[Slot]:
    """20 categories: the 15 top levels of the real livelihood taxonomy with up to 25 of their leaves as
    classifications, and 5 groups of the real service items with their departments as classifications."""
    result: list[Slot] = []
    for ci, (top, leaves) in enumerate(_taxonomy().items(), start=1):
        step = max(1, len(leaves) // 25)
        for li, (middle, leaf) in enumerate(leaves[::step][:25], start=1):
            result.append(Slot(f"{ci:02d}-{li:02d}", top, leaf, middle=middle))
    groups = _service_items()
    names = list(dict.fromkeys(group for group, _department in groups))
    for gi, group in enumerate(names, start=16):
        departments = [(d, items) for (g, d), items in groups.items() if g == group]
        departments.sort(key=lambda pair: -len(pair[1]))
        for di, (department, items) in enumerate(departments[:25], start=1):
            result.append(Slot(f"{gi:02d}-{di:02d}", group, department, items=items, department=department))
    return result


def agencies_ensure() -> tuple[dict[str, str], list[str]]:
    """50 agencies under a benchmark district: its 35 departments (short name → code) and 15 streets."""
    from core.actors import SYSTEM
    from duty_lists.demo_registry import DEPARTMENTS
    from duty_lists.models import AgencyKind, AgencyLevel
    from duty_lists.services import agency_create

    root = agency_create(
        actor=SYSTEM, code="bench", name="基准区", level=AgencyLevel.DISTRICT, kind=AgencyKind.GOVERNMENT
    )
    departments = {}
    for short, suffix in DEPARTMENTS.items():
        agency = agency_create(
            actor=SYSTEM,
            code=f"bench-{suffix}",
            name=short.replace("区", "基准区", 1) if short.startswith("区") else short,
            short_name=short,
            level=AgencyLevel.DISTRICT,
            kind=AgencyKind.GOVERNMENT,
            parent=root,
        )
        departments[short] = agency.code
    streets = [
        agency_create(
            actor=SYSTEM,
            code=f"bench-street-{i:02d}",
            name=name,
            level=AgencyLevel.STREET,
            kind=AgencyKind.STREET_OFFICE,
            parent=root,
        ).code
        for i, name in enumerate(STREETS, start=1)
    ]
    return departments, streets


class ContentMaker:
    """Realistically shaped duty content, reproducible from a seed."""

    def __init__(self, seed: int, departments: dict[str, str], streets: list[str]) -> None:
        from duty_lists.demo_registry import CATEGORY_LEAD

        self.rng = random.Random(seed)
        self.departments = departments
        self.department_codes = sorted(departments.values())
        self.streets = streets
        self.category_lead = {top: departments[short] for top, short in CATEGORY_LEAD.items()}

    def _others(self, lead: str, weights: tuple[float, float, float]) -> list[str]:
        count = self.rng.choices((0, 1, 2), weights=weights)[0]
        return self.rng.sample([c for c in self.department_codes if c != lead], count)

    def _legal_bases(self) -> list[Any]:
        from duty_lists.proposals import LegalBasisSpec

        count = self.rng.choices((0, 1, 2), weights=(2, 5, 3))[0]
        return [
            LegalBasisSpec(
                title=f"《{title}》", article=f"第{self.rng.randint(2, 90)}条", document_number=number
            )
            for title, number in self.rng.sample(LAWS, count)
        ]

    def livelihood(self, slot: Slot) -> Any:
        from duty_lists.models import DutyType, Layer
        from duty_lists.proposals import DutyContent, ParticipantSpec

        rng = self.rng
        matter = rng.choice(MATTERS[slot.category]) if rng.random() < 0.85 else slot.name
        action = rng.choice(ACTIONS)
        scope = rng.choice(SCOPES)
        title = f"{matter}{action}" + (f"（{scope}）" if rng.random() < 0.6 else "")
        duty_type = rng.choices(
            (DutyType.MAIN, DutyType.ENFORCEMENT, DutyType.COOPERATIVE, DutyType.TERRITORIAL),
            weights=(50, 20, 15, 15),
        )[0]
        department = self.category_lead[slot.category]
        territorial = duty_type == DutyType.TERRITORIAL
        lead = rng.choice(self.streets) if territorial else department
        cooperating = [department] if territorial else self._others(lead, (50, 35, 15))
        if duty_type == DutyType.COOPERATIVE and not cooperating:
            cooperating = self._others(lead, (0, 1, 0))
        participants = [ParticipantSpec(lead, "lead", f"负责{scope}{matter}问题的受理、调查、处置和答复")] + [
            ParticipantSpec(code, "cooperating", f"配合做好{matter}相关的{rng.choice(ACTIONS)}工作")
            for code in cooperating
        ]
        return DutyContent(
            classification=slot.code,
            title=title,
            description=(
                f"负责{scope}{matter}相关{action}工作：受理{slot.middle}中{slot.name}方面的群众诉求，"
                f"依法开展调查核实，督促责任单位在{rng.randint(3, 15)}个工作日内整改并向诉求人反馈办理结果。"
            ),
            duty_type=duty_type,
            layer=Layer.STREET if territorial else Layer.DISTRICT,
            keywords=list(dict.fromkeys([matter, slot.name, slot.middle]))[: rng.randint(1, 3)],
            synonyms=[SYNONYMS[matter]] if matter in SYNONYMS else [],
            promised_days=rng.choice((None, 3, 5, 7, 10, 15)),
            district_side=f"{slot.category}主管部门负责政策制定、业务指导和监督考核" if territorial else "",
            street_side="街道负责属地巡查、受理、协调和办理" if territorial else "",
            participants=participants,
            legal_bases=self._legal_bases(),
        )

    def service(self, slot: Slot) -> Any:
        from duty_lists.models import DutyType
        from duty_lists.proposals import DutyContent, ParticipantSpec

        rng = self.rng
        item, service_kind = rng.choice(slot.items)
        variant = rng.choice(SERVICE_VARIANTS) if rng.random() < 0.7 else ""
        title = f"{item}（{variant}）" if variant else item
        lead = self.departments[slot.department]
        statutory = rng.choice((None, 20, 20, 30, 60))
        participants = [ParticipantSpec(lead, "lead", "受理、审查并作出决定")] + [
            ParticipantSpec(code, "cooperating", "提供相关审查意见")
            for code in self._others(lead, (75, 20, 5))
        ]
        return DutyContent(
            classification=slot.code,
            title=title,
            description=f"{slot.category}事项：{item}。申请人可通过政务服务网或政务服务大厅窗口办理。",
            duty_type=DutyType.SERVICE,
            service_kind=service_kind,
            keywords=[item[:20], slot.category],
            statutory_days=statutory,
            promised_days=max(1, statutory // 4) if statutory else None,
            participants=participants,
            legal_bases=self._legal_bases(),
        )


def duty_items(slot_list: list[Slot], maker: ContentMaker, count: int) -> Iterator[tuple[str, Any]]:
    """``count`` (code, content) pairs spread unevenly over the classifications, in code order per chunk."""
    weights = [maker.rng.lognormvariate(0, 0.5) for _ in slot_list]
    numbers: dict[str, int] = {}
    for slot in maker.rng.choices(slot_list, weights=weights, k=count):
        numbers[slot.code] = numbers.get(slot.code, 0) + 1
        content = maker.service(slot) if slot.items else maker.livelihood(slot)
        yield f"{slot.code}-{numbers[slot.code]:04d}", content


@dataclass
class BuildReport:
    duties: int
    stage_seconds: float
    publish_seconds: float
    analyze_seconds: float
    chunk: int
    built_at: str = field(default_factory=lambda: f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")

    @property
    def rate(self) -> float:
        return self.duties / self.stage_seconds

    def save(self) -> None:
        """Kept as the database's comment: a later run reusing the registry can say how it was built."""
        from django.db import connection
        from psycopg2 import sql

        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            text = json.dumps(dataclasses.asdict(self))
            cursor.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(connection.settings_dict["NAME"]), sql.Literal(text)
                )
            )

    @classmethod
    def load(cls) -> BuildReport | None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                " WHERE datname = current_database()"
            )
            row = cursor.fetchone()
        try:
            return cls(**json.loads(row[0])) if row and row[0] else None
        except (TypeError, ValueError):
            return None


def build(count: int, chunk: int, seed: int) -> BuildReport:
    """The registry, through the product's services: structure, staging in chunks, one edition."""
    from django.db import connection

    from core.actors import SYSTEM
    from duty_lists.models import DutyListKind
    from duty_lists.services import duty_list_create, edition_publish, revisions_stage, structure_ensure

    departments, streets = agencies_ensure()
    duty_list = duty_list_create(
        actor=SYSTEM,
        code=LIST_CODE,
        name="基准区部门职责清单（基准测试，10万项）",
        kind=DutyListKind.DEPARTMENTAL,
        is_demo=True,
        reason="benchmark",
    )
    slot_list = slots()
    for slot in slot_list:
        structure_ensure(
            duty_list=duty_list,
            category_code=slot.code[:2],
            category_name=slot.category,
            classification_code=slot.code,
            classification_name=slot.name,
        )
    maker = ContentMaker(seed, departments, streets)
    started = time.perf_counter()
    batch: list[tuple[str, Any]] = []
    staged = 0
    for item in duty_items(slot_list, maker, count):
        batch.append(item)
        if len(batch) == chunk:
            revisions_stage(duty_list=duty_list, items=batch, source_ref="bench:registry")
            staged += len(batch)
            batch = []
            elapsed = time.perf_counter() - started
            print(f"  staged {staged:>7,} duties  {elapsed:6.1f} s  ({staged / elapsed:,.0f}/s)", flush=True)
    if batch:
        revisions_stage(duty_list=duty_list, items=batch, source_ref="bench:registry")
    stage_seconds = time.perf_counter() - started

    started = time.perf_counter()
    edition_publish(actor=SYSTEM, duty_list=duty_list, note="基准测试首版", reason="benchmark")
    publish_seconds = time.perf_counter() - started
    print(f"  published edition 1 in {publish_seconds:.1f} s", flush=True)

    # What autovacuum does to a table after a bulk load, done now so plans do not depend on its timing.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return BuildReport(count, stage_seconds, publish_seconds, time.perf_counter() - started, chunk)


def build_in_child(count: int, chunk: int, seed: int) -> BuildReport:
    """Build in a child process, so that the process measured afterwards starts like a served one: without
    the build's jieba state and heap, whose size changes how long Python's garbage collector pauses."""
    with tempfile.TemporaryDirectory(prefix="zhize-bench-") as folder:
        report = Path(folder) / "build.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--build-only", str(report)]
        command += ["--duties", str(count), "--chunk", str(chunk), "--seed", str(seed)]
        subprocess.run(command, cwd=ROOT, check=True)
        return BuildReport(**json.loads(report.read_text(encoding="utf-8")))
