"""双向考评: streets rate departments and departments rate streets each month; the rated appeal, the office
decides; the month's results are what the ranking weighs in. Services first, then the pages."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from arbitration.models import Notification
from core.audit import AuditEntry
from core.errors import ApplicationError, Conflict, PermissionRefused
from core.workdays import SHANGHAI
from duty_lists.models import Agency, AgencyKind, AgencyLevel, Role
from grievances.models import HandoverDirection
from grievances.ratings import selectors
from grievances.ratings.models import (
    AppealState,
    MutualRating,
    MutualRatingScore,
    RatingAppeal,
    RatingCriterion,
    RatingDirection,
)
from grievances.ratings.results import received_scores
from grievances.services import handover_report
from grievances.services.ratings import (
    criterion_field,
    rating_appeal_decide,
    rating_appeal_file,
    rating_criterion_save,
    rating_submit,
)
from tests.factories import AgencyFactory, MembershipFactory, UserFactory

NOV = date(2026, 11, 1)
# Mid-November 2026, a Monday: November is the open month, October's window closed on 10 November.
MID_NOV = datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)
PAGE = "grievances:ratings"

SEEDED = importlib.import_module("grievances.migrations.0008_ratings_and_digest").DEFAULT_CRITERIA


def seed_criteria() -> None:
    """The migration's criteria (a transactional test's flush removes them: put them back)."""
    for direction, rows in SEEDED.items():
        for position, (name, description, weight) in enumerate(rows):
            RatingCriterion.objects.get_or_create(
                direction=direction,
                name=name,
                defaults={"description": description, "weight": weight, "position": position},
            )


def criteria_of(direction: str) -> list[RatingCriterion]:
    return list(RatingCriterion.objects.filter(direction=direction, is_active=True).order_by("position"))


def scores_for(direction: str, *values: int) -> dict[int, int]:
    return {c.pk: v for c, v in zip(criteria_of(direction), values, strict=True)}


def street_agency(code: str = "S-bc", name: str = "北辰街道") -> Agency:
    agency: Any = AgencyFactory(code=code, name=name, level=AgencyLevel.STREET, kind=AgencyKind.STREET_OFFICE)
    return agency


def staff_of(agency: Agency, username: str) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(user=user, agency=agency, role=Role.AGENCY_STAFF)
    return user


@pytest.fixture(autouse=True)
def _criteria(db: None) -> None:
    seed_criteria()


@pytest.fixture
def mid_november() -> Iterator[Any]:
    with time_machine.travel(MID_NOV, tick=False) as traveller:
        yield traveller


@pytest.fixture
def street(db: None) -> Agency:
    return street_agency()


@pytest.fixture
def street_staff(street: Agency) -> Any:
    return staff_of(street, "staff_street")


S2D = RatingDirection.STREET_RATES_DEPARTMENT
D2S = RatingDirection.DEPARTMENT_RATES_STREET


def rate(
    actor: Any, rater: Agency, rated: Agency, *values: int, month: date = NOV, **extra: Any
) -> MutualRating:
    direction = S2D if selectors.is_street(rater) else D2S
    return rating_submit(
        actor=actor, rater=rater, rated=rated, month=month, scores=scores_for(direction, *values), **extra
    )


# --- Submitting ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_street_rates_a_department_with_the_weighted_mean_of_the_criteria(
    mid_november: Any, street: Agency, street_staff: Any, agency_a: Agency
) -> None:
    # Weights 30 / 40 / 30: (80×30 + 90×40 + 70×30) / 100 = 81.
    rating = rate(street_staff, street, agency_a, 80, 90, 70, comment=" 配合积极 ")
    rating.refresh_from_db()
    assert rating.direction == S2D and rating.month == NOV and rating.rated_by == street_staff
    assert rating.score == Decimal("81.00") and rating.comment == "配合积极" and not rating.voided
    assert sorted(rating.scores.values_list("score", flat=True)) == [70, 80, 90]
    entry = AuditEntry.objects.get(action="grievances.rating.submitted", object_id=str(rating.pk))
    assert entry.after and entry.after["score"] == "81.00"


@pytest.mark.django_db
def test_the_weighted_mean_rounds_to_two_decimals(
    mid_november: Any, street: Agency, member_a: Any, agency_a: Agency
) -> None:
    # Department → street weights 40 / 30 / 30: (100×40 + 99×30 + 98×30) / 100 = 99.1; and 1/3s round.
    assert rate(member_a, agency_a, street, 100, 99, 98).score == Decimal("99.10")
    first = criteria_of(D2S)[0]
    first.weight = 1
    first.save()
    # (1×100 + 30×0 + 30×0) / 61 = 1.639… → 1.64
    assert rate(member_a, agency_a, street, 100, 0, 0).score == Decimal("1.64")


@pytest.mark.django_db
def test_submitting_again_in_the_window_updates_the_same_rating_and_audits_before_and_after(
    mid_november: Any, street: Agency, street_staff: Any, agency_a: Agency
) -> None:
    first = rate(street_staff, street, agency_a, 80, 90, 70)
    again = rate(street_staff, street, agency_a, 60, 60, 60, comment="后来推诿")
    assert again.pk == first.pk and MutualRating.objects.count() == 1
    assert MutualRatingScore.objects.filter(rating=first).count() == 3
    again.refresh_from_db()
    assert again.score == Decimal("60.00") and again.comment == "后来推诿"
    entry = AuditEntry.objects.get(action="grievances.rating.updated")
    assert entry.before and entry.before["score"] == "81.00"
    assert entry.after and entry.after["score"] == "60.00"
    # The same again: nothing changes, nothing more is audited.
    rate(street_staff, street, agency_a, 60, 60, 60, comment="后来推诿")
    assert AuditEntry.objects.filter(action__startswith="grievances.rating.").count() == 2


@pytest.mark.django_db
def test_last_month_can_be_rated_until_the_tenth_and_not_after(
    street: Agency, street_staff: Any, agency_a: Agency
) -> None:
    with time_machine.travel(datetime(2026, 12, 10, 23, 0, tzinfo=SHANGHAI), tick=False):
        rating = rate(street_staff, street, agency_a, 80, 80, 80)
    with time_machine.travel(datetime(2026, 12, 11, 8, 0, tzinfo=SHANGHAI), tick=False):
        with pytest.raises(Conflict, match="closed on 2026-12-10"):
            rate(street_staff, street, agency_a, 10, 10, 10)
        # Nor two months back, nor a month to come.
        with pytest.raises(Conflict):
            rate(street_staff, street, agency_a, 50, 50, 50, month=date(2026, 10, 1))
        with pytest.raises(ApplicationError, match="not begun"):
            rate(street_staff, street, agency_a, 50, 50, 50, month=date(2027, 1, 1))
    rating.refresh_from_db()
    assert rating.score == Decimal("80.00") and MutualRating.objects.count() == 1


@pytest.mark.django_db
def test_an_outsider_cannot_rate_for_an_agency_not_theirs(
    mid_november: Any, street: Agency, member_b: Any, agency_a: Agency
) -> None:
    with pytest.raises(PermissionRefused):
        rate(member_b, street, agency_a, 80, 80, 80)
    assert not MutualRating.objects.exists()


@pytest.mark.django_db
def test_only_streets_and_departments_rate_each_other(
    mid_november: Any, street: Agency, street_staff: Any, member_a: Any, agency_a: Agency, agency_b: Agency
) -> None:
    other_street = street_agency("S-gf", "广福街道")
    office = AgencyFactory(code="E-bb", name="区委编办", kind=AgencyKind.EDITORIAL_OFFICE)
    government = AgencyFactory(code="G-gov", name="区政府")
    AgencyFactory(code="G-child", name="区某局", parent=government)
    cases = [
        (street_staff, street, other_street, S2D),  # street → street
        (member_a, agency_a, agency_b, D2S),  # department → department
        (street_staff, street, office, S2D),  # the editorial office is not a department
        (street_staff, street, government, S2D),  # nor is the people's government over them
    ]
    for actor, rater, rated, direction in cases:
        with pytest.raises(ApplicationError, match="do not rate each other"):
            rating_submit(
                actor=actor, rater=rater, rated=rated, month=NOV, scores=scores_for(direction, 80, 80, 80)
            )
    with pytest.raises(ApplicationError, match="does not rate itself"):
        rating_submit(
            actor=street_staff, rater=street, rated=street, month=NOV, scores=scores_for(S2D, 1, 1, 1)
        )
    assert not MutualRating.objects.exists()


@pytest.mark.django_db
def test_every_criterion_needs_a_whole_score_from_0_to_100_and_nothing_is_half_saved(
    mid_november: Any, street: Agency, street_staff: Any, agency_a: Agency
) -> None:
    first, second, third = criteria_of(S2D)
    bad_cases = [
        ({first.pk: 80, second.pk: 80}, criterion_field(third.pk)),  # missing
        ({first.pk: 80, second.pk: 101, third.pk: 80}, criterion_field(second.pk)),
        ({first.pk: -1, second.pk: 80, third.pk: 80}, criterion_field(first.pk)),
        ({first.pk: 80, second.pk: 80, third.pk: 7.5}, criterion_field(third.pk)),
        ({first.pk: True, second.pk: 80, third.pk: 80}, criterion_field(first.pk)),
        ({first.pk: 80, second.pk: 80, third.pk: 80, 999_999: 50}, "scores"),  # not a criterion in use
    ]
    for scores, field in bad_cases:
        with pytest.raises(ApplicationError) as refused:
            rating_submit(actor=street_staff, rater=street, rated=agency_a, month=NOV, scores=scores)
        assert field in refused.value.extra, scores
    assert not MutualRating.objects.exists() and not MutualRatingScore.objects.exists()


@pytest.mark.django_db
def test_a_criterion_out_of_use_is_not_asked_and_no_criteria_is_a_clear_refusal(
    mid_november: Any, street: Agency, street_staff: Any, agency_a: Agency
) -> None:
    first, second, third = criteria_of(S2D)
    RatingCriterion.objects.filter(pk=third.pk).update(is_active=False)
    rating = rating_submit(
        actor=street_staff, rater=street, rated=agency_a, month=NOV, scores={first.pk: 61, second.pk: 95}
    )
    assert rating.score == Decimal("80.43")  # (61×30 + 95×40) / 70 = 80.428…
    RatingCriterion.objects.filter(direction=D2S).update(is_active=False)
    member = staff_of(agency_a, "dept_staff")
    with pytest.raises(ApplicationError, match="no criteria"):
        rating_submit(actor=member, rater=agency_a, rated=street, month=NOV, scores={})


# --- Appeals ------------------------------------------------------------------------------------------------


@pytest.fixture
def rating(mid_november: Any, street: Agency, street_staff: Any, agency_a: Agency) -> MutualRating:
    return rate(street_staff, street, agency_a, 40, 50, 45, comment="多次推诿")


@pytest.mark.django_db
def test_only_the_rated_agency_appeals_once_and_the_rating_is_then_frozen(
    rating: MutualRating, street: Agency, street_staff: Any, member_a: Any, member_b: Any, agency_a: Agency
) -> None:
    for outsider in (street_staff, member_b):
        with pytest.raises(PermissionRefused):
            rating_appeal_file(actor=outsider, rating=rating, reason="不公")
    with pytest.raises(ApplicationError) as refused:
        rating_appeal_file(actor=member_a, rating=rating, reason="  ")
    assert "reason" in refused.value.extra
    assert not RatingAppeal.objects.exists()

    appeal = rating_appeal_file(actor=member_a, rating=rating, reason="本月移交的两件均按时办结。")
    assert appeal.state == AppealState.OPEN and appeal.filed_by == member_a
    assert rating_appeal_file(actor=member_a, rating=rating, reason="再说一遍").pk == appeal.pk
    assert RatingAppeal.objects.count() == 1
    assert AuditEntry.objects.filter(action="grievances.rating.appealed").count() == 1

    with pytest.raises(Conflict, match="appealed"):
        rate(street_staff, street, agency_a, 90, 90, 90)
    rating.refresh_from_db()
    assert rating.score == Decimal("45.50")


@pytest.mark.django_db
def test_appeals_close_on_the_twentieth_of_the_next_month(
    rating: MutualRating, member_a: Any, mid_november: Any
) -> None:
    mid_november.move_to(datetime(2026, 12, 21, 9, 0, tzinfo=SHANGHAI))
    with pytest.raises(Conflict, match="closed on 2026-12-20"):
        rating_appeal_file(actor=member_a, rating=rating, reason="迟到的申诉")
    assert not RatingAppeal.objects.exists()
    mid_november.move_to(datetime(2026, 12, 20, 22, 0, tzinfo=SHANGHAI))
    assert rating_appeal_file(actor=member_a, rating=rating, reason="最后一天").state == AppealState.OPEN


@pytest.mark.django_db
def test_only_the_office_decides_and_an_upheld_appeal_voids_the_rating(
    rating: MutualRating,
    member_a: Any,
    street_staff: Any,
    officer: Any,
    dispatcher: Any,
    agency_a: Agency,
    django_capture_on_commit_callbacks: Any,
) -> None:
    appeal = rating_appeal_file(actor=member_a, rating=rating, reason="均按时办结")
    assert received_scores(NOV)[agency_a.pk].ratings == 1
    for outsider in (member_a, street_staff, dispatcher):
        with pytest.raises(PermissionRefused):
            rating_appeal_decide(actor=outsider, appeal=appeal, upheld=True, decision="同意")
    with pytest.raises(ApplicationError) as refused:
        rating_appeal_decide(actor=officer, appeal=appeal, upheld=True, decision="")
    assert "decision" in refused.value.extra
    appeal.refresh_from_db()
    assert appeal.state == AppealState.OPEN

    with django_capture_on_commit_callbacks(execute=True):
        decided = rating_appeal_decide(actor=officer, appeal=appeal, upheld=True, decision="核实移交记录属实")
    assert decided.state == AppealState.UPHELD and decided.decided_by == officer
    rating.refresh_from_db()
    assert rating.voided
    assert agency_a.pk not in received_scores(NOV)
    key = f"rating-appeal:{appeal.pk}:decided"
    assert set(Notification.objects.filter(key=key).values_list("recipient", flat=True)) == {
        member_a.pk,
        street_staff.pk,
    }
    # Twice the same way: nothing more; the other way: refused.
    assert rating_appeal_decide(actor=officer, appeal=appeal, upheld=True, decision="again").decision == (
        "核实移交记录属实"
    )
    with pytest.raises(Conflict):
        rating_appeal_decide(actor=officer, appeal=appeal, upheld=False, decision="改判")
    assert AuditEntry.objects.filter(action="grievances.rating.appeal_decided").count() == 1


@pytest.mark.django_db
def test_a_rejected_appeal_leaves_the_rating_counting(
    rating: MutualRating, member_a: Any, officer: Any, agency_a: Agency
) -> None:
    appeal = rating_appeal_file(actor=member_a, rating=rating, reason="不公")
    rating_appeal_decide(actor=officer, appeal=appeal, upheld=False, decision="评分有据")
    rating.refresh_from_db()
    assert not rating.voided
    assert received_scores(NOV)[agency_a.pk].score == Decimal("45.50")
    with pytest.raises(Conflict, match="decided"):
        rating_appeal_file(actor=member_a, rating=rating, reason="再诉")


# --- Criteria -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_office_sets_criteria_and_each_change_is_audited(officer: Any, member_a: Any) -> None:
    criterion = criteria_of(S2D)[0]
    with pytest.raises(PermissionRefused):
        rating_criterion_save(actor=member_a, criterion=criterion, values={"weight": 50})
    with pytest.raises(ApplicationError) as refused:
        rating_criterion_save(actor=officer, criterion=criterion, values={"weight": 0})
    assert "weight" in refused.value.extra
    saved = rating_criterion_save(actor=officer, criterion=criterion, values={"weight": 50}, reason="调整")
    assert saved.weight == 50
    entry = AuditEntry.objects.get(action="grievances.rating_criterion.updated")
    assert entry.before and entry.before["weight"] == 30
    assert entry.after and entry.after["weight"] == 50
    with pytest.raises(Conflict):
        rating_criterion_save(actor=officer, criterion=criterion, values={"direction": D2S})
    new = rating_criterion_save(
        actor=officer, criterion=None, values={"direction": D2S, "name": "创新举措", "weight": 10}
    )
    assert new.pk and new.is_active
    with pytest.raises(ApplicationError):
        rating_criterion_save(actor=officer, criterion=None, values={"direction": D2S, "name": "创新举措"})


@pytest.mark.django_db
def test_the_office_changes_a_weight_in_the_admin_through_the_service(officer: Any, member_a: Any) -> None:
    criterion = criteria_of(S2D)[0]
    url = reverse("admin:grievances_ratingcriterion_change", args=[criterion.pk])
    client = Client()
    client.force_login(officer)
    data = {
        "name": criterion.name,
        "description": criterion.description,
        "weight": 35,
        "position": criterion.position,
        "is_active": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    criterion.refresh_from_db()
    assert criterion.weight == 35
    assert AuditEntry.objects.filter(action="grievances.rating_criterion.updated").exists()
    assert client.get(reverse("admin:grievances_ratingcriterion_changelist")).status_code == 200
    added = client.post(
        reverse("admin:grievances_ratingcriterion_add"),
        {
            "direction": D2S,
            "name": "创新举措",
            "description": "",
            "weight": 10,
            "position": 9,
            "is_active": "on",
        },
    )
    assert added.status_code == 302
    assert RatingCriterion.objects.get(name="创新举措").weight == 10
    assert AuditEntry.objects.filter(action="grievances.rating_criterion.created").exists()
    outsider = Client()
    outsider.force_login(member_a)
    assert outsider.post(url, {**data, "weight": 99}).status_code in (302, 403)
    criterion.refresh_from_db()
    assert criterion.weight == 35


# --- The pages ----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english_text() -> Iterator[None]:
    with translation.override("en"):
        yield


def page_of(client: Client, month: str = "2026-11") -> Any:
    return client.get(reverse(PAGE), {"month": month})


def html(response: Any) -> str:
    return response.content.decode()


def row_of(page: str, attribute: str) -> str:
    start = page.index(attribute)
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


@pytest.mark.django_db
def test_street_staff_see_the_departments_they_worked_with_first_and_their_status(
    mid_november: Any,
    english: Callable[[Any], Client],
    street: Agency,
    street_staff: Any,
    agency_a: Agency,
    agency_b: Agency,
) -> None:
    # agency_b comes after agency_a by code, but the street handed it two matters this month.
    for matter in ("过期食品", "无证经营"):
        handover_report(
            actor=street_staff,
            direction=HandoverDirection.UP,
            from_agency=street,
            to_agency=agency_b,
            matter=matter,
        )
    rate(street_staff, street, agency_a, 80, 90, 70)
    response = page_of(english(street_staff))
    assert response.status_code == 200
    text = html(response)
    assert text.index(f'data-counterpart="{agency_b.pk}"') < text.index(f'data-counterpart="{agency_a.pk}"')
    b_row = row_of(text, f'data-counterpart="{agency_b.pk}"')
    assert 'data-status="open"' in b_row and ">2<" in b_row and "Rate" in b_row
    a_row = row_of(text, f'data-counterpart="{agency_a.pk}"')
    assert 'data-status="rated"' in a_row and "81.00" in a_row and "Change" in a_row
    assert "No rating received this month yet." in text
    # Nor the office's part: no results of every agency, no decide forms.
    assert "Appeals awaiting the office" not in text


@pytest.mark.django_db
def test_department_staff_see_what_they_received_and_appeal_it_in_the_page(
    rating: MutualRating, english: Callable[[Any], Client], member_a: Any, street_staff: Any, agency_a: Agency
) -> None:
    client = english(member_a)
    text = html(page_of(client))
    assert f'data-rating="{rating.pk}"' in text and "多次推诿" in text and "45.50" in text
    assert f'data-result="{agency_a.pk}"' in text  # its own result: mean and count
    url = reverse("grievances:rating_appeal_file", args=[rating.pk])

    refused = client.post(url, {"reason": " ", "month": "2026-11"})
    assert refused.status_code == 400 and "field__errors" in html(refused)
    assert not RatingAppeal.objects.exists()

    outsider = english(street_staff)
    assert outsider.post(url, {"reason": "不公"}).status_code == 403
    assert not RatingAppeal.objects.exists()

    response = client.post(url, {"reason": "本月均按时办结", "month": "2026-11"})
    assert response.status_code == 302
    assert RatingAppeal.objects.get().reason == "本月均按时办结"
    text = html(page_of(client))
    assert 'data-appeal-state="open"' in text


@pytest.mark.django_db
def test_the_office_sees_every_result_the_open_appeals_and_the_criteria_and_decides(
    rating: MutualRating,
    english: Callable[[Any], Client],
    officer: Any,
    member_a: Any,
    agency_a: Agency,
    street: Agency,
) -> None:
    appeal = rating_appeal_file(actor=member_a, rating=rating, reason="均按时办结")
    client = english(officer)
    text = html(page_of(client))
    assert 'data-direction="street_to_department"' in text and 'data-direction="department_to_street"' in text
    assert "45.50" in row_of(text, f'data-result="{agency_a.pk}"')
    assert f'data-appeal="{appeal.pk}"' in text
    assert all(f'data-criterion="{c.pk}"' in text for c in RatingCriterion.objects.filter(is_active=True))
    url = reverse("grievances:rating_appeal_decide", args=[appeal.pk])

    refused = client.post(url, {"outcome": "upheld", "decision": "", "month": "2026-11"})
    assert refused.status_code == 400 and f'data-appeal="{appeal.pk}"' in html(refused)
    appeal.refresh_from_db()
    assert appeal.state == AppealState.OPEN

    assert english(member_a).post(url, {"outcome": "upheld", "decision": "自己说了算"}).status_code == 403
    appeal.refresh_from_db()
    assert appeal.state == AppealState.OPEN

    response = client.post(url, {"outcome": "upheld", "decision": "核实属实", "month": "2026-11"})
    assert response.status_code == 302
    rating.refresh_from_db()
    assert rating.voided
    text = html(page_of(client))
    assert "No appeal is waiting." in text
    assert "—" in row_of(text, f'data-result="{agency_a.pk}"')


@pytest.mark.django_db
def test_a_person_neither_of_an_agency_nor_of_the_office_is_refused(
    english: Callable[[Any], Client], dispatcher: Any, agency_a: Agency, street: Agency
) -> None:
    nobody = UserFactory(username="nobody")
    for user in (nobody, dispatcher):
        client = english(user)
        assert page_of(client).status_code == 403
        assert client.get(reverse("grievances:rating_form", args=["2026-11", agency_a.pk])).status_code == 403
    assert Client().get(reverse(PAGE)).status_code == 302  # anonymous: to the sign-in page


@pytest.mark.django_db
def test_a_bad_month_is_a_clear_message_and_a_400(
    mid_november: Any, english: Callable[[Any], Client], street_staff: Any
) -> None:
    client = english(street_staff)
    for month in ("2026-13", "november", "2026-1", "2027-01"):
        response = page_of(client, month)
        assert response.status_code == 400, month
        assert 'id="month-error"' in html(response)
    assert page_of(client, "").status_code == 200  # no month: the current one


@pytest.mark.django_db
def test_an_empty_month_shows_empty_states(
    mid_november: Any, english: Callable[[Any], Client], officer: Any, member_a: Any, street: Agency
) -> None:
    text = html(page_of(english(officer), "2026-09"))
    assert "No appeal is waiting." in text and "Ratings closed on 2026-10-10." not in text
    text = html(page_of(english(member_a), "2026-09"))
    assert "No rating received this month yet." in text and 'data-status="closed"' in text
    loner = AgencyFactory(code="H-12345", name="热线中心", kind=AgencyKind.HOTLINE)
    text = html(page_of(english(staff_of(loner, "hotline_staff"))))
    assert "takes no part" in text


@pytest.mark.django_db
def test_the_rating_form_shows_errors_in_the_page_and_saves_nothing_until_right(
    mid_november: Any, english: Callable[[Any], Client], street: Agency, street_staff: Any, agency_a: Agency
) -> None:
    client = english(street_staff)
    url = reverse("grievances:rating_form", args=["2026-11", agency_a.pk])
    response = client.get(url)
    assert response.status_code == 200
    first, second, third = criteria_of(S2D)
    text = html(response)
    assert all(f'name="{criterion_field(c.pk)}"' in text for c in (first, second, third))
    assert first.description in text

    bad = {criterion_field(first.pk): "80", criterion_field(second.pk): "120", "comment": "好"}
    response = client.post(url, bad)
    assert response.status_code == 400
    assert f'id="id_{criterion_field(second.pk)}_error"' in html(response)
    assert f'id="id_{criterion_field(third.pk)}_error"' in html(response)
    assert not MutualRating.objects.exists()

    good = {**bad, criterion_field(second.pk): "90", criterion_field(third.pk): "70"}
    response = client.post(url, good)
    assert response.status_code == 302 and response["Location"].endswith("?month=2026-11")
    assert MutualRating.objects.get().score == Decimal("81.00")
    assert "81.00" in html(client.get(response["Location"]))
    # The form comes back filled in, to change.
    assert 'value="90"' in html(client.get(url))


@pytest.mark.django_db
def test_the_rating_form_after_the_window_says_so_and_saves_nothing(
    english: Callable[[Any], Client], street: Agency, street_staff: Any, agency_a: Agency
) -> None:
    with time_machine.travel(datetime(2026, 12, 11, 9, 0, tzinfo=SHANGHAI), tick=False):
        client = english(street_staff)
        url = reverse("grievances:rating_form", args=["2026-11", agency_a.pk])
        assert "closed on 2026-12-10" in html(client.get(url))
        first, second, third = criteria_of(S2D)
        data = {criterion_field(c.pk): "80" for c in (first, second, third)}
        response = client.post(url, data)
        assert response.status_code == 409 and "closed on 2026-12-10" in html(response)
    assert not MutualRating.objects.exists()


@pytest.mark.django_db
def test_the_rating_form_refuses_staff_of_an_agency_that_does_not_rate_this_one(
    mid_november: Any, english: Callable[[Any], Client], member_a: Any, agency_b: Agency, street: Agency
) -> None:
    # A department does not rate a department.
    url = reverse("grievances:rating_form", args=["2026-11", agency_b.pk])
    assert english(member_a).get(url).status_code == 403
    assert (
        english(member_a).get(reverse("grievances:rating_form", args=["2026-xx", street.pk])).status_code
        == 404
    )


@pytest.mark.django_db
def test_the_page_runs_the_same_number_of_queries_however_many_ratings(
    mid_november: Any, english: Callable[[Any], Client], officer: Any, member_a: Any, agency_a: Agency
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(user: Any) -> int:
        client = english(user)
        with CaptureQueriesContext(connection) as captured:
            assert page_of(client).status_code == 200
        return len(captured)

    def add_streets(start: int, n: int) -> None:
        for i in range(start, start + n):
            street = street_agency(f"S-{i:02d}", f"街道{i}")
            rating = rate(staff_of(street, f"street{i}"), street, agency_a, 80, 80, 80)
            rating_appeal_file(actor=member_a, rating=rating, reason="不公")
            rate(member_a, agency_a, street, 70, 70, 70)

    add_streets(0, 2)
    few = queries(officer), queries(member_a)
    add_streets(2, 4)
    assert (queries(officer), queries(member_a)) == few


# --- The demo -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_has_months_of_ratings_an_upheld_and_an_open_appeal(
    english: Callable[[Any], Client],
) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from grievances import routing

    routing.forget()
    call_command("load_demo", quiet_logins=True)
    this_month = selectors.today().replace(day=1)
    months = set(MutualRating.objects.values_list("month", flat=True))
    assert this_month in months and len(months) == 4
    last_month = selectors.previous_month(this_month)
    assert len(received_scores(last_month)) >= 5  # departments and streets both rated
    assert RatingAppeal.objects.filter(state=AppealState.UPHELD, rating__voided=True).count() == 1
    open_appeal = RatingAppeal.objects.get(state=AppealState.OPEN)
    assert open_appeal.rating.month == this_month
    count = MutualRating.objects.count()
    call_command("load_demo", quiet_logins=True)
    assert MutualRating.objects.count() == count

    officer = get_user_model().objects.get(username="officer")
    text = html(english(officer).get(reverse(PAGE)))
    assert f'data-appeal="{open_appeal.pk}"' in text
    staff = get_user_model().objects.get(username="staff_bc")
    text = html(english(staff).get(reverse(PAGE), {"month": f"{last_month:%Y-%m}"}))
    assert 'data-status="rated"' in text and "data-rating=" in text
