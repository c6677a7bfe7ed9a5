"""List health: overlaps across agencies (and not within one, nor across streets or lists), gaps, legal bases
repealed or past review, duties no grievance came under, duties often returned, splits by domain; the page's
permissions, its clear refusal of an unknown list, and the report's task path — queued, followed, computed
once however often it runs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from core.actors import SYSTEM
from core.errors import PermissionRefused
from core.models import AuditEntry
from duty_lists import health, services
from duty_lists.health_models import ListHealthReport, ListHealthState
from duty_lists.models import Agency, AgencyLevel, Duty, DutyList, LegalBasis, LegalBasisStatus
from duty_lists.similarity import bigrams, jaccard, similar_pairs, title_key
from duty_lists.tasks import list_health_nightly, list_health_run
from grievances import routing
from grievances import services as grievance_services
from grievances.models import OrderRole, OrderState, WorkOrder
from tests import registry
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db

PAGE = "/duty-lists/health/"


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def street(code: str, name: str) -> Any:
    return AgencyFactory(code=code, name=name, level=AgencyLevel.STREET, kind="street_office")


def entry(result: dict[str, Any], duty_list: DutyList) -> dict[str, Any]:
    return result["lists"][str(duty_list.pk)]


def duty(duty_list: DutyList, code: str) -> Duty:
    return Duty.objects.get(duty_list=duty_list, code=code)


# --- Similarity ---------------------------------------------------------------------------------------------


def test_titles_differing_only_in_punctuation_or_function_characters_are_the_same() -> None:
    assert title_key("占道经营的查处") == title_key("占道经营查处") == title_key(" 占道经营，查处。")
    assert jaccard(
        bigrams(title_key("户外广告设置")), bigrams(title_key("户外广告设置审批"))
    ) == pytest.approx(5 / 7)
    assert jaccard(bigrams("噪音扰民"), bigrams("餐饮油烟")) == 0.0


def test_the_similarity_join_finds_what_comparing_every_pair_finds() -> None:
    keys = [
        "占道经营查处",
        "占道经营查处工作",
        "户外广告设置",
        "户外广告设置审批",
        "噪音扰民",
        "违章搭建查处",
    ]
    found = {(i, j) for i, j, _ in similar_pairs(keys, 0.7)}
    everything = {
        (i, j)
        for i in range(len(keys))
        for j in range(i + 1, len(keys))
        if jaccard(bigrams(keys[i]), bigrams(keys[j])) >= 0.7
    }
    assert found == everything == {(0, 1), (2, 3)}


# --- Overlaps -----------------------------------------------------------------------------------------------


def test_an_overlap_is_found_across_two_agencies_and_not_within_one(
    agency_a: Agency, agency_b: Agency
) -> None:
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "占道经营的查处", agency_a)
    registry.stage(duty_list, "01-01-0002", "占道经营查处", agency_b)  # the same duty, another lead
    registry.stage(duty_list, "01-01-0003", "户外广告设置", agency_a)
    registry.stage(duty_list, "01-01-0004", "户外广告的设置", agency_a)  # the same duty, the same lead
    # Two streets each leading the same territorial duty in their own territory: the two layers working.
    for code, agency in (
        ("01-01-0005", street("S-bc", "北辰街道")),
        ("01-01-0006", street("S-gf", "广福街道")),
    ):
        registry.stage(duty_list, code, "小区环境卫生", agency, duty_type="territorial", layer="street")
    # The same title led by the district department but on the district layer: another area.
    registry.stage(duty_list, "01-01-0007", "小区环境卫生", agency_b)
    registry.publish(duty_list)
    other = registry.make_list("other")
    registry.stage(other, "01-01-0001", "占道经营查处", AgencyFactory(code="C-jtj", name="区交通局"))
    registry.publish(other)

    result = health.compute_findings()

    overlaps = entry(result, duty_list)["overlaps"]
    assert overlaps["count"] == 1
    (pair,) = overlaps["pairs"]
    assert (pair["a"]["code"], pair["b"]["code"]) == ("01-01-0001", "01-01-0002")
    assert (pair["a"]["lead"], pair["b"]["lead"]) == (agency_a.name, agency_b.name)
    assert pair["similarity"] == 1.0
    assert entry(result, other)["overlaps"] == {"count": 0, "pairs": []}  # one duty, and lists are apart


def test_near_identical_titles_overlap_above_the_threshold(
    settings: Any, agency_a: Agency, agency_b: Agency
) -> None:
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "户外广告设置审批", agency_a)
    registry.stage(duty_list, "01-01-0002", "户外广告设置的审批工作", agency_b)
    registry.publish(duty_list)
    settings.ZHIZE_LIST_HEALTH_SIMILARITY = 0.95
    assert entry(health.compute_findings(), duty_list)["overlaps"]["count"] == 0
    settings.ZHIZE_LIST_HEALTH_SIMILARITY = 0.7
    (pair,) = entry(health.compute_findings(), duty_list)["overlaps"]["pairs"]
    assert pair["similarity"] == pytest.approx(7 / 9, abs=1e-4)


# --- Gaps ---------------------------------------------------------------------------------------------------


def test_a_classification_with_no_duty_in_force_is_a_gap(agency_a: Agency) -> None:
    duty_list = registry.make_list("ms")  # two classifications: 01-01 城市管理, 02-01 噪音污染
    registry.stage(duty_list, "01-01-0001", "占道经营", agency_a)
    registry.publish(duty_list)
    unpublished = registry.make_list("draft")  # no edition: nothing in force to check yet
    registry.stage(unpublished, "01-01-0001", "占道经营", agency_a)

    assert [(c.duty_list.code, c.code) for c in health.classification_gaps()] == [("ms", "02-01")]
    # Removing the last duty of a classification opens a gap too.
    services.revision_stage(duty_list=duty_list, code="01-01-0001", content=None, source_ref="test")
    registry.publish(duty_list)
    assert [c.code for c in health.classification_gaps(duty_list)] == ["01-01", "02-01"]


# --- Legal bases --------------------------------------------------------------------------------------------


def test_repealed_and_past_review_legal_bases_are_listed_with_their_duties(
    officer: Any, member_a: Any, agency_a: Agency
) -> None:
    duty_list = registry.make_list("ms")
    for n, title in enumerate(("占道经营", "户外广告设置", "建筑垃圾清运"), start=1):
        registry.stage(duty_list, f"01-01-000{n}", title, agency_a)
    registry.publish(duty_list)
    repealed, overdue, later = (
        LegalBasis.objects.get(revision__code=f"01-01-000{n}", revision__valid_until__isnull=True)
        for n in (1, 2, 3)
    )
    today = timezone.localdate()

    with pytest.raises(PermissionRefused):
        services.legal_basis_mark(
            actor=member_a, legal_basis=repealed, status="repealed", review_date=None, reason="废止"
        )
    services.legal_basis_mark(
        actor=officer,
        legal_basis=repealed,
        status=LegalBasisStatus.REPEALED,
        review_date=None,
        reason="已废止",
    )
    services.legal_basis_mark(
        actor=officer,
        legal_basis=overdue,
        status="in_force",
        review_date=today - timedelta(days=1),
        reason="到期复核",
    )
    services.legal_basis_mark(
        actor=officer,
        legal_basis=later,
        status="in_force",
        review_date=today + timedelta(days=30),
        reason="定期复核",
    )
    # The same mark again changes nothing and writes no second audit entry.
    services.legal_basis_mark(
        actor=officer, legal_basis=repealed, status=LegalBasisStatus.REPEALED, review_date=None, reason="再次"
    )
    assert AuditEntry.objects.filter(action="duty_lists.legal_basis.marked").count() == 3

    found = list(health.legal_bases_to_review(duty_list))
    assert [(b.revision.code, b.status) for b in found] == [
        ("01-01-0001", "repealed"),
        ("01-01-0002", "in_force"),
    ]

    # A later amendment of the duty cites the same law: the new revision keeps the office's note.
    registry.stage(duty_list, "01-01-0001", "占道经营的查处", agency_a)
    registry.publish(duty_list)
    current = LegalBasis.objects.get(revision__code="01-01-0001", revision__valid_until__isnull=True)
    assert current.pk != repealed.pk and current.status == LegalBasisStatus.REPEALED
    assert [b.revision.code for b in health.legal_bases_to_review(duty_list)] == ["01-01-0001", "01-01-0002"]


def test_an_officer_marks_a_legal_basis_in_the_admin_through_the_service(
    login: Any, officer: Any, leader: Any, agency_a: Agency
) -> None:
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "占道经营", agency_a)
    registry.publish(duty_list)
    basis = LegalBasis.objects.get()
    url = f"/admin/duty_lists/legalbasis/{basis.pk}/change/"
    response = login(officer).post(
        url, {"status": "amended", "review_date": "2027-01-31", "reason": "条例已修订"}
    )
    assert response.status_code == 302
    basis.refresh_from_db()
    assert basis.status == "amended" and basis.review_date == date(2027, 1, 31)
    audit = AuditEntry.objects.get(action="duty_lists.legal_basis.marked")
    assert audit.reason == "条例已修订" and audit.after == {"status": "amended", "review_date": "2027-01-31"}


# --- Grievances: quiet duties and duties often returned -----------------------------------------------------


def dispatched(dispatcher: Any, agency: Agency, duty: Duty, title: str = "楼下有人占道摆摊") -> Any:
    grievance, _created = grievance_services.grievance_receive(actor=dispatcher, title=title, route=False)
    grievance_services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency, duty=duty)
    return grievance


def lead_order(grievance: Any) -> WorkOrder:
    return grievance.orders.get(role=OrderRole.LEAD, state__in=[OrderState.PENDING, OrderState.ACCEPTED])


def test_a_duty_no_grievance_came_under_for_a_year_is_quiet(dispatcher: Any, agency_a: Agency) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400)):
        duty_list = registry.make_list("ms")
        registry.stage(duty_list, "01-01-0001", "占道经营", agency_a)
        registry.stage(duty_list, "01-01-0002", "户外广告设置", agency_a)
        registry.publish(duty_list)
    registry.stage(duty_list, "01-01-0003", "建筑垃圾清运", agency_a)  # new this month: too new to judge
    registry.publish(duty_list)

    # No grievance at all yet: the section says silence means nothing (received 0).
    result = health.compute_findings()
    assert result["grievances"] == {"available": True, "received": 0}

    dispatched(dispatcher, agency_a, duty(duty_list, "01-01-0001"))
    result = health.compute_findings()
    quiet = entry(result, duty_list)["quiet"]
    assert result["grievances"]["received"] == 1
    assert quiet == {
        "count": 1,
        "duties": [{"code": "01-01-0002", "title": "户外广告设置", "lead": agency_a.name}],
    }


def test_a_duty_whose_dispatches_are_often_returned_is_found_and_the_return_counts_against_it(
    dispatcher: Any, agency_a: Agency, agency_b: Agency, member_a: Any, member_b: Any
) -> None:
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "占道经营", agency_a)
    registry.stage(duty_list, "02-01-0001", "噪音扰民", agency_b, classification="02-01")
    registry.publish(duty_list)
    routing.forget()
    vending, noise = duty(duty_list, "01-01-0001"), duty(duty_list, "02-01-0001")

    grievances = [dispatched(dispatcher, agency_b, noise, f"夜市摊贩噪音{n}") for n in range(5)]
    for grievance in grievances[:2]:  # 区市监局: "not ours, it is 占道经营" — 2 of 5 returned
        grievance_services.order_return(
            actor=member_b, order=lead_order(grievance), reason="属于占道经营", cited_duty=vending
        )
        grievance_services.grievance_dispatch(
            actor=dispatcher, grievance=grievance, agency=agency_a, duty=vending
        )
        grievance_services.order_accept(actor=member_a, order=lead_order(grievance))
    for grievance in grievances[2:]:
        grievance_services.order_accept(actor=member_b, order=lead_order(grievance))

    returns = entry(health.compute_findings(), duty_list)["returns"]
    # The returned grievances now sit under 占道经营; their returns still count against 噪音扰民.
    assert returns == {
        "count": 1,
        "duties": [
            {
                "code": "02-01-0001",
                "title": "噪音扰民",
                "lead": agency_b.name,
                "orders": 5,
                "returned": 2,
                "rate": 0.4,
            }
        ],
    }


def test_fewer_than_five_decided_orders_are_not_enough_to_call_a_duty_often_returned(
    dispatcher: Any, agency_a: Agency, agency_b: Agency, member_b: Any
) -> None:
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "占道经营", agency_a)
    registry.stage(duty_list, "02-01-0001", "噪音扰民", agency_b, classification="02-01")
    registry.publish(duty_list)
    routing.forget()
    vending, noise = duty(duty_list, "01-01-0001"), duty(duty_list, "02-01-0001")
    for n in range(4):
        grievance = dispatched(dispatcher, agency_b, noise, f"摊贩{n}")
        grievance_services.order_return(
            actor=member_b, order=lead_order(grievance), reason="不是我们的", cited_duty=vending
        )
    assert entry(health.compute_findings(), duty_list)["returns"]["count"] == 0


# --- Splits by domain ---------------------------------------------------------------------------------------


def test_splits_by_domain_count_duties_with_more_than_one_agency(agency_a: Agency, agency_b: Agency) -> None:
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "占道经营", agency_a, cooperating=(agency_b,))
    registry.stage(duty_list, "01-01-0002", "户外广告设置", agency_a)
    registry.stage(
        duty_list, "02-01-0001", "噪音扰民", agency_b, classification="02-01", cooperating=(agency_a,)
    )
    registry.publish(duty_list)
    other = registry.make_list("other")  # the same domain 城乡建设 in another list
    registry.stage(other, "01-01-0001", "违章搭建查处", agency_b, cooperating=(agency_a,))
    registry.publish(other)

    stats = health.split_stats()
    assert (stats.splits, stats.domains) == (3, 2)
    rows = {row.name: (row.duties, row.splits, [c[0] for c in row.categories]) for row in stats.rows}
    assert rows == {"城乡建设": (3, 2, ["ms", "other"]), "环境保护": (1, 1, ["ms"])}
    one = health.split_stats(other)
    with translation.override("en"):
        from duty_lists.views_health import headline

        assert headline(stats) == "3 splits in 2 domains"
        assert headline(one) == "1 split in 1 domain"


# --- The page -----------------------------------------------------------------------------------------------


@pytest.fixture
def health_list(agency_a: Agency, agency_b: Agency) -> DutyList:
    duty_list = registry.make_list("ms")
    registry.stage(duty_list, "01-01-0001", "占道经营的查处", agency_a, cooperating=(agency_b,))
    registry.stage(duty_list, "01-01-0002", "占道经营查处", agency_b)
    registry.publish(duty_list)
    return duty_list


def test_agency_staff_are_refused_and_anonymous_visitors_sent_to_sign_in(
    client: Client, login: Any, member_a: Any, health_list: DutyList
) -> None:
    assert login(member_a).get(PAGE).status_code == 403
    assert login(member_a).get(f"{PAGE}status/").status_code == 403
    assert login(member_a).post(f"{PAGE}recompute/").status_code == 403
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not ListHealthReport.objects.exists()


def test_leaders_and_auditors_read_the_page_but_only_officers_recompute(
    login: Any, leader: Any, auditor: Any, officer: Any, health_list: DutyList
) -> None:
    for reader in (leader, auditor):
        response = english(login(reader)).get(PAGE)
        assert response.status_code == 200
        assert b'data-testid="health-recompute"' not in response.content
        assert login(reader).post(f"{PAGE}recompute/").status_code == 403
    page = english(login(officer)).get(PAGE).content.decode()
    assert 'data-testid="health-recompute"' in page
    assert "1 split in 1 domain" in page and "Not computed yet." in page


def test_the_page_is_chinese_first(login: Any, officer: Any, health_list: DutyList) -> None:
    page = login(officer).get(PAGE).content.decode()
    assert '<html lang="zh-hans">' in page and "职责清单" in page  # the breadcrumb, translated already


def test_an_unknown_list_is_refused_with_a_message_in_the_page(
    login: Any, officer: Any, health_list: DutyList
) -> None:
    response = english(login(officer)).get(PAGE, {"list": "nope<script>"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is no duty list with the code “nope&lt;script&gt;”" in page
    assert 'data-testid="health-filter"' in page and 'data-testid="gaps"' not in page
    assert english(login(officer)).get(f"{PAGE}status/", {"list": "nope"}).status_code == 400
    assert english(login(officer)).post(f"{PAGE}recompute/", {"list": "nope"}).status_code == 400
    assert not ListHealthReport.objects.exists()


def test_with_no_list_published_the_page_says_there_is_nothing_to_check(login: Any, officer: Any) -> None:
    page = english(login(officer)).get(PAGE).content.decode()
    assert "No duty list has an edition in force yet: there is nothing to check." in page
    assert "Every classification has a duty in force." in page
    assert "0 splits in 0 domains" in page


def test_recompute_queues_a_report_the_task_computes_once_and_the_page_shows_it(
    login: Any,
    officer: Any,
    health_list: DutyList,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = english(login(officer))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"{PAGE}recompute/", {"list": "ms"})
        assert response.status_code == 302 and response["Location"] == f"{PAGE}?list=ms"
        again = client.post(f"{PAGE}recompute/", {"list": "ms"})  # a second click: the same report
        assert again.status_code == 302
    report = ListHealthReport.objects.get()
    assert len(callbacks) == 1  # one task enqueued, after commit
    assert report.state == ListHealthState.QUEUED and report.duty_list == health_list
    assert report.requested_by == officer
    assert AuditEntry.objects.filter(action="duty_lists.list_health.requested").count() == 1

    # While it waits, the page follows it and the status says so.
    page = client.get(PAGE, {"list": "ms"}).content.decode()
    assert 'data-testid="health-progress"' in page and "health_progress.js" in page
    assert client.get(f"{PAGE}status/", {"list": "ms"}).json() == {
        "running": True,
        "id": report.pk,
        "state": "queued",
        "progress": 0,
        "stage": "Waiting for a worker",
    }

    assert list_health_run(report.pk) == "done"
    report.refresh_from_db()
    assert report.state == ListHealthState.DONE and report.progress == 100 and report.finished_at
    result = dict(report.result)
    assert list_health_run(report.pk) == "done"  # a repeated delivery computes nothing again
    report.refresh_from_db()
    assert report.result == result

    assert client.get(f"{PAGE}status/", {"list": "ms"}).json() == {"running": False}
    page = client.get(PAGE, {"list": "ms"}).content.decode()
    assert 'data-testid="overlaps"' in page and "health_progress.js" not in page
    assert "/duty-lists/ms/duties/01-01-0001/" in page and "/duty-lists/ms/duties/01-01-0002/" in page
    assert f"(report #{report.pk})" in page


def test_a_report_of_all_lists_answers_for_each_list_and_the_nightly_run_reuses_a_waiting_one(
    login: Any, officer: Any, health_list: DutyList, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        report_id = list_health_nightly()
        assert list_health_nightly() == report_id
    assert services.list_health_compute(report_id=report_id) == "done"
    page = english(login(officer)).get(PAGE, {"list": "ms"}).content.decode()
    assert 'data-count="overlaps">1<' in page and "Of all lists." in page


def test_a_report_whose_worker_was_lost_is_marked_failed_and_a_new_one_queued(
    officer: Any, health_list: DutyList
) -> None:
    stale = ListHealthReport.objects.create(
        state=ListHealthState.RUNNING, created_at=timezone.now() - timedelta(hours=2)
    )
    report = services.list_health_compute_request(actor=officer)
    stale.refresh_from_db()
    assert stale.state == ListHealthState.FAILED and "60 minutes" in stale.error
    assert report.pk != stale.pk and report.state == ListHealthState.QUEUED


def test_a_computation_that_fails_is_parked_as_failed_and_shown(
    login: Any, officer: Any, health_list: DutyList, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("duty_lists.services.health.compute_findings", broken)
    report = services.list_health_compute_request(actor=SYSTEM)
    assert services.list_health_compute(report_id=report.pk) == "failed"
    report.refresh_from_db()
    assert report.state == ListHealthState.FAILED and report.error == "database on fire"
    page = english(login(officer)).get(PAGE).content.decode()
    assert f"Report #{report.pk} failed:" in page and "database on fire" in page
