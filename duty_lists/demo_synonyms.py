"""A starter set of search synonyms for the demo: the words citizens write to the hotline, next to the words
the demo lists use for the same matters.

Picked by counting words in the real messages of shared/data/tipdm2020 (停车 876 times, 噪音 684,
垃圾 666, 扰民 606, 油烟 417, 违建 242, 占道 70 in 4,821 messages; 占道 is mostly 占道经营) and finding,
for each, the titles of the demo lists that cover it (违建 → 违章建筑, 油烟 → 大气污染,
占道经营 → 城管执法, 噪音 → 夜间建筑施工许可). The office edits them in the admin; this only fills an
empty table.
"""

from __future__ import annotations

from core.actors import SYSTEM
from duty_lists.models import SearchSynonym
from duty_lists.services import search_synonym_save

# fmt: off
STARTER_SYNONYMS: list[tuple[str, list[str], str]] = [
    ("噪音", ["噪声", "噪音污染", "噪声污染", "噪音扰民", "噪声扰民", "施工噪音", "夜间施工", "夜间建筑施工"],
     "生活、商业和施工噪声；夜间施工须经许可"),
    ("噪声", ["噪音", "噪音污染", "噪声污染", "噪音扰民", "噪声扰民", "施工噪音", "夜间建筑施工"], ""),
    ("扰民", ["噪音扰民", "噪声扰民", "施工扰民", "油烟扰民", "噪音", "噪声", "油烟", "夜间建筑施工"],
     "热线里的扰民多指噪声，其次是油烟"),
    ("油烟", ["餐饮油烟", "油烟污染", "油烟扰民", "大气污染"], "餐饮油烟属大气污染"),
    ("违建", ["违章建筑", "违法建设", "违章搭建", "违法建筑", "私搭乱建", "乱搭乱建"], ""),
    ("违章搭建", ["违章建筑", "违法建设", "违建", "私搭乱建"], ""),
    ("占道", ["占道经营", "城管执法", "流动摊贩", "摊点", "占用道路", "占用城市道路", "挖掘城市道路",
             "占道施工", "占道停车"],
     "热线里的占道多是占道经营（城管执法查处），其次是占道施工、占道停车"),
    ("占道经营", ["流动摊贩", "摊点", "马路市场", "出店经营", "城管执法"], "由城管执法查处"),
    ("停车", ["停车场", "停车位", "车位", "乱停乱放", "违章停车", "违停", "交通安全管理"],
     "道路上的违停归交通管理"),
    ("垃圾", ["生活垃圾", "建筑垃圾", "垃圾清运", "环境卫生", "环卫"], ""),
    ("欠薪", ["拖欠工资", "讨薪", "工资发放"], ""),
    ("医保", ["医疗保险", "职工医疗保险", "城镇居民医疗保险"], ""),
    ("停水", ["自来水供应", "供水"], ""),
]
# fmt: on


def load_synonyms_demo() -> int:
    """Fill an empty table with the starter rows; returns how many were added. A table that holds anything
    is the office's and is left alone, so a second run, or one after the office's edits, adds nothing."""
    if SearchSynonym.objects.exists():
        return 0  # the office keeps this table: never overwrite its edits with the starter set
    for term, aliases, note in STARTER_SYNONYMS:
        search_synonym_save(actor=SYSTEM, term=term, aliases=aliases, note=note, reason="demo data")
    return len(STARTER_SYNONYMS)
