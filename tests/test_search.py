"""Chinese full-text search over the registry: segmentation, the user dictionary, ranking, the index."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from duty_lists import search
from duty_lists.models import (
    Agency,
    AgencyLevel,
    Category,
    Classification,
    Duty,
    DutyList,
    DutyListKind,
    DutyRevision,
    DutyType,
    Edition,
)
from duty_lists.search import (
    build_search_text,
    invalidate_user_dictionary,
    query_terms,
    refresh_user_dictionary,
    search_revisions,
    segment,
    tsquery_text,
)
from duty_lists.selectors import revisions_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_user_dictionary() -> Any:
    """Each test's registry is its own vocabulary: reload it from this test's rows, and unload it after."""
    invalidate_user_dictionary()
    yield
    invalidate_user_dictionary()


@dataclass
class Registry:
    duty_list: DutyList
    classification: Classification
    edition: Edition
    revisions: dict[str, DutyRevision] = field(default_factory=dict)

    def add(
        self,
        code: str,
        title: str,
        description: str = "",
        keywords: Sequence[str] = (),
        synonyms: Sequence[str] = (),
        *,
        state: str = "in_force",
    ) -> DutyRevision:
        """A duty with one revision: ``in_force``, ``pending`` (no edition yet), ``removed`` (in force as a
        removal) or ``superseded`` (was in force, no longer)."""
        duty = Duty.objects.create(duty_list=self.duty_list, code=code)
        published = state != "pending"
        valid_from = self.edition.published_at
        revision = DutyRevision.objects.create(
            duty=duty,
            duty_list=self.duty_list,
            code=code,
            classification=self.classification,
            title=title,
            description=description,
            duty_type=DutyType.MAIN,
            keywords=list(keywords),
            synonyms=list(synonyms),
            is_removed=state == "removed",
            search_text=build_search_text(
                title=title, description=description, keywords=list(keywords), synonyms=list(synonyms)
            ),
            edition=self.edition if published else None,
            valid_from=valid_from if published else None,
            valid_until=valid_from + timedelta(days=1) if state == "superseded" else None,
        )
        self.revisions[code] = revision
        return revision


def _registry() -> Registry:
    duty_list = DutyList.objects.create(code="msjq", name="民生诉求职责清单", kind=DutyListKind.LIVELIHOOD)
    category = Category.objects.create(duty_list=duty_list, code="01", name="城市管理")
    classification = Classification.objects.create(
        duty_list=duty_list, category=category, code="01-01", name="市容环境"
    )
    edition = Edition.objects.create(
        duty_list=duty_list,
        number=1,
        published_at=timezone.now() - timedelta(days=30),
        effective_date=date.today() - timedelta(days=30),  # noqa: DTZ011 - a calendar date is meant
    )
    return Registry(duty_list, classification, edition)


@pytest.fixture
def registry() -> Registry:
    Agency.objects.create(
        code="zhzf", name="区综合行政执法局", short_name="区综合执法局", level=AgencyLevel.DISTRICT
    )
    registry = _registry()
    registry.add(
        "01-01-001",
        "噪音扰民",
        "社会生活噪声、商业经营活动中使用高音广播喇叭或者采用其他发出高噪声的方法招揽顾客的处理",
        keywords=("噪声", "广场舞", "高音喇叭"),
        synonyms=("吵闹",),
    )
    registry.add(
        "01-01-002",
        "占道经营",
        "对擅自占用城市道路、桥梁、广场等公共场所进行经营活动的查处",
        keywords=("流动摊贩", "马路市场"),
        synonyms=("出店经营",),
    )
    registry.add(
        "01-01-003",
        "违章建筑",
        "对未取得建设工程规划许可证或者未按照许可证规定进行建设的违法建设的查处",
        keywords=("违法建设", "私搭乱建"),
    )
    registry.add(
        "01-01-004",
        "油烟污染",
        "餐饮服务业经营者未安装油烟净化设施、不正常使用油烟净化设施或者超过排放标准排放油烟的处理",
        keywords=("餐饮油烟", "烧烤"),
    )
    registry.add(
        "01-01-005",
        "物业管理纠纷",
        "业主与物业服务企业之间因物业服务收费、服务质量等发生的纠纷的调处",
        keywords=("物业服务", "业主委员会"),
    )
    registry.add(
        "01-01-006",
        "道路积水",
        "城市道路排水设施维护管理，暴雨后道路积水的排除",
        keywords=("排水", "下水道堵塞"),
    )
    # Decoys that mention the same words outside the title, to show the title outranks them.
    registry.add(
        "01-01-007",
        "建筑施工扬尘",
        "建筑工地施工扬尘污染的查处；夜间施工噪音另见噪音扰民",
        keywords=("扬尘",),
    )
    registry.add(
        "01-01-008",
        "小区公共设施管理",
        "住宅小区内公共设施设备的日常管理与维护",
        keywords=("小区管理",),
    )
    invalidate_user_dictionary()  # as edition_publish does on commit
    return registry


def _parsed(q: str) -> Any:
    parsed = search._parse(q)
    assert parsed is not None
    return parsed


def _titles(queryset: Any) -> list[str]:
    return [revision.title for revision in queryset]


# --- The text that is indexed -------------------------------------------------------------------------------


def test_search_text_has_title_terms_and_description_sections() -> None:
    text = build_search_text(
        title="占道经营（流动摊贩）",
        description="对擅自占用城市道路进行经营活动的查处。",
        keywords=["马路市场"],
        synonyms=["出店经营"],
    )
    title, terms, description = (section.split() for section in text.split(" | "))
    # The title whole (each run between punctuation), jieba's tokens, and every bigram.
    assert {"占道经营", "流动摊贩", "占道", "道经", "经营", "流动", "摊贩"} <= set(title)
    assert "动摊" in title  # a bigram inside a run, not a word
    assert "营流" not in title  # runs split by punctuation make no bigram across it
    assert {"马路市场", "马路", "路市", "市场", "出店经营", "出店", "店经"} <= set(terms)
    assert {"擅自", "占用", "城市", "道路", "经营", "查处"} <= set(description)
    assert "用城" not in description  # descriptions get jieba tokens, not bigrams
    assert all(token.isalnum() for section in (title, terms, description) for token in section)
    assert len(title) == len(set(title))


def test_search_text_lowercases_and_normalises_full_width_latin() -> None:
    text = build_search_text(title="ＷＩＦＩ信号差", description="5G Base Station!", keywords=[], synonyms=[])
    title, terms, description = (section.split() for section in text.split(" | "))
    assert "wifi" in title
    assert {"5g", "base", "station"} <= set(description)
    assert terms == []


def test_search_text_is_deterministic() -> None:
    content: dict[str, Any] = {
        "title": "物业管理纠纷",
        "description": "业主与物业服务企业之间的纠纷",
        "keywords": ["物业服务", "业委会"],
        "synonyms": [],
    }
    assert build_search_text(**content) == build_search_text(**content)


# --- Queries ------------------------------------------------------------------------------------------------


def test_query_terms_join_split_characters_and_drop_stop_words() -> None:
    assert query_terms("占道") == ["占道"]  # jieba cuts it 占 / 道
    assert "怎么" not in query_terms("小区物业管理纠纷怎么处理")
    assert query_terms("的") == ["的"]  # a query of nothing but a stop word keeps it
    assert query_terms("噪音，噪音") == ["噪音"]


def test_tsquery_expands_long_terms_to_bigrams_and_single_characters_to_prefixes() -> None:
    assert tsquery_text(["噪音"]) == "'噪音'"
    assert tsquery_text(["噪"]) == "'噪':*"
    assert tsquery_text(["占道经营"]) == "( '占道经营' | ( '占道' & '道经' & '经营' ) )"
    assert tsquery_text(["噪音", "占道"], match_all=False) == "'噪音' | '占道'"
    assert tsquery_text(["噪音", "噪"], match_all=False) == "'噪音'"


def test_two_character_queries_find_their_duty_first(registry: Registry) -> None:
    noise = _titles(search_revisions(revisions_in_force(), "噪音"))
    assert noise[0] == "噪音扰民"
    assert "建筑施工扬尘" in noise  # mentions 噪音 in its description, ranked below

    street = _titles(search_revisions(revisions_in_force(), "占道"))
    assert street[0] == "占道经营"


def test_a_longer_phrase_ranks_the_best_match_first(registry: Registry) -> None:
    results: list[Any] = list(search_revisions(revisions_in_force(), "小区物业管理纠纷怎么处理"))
    titles = _titles(results)
    assert titles[0] == "物业管理纠纷"
    assert "小区公共设施管理" in titles  # a partial match still found, below
    assert results[0].rank > results[1].rank


def test_a_title_outranks_a_description(registry: Registry) -> None:
    # 道路: the title of 道路积水, in the description of 占道经营.
    results: list[Any] = list(search_revisions(revisions_in_force(), "道路"))
    assert [r.title for r in results] == ["道路积水", "占道经营"]
    assert results[0].rank > results[1].rank > 0


@pytest.mark.postgres
def test_a_keyword_outranks_a_description(registry: Registry) -> None:
    # 广场: inside the keyword 广场舞 of 噪音扰民, in the description of 占道经营 (weights B and C).
    results: list[Any] = list(search_revisions(revisions_in_force(), "广场"))
    assert [r.title for r in results] == ["噪音扰民", "占道经营"]
    assert results[0].rank > results[1].rank > 0


def test_a_keyword_or_synonym_alone_finds_the_duty(registry: Registry) -> None:
    assert _titles(search_revisions(revisions_in_force(), "马路市场")) == ["占道经营"]
    assert _titles(search_revisions(revisions_in_force(), "吵闹")) == ["噪音扰民"]
    assert _titles(search_revisions(revisions_in_force(), "下水道")) == ["道路积水"]


def test_all_query_terms_must_match_when_some_duty_matches_them_all(registry: Registry) -> None:
    assert _titles(search_revisions(revisions_in_force(), "油烟 烧烤")) == ["油烟污染"]


def test_removed_pending_and_superseded_revisions_are_not_found_in_force(registry: Registry) -> None:
    registry.add("01-01-101", "噪音扰民（新）", "待发布", state="pending")
    registry.add("01-01-102", "噪音投诉（已取消）", "已取消", state="removed")
    registry.add("01-01-103", "噪音扰民（旧）", "已被替代", state="superseded")

    assert _titles(search_revisions(revisions_in_force(), "噪音")) == ["噪音扰民", "建筑施工扬尘"]
    # The search itself would find them: it is revisions_in_force() that leaves them out.
    everything = _titles(search_revisions(DutyRevision.objects.all(), "噪音"))
    assert {"噪音扰民（新）", "噪音投诉（已取消）", "噪音扰民（旧）"} <= set(everything)


@pytest.mark.parametrize(
    "q",
    [
        "'); DROP TABLE x; --",
        "&|!:*",
        "噪音 & !占道",
        "'噪音':*",
        "\\",
        "噪音'); DELETE FROM duty_lists_duty; --",
        "噪音\x00",
        "噪音" * 500,
    ],
)
def test_query_syntax_and_sql_in_user_input_are_just_text(registry: Registry, q: str) -> None:
    count = DutyRevision.objects.count()
    results = _titles(search_revisions(revisions_in_force(), q))
    if "噪音" in q:
        assert results[0] == "噪音扰民"
    else:
        assert results == []
    assert DutyRevision.objects.count() == count


def test_blank_query_returns_the_queryset_unchanged(registry: Registry) -> None:
    queryset = revisions_in_force()
    assert search_revisions(queryset, "") is queryset
    assert search_revisions(queryset, "   ") is queryset


def test_the_portable_search_used_on_sqlite_ranks_title_matches_first(registry: Registry) -> None:
    results = search._search_portable(revisions_in_force(), _parsed("噪音"))
    assert _titles(results) == ["噪音扰民", "建筑施工扬尘"]
    assert _titles(search._search_portable(revisions_in_force(), _parsed("马路市场"))) == ["占道经营"]
    # Nothing matches every term: any term will do.
    assert "物业管理纠纷" in _titles(search._search_portable(revisions_in_force(), _parsed("物业 噪音")))


@pytest.mark.postgres
def test_search_reads_the_stored_vector_through_its_gin_index(registry: Registry) -> None:
    duties = Duty.objects.bulk_create(
        Duty(duty_list=registry.duty_list, code=f"09-{i:05d}") for i in range(3000)
    )
    filler = build_search_text(
        title="井盖缺失", description="城市道路井盖缺失、破损的维修", keywords=["井盖"], synonyms=[]
    )
    DutyRevision.objects.bulk_create(
        DutyRevision(
            duty=duty,
            duty_list=registry.duty_list,
            code=duty.code,
            classification=registry.classification,
            title="井盖缺失",
            duty_type=DutyType.MAIN,
            search_text=filler,
            edition=registry.edition,
            valid_from=registry.edition.published_at,
        )
        for duty in duties
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE duty_lists_dutyrevision")
        cursor.execute("SET LOCAL enable_seqscan = off")
    queryset = search_revisions(revisions_in_force(with_content=False), "噪音")
    plan = queryset.explain()
    assert "dutyrevision_search_vector_gin" in plan, plan
    assert _titles(queryset)[0] == "噪音扰民"


# --- The user dictionary ------------------------------------------------------------------------------------


def test_the_user_dictionary_keeps_registry_terms_whole(registry: Registry) -> None:
    assert segment("区综合执法局负责查处")[:1] == ["区综合执法局"]
    # A made-up keyword: jieba alone would cut it into pieces.
    registry.add("01-01-201", "楼道堆物", "楼道内堆放杂物", keywords=["垃圾满溢点"])
    invalidate_user_dictionary()
    assert "垃圾满溢点" in segment("这里有个垃圾满溢点")


def test_without_the_registry_jieba_splits_those_terms(db: None) -> None:
    # The precondition of the test above: it is the registry's vocabulary that keeps them whole.
    refresh_user_dictionary()
    assert "区综合执法局" not in segment("区综合执法局负责查处")
    assert "垃圾满溢点" not in segment("这里有个垃圾满溢点")


def test_a_term_leaving_the_registry_leaves_the_dictionary(registry: Registry) -> None:
    agency = Agency.objects.create(code="zz", name="区某某督查组", short_name="", level=AgencyLevel.DISTRICT)
    invalidate_user_dictionary()
    assert "区某某督查组" in segment("区某某督查组来了")

    agency.name = "区督察办"
    agency.save()
    invalidate_user_dictionary()
    assert "区某某督查组" not in segment("区某某督查组来了")
    assert "区督察办" in segment("区督察办来了")


def test_refreshing_again_costs_no_query(registry: Registry, django_assert_num_queries: Any) -> None:
    refresh_user_dictionary()
    with django_assert_num_queries(0):
        for _ in range(100):
            refresh_user_dictionary()


def test_a_new_process_reads_the_stored_words_instead_of_the_registry(registry: Registry) -> None:
    from django.test.utils import CaptureQueriesContext

    from duty_lists.models import SearchVocabulary

    registry.add("01-01-401", "楼道堆物", "", keywords=["垃圾满溢点"])
    invalidate_user_dictionary()
    refresh_user_dictionary()  # the first process works the words out and stores them
    (stored,) = SearchVocabulary.objects.all()
    assert "垃圾满溢点" in stored.frequencies and "区综合执法局" in stored.frequencies

    search._user_dictionary.loaded = False  # as a process started after that one
    search._user_dictionary.stamp = None
    with CaptureQueriesContext(connection) as captured:
        refresh_user_dictionary()
    read = " ".join(q["sql"] for q in captured.captured_queries)
    assert "duty_lists_searchvocabulary" in read
    assert "duty_lists_dutyrevision" not in read  # not one duty read
    assert "垃圾满溢点" in segment("这里有个垃圾满溢点")


def test_the_words_frequencies_do_not_depend_on_what_the_process_loaded_before(db: None) -> None:
    """Every process works out the same frequencies for the same words, whatever it held before (a
    suggestion depends on the words already in jieba)."""
    words = {"区综合执法局", "垃圾满溢点", "楼道堆物"}
    try:
        first = search._suggested_frequencies(words)
        search._suggested_frequencies({"单车堆积点", "综合执法", "执法局"})
        assert search._suggested_frequencies(words) == first
    finally:
        invalidate_user_dictionary()


def test_another_process_publishing_is_noticed_at_the_next_recheck(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    refresh_user_dictionary()
    registry.add("01-01-301", "共享单车乱停放", "", keywords=["单车堆积点"])
    Edition.objects.create(
        duty_list=registry.duty_list,
        number=2,
        published_at=timezone.now(),
        effective_date=date.today(),  # noqa: DTZ011
    )
    refresh_user_dictionary()
    assert "单车堆积点" not in segment("单车堆积点")  # not yet: the recheck is minutes away

    monkeypatch.setattr(search, "RECHECK_SECONDS", 0.0)
    assert "单车堆积点" in segment("单车堆积点")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_an_edition_searches_go_on_while_a_thread_loads_the_new_vocabulary(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.ZHIZE_SEARCH_RELOAD_IN_BACKGROUND = True
    registry = _registry()  # committed: the loading thread reads it over its own connection
    refresh_user_dictionary()
    registry.add("01-01-401", "共享单车乱停放", "", keywords=["单车堆积点"])
    Edition.objects.create(
        duty_list=registry.duty_list,
        number=2,
        published_at=timezone.now(),
        effective_date=date.today(),  # noqa: DTZ011
    )
    invalidate_user_dictionary()  # as edition_publish does on commit
    # Hold the thread inside its load, to see what requests do meanwhile.
    release = threading.Event()
    read_vocabulary = search._registry_vocabulary

    def held() -> set[str]:
        release.wait(30)
        return read_vocabulary()

    monkeypatch.setattr(search, "_registry_vocabulary", held)

    started = time.monotonic()
    assert "单车堆积点" not in segment("单车堆积点")  # the vocabulary in place, at once
    assert query_terms("噪音")  # a search does not wait either
    assert time.monotonic() - started < 5
    assert search._user_dictionary.reloading

    release.set()
    deadline = time.monotonic() + 30
    while search._user_dictionary.reloading and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not search._user_dictionary.reloading
    assert "单车堆积点" in segment("单车堆积点")


def test_importing_the_module_does_not_load_jieba_and_loading_it_is_quiet() -> None:
    code = (
        "import sys, django; django.setup()\n"
        "import duty_lists.search as s\n"
        "assert 'jieba' not in sys.modules, 'jieba imported eagerly'\n"
        "assert list(s._index_tokens('噪音扰民')) == ['噪音', '扰民']\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
