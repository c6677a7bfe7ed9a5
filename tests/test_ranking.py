"""The monthly agency ranking: its score is the office's weighted mean of the month's rates (returns and
redos reversed, a missing figure left out) and the 双向考评 score; the office sets the weights; agency staff
see only their own row; the page and its Excel file hold the same table."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
import time_machine
from django.utils import timezone

from core.errors import ApplicationError, PermissionRefused
from core.models import AuditEntry
from duty_lists.models import Agency, AgencyLevel
from grievances import selectors
from grievances.models import (
    GrievanceDailySummary,
    MutualRating,
    RankingMetric,
    RankingWeight,
    RatingDirection,
)
from grievances.ratings.ranking import DEFAULT_WEIGHTS, current_weights, monthly_ranking
from grievances.services.ranking import ranking_weights_set
from tests.factories import AgencyFactory, UserFactory
from tests.grievance_helpers import World, build_world
from tests.test_dashboard import rebuild, the_loop

pytestmark = pytest.mark.django_db

M = RankingMetric
URL = "/grievances/ranking/"
JUNE = date(2026, 6, 1)
# In June 2026, far from the month's ends, so "this month" and "last month" cannot move during a test.
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=timezone.get_default_timezone())


@pytest.fixture(autouse=True)
def _mid_june() -> Any:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def person() -> Any:
    return UserFactory()


def street_named(code: str, name: str) -> Any:
    return AgencyFactory(code=code, name=name, level=AgencyLevel.STREET)


def summary(agency: Agency, day: date, **counts: int) -> GrievanceDailySummary:
    return GrievanceDailySummary.objects.create(day=day, agency=agency, category="市容环境", **counts)


def rate_street(
    street: Agency, rater: Agency, score: str, *, month: date = JUNE, voided: bool = False
) -> None:
    now = timezone.now()
    MutualRating.objects.create(
        month=month,
        direction=RatingDirection.DEPARTMENT_RATES_STREET,
        rater=rater,
        rated=street,
        rated_by=person(),
        score=Decimal(score),
        voided=voided,
        submitted_at=now,
        updated_at=now,
    )


def row_of(ranking: Any, agency: Agency) -> Any:
    return next(r for r in ranking.rows if r.agency_id == agency.pk)


def test_the_score_weighs_the_rates_reverses_returns_and_leaves_out_what_is_missing(agency_a, agency_b):
    # A: 10 asked first, 9 accepted first time, 1 returned, 8 resolved on time, 4 of 5 ratings satisfied.
    summary(
        agency_a,
        JUNE + timedelta(days=2),
        received=10,
        dispatched=10,
        first_decided=10,
        first_accepted=9,
        returned=1,
        ever_resolved=8,
        redone=0,
        resolved=8,
        resolved_on_time=8,
        ratings=5,
        satisfied=4,
        rating_sum=20,
    )
    # B: 4 asked first, half returned, none resolved or rated yet: only two figures to count.
    summary(
        agency_b,
        JUNE + timedelta(days=3),
        received=4,
        dispatched=4,
        first_decided=4,
        first_accepted=2,
        returned=2,
    )
    street = street_named("S-jd", "某街道")
    rate_street(street, agency_a, "80.00")
    rate_street(street, agency_b, "90.00")
    rate_street(street, agency_b, "0.00", month=date(2026, 5, 1))  # another month: not June's
    summary(agency_a, date(2026, 5, 31), received=50, dispatched=50, first_decided=50, returned=50)

    ranking = monthly_ranking(JUNE)

    a, b, s = row_of(ranking, agency_a), row_of(ranking, agency_b), row_of(ranking, street)
    assert a.values[M.FIRST_DISPATCH] == 0.9 and a.values[M.RETURNS] == 0.9  # 1 − 10% returned
    assert a.values[M.REDO] == 1.0 and a.values[M.ON_TIME] == 1.0 and a.values[M.SATISFACTION] == 0.8
    assert a.values[M.MUTUAL] is None and a.figures_used == 5
    w = DEFAULT_WEIGHTS
    expected_a = (
        100
        * (
            w[M.FIRST_DISPATCH] * 0.9
            + w[M.RETURNS] * 0.9
            + w[M.REDO]
            + w[M.ON_TIME]
            + w[M.SATISFACTION] * 0.8
        )
        / (w[M.FIRST_DISPATCH] + w[M.RETURNS] + w[M.REDO] + w[M.ON_TIME] + w[M.SATISFACTION])
    )
    assert a.score == pytest.approx(expected_a, abs=0.01)
    assert b.figures_used == 2 and b.score == pytest.approx(50.0)  # 50% first time, 50% not returned
    # The street handled no grievance: ranked on its two ratings alone, their mean.
    assert s.values[M.MUTUAL] == pytest.approx(0.85) and s.ratings == 2 and s.score == pytest.approx(85.0)
    assert [r.agency_id for r in ranking.rows] == [agency_a.pk, street.pk, agency_b.pk]
    assert [r.rank for r in ranking.rows] == [1, 2, 3]


def test_a_voided_rating_does_not_count_and_equal_scores_share_a_rank(agency_a, agency_b):
    street = street_named("S-1", "甲街道")
    other = street_named("S-2", "乙街道")
    third = street_named("S-3", "丙街道")
    rate_street(street, agency_a, "70.00")
    rate_street(street, agency_b, "10.00", voided=True)  # its appeal was upheld
    rate_street(other, agency_a, "70.00")
    rate_street(third, agency_a, "60.00")

    ranking = monthly_ranking(JUNE)

    assert row_of(ranking, street).score == pytest.approx(70.0) and row_of(ranking, street).ratings == 1
    assert sorted(r.rank or 0 for r in ranking.rows) == [1, 1, 3]


def test_the_offices_weights_change_the_order(officer, agency_a, agency_b):
    summary(
        agency_a, JUNE, received=2, dispatched=2, first_decided=2, first_accepted=2, ratings=2, satisfied=0
    )
    summary(
        agency_b, JUNE, received=2, dispatched=2, first_decided=2, first_accepted=0, ratings=2, satisfied=2
    )
    assert monthly_ranking(JUNE).rows[0].agency_id == agency_b.pk  # satisfaction weighs most by default

    weights = {m: 0 for m in M.values} | {M.FIRST_DISPATCH: 100}
    assert ranking_weights_set(actor=officer, weights=weights, reason="本月突出首派") == weights

    assert current_weights() == weights
    ranking = monthly_ranking(JUNE)
    assert ranking.rows[0].agency_id == agency_a.pk and ranking.rows[0].score == 100.0
    assert row_of(ranking, agency_b).score == 0.0


def test_setting_the_same_weights_again_changes_and_audits_nothing(officer):
    weights = dict(DEFAULT_WEIGHTS) | {M.MUTUAL: 30}
    ranking_weights_set(actor=officer, weights=weights, reason="加重双向考评")
    ranking_weights_set(actor=officer, weights=weights, reason="加重双向考评")
    (entry,) = AuditEntry.objects.filter(action="grievances.ranking.weights_set")
    assert entry.after == weights and entry.before == DEFAULT_WEIGHTS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({M.REDO: "ten"}, M.REDO),
        ({M.REDO: "101"}, M.REDO),
        ({M.REDO: "-1"}, M.REDO),
        ({M.REDO: ""}, M.REDO),
        (dict.fromkeys(M.values, "0"), "__all__"),
        ({"popularity": "5"}, "__all__"),
    ],
)
def test_bad_weights_are_refused_with_the_figure_named_and_nothing_saved(officer, change, field):
    with pytest.raises(ApplicationError) as refused:
        ranking_weights_set(actor=officer, weights={m: str(w) for m, w in DEFAULT_WEIGHTS.items()} | change)
    assert field in refused.value.extra
    assert not RankingWeight.objects.exists()


def test_only_the_editorial_office_sets_weights(member_a, leader, dispatcher):
    for outsider in (member_a, leader, dispatcher):
        with pytest.raises(PermissionRefused):
            ranking_weights_set(actor=outsider, weights=dict(DEFAULT_WEIGHTS))
    assert not RankingWeight.objects.exists()


# --- Pages -------------------------------------------------------------------------------------------------


def test_the_ranking_agrees_with_the_grievances_themselves(
    english, officer, dispatcher, world, agency_a, agency_b, member_a, member_b
):
    the_loop(dispatcher, world, agency_a, agency_b, member_a, member_b)
    rebuild()
    stats = {
        f.key: f
        for f in selectors.grievance_stats(
            group_by="agency",
            since=datetime(2026, 6, 1, tzinfo=timezone.get_default_timezone()),
            until=datetime(2026, 7, 1, tzinfo=timezone.get_default_timezone()),
        )
    }
    ranking = monthly_ranking(JUNE)
    for agency in (agency_a, agency_b):
        row = row_of(ranking, agency)
        assert row.received == stats[agency.pk].received
        assert row.values[M.FIRST_DISPATCH] == stats[agency.pk].first_dispatch_success_rate
        assert row.values[M.RETURNS] == pytest.approx(1 - (stats[agency.pk].return_rate or 0))

    page = english(officer).get(URL, {"month": "2026-06"})
    assert page.status_code == 200
    body = page.content.decode()
    assert agency_a.name in body and agency_b.name in body
    assert 'data-chart="ranking"' in body and 'name="first_dispatch_success_rate"' in body
    assert "Needs:" not in body  # the chart partial's own comment stays a comment


def test_without_a_month_the_page_ranks_the_last_finished_one(english, officer):
    page = english(officer).get(URL)
    assert page.status_code == 200 and page.context["month"] == date(2026, 5, 1)


def test_agency_staff_see_only_their_own_row_and_no_weight_form(english, member_a, agency_a, agency_b):
    summary(agency_a, JUNE, received=3, dispatched=3, first_decided=3, first_accepted=3)
    summary(agency_b, JUNE, received=3, dispatched=3, first_decided=3, first_accepted=1)
    client = english(member_a)

    page = client.get(URL, {"month": "2026-06"})

    body = page.content.decode()
    assert page.status_code == 200
    assert agency_a.name in body and agency_b.name not in body
    assert "among 2 agencies ranked" in body
    assert 'name="first_dispatch_success_rate"' not in body
    refused = client.post("/grievances/ranking/weights/?month=2026-06", dict.fromkeys(M.values, "1"))
    assert refused.status_code == 403 and not RankingWeight.objects.exists()

    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get("/grievances/ranking/export/?month=2026-06").content)
    )
    names = [row[0] for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert names == [agency_a.name]


def test_people_without_a_role_or_agency_are_refused_and_anonymous_sent_to_sign_in(login, client):
    nobody = UserFactory(username="nobody")
    assert login(nobody).get(URL).status_code == 403
    assert login(nobody).get("/grievances/ranking/export/").status_code == 403
    anonymous = client.get(URL)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_the_office_saves_weights_from_the_page_and_a_bad_one_is_shown_not_saved(english, officer):
    client = english(officer)
    bad = client.post(
        "/grievances/ranking/weights/?month=2026-06",
        {m: str(w) for m, w in DEFAULT_WEIGHTS.items()} | {M.SATISFACTION: "abc"},
    )
    assert bad.status_code == 400
    assert "Enter a whole number from 0 to 100." in bad.content.decode()
    assert 'value="abc"' in bad.content.decode()  # what was typed, to correct
    assert not RankingWeight.objects.exists()

    good = client.post(
        "/grievances/ranking/weights/?month=2026-06",
        {m: str(w) for m, w in DEFAULT_WEIGHTS.items()} | {M.SATISFACTION: "40", "reason": "满意度优先"},
    )
    assert good.status_code == 302 and good["Location"].endswith("?month=2026-06")
    assert RankingWeight.objects.get(metric=M.SATISFACTION).weight == 40
    assert AuditEntry.objects.get(action="grievances.ranking.weights_set").reason == "满意度优先"


@pytest.mark.parametrize("month", ["2026-13", "June", "2026-6-1", "2026-07"])
def test_a_bad_or_future_month_answers_400_with_a_clear_message(english, officer, month):
    page = english(officer).get(URL, {"month": month})
    assert page.status_code == 400
    body = page.content.decode()
    assert "is not a month" in body or "has not begun" in body
    assert english(officer).get("/grievances/ranking/export/", {"month": month}).status_code == 400


def test_a_month_without_figures_shows_an_empty_state(english, officer, member_a):
    page = english(officer).get(URL, {"month": "2026-06"})
    assert page.status_code == 200 and "No agency has figures for this month yet." in page.content.decode()
    own = english(member_a).get(URL, {"month": "2026-06"})
    assert "Your agency has no figures for this month yet." in own.content.decode()


def test_the_excel_file_holds_the_pages_table(english, officer, agency_a, agency_b):
    summary(agency_a, JUNE, received=3, dispatched=3, first_decided=3, first_accepted=3)
    summary(agency_b, JUNE, received=1, dispatched=1, first_decided=1, first_accepted=0, returned=1)
    response = english(officer).get("/grievances/ranking/export/", {"month": "2026-06"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet, about = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Agency", "Rank", "Score")
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [(agency_a.name, 1, 100.0), (agency_b.name, 2, 0.0)]
    assert sheet.cell(row=2, column=6).number_format == "0.0%"
    assert ("Month", "2026-06") in [tuple(r) for r in about.iter_rows(values_only=True)]


def test_the_page_speaks_chinese_first(login, officer):
    page = login(officer).get(URL)
    assert '<h1 class="page-title">部门排名</h1>' in page.content.decode()


def test_leaders_and_auditors_read_the_ranking_but_may_not_set_weights(english, leader, auditor):
    for person in (leader, auditor):
        page = english(person).get(URL)
        assert page.status_code == 200 and 'name="first_dispatch_success_rate"' not in page.content.decode()
        assert english(person).post("/grievances/ranking/weights/", {}).status_code == 403


def test_the_navigation_offers_the_ranking_to_agency_staff_but_not_to_outsiders(english, member_a, login):
    assert URL in english(member_a).get("/").content.decode()
    assert URL not in login(UserFactory(username="plain")).get("/").content.decode()
