"""The rulings' own pages (/rulings/, /rulings/<id>/) through real URLs, for the personas of the API's
visibility rule: a party to the dispute, staff of a third agency, the editorial office, and an anonymous
visitor. Then the links that lead there: the dispute page and the grievance router's precedent.
"""

from __future__ import annotations

import sys
import types
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from arbitration.models import Dispute, Ruling
from arbitration.services import FollowUpSpec, dispute_transition, ruling_correct, ruling_issue
from duty_lists.models import Agency, Duty, Role
from grievances.views.detail import suggestion_views
from tests import registry
from tests.arbitration_helpers import file_dispute
from tests.factories import AgencyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- Fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def agency_c(db: None) -> Any:
    return AgencyFactory(code="C-zjj", name="区住房和城乡建设局", short_name="区住建局")


@pytest.fixture
def agency_d(db: None) -> Any:
    return AgencyFactory(code="D-jd", name="北辰街道办事处", short_name="北辰街道", level="street")


@pytest.fixture
def outsider(agency_c: Agency) -> Any:
    """Staff of a third agency, party to none of the disputes below."""
    user = UserFactory(username="outsider")
    MembershipFactory(user=user, agency=agency_c, role=Role.AGENCY_STAFF)
    return user


def at_office(dispute: Dispute, officer: Any) -> Dispute:
    dispute = dispute_transition(actor=officer, dispute=dispute, action="escalate", reason="协商未果")
    return dispute_transition(actor=officer, dispute=dispute, action="accept_scope")


@pytest.fixture
def published(member_a: Any, officer: Any, agency_a: Agency, agency_b: Agency) -> Ruling:
    """A public ruling on A against B: B leads, A cooperates, B reports back by a date."""
    dispute = at_office(file_dispute(member_a, agency_a, agency_b, title="夜市占道经营归谁管"), officer)
    return ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=agency_b,
        lead_responsibility="查处无照占道经营",
        cooperating=[(agency_a, "配合清理人行道上的摊点")],
        rationale="摊贩的经营行为属市场主体行为，由市场监管部门查处。",
        legal_bases="《无证无照经营查处办法》第五条",
        effective_date=date(2026, 3, 1),
        follow_ups=[FollowUpSpec(agency_b, "一个月内完成交接", date(2026, 4, 1))],
    )


@pytest.fixture
def internal(member_b: Any, officer: Any, agency_b: Agency, agency_d: Agency) -> Ruling:
    """An internal ruling on B against the street D."""
    dispute = at_office(file_dispute(member_b, agency_b, agency_d, title="楼道堆物清理由谁负责"), officer)
    return ruling_issue(
        actor=officer,
        dispute=dispute,
        lead_agency=agency_d,
        lead_responsibility="组织清理楼道堆物",
        rationale="属地管理事项，由街道负责。",
        effective_date=date(2026, 3, 2),
        is_internal=True,
    )


def detail_url(ruling: Ruling) -> str:
    return reverse("arbitration:ruling_detail", kwargs={"pk": ruling.pk})


LIST_URL = "/rulings/"


def english(client: Client) -> Client:
    """The browser pages follow the language switch's cookie, not the test's active language."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def listed(response: Any) -> list[int]:
    assert response.status_code == 200, response.status_code
    return [r.pk for r in response.context["page"].object_list]


# --- Who sees what ---------------------------------------------------------------------------------------


def test_the_list_shows_public_rulings_and_keeps_internal_ones_from_outsiders(
    client, login, outsider, member_a, member_b, officer, published, internal
) -> None:
    assert reverse("arbitration:ruling_list") == LIST_URL
    for reader in (client, login(outsider), login(member_a)):  # none sees the dispute of the internal one
        page = html(reader.get(LIST_URL))
        assert listed(reader.get(LIST_URL)) == [published.pk]
        assert "夜市占道经营归谁管" in page and "楼道堆物清理由谁负责" not in page
    for insider in (login(member_b), login(officer)):  # a party to it, and the editorial office
        assert listed(insider.get(LIST_URL)) == [internal.pk, published.pk]  # newest first


def test_an_internal_ruling_is_a_404_for_those_who_do_not_see_its_dispute(
    client, login, outsider, member_a, member_b, internal
) -> None:
    for reader in (client, login(outsider), login(member_a)):
        assert reader.get(detail_url(internal)).status_code == 404
    with translation.override("en"):
        page = html(english(login(member_b)).get(detail_url(internal)))
    assert "组织清理楼道堆物" in page and 'data-testid="internal"' in page


def test_a_ruling_never_issued_is_a_404(client, login, officer, published) -> None:
    # A ruling exists only once ``ruling_issue`` has written it: there is no draft to show.
    never = max(Ruling.objects.values_list("pk", flat=True)) + 1
    assert client.get(f"/rulings/{never}/").status_code == 404
    assert login(officer).get(f"/rulings/{never}/").status_code == 404


def test_an_anonymous_visitor_reads_a_public_ruling_in_full(client, published) -> None:
    with translation.override("en"):
        page = html(english(client).get(detail_url(published)))
    for text in (
        "Ruling of the editorial office",
        "This case only",
        "区市监局",  # the lead agency, with its responsibility
        "查处无照占道经营",
        "区综合执法局",  # the cooperating agency, with its own
        "配合清理人行道上的摊点",
        "摊贩的经营行为属市场主体行为",
        "《无证无照经营查处办法》第五条",
        "2026-03-01",
        "一个月内完成交接",  # the follow-up item, its due date and state
        "due 2026-04-01",
        "Open",
    ):
        assert text in page, text
    assert 'data-testid="internal"' not in page
    # The dispute's page is not public: no link to it.
    assert reverse("arbitration:dispute_detail", kwargs={"pk": published.dispute_id}) not in page
    assert 'data-testid="dispute-link"' not in page


def test_the_dispute_is_linked_only_for_those_who_may_see_it(
    client, login, outsider, member_a, officer, published
) -> None:
    from arbitration.views.common import user_names

    dispute_url = reverse("arbitration:dispute_detail", kwargs={"pk": published.dispute_id})
    # The officer who signed it is named to those who follow the dispute; the public reads the office's.
    issuer = user_names([published.issued_by_id])[published.issued_by_id]
    assert issuer
    for reader in (login(member_a), login(officer)):
        page = html(reader.get(detail_url(published)))
        assert f'href="{dispute_url}"' in page and issuer in page
    for reader in (client, login(outsider)):
        page = html(reader.get(detail_url(published)))
        assert "夜市占道经营归谁管" in page and f'href="{dispute_url}"' not in page
        assert issuer not in page


# --- Corrections -----------------------------------------------------------------------------------------


def test_the_page_shows_the_chain_of_corrections_both_ways(client, officer, agency_a, published) -> None:
    corrected = ruling_correct(
        actor=officer, ruling=published, rationale="更正牵头单位", lead_agency=agency_a
    )
    client = english(client)
    with translation.override("en"):
        old = html(client.get(detail_url(published)))
        new = html(client.get(detail_url(corrected)))
    assert "Superseded by" in old and f'href="{detail_url(corrected)}"' in old
    assert "no longer in force" in old
    assert "Supersedes" in new and f'href="{detail_url(published)}"' in new
    assert "Superseded by" not in new and "no longer in force" not in new
    # Both stay listed, the old one marked; "current only" leaves the correction.
    assert listed(client.get(LIST_URL)) == [corrected.pk, published.pk]
    assert "ruling-row--superseded" in html(client.get(LIST_URL))
    assert listed(client.get(LIST_URL, {"current": "on"})) == [corrected.pk]


def test_an_internal_correction_is_named_but_not_linked_to_outsiders(client, officer, published) -> None:
    corrected = ruling_correct(actor=officer, ruling=published, rationale="内部更正", is_internal=True)
    page = html(client.get(detail_url(published)))
    assert f"#{corrected.pk}" in page and f'href="{detail_url(corrected)}"' not in page
    assert client.get(detail_url(corrected)).status_code == 404


# --- Filters and search ----------------------------------------------------------------------------------


@pytest.fixture
def class_ruling(member_a: Any, officer: Any, agency_a: Agency, agency_b: Agency) -> Ruling:
    """A ruling on a class of matters: B takes over A's duty, and the registry gets an amendment."""
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "占道经营", agency_a)
    registry.publish(duty_list)
    dispute = file_dispute(
        member_a,
        agency_a,
        agency_b,
        kind="overlap",
        duties=(Duty.objects.get(code="01-01-0001"),),
        title="共享单车乱停放",
    )
    return ruling_issue(
        actor=officer,
        dispute=at_office(dispute, officer),
        lead_agency=agency_b,
        lead_responsibility="负责共享单车停放秩序",
        rationale="依据停放管理规定，由市场监管部门负责。",
        scope="class",
        effective_date=date(2026, 5, 1),
    )


def test_filters_and_search_narrow_the_list(
    client, member_a, officer, agency_a, agency_c, published, internal, class_ruling
) -> None:
    agreed = ruling_issue(  # the parties' agreement, confirmed during negotiation; A leads
        actor=officer,
        dispute=file_dispute(member_a, agency_a, agency_c, title="广告牌安全检查"),
        kind="agreement",
        lead_agency=agency_a,
        lead_responsibility="检查户外广告牌",
        rationale="双方协商一致。",
        effective_date=date(2026, 6, 1),
    )
    assert listed(client.get(LIST_URL)) == [agreed.pk, class_ruling.pk, published.pk]
    assert listed(client.get(LIST_URL, {"kind": "agreement"})) == [agreed.pk]
    assert listed(client.get(LIST_URL, {"kind": "ruling"})) == [class_ruling.pk, published.pk]
    assert listed(client.get(LIST_URL, {"scope": "class"})) == [class_ruling.pk]
    assert listed(client.get(LIST_URL, {"lead": agency_a.code})) == [agreed.pk]
    assert listed(client.get(LIST_URL, {"lead": "B-sjj", "scope": "case"})) == [published.pk]
    assert listed(client.get(LIST_URL, {"q": "共享单车"})) == [class_ruling.pk]  # the dispute's title
    assert listed(client.get(LIST_URL, {"q": "协商一致"})) == [agreed.pk]  # the rationale
    assert listed(client.get(LIST_URL, {"q": "楼道"})) == []  # the internal one stays hidden
    # The lead filter offers the agencies that lead a ruling this visitor sees, not the internal one's.
    lead_codes = [
        code
        for group, options in client.get(LIST_URL).context["form"].fields["lead"].choices[1:]
        for code, _label in options
    ]
    assert sorted(lead_codes) == [agency_a.code, "B-sjj"]


def test_an_unknown_filter_value_is_reported_and_the_rest_still_applies(client, published) -> None:
    response = client.get(LIST_URL, {"kind": "galaxy", "q": "夜市"})
    assert response.context["form"].errors["kind"]
    assert listed(response) == [published.pk]


def test_the_list_runs_the_same_queries_for_one_ruling_or_many(
    client, member_a, officer, agency_a, agency_b, published
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST_URL).status_code == 200
        return len(queries)

    one = count()
    for title in ("甲", "乙", "丙"):
        dispute = at_office(file_dispute(member_a, agency_a, agency_b, title=title), officer)
        ruling_issue(
            actor=officer,
            dispute=dispute,
            lead_agency=agency_a,
            lead_responsibility="负责",
            rationale="依清单",
            effective_date=date(2026, 3, 1),
        )
    assert count() == one


# --- The amendment a class ruling drafted ----------------------------------------------------------------


def test_the_amendment_is_named_for_everyone_and_linked_for_those_who_may_open_it(
    client, login, officer, class_ruling
) -> None:
    amendment_url = reverse("duty_lists:amendment_detail", kwargs={"pk": class_ruling.amendment_id})
    with translation.override("en"):
        public = html(english(client).get(detail_url(class_ruling)))
        office = html(english(login(officer)).get(detail_url(class_ruling)))
    assert f"amendment #{class_ruling.amendment_id}" in public and "A class of matters" in public
    assert "In legal review" in public  # its state
    assert f'href="{amendment_url}"' not in public and f'href="{amendment_url}"' in office


# --- Links to the pages ----------------------------------------------------------------------------------


def test_the_dispute_page_links_its_rulings_and_similar_ones_to_their_pages(
    login, member_a, officer, agency_a, agency_b, published, monkeypatch
) -> None:
    page = html(
        login(member_a).get(reverse("arbitration:dispute_detail", kwargs={"pk": published.dispute_id}))
    )
    assert f'href="{detail_url(published)}"' in page  # the dispute's own ruling

    def similar_rulings(text: str, **kwargs: Any) -> list[Any]:
        return [(published, 0.8)]

    module = types.ModuleType("arbitration.precedents")
    module.similar_rulings = similar_rulings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "arbitration.precedents", module)
    other = file_dispute(member_a, agency_a, agency_b, title="早市占道经营")
    response = login(member_a).get(reverse("arbitration:dispute_detail", kwargs={"pk": other.pk}))
    [(ruling, _score, linkable)] = response.context["precedents"]
    assert ruling == published and linkable  # A is a party to that dispute too
    assert f'href="{detail_url(published)}"' in html(response)


def test_the_grievance_suggestion_links_its_precedent_to_the_ruling_page(client, published) -> None:
    grievance = SimpleNamespace(
        title="夜市摊贩占道",
        handling_agency_id=None,
        suggestions=[{"agency_id": 1, "agency_name": "区市监局", "precedent_ruling": published.pk}],
    )
    [view] = suggestion_views(grievance, dispatchable=False, back="", returned=())  # no orders yet
    assert view.ruling_url == f"/rulings/{published.pk}/"
    assert "摊贩的经营行为" in html(client.get(view.ruling_url))  # and the page opens, for anyone


def test_rulings_are_in_everyones_navigation(client, login, member_a) -> None:
    for reader in (client, login(member_a)):
        assert f'href="{LIST_URL}"' in html(reader.get("/"))
