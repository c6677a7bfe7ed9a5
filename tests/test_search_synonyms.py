"""The hotline's words find their duties: the search synonym table, search across lists, phrase ranking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM
from core.errors import PermissionRefused
from core.models import AuditEntry
from duty_lists.models import (
    Category,
    Classification,
    Duty,
    DutyList,
    DutyListKind,
    DutyRevision,
    DutyType,
    Edition,
    SearchSynonym,
)
from duty_lists.search import build_search_text, invalidate_user_dictionary
from duty_lists.services import search_synonym_save
from tests.data import shared_file

pytestmark = pytest.mark.django_db

LIVELIHOOD = "ga-livelihood"
API = "/api/v1/duties/"


@pytest.fixture(autouse=True)
def _fresh_search_state() -> Any:
    from duty_lists.synonyms import forget_synonyms

    invalidate_user_dictionary()
    forget_synonyms()
    yield
    invalidate_user_dictionary()
    forget_synonyms()


def _api_titles(client: Client, q: str, **params: str) -> list[str]:
    response = client.get(API, {"q": q, **params})
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


def _page_titles(client: Client, q: str, **params: str) -> tuple[list[str], str]:
    response = client.get(reverse("duty_lists:search"), {"q": q, **params})
    assert response.status_code == 200
    return [r.title for r in response.context["page"].object_list], response.content.decode()


# The hotline word → a title of the demo lists that covers it.
HOTLINE_WORDS = {
    "占道": "城管执法",
    "噪声": "噪音污染",
    "油烟": "大气污染",
    "违建": "违章建筑",
    "停车": "交通安全管理",
    "垃圾": "环境卫生",
    "扰民": "噪音污染",
}


def test_the_hotline_words_find_their_duties_in_the_demo_lists(client: Client) -> None:
    shared_file("tipdm2020", "taxonomy_3level.csv")  # the demo list is built from it
    call_command("load_demo", quiet_logins=True)

    for word, title in HOTLINE_WORDS.items():
        page, _html = _page_titles(client, word)
        assert title in page, (word, page)
        assert _api_titles(client, word) == page[: len(_api_titles(client, word))], word

    noise = _page_titles(client, "噪音")[0]
    assert {"噪音污染", "夜间建筑施工许可"} <= set(noise), noise

    # 占道经营: duties about street stalls first, not those that merely say 经营 (经营许可 …).
    stalls = _page_titles(client, "占道经营")[0]
    street_stalls = {"城管执法", "临时便民服务摊点设置"}
    assert stalls[0] in street_stalls, stalls
    assert not [t for t in stalls if "经营" in t and "占道" not in t], stalls
    assert _api_titles(client, "占道经营") == stalls


def test_search_covers_every_list_and_says_which_it_searched(client: Client) -> None:
    call_command("load_demo", quiet_logins=True)
    livelihood = DutyList.objects.get(code=LIVELIHOOD)

    everywhere, html = _page_titles(client, "占道")
    assert "在全部清单中搜索" in html
    list_link = f'<a href="{reverse("duty_lists:list_detail", args=[LIVELIHOOD])}">{livelihood.name}</a>'
    assert list_link in html  # across all lists, each result says which list it is from
    assert "城管执法" in everywhere and "临时便民服务摊点设置" in everywhere  # two lists

    in_one, html = _page_titles(client, "占道", list=LIVELIHOOD)
    assert f"在《{livelihood.name}》中搜索" in html
    assert "临时便民服务摊点设置" not in in_one
    assert list_link not in html.split('class="search-results"', 1)[1]  # one list: no need to repeat it
    widen = reverse("duty_lists:search") + "?q=%E5%8D%A0%E9%81%93"
    assert f'href="{widen}"' in html
    assert _api_titles(client, "占道", list=LIVELIHOOD) == in_one

    # A list's own page searches that list, says so, and offers all lists.
    response = client.get(reverse("duty_lists:list_detail", args=[LIVELIHOOD]), {"q": "占道"})
    html = response.content.decode()
    assert f"在《{livelihood.name}》中搜索" in html
    assert f'href="{widen}"' in html


# --- A small list of our own --------------------------------------------------------------------------------


def _duty(
    duty_list: DutyList,
    classification: Classification,
    edition: Edition,
    code: str,
    title: str,
    keywords: tuple[str, ...] = (),
) -> None:
    duty = Duty.objects.create(duty_list=duty_list, code=code)
    DutyRevision.objects.create(
        duty=duty,
        duty_list=duty_list,
        code=code,
        classification=classification,
        title=title,
        duty_type=DutyType.MAIN,
        keywords=list(keywords),
        search_text=build_search_text(title=title, description="", keywords=list(keywords), synonyms=[]),
        edition=edition,
        valid_from=edition.published_at,
    )


@pytest.fixture
def small_list(db: None) -> DutyList:
    duty_list = DutyList.objects.create(code="msjq", name="民生诉求职责清单", kind=DutyListKind.LIVELIHOOD)
    category = Category.objects.create(duty_list=duty_list, code="01", name="城市管理")
    classification = Classification.objects.create(
        duty_list=duty_list, category=category, code="01-01", name="市容环境"
    )
    edition = Edition.objects.create(
        duty_list=duty_list,
        number=1,
        published_at=timezone.now() - timedelta(days=1),
        effective_date=date.today() - timedelta(days=1),  # noqa: DTZ011 - a calendar date is meant
    )
    # The pieces of 占道经营 in its title and again in its keywords: plain ts_rank puts it first.
    _duty(duty_list, classification, edition, "01-01-001", "违规占道与无证经营", ("占道", "无证经营"))
    _duty(duty_list, classification, edition, "01-01-002", "占道经营整治")
    _duty(duty_list, classification, edition, "01-01-003", "下水道堵塞疏通")
    invalidate_user_dictionary()
    return duty_list


def test_a_title_holding_the_whole_query_ranks_first(client: Client, small_list: DutyList) -> None:
    assert _page_titles(client, "占道经营")[0] == ["占道经营整治", "违规占道与无证经营"]
    assert _api_titles(client, "占道经营") == ["占道经营整治", "违规占道与无证经营"]


def _add_synonym(client: Client, term: str, aliases: str) -> Any:
    return client.post(
        reverse("admin:duty_lists_searchsynonym_add"),
        {"term": term, "aliases_text": aliases, "note": ""},
    )


def test_an_officer_edits_a_synonym_and_the_search_changes(
    login: Callable[[Any], Client],
    officer: Any,
    small_list: DutyList,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = login(officer)
    assert _page_titles(client, "化粪池")[0] == []
    api = client.get(API, {"q": "化粪池"})
    etag = api["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        response = _add_synonym(client, "化粪池", "下水道、污水井")
    assert response.status_code == 302, response.content.decode()[:2000]
    row = SearchSynonym.objects.get(term="化粪池")
    assert row.aliases == ["下水道", "污水井"]
    assert AuditEntry.objects.filter(
        action="duty_lists.search_synonym.created", object_id=str(row.pk)
    ).exists()

    assert _page_titles(client, "化粪池")[0] == ["下水道堵塞疏通"]
    assert _api_titles(client, "化粪池") == ["下水道堵塞疏通"]
    # A client holding the old answer is not told it is still current.
    again = client.get(API, {"q": "化粪池"}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200

    # Changed back: the search follows.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:duty_lists_searchsynonym_change", args=[row.pk]),
            {"term": "化粪池", "aliases_text": "污水井", "note": ""},
        )
    assert response.status_code == 302
    assert _page_titles(client, "化粪池")[0] == []
    assert AuditEntry.objects.filter(action="duty_lists.search_synonym.updated").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:duty_lists_searchsynonym_delete", args=[row.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not SearchSynonym.objects.exists()
    assert AuditEntry.objects.filter(action="duty_lists.search_synonym.deleted").count() == 1


def test_the_same_save_twice_changes_nothing(officer: Any, small_list: DutyList) -> None:
    first = search_synonym_save(actor=officer, term="违建", aliases=["违章建筑", "违法建设"])
    second = search_synonym_save(actor=officer, term="违建", aliases=["违章建筑", "违法建设"])
    assert first.pk == second.pk
    assert AuditEntry.objects.filter(action__startswith="duty_lists.search_synonym").count() == 1


def test_others_may_not_edit_the_synonyms(
    login: Callable[[Any], Client], member_a: Any, dispatcher: Any, small_list: DutyList
) -> None:
    for person in (member_a, dispatcher):
        client = login(person)
        response = _add_synonym(client, "化粪池", "下水道")
        assert response.status_code in {302, 403}
        assert not response.get("Location", "").endswith("/searchsynonym/")
        with pytest.raises(PermissionRefused):
            search_synonym_save(actor=person, term="化粪池", aliases=["下水道"])
    assert not SearchSynonym.objects.exists()
    assert _page_titles(Client(), "化粪池")[0] == []
    search_synonym_save(actor=SYSTEM, term="化粪池", aliases=["下水道"])  # the demo loader's actor may


def test_synonyms_cost_no_query_per_word(
    officer: Any,
    small_list: DutyList,
    django_assert_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from duty_lists.search import search_revisions
    from duty_lists.selectors import revisions_in_force

    with django_capture_on_commit_callbacks(execute=True):
        for term, aliases in (("化粪池", ["下水道"]), ("违建", ["违章建筑"]), ("占道", ["占道经营"])):
            search_synonym_save(actor=officer, term=term, aliases=aliases)
    list(search_revisions(revisions_in_force(), "化粪池"))  # the first search reads the table once
    # Three terms with synonyms: the EXISTS check of "all terms", then the search itself.
    with django_assert_num_queries(2):
        found = search_revisions(revisions_in_force(with_content=False), "化粪池 违建 占道")
        titles = [r.title for r in found]
    assert "下水道堵塞疏通" in titles  # found through the synonym of 化粪池


def test_a_change_made_by_another_process_is_seen_at_the_next_search(small_list: DutyList) -> None:
    from django.core.cache import cache

    from duty_lists import synonyms

    assert _api_titles(Client(), "化粪池") == []
    # Another process saved a row and replaced the version in the shared cache; this one holds its table.
    SearchSynonym.objects.create(term="化粪池", aliases=["下水道"])
    cache.set(synonyms.VERSION_KEY, "another-process", timeout=None)
    assert _api_titles(Client(), "化粪池") == ["下水道堵塞疏通"]


def test_the_search_page_runs_a_fixed_number_of_queries(
    client: Client, small_list: DutyList, django_assert_num_queries: Any
) -> None:
    _page_titles(client, "占道")  # the synonym table and jieba's vocabulary are read once per process
    # The lists, the count, one page of rows, and their agencies; a query of one term needs no EXISTS.
    with django_assert_num_queries(4):
        assert set(_page_titles(client, "占道")[0]) == {"占道经营整治", "违规占道与无证经营"}
