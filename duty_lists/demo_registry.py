"""Demo duty lists for `make run`: the real livelihood-complaint taxonomy as a duty list whose leaf duties
we assigned to plausible agencies (marked as demo data), and the real government service items of 广安区
as service duties of their 34 real departments — 1,652 duties in all, published as edition 1 each.

The assignment of topics to agencies is ours: no source says it, and the product lets offices author it.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from pathlib import Path

from django.db import transaction

from core.actors import SYSTEM
from duty_lists.demo_synonyms import load_synonyms_demo
from duty_lists.models import Agency, AgencyKind, AgencyLevel, DutyList, DutyListKind, DutyType, ServiceKind
from duty_lists.proposals import DutyContent, ParticipantSpec
from duty_lists.services import (
    agency_create,
    duty_list_create,
    edition_publish,
    revisions_stage,
    structure_ensure,
)

DATA = Path(__file__).resolve().parent / "demo_data"
ROOT_CODE = "511602"

# The departments of the service items, by the short name the data uses → our code.
DEPARTMENTS = {
    "区经信局": "jxj",
    "区教科体局": "jktj",
    "区人社局": "rsj",
    "区交通运输局": "jtysj",
    "广安区税务局": "swj",
    "区住建局": "zjj",
    "区自然资源和规划局": "zrzyj",
    "区公安分局": "gafj",
    "区医疗保障局": "ybj",
    "区文广旅局": "wglj",
    "区农业农村局": "nyncj",
    "区司法局": "sfj",
    "区卫健局": "wjj",
    "区民政局": "mzj",
    "区市监局": "sjj",
    "区林业局": "lyj",
    "区生态环境局": "sthj",
    "区残联": "cl",
    "区水务局": "sw",
    "区应急管理局": "yjj",
    "区政府办": "zfb",
    "区烟草专卖局": "yczmj",
    "区退役军人事务局": "tyjrj",
    "区气象局": "qxj",
    "区财政局": "czj",
    "区委办": "wb",
    "区综合执法局": "zhzf",
    "区发改局": "fgj",
    "区公管办": "ggb",
    "区委统战部": "tzb",
    "区商务局": "swuj",
    "区统计局": "tjj",
    "区消防大队": "xfdd",
    "区行政审批局": "xzsp",
    "区纪委监委": "jw",
}

# Livelihood topics → lead agency (short name) and cooperating agencies. Category defaults, then overrides
# by classification. Authored for the demo.
CATEGORY_LEAD = {
    "城乡建设": "区住建局",
    "党务政务": "区委办",
    "国土资源": "区自然资源和规划局",
    "环境保护": "区生态环境局",
    "纪检监察": "区纪委监委",
    "交通运输": "区交通运输局",
    "经济管理": "区发改局",
    "科技与信息产业": "区经信局",
    "民政": "区民政局",
    "农村农业": "区农业农村局",
    "商贸旅游": "区商务局",
    "卫生计生": "区卫健局",
    "政法": "区公安分局",
    "教育文体": "区教科体局",
    "劳动和社会保障": "区人社局",
}
CLASSIFICATION_PARTIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "城乡建设/安全生产": ("区应急管理局", ("区住建局",)),
    "城乡建设/城市建设和市政管理": ("区综合执法局", ("区住建局", "区水务局")),
    "城乡建设/城乡规划": ("区自然资源和规划局", ("区住建局",)),
    "城乡建设/集体土地上房屋拆迁与补偿": ("区自然资源和规划局", ("区住建局",)),
    "党务政务/港澳台侨": ("区委统战部", ()),
    "党务政务/民族宗教": ("区委统战部", ()),
    "党务政务/群众团体": ("区委统战部", ()),
    "国土资源/海洋气象地震": ("区气象局", ("区应急管理局",)),
    "环境保护/建设项目审批": ("区行政审批局", ("区生态环境局",)),
    "环境保护/环境污染": ("区生态环境局", ("区综合执法局",)),
    "经济管理/安全生产": ("区应急管理局", ("区经信局",)),
    "经济管理/金融财税": ("区财政局", ("广安区税务局",)),
    "经济管理/国资监管": ("区财政局", ()),
    "经济管理/保险证券期货": ("区财政局", ()),
    "经济管理/企业破产": ("区经信局", ("区司法局",)),
    "科技与信息产业/科学技术": ("区教科体局", ()),
    "科技与信息产业/知识产权": ("区市监局", ()),
    "民政/复退安置": ("区退役军人事务局", ("区人社局",)),
    "民政/优抚": ("区退役军人事务局", ("区民政局",)),
    "农村农业/林业管理": ("区林业局", ()),
    "农村农业/草原草场": ("区林业局", ("区农业农村局",)),
    "农村农业/野生资源管理": ("区林业局", ()),
    "农村农业/水利水电": ("区水务局", ()),
    "农村农业/水库移民": ("区水务局", ("区民政局",)),
    "商贸旅游/旅游管理": ("区文广旅局", ("区市监局",)),
    "商贸旅游/市场监管": ("区市监局", ()),
    "商贸旅游/质监检验检疫": ("区市监局", ()),
    "卫生计生/食品药品监管": ("区市监局", ("区卫健局",)),
    "卫生计生/医患纠纷": ("区卫健局", ("区司法局",)),
    "政法/法律服务": ("区司法局", ()),
    "政法/法制建设": ("区司法局", ()),
    "政法/行政复议": ("区司法局", ()),
    "政法/仲裁与调解": ("区司法局", ("区人社局",)),
    "政法/刑罚执行": ("区司法局", ("区公安分局",)),
    "教育文体/文化": ("区文广旅局", ()),
    "教育文体/文物管理": ("区文广旅局", ()),
    "劳动和社会保障/城镇居民社会保险": ("区人社局", ("区医疗保障局",)),
}
# Matters handled by the street where they happen (属地管理), with the district side and the street side.
TERRITORIAL = {"民政/基层选举和社区建设", "农村农业/村务管理", "城乡建设/村镇建设"}
DEMO_STREET = "511602-bc"

TASK_TYPES = {  # national item-type code → (category name, service kind)
    "1": ("行政许可", ServiceKind.LICENSING),
    "7": ("行政确认", ServiceKind.CONFIRMATION),
    "5": ("行政给付", ServiceKind.BENEFIT),
    "9": ("行政裁决", ServiceKind.ADJUDICATION),
    "8": ("行政奖励", ServiceKind.OTHER),
    "20": ("公共服务", ServiceKind.OTHER),
    "10": ("其他行政权力", ServiceKind.OTHER),
}


def _department_agencies() -> dict[str, Agency]:
    """The 34 departments (and the discipline commission), created when missing, keyed by short name."""
    root = Agency.objects.get(code=ROOT_CODE)
    agencies: dict[str, Agency] = {}
    for short, suffix in DEPARTMENTS.items():
        existing = Agency.objects.filter(short_name=short, parent=root).first()
        if existing is None:
            name = short if short.startswith("广安") else f"广安{short}"
            kind = (
                AgencyKind.PARTY if short in {"区委办", "区委统战部", "区纪委监委"} else AgencyKind.GOVERNMENT
            )
            existing = agency_create(
                actor=SYSTEM,
                reason="demo data",
                code=f"{ROOT_CODE}-{suffix}",
                name=name,
                short_name=short,
                level=AgencyLevel.DISTRICT,
                kind=kind,
                parent=root,
            )
        agencies[short] = existing
    return agencies


def _publish_new_list(
    code: str, name: str, kind: str, description: str, reviewers: list[Agency]
) -> DutyList | None:
    existing = DutyList.objects.filter(code=code).first()
    if existing is not None and existing.editions.exists():
        return None  # loaded before: a second run changes nothing
    owner = Agency.objects.get(code=f"{ROOT_CODE}-bb")
    return duty_list_create(
        actor=SYSTEM,
        code=code,
        name=name,
        kind=kind,
        description=description,
        owner=owner,
        reviewing_agencies=reviewers,
        is_demo=True,
        reason="demo data",
    )


def _livelihood_list(agencies: dict[str, Agency]) -> None:
    duty_list = _publish_new_list(
        "ga-livelihood",
        "广安区民生诉求职责清单（演示）",
        DutyListKind.LIVELIHOOD,
        "以真实的问政留言三级分类为骨架；各事项的牵头与配合部门为演示而拟定。",
        [agencies["区司法局"], agencies["区财政局"]],
    )
    if duty_list is None:
        return
    with (DATA / "taxonomy_3level.csv").open(encoding="utf-8") as source:
        rows = list(csv.reader(source))[1:]
    tree: OrderedDict[str, OrderedDict[str, list[str]]] = OrderedDict()
    for top, middle, leaf in rows:
        tree.setdefault(top, OrderedDict()).setdefault(middle, []).append(leaf)
    street = Agency.objects.get(code=DEMO_STREET)
    items: list[tuple[str, DutyContent]] = []
    for ci, (top, middles) in enumerate(tree.items(), start=1):
        for mi, (middle, leaves) in enumerate(middles.items(), start=1):
            classification = structure_ensure(
                duty_list=duty_list,
                category_code=f"{ci:02d}",
                category_name=top,
                classification_code=f"{ci:02d}-{mi:02d}",
                classification_name=middle,
            )
            key = f"{top}/{middle}"
            lead, cooperating = CLASSIFICATION_PARTIES.get(key, (CATEGORY_LEAD[top], ()))
            for li, leaf in enumerate(leaves, start=1):
                territorial = key in TERRITORIAL
                participants = [
                    ParticipantSpec(
                        street.code if territorial else agencies[lead].code,
                        "lead",
                        f"负责{leaf}类诉求的受理、办理和答复",
                    )
                ] + [
                    ParticipantSpec(agencies[c].code, "cooperating", f"配合办理{leaf}相关事项")
                    for c in cooperating
                ]
                if territorial:
                    participants.append(ParticipantSpec(agencies[lead].code, "cooperating", "业务指导和监督"))
                content = DutyContent(
                    classification=classification.code,
                    title=leaf,
                    description=f"{top} · {middle} · {leaf}",
                    duty_type=DutyType.TERRITORIAL if territorial else DutyType.MAIN,
                    layer="street" if territorial else "district",
                    keywords=[leaf, middle],
                    district_side=f"{lead}负责政策制定和业务指导" if territorial else "",
                    street_side="街道负责属地受理、协调和办理" if territorial else "",
                    participants=participants,
                )
                items.append((f"{classification.code}-{li:04d}", content))
    revisions_stage(duty_list=duty_list, items=items, source_ref="demo:taxonomy_3level")
    edition_publish(actor=SYSTEM, duty_list=duty_list, note="演示数据首版")


def _service_list(agencies: dict[str, Agency]) -> None:
    duty_list = _publish_new_list(
        "ga-services",
        "广安区政务服务事项清单",
        DutyListKind.SERVICE,
        "广安区34个部门的政务服务事项（真实公开数据），按事项类型和部门分类。",
        [agencies["区司法局"], agencies["区行政审批局"]],
    )
    if duty_list is None:
        return
    with (DATA / "guangan_service_items.csv").open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    categories = {task: f"{i:02d}" for i, task in enumerate(TASK_TYPES, start=1)}
    classifications: dict[tuple[str, str], str] = {}
    counters: dict[str, int] = {}
    items: list[tuple[str, DutyContent]] = []
    for row in rows:
        category_name, service_kind = TASK_TYPES[row["taskType"]]
        category_code = categories[row["taskType"]]
        key = (row["taskType"], row["department"])
        if key not in classifications:
            classifications[key] = (
                f"{category_code}-{sum(1 for k in classifications if k[0] == key[0]) + 1:02d}"
            )
            structure_ensure(
                duty_list=duty_list,
                category_code=category_code,
                category_name=category_name,
                classification_code=classifications[key],
                classification_name=row["department"],
            )
        classification_code = classifications[key]
        counters[classification_code] = counters.get(classification_code, 0) + 1
        main_item = "" if row["main_item"] == "未分类" else row["main_item"]
        content = DutyContent(
            classification=classification_code,
            title=row["item_name"][:300],
            description=f"主项：{main_item}；事项编码：{row['itemCode']}"
            if main_item
            else f"事项编码：{row['itemCode']}",
            duty_type=DutyType.SERVICE,
            service_kind=service_kind,
            keywords=[main_item] if main_item else [],
            participants=[ParticipantSpec(agencies[row["department"]].code, "lead", "受理、审查并作出决定")],
        )
        items.append((f"{classification_code}-{counters[classification_code]:04d}", content))
    revisions_stage(duty_list=duty_list, items=items, source_ref="demo:guangan-service-items")
    edition_publish(actor=SYSTEM, duty_list=duty_list, note="政务服务事项首版")


def load_registry_demo() -> None:
    with transaction.atomic():
        agencies = _department_agencies()
        _livelihood_list(agencies)
        _service_list(agencies)
        load_synonyms_demo()
