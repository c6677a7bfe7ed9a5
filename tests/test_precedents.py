"""Precedent search: the current rulings most like a dispute, from real-shaped Chinese disputes ruled through
the services (file → escalate to the editorial office → accept → rule)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from arbitration import precedents
from arbitration.models import Dispute, Domain, Ruling
from arbitration.services import dispute_file, dispute_transition, ruling_correct, ruling_issue
from duty_lists import permissions, search
from duty_lists.models import Agency, Role
from tests.factories import AgencyFactory, MembershipFactory, UserFactory

STALLS_QUERY = (
    "文化路早市流动摊贩占道经营",
    "文化路早市周边大量流动摊贩在人行道上摆摊设点，占道经营影响行人通行，"
    "12345工单在综合执法和市场监管之间反复退单。",
)


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache lives for the process; a test's rulings are rolled back after it, and on SQLite their ids
    # are reused, so each test starts from an empty cache.
    monkeypatch.setattr(precedents, "_corpus", precedents._Corpus())


@pytest.fixture
def agencies(agency_a: Agency, agency_b: Agency) -> dict[str, Any]:
    return {
        "城管": agency_a,  # 区综合执法局
        "市场监管": agency_b,  # 区市监局
        "生态环境": AgencyFactory(code="C-sthj", name="区生态环境局"),
        "公安": AgencyFactory(code="D-gaj", name="区公安分局"),
        "住建": AgencyFactory(code="F-zjj", name="区住房和城乡建设局"),
        "街道": AgencyFactory(code="G-xfjd", name="幸福街道办事处", level="street"),
        "自然资源": AgencyFactory(code="H-zrzy", name="区自然资源局"),
    }


def _file(officer: Any, title: str, description: str, filer: Agency, respondent: Agency) -> Dispute:
    return dispute_file(
        actor=officer,
        title=title,
        description=description,
        kind="pushback",
        domain=Domain.objects.get(code="urban"),
        filing_agency=filer,
        respondents=[respondent],
    )


def _rule(
    officer: Any,
    *,
    title: str,
    description: str,
    parties: tuple[Agency, Agency],
    lead: Agency,
    rationale: str,
    legal_bases: str = "",
    is_internal: bool = False,
) -> Ruling:
    dispute = _file(officer, title, description, *parties)
    dispute_transition(actor=officer, dispute=dispute, action="escalate", reason="协商未果，报编办协调")
    dispute_transition(actor=officer, dispute=dispute, action="accept_scope")
    return ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=lead,
        lead_responsibility="牵头处理，按期反馈办理结果",
        rationale=rationale,
        legal_bases=legal_bases,
        effective_date=date(2025, 3, 1),
        is_internal=is_internal,
    )


def _stalls(officer: Any, a: dict[str, Any]) -> Ruling:
    return _rule(
        officer,
        title="幸福路夜市占道经营摊贩管理职责争议",
        description="幸福路夜市周边流动摊贩长期占道经营，油烟和垃圾影响通行，市民多次投诉。区综合执法局认为"
        "摊贩售卖食品应由市场监管部门查处无证经营，区市监局认为占用道路摆摊属于城市管理范畴。",
        parties=(a["城管"], a["市场监管"]),
        lead=a["城管"],
        rationale="占用城市道路、人行道摆摊设点经营，属于市容环境和城市道路管理事项，由区综合执法局牵头查处"
        "占道经营行为；摊贩涉及无照经营、食品安全的，由区市监局配合依法处理。",
        legal_bases="《城市市容和环境卫生管理条例》第十四条",
    )


def _noise(officer: Any, a: dict[str, Any], *, is_internal: bool = False) -> Ruling:
    return _rule(
        officer,
        title="居民区夜间噪音扰民投诉处理职责争议",
        description="某小区楼下酒吧和KTV夜间营业噪音扰民，居民多次拨打12345热线投诉。区生态环境局认为社会生活"
        "噪声应由公安机关处理，区公安分局认为商业经营活动噪声属于生态环境部门职责。",
        parties=(a["生态环境"], a["公安"]),
        lead=a["生态环境"],
        rationale="文化娱乐、商业经营活动中使用音响器材产生的社会生活噪声污染，由区生态环境局牵头监督管理；"
        "夜间在居民区喧哗等违反治安管理的行为，由区公安分局依法处理。",
        legal_bases="《中华人民共和国噪声污染防治法》第六十一条",
        is_internal=is_internal,
    )


def _property(officer: Any, a: dict[str, Any]) -> Ruling:
    return _rule(
        officer,
        title="老旧小区物业管理纠纷监管职责争议",
        description="某老旧小区业主与物业公司因物业费和公共收益发生纠纷，物业服务质量差，业主委员会迟迟无法"
        "成立。区住建局认为属于街道属地管理，街道办事处认为物业服务企业监管是住建部门职责。",
        parties=(a["住建"], a["街道"]),
        lead=a["住建"],
        rationale="物业服务企业的资质和服务行为监管由区住建局负责；指导成立业主大会和业主委员会、调解物业管理"
        "纠纷由街道办事处负责，区住建局予以指导。",
        legal_bases="《物业管理条例》第五条",
    )


def _construction(officer: Any, a: dict[str, Any], *, is_internal: bool = False) -> Ruling:
    return _rule(
        officer,
        title="城郊村违章建筑查处拆除职责争议",
        description="某村村民在耕地上违法建设房屋，未取得乡村建设规划许可证，邻居举报违章建筑。区自然资源局"
        "认为违法建设查处属于综合执法，区综合执法局认为占用耕地建房应由自然资源部门查处。",
        parties=(a["自然资源"], a["城管"]),
        lead=a["城管"],
        rationale="城市规划区内未取得建设工程规划许可证的违法建设由区综合执法局查处；非法占用耕地建房的由区"
        "自然资源局依法查处，街道办事处配合拆除。",
        legal_bases="《中华人民共和国城乡规划法》第六十四条",
        is_internal=is_internal,
    )


@pytest.fixture
def rulings(officer: Any, agencies: dict[str, Any]) -> dict[str, Ruling]:
    return {
        "stalls": _stalls(officer, agencies),
        "noise": _noise(officer, agencies),
        "property": _property(officer, agencies),
    }


def _person(username: str, agency: Agency) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(user=user, agency=agency, role=Role.AGENCY_STAFF)
    return user


# --- Ranking -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_street_stall_dispute_finds_the_street_stall_ruling_first(
    officer: Any, agencies: dict[str, Any], rulings: dict[str, Ruling]
) -> None:
    new = _file(officer, *STALLS_QUERY, agencies["城管"], agencies["市场监管"])

    found = precedents.similar_for_dispute(new)

    assert found[0][0] == rulings["stalls"]
    scores = [score for _ruling, score in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < score <= 1.0 for score in scores)
    assert scores[0] > 0.2
    # The noise and property rulings share no matter with street stalls: not precedents.
    assert rulings["property"] not in [ruling for ruling, _score in found]


@pytest.mark.django_db
def test_each_kind_of_matter_finds_its_own_ruling(rulings: dict[str, Ruling]) -> None:
    for text, expected in (
        ("酒吧夜间噪音扰民，居民投诉社会生活噪声", "noise"),
        ("小区物业公司服务差，业主委员会成立难，物业费纠纷", "property"),
        ("人行道上流动摊贩摆摊占道", "stalls"),
    ):
        found = precedents.similar_rulings(text)
        assert found and found[0][0] == rulings[expected], text


@pytest.mark.django_db
def test_the_ruling_comes_with_its_dispute_and_lead_agency_loaded(
    rulings: dict[str, Ruling], django_assert_num_queries: Any
) -> None:
    precedents.similar_rulings("噪音扰民")  # warm: jieba's user dictionary and the corpus
    found = precedents.similar_rulings("噪音扰民")
    with django_assert_num_queries(0):
        assert found[0][0].dispute.domain.code == "urban"
        assert found[0][0].lead_agency.name == "区生态环境局"


@pytest.mark.django_db
def test_limit_caps_the_answer(rulings: dict[str, Ruling]) -> None:
    text = "占道经营 噪音扰民 物业管理纠纷"
    assert len(precedents.similar_rulings(text)) == 3
    assert len(precedents.similar_rulings(text, limit=2)) == 2
    assert precedents.similar_rulings(text, limit=0) == []


# --- What is left out --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_exclude_dispute_leaves_out_that_disputes_ruling(rulings: dict[str, Ruling]) -> None:
    stalls = rulings["stalls"]
    text = " ".join(STALLS_QUERY)
    assert precedents.similar_rulings(text)[0][0] == stalls

    found = precedents.similar_rulings(text, exclude_dispute=stalls.dispute_id)

    assert stalls not in [ruling for ruling, _score in found]
    # A ruled dispute viewed again is not its own precedent either.
    assert stalls not in [ruling for ruling, _score in precedents.similar_for_dispute(stalls.dispute)]


@pytest.mark.django_db
def test_a_superseded_ruling_is_not_a_precedent_its_correction_is(
    officer: Any, rulings: dict[str, Ruling]
) -> None:
    old = rulings["stalls"]
    assert precedents.similar_rulings("流动摊贩占道经营")[0][0] == old

    new = ruling_correct(
        actor=officer,
        ruling=old,
        rationale="更正：人行道、广场摆摊设点的占道经营行为由区综合执法局查处，区市监局配合查处无照经营。",
    )
    found = [ruling for ruling, _score in precedents.similar_rulings("流动摊贩占道经营")]

    assert old not in found
    assert found[0] == new


@pytest.mark.django_db
def test_internal_rulings_are_shown_only_to_those_who_see_the_dispute(
    officer: Any, member_a: Any, agencies: dict[str, Any], rulings: dict[str, Ruling]
) -> None:
    internal = _construction(officer, agencies, is_internal=True)
    text = "村民占用耕地违法建设房屋，违章建筑谁来拆除"
    outsider = _person("staff_env", agencies["生态环境"])  # 生态环境 is no party to the construction dispute

    def found(visible_to: Any) -> list[Ruling]:
        return [ruling for ruling, _score in precedents.similar_rulings(text, visible_to=visible_to)]

    assert found(None)[0] == internal  # no filter: the back office's own view
    assert found(officer)[0] == internal
    assert found(member_a)[0] == internal  # 城管 is a party
    assert internal not in found(outsider)
    assert internal not in found(AnonymousUser())
    # Published rulings still show to the outsider.
    assert rulings["stalls"] in [
        ruling for ruling, _score in precedents.similar_rulings("占道经营摊贩", visible_to=outsider)
    ]


@pytest.mark.django_db
def test_hidden_internal_rulings_do_not_crowd_out_published_ones(
    officer: Any, agencies: dict[str, Any], rulings: dict[str, Ruling]
) -> None:
    internal = _noise(officer, agencies, is_internal=True)
    outsider = _person("staff_zrzy", agencies["自然资源"])
    text = "酒吧夜间噪音扰民"

    found = [ruling for ruling, _score in precedents.similar_rulings(text, limit=1, visible_to=outsider)]

    assert precedents.similar_rulings(text, limit=1)[0][0] == internal  # better match, but hidden
    assert found == [rulings["noise"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text", ["", "   \n", "！！！？？……", "12345 2024", "的了吗呢", "xyzzy plugh qwertz"]
)
def test_empty_or_garbage_text_finds_nothing(rulings: dict[str, Ruling], text: str) -> None:
    assert precedents.similar_rulings(text) == []


@pytest.mark.django_db
def test_nothing_to_find_without_rulings(officer: Any, agencies: dict[str, Any]) -> None:
    new = _file(officer, *STALLS_QUERY, agencies["城管"], agencies["市场监管"])
    assert precedents.similar_for_dispute(new) == []
    assert precedents.similar_rulings("占道经营") == []


# --- The cache ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_ruling_invalidates_the_cache_and_only_it_is_segmented(
    officer: Any, agencies: dict[str, Any], rulings: dict[str, Ruling], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "村民在耕地上违法建设房屋，违章建筑查处"
    before = precedents.similar_rulings(text)
    assert all(ruling.dispute.title != "城郊村违章建筑查处拆除职责争议" for ruling, _score in before)

    construction = _construction(officer, agencies)
    segmented: list[str] = []
    segment = search.segment

    def counting(value: str) -> list[str]:
        segmented.append(value)
        return segment(value)

    monkeypatch.setattr(search, "segment", counting)
    found = precedents.similar_rulings(text)

    assert found[0][0] == construction
    # The rebuild segmented the new ruling's texts (and the query), not the rulings it already knew.
    assert construction.rationale in segmented
    assert not {r.rationale for r in rulings.values()} & set(segmented)


@pytest.mark.django_db
def test_a_rebuild_scores_as_a_fresh_build(
    officer: Any, agencies: dict[str, Any], rulings: dict[str, Ruling], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "人行道流动摊贩占道经营，夜间噪音扰民，违章建筑"
    precedents.similar_rulings(text)
    # Since the cache was built: a new ruling, a correction, and a dispute edited (as no service does).
    _construction(officer, agencies)
    ruling_correct(actor=officer, ruling=rulings["stalls"], rationale="更正：占道经营由区综合执法局查处。")
    Dispute.objects.filter(pk=rulings["noise"].dispute_id).update(title="广场舞音响噪音扰民和摊贩占道")

    rebuilt = [(ruling.pk, score) for ruling, score in precedents.similar_rulings(text, limit=10)]
    monkeypatch.setattr(precedents, "_corpus", precedents._Corpus())
    fresh = [(ruling.pk, score) for ruling, score in precedents.similar_rulings(text, limit=10)]

    assert [pk for pk, _score in rebuilt] == [pk for pk, _score in fresh]
    assert [score for _pk, score in rebuilt] == pytest.approx([score for _pk, score in fresh])
    assert rulings["stalls"].pk not in [pk for pk, _score in rebuilt]
    assert len(rebuilt) == 3  # the correction, noise, construction; property management has nothing in common


@pytest.mark.django_db
def test_a_search_costs_a_stamp_query_and_a_fetch(
    officer: Any,
    member_a: Any,
    agencies: dict[str, Any],
    rulings: dict[str, Ruling],
    django_assert_num_queries: Any,
) -> None:
    text = " ".join(STALLS_QUERY)
    internal = _construction(officer, agencies, is_internal=True)
    precedents.similar_rulings(text)  # warm: jieba's user dictionary and the corpus
    permissions.roles_of(member_a)  # read once a request, whatever the page does

    with django_assert_num_queries(2):  # the stamp, the rulings found
        assert len(precedents.similar_rulings(text)) >= 1
    with django_assert_num_queries(2):  # visibility is part of the fetch
        found = precedents.similar_rulings("违章建筑 占道经营 物业管理 噪音扰民", visible_to=member_a)
        assert internal in [ruling for ruling, _score in found]
    with django_assert_num_queries(2):
        precedents.similar_for_dispute(rulings["noise"].dispute, visible_to=member_a)
    with django_assert_num_queries(1):  # nothing in common: no fetch
        assert precedents.similar_rulings("xyzzy") == []
    with django_assert_num_queries(0):
        assert precedents.similar_rulings(" ") == []

    _stalls(officer, agencies)
    with django_assert_num_queries(3):  # the stamp, the rebuild's one read, the rulings found
        precedents.similar_rulings(text)
    with django_assert_num_queries(2):
        precedents.similar_rulings(text)
