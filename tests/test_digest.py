"""The office's daily digest: the figures of a constructed day (and what falls outside it), built twice
but stored and mailed once, the morning beat task, the job the page starts, who may read and build, bad
days and the empty states."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from html import unescape
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from arbitration.models import Notification
from config.celery_app import app as celery_app
from core import jobs
from core.actors import SYSTEM
from core.errors import ApplicationError, PermissionRefused
from core.models import AuditEntry, Job
from core.workdays import SHANGHAI
from duty_lists.models import Agency
from grievances import routing, services
from grievances.models import DailyDigest, Grievance, GrievanceState, OrderRole, OrderState, WorkOrder
from grievances.services.digest import digest_build, digest_key
from grievances.tasks import build_daily_digest
from tests.grievance_helpers import World, build_world

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 3)  # a Thursday


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment of the office's day (Asia/Shanghai)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


EMPTY_LIST = "No digest has been built yet. The first one arrives tomorrow morning at 7:00."


def zh(message: str) -> str:
    """What a page in the default language shows for ``message`` (the English until it is translated)."""
    with translation.override("zh-hans"):
        return gettext(message)


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> Iterator[World]:
    yield build_world(agency_a, agency_b)
    routing.forget()  # the router's index of this world must not outlive its rows into the next test


@pytest.fixture
def eager_celery() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def jobs_inline(monkeypatch: Any) -> None:
    """A queued job runs at once, as a worker would run it after the request's commit."""
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: jobs.job_run(job_id=job_id))


def receive(dispatcher: Any, world: World, title: str, when: datetime, **kw: Any) -> Grievance:
    with time_machine.travel(when, tick=False):
        grievance, created = services.grievance_receive(
            actor=dispatcher,
            title=title,
            details="请相关部门处理",
            contact_name="王小明",
            contact_phone="13800000000",
            street=world.street,
            route=False,
            **kw,
        )
    assert created
    return grievance


def lead_order(grievance: Grievance) -> WorkOrder:
    return grievance.orders.get(role=OrderRole.LEAD, state__in=[OrderState.PENDING, OrderState.ACCEPTED])


@pytest.fixture
def day_of_work(
    dispatcher: Any,
    world: World,
    agency_a: Agency,
    agency_b: Agency,
    member_a: Any,
    member_b: Any,
    editorial_office: Agency,
) -> dict[str, Grievance]:
    """DAY: one grievance received, one long overdue, one returned twice (so it bounced into a dispute);
    and around it what must not count: the day before and the night after, a cancelled one."""
    new = receive(dispatcher, world, "小区门口流动摊贩占道经营", at(DAY, 9), category="市容环境")
    late = receive(dispatcher, world, "施工噪音扰民", at(DAY - timedelta(days=10), 9), category="噪音")
    Grievance.objects.filter(pk=late.pk).update(deadline_at=at(DAY, 12))
    bounced = receive(dispatcher, world, "夜市摆摊噪音很大", at(DAY - timedelta(days=1), 16), category="噪音")
    with time_machine.travel(at(DAY - timedelta(days=1), 17), tick=False):
        services.grievance_dispatch(actor=dispatcher, grievance=bounced, agency=agency_b, duty=world.noise)
    with time_machine.travel(at(DAY, 10), tick=False):
        services.order_return(
            actor=member_b, order=lead_order(bounced), reason="属占道经营，归执法局", cited_duty=world.vending
        )
    with time_machine.travel(at(DAY, 11), tick=False):
        services.grievance_dispatch(actor=dispatcher, grievance=bounced, agency=agency_a, duty=world.vending)
    with time_machine.travel(at(DAY, 14), tick=False):
        services.order_return(
            actor=member_a, order=lead_order(bounced), reason="噪音问题，归市监局", cited_duty=world.noise
        )
    # 00:30 of the next day in Shanghai is still DAY in UTC: the day is the office's, not UTC's.
    receive(dispatcher, world, "垃圾清运不及时", at(DAY + timedelta(days=1), 0, 30), category="市容环境")
    cancelled = receive(dispatcher, world, "重复来电", at(DAY, 15), category="市容环境")
    Grievance.objects.filter(pk=cancelled.pk).update(state=GrievanceState.CANCELLED)
    return {"new": new, "late": late, "bounced": bounced}


def build(day: date = DAY, actor: Any = SYSTEM, **kw: Any) -> DailyDigest:
    with time_machine.travel(at(day + timedelta(days=1), 7), tick=False):
        return digest_build(actor=actor, day=day, **kw)


# --- The figures --------------------------------------------------------------------------------------------


def test_the_digest_counts_the_day_and_only_the_day(
    day_of_work: dict[str, Grievance], agency_a, agency_b
) -> None:
    digest = build(mail=False)
    figures = digest.figures
    bounced = Grievance.objects.get(pk=day_of_work["bounced"].pk)

    assert figures["day"] == DAY.isoformat()
    assert figures["new"]["count"] == 1
    assert figures["new"]["categories"] == [{"name": "市容环境", "count": 1}]
    assert figures["new"]["channels"] == [{"code": "hotline", "count": 1}]

    assert figures["overdue"]["count"] == 1
    [late] = figures["overdue"]["items"]
    assert late["id"] == day_of_work["late"].pk and late["reference"] == day_of_work["late"].reference
    assert late["overdue_hours"] == 12  # from 12:00 to the day's end

    assert figures["returned"]["count"] == 2
    assert {a["name"]: a["count"] for a in figures["returned"]["agencies"]} == {
        agency_a.name: 1,
        agency_b.name: 1,
    }
    assert [r["reason"] for r in figures["returned"]["items"]] == [
        "属占道经营，归执法局",
        "噪音问题，归市监局",
    ]
    assert {r["id"] for r in figures["returned"]["items"]} == {bounced.pk}

    assert bounced.dispute_id is not None
    assert figures["disputes"] == {
        "count": 1,
        "items": [
            {
                "id": bounced.dispute_id,
                "title": bounced.dispute.title,
                "kind": "pushback",
                "grievance": bounced.pk,
            }
        ],
    }
    entry = AuditEntry.objects.get(action="grievances.digest.built")
    assert entry.object_id == str(digest.pk) and entry.actor_repr == "system"


def test_the_day_before_sees_none_of_it(day_of_work: dict[str, Grievance]) -> None:
    figures = build(DAY - timedelta(days=1), mail=False).figures
    assert figures["new"]["count"] == 1  # the grievance that bounced, received the day before
    assert figures["returned"]["count"] == 0 and figures["disputes"]["count"] == 0
    assert figures["overdue"]["count"] == 0  # the late one's deadline was DAY noon


def test_a_grievance_resolved_after_the_day_still_counts_as_overdue_then(
    day_of_work: dict[str, Grievance], agency_b: Agency
) -> None:
    Grievance.objects.filter(pk=day_of_work["late"].pk).update(
        state=GrievanceState.RESOLVED, handling_agency=agency_b, resolved_at=at(DAY + timedelta(days=2), 9)
    )
    assert build(mail=False).figures["overdue"]["count"] == 1
    Grievance.objects.filter(pk=day_of_work["late"].pk).update(resolved_at=at(DAY, 18))
    assert build(mail=False).figures["overdue"]["count"] == 0


# --- Once per day ------------------------------------------------------------------------------------------


def test_building_twice_keeps_one_row_and_mails_the_office_once(
    day_of_work: dict[str, Grievance],
    dispatcher: Any,
    world: World,
    officer: Any,
    leader: Any,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = build()
    assert first.mailed_to == 1
    [note] = Notification.objects.filter(key=digest_key(DAY))
    assert note.recipient == officer and note.url == f"/grievances/digests/{DAY.isoformat()}/"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [officer.email]
    with translation.override("zh-hans"):
        assert gettext("New grievances: %(n)d") % {"n": 1} in mailoutbox[0].body
    assert day_of_work["late"].reference in mailoutbox[0].body
    assert "属占道经营，归执法局" in mailoutbox[0].body

    # Another grievance of the day turns up (an import); the rebuild counts it, but mails nobody again.
    receive(dispatcher, world, "又一起占道", at(DAY, 20), category="市容环境")
    with django_capture_on_commit_callbacks(execute=True):
        second = build()
    assert second.pk == first.pk and DailyDigest.objects.count() == 1
    assert second.figures["new"]["count"] == 2 and second.mailed_to == 1
    assert Notification.objects.filter(key=digest_key(DAY)).count() == 1
    assert len(mailoutbox) == 1
    assert AuditEntry.objects.filter(action="grievances.digest.built").count() == 2


def test_todays_digest_is_not_mailed_so_tomorrows_complete_one_is(officer: Any) -> None:
    with time_machine.travel(at(DAY, 15), tick=False):
        today = digest_build(actor=SYSTEM, day=DAY)
    assert today.mailed_to == 0 and not Notification.objects.exists()
    assert build().mailed_to == 1


def test_a_day_to_come_is_refused() -> None:
    with time_machine.travel(at(DAY, 15), tick=False), pytest.raises(ApplicationError) as refused:
        digest_build(actor=SYSTEM, day=DAY + timedelta(days=1))
    assert refused.value.code == "digest_future_day"
    assert not DailyDigest.objects.exists()


# --- The beat task ------------------------------------------------------------------------------------------


def test_the_morning_task_builds_yesterdays_digest(day_of_work: dict[str, Grievance], officer: Any) -> None:
    with time_machine.travel(at(DAY + timedelta(days=1), 7), tick=False):
        pk = build_daily_digest()
        assert build_daily_digest() == pk  # run twice by a retried beat: the same digest
    digest = DailyDigest.objects.get(pk=pk)
    assert digest.day == DAY and digest.figures["new"]["count"] == 1 and digest.mailed_to == 1
    with time_machine.travel(at(DAY + timedelta(days=1), 7), tick=False):
        other = DailyDigest.objects.get(pk=build_daily_digest("2026-12-01"))
    assert other.day == date(2026, 12, 1)


def test_the_beat_schedule_builds_the_digest_at_seven() -> None:
    entry = celery_app.conf.beat_schedule["build-daily-digest"]
    assert entry["task"] == "grievances.tasks.build_daily_digest"
    assert entry["schedule"].hour == {7} and entry["schedule"].minute == {0}
    celery_app.loader.import_default_modules()
    assert entry["task"] in celery_app.tasks


# --- The pages ----------------------------------------------------------------------------------------------


def test_nobody_but_the_office_and_leaders_reads_the_digest(
    login: Any, member_a: Any, dispatcher: Any, client: Any
) -> None:
    day_url = reverse("grievances:digest_detail", args=[DAY.isoformat()])
    for person in (member_a, dispatcher):
        browser = login(person)
        assert browser.get(reverse("grievances:digest_list")).status_code == 403
        assert browser.get(day_url).status_code == 403
        assert browser.post(reverse("grievances:digest_build"), {"day": DAY.isoformat()}).status_code == 403
    assert client.get(reverse("grievances:digest_list")).status_code == 302  # to the sign-in page
    assert not Job.objects.exists()


def test_a_leader_reads_but_does_not_build(login: Any, leader: Any) -> None:
    build()
    browser = login(leader)
    listing = browser.get(reverse("grievances:digest_list"))
    assert listing.status_code == 200 and b"data-digest-build" not in listing.content
    assert f'data-digest="{DAY.isoformat()}"'.encode() in listing.content
    assert browser.get(reverse("grievances:digest_detail", args=[DAY.isoformat()])).status_code == 200
    assert browser.post(reverse("grievances:digest_build"), {"day": DAY.isoformat()}).status_code == 403
    assert not Job.objects.exists()


def test_the_officer_builds_a_day_and_reads_its_four_sections(
    login: Any,
    officer: Any,
    day_of_work: dict[str, Grievance],
    jobs_inline: None,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    browser = login(officer)
    empty = browser.get(reverse("grievances:digest_list"))
    assert empty.status_code == 200 and zh(EMPTY_LIST) in empty.content.decode()
    with time_machine.travel(at(DAY + timedelta(days=1), 9), tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            response = browser.post(reverse("grievances:digest_build"), {"day": DAY.isoformat()})
        day_url = reverse("grievances:digest_detail", args=[DAY.isoformat()])
        assert response.status_code == 302 and response["Location"] == day_url
        job = Job.objects.get(kind="grievances.digest")
        assert job.state == "done" and job.requested_by == officer and job.result["day"] == DAY.isoformat()
        page = browser.get(day_url).content.decode()
    bounced = Grievance.objects.get(pk=day_of_work["bounced"].pk)
    assert 'data-figure="new"' in page and "data-job-status" not in page
    assert reverse("grievances:detail", args=[day_of_work["late"].pk]) in page
    assert reverse("grievances:detail", args=[bounced.pk]) in page
    assert reverse("arbitration:dispute_detail", args=[bounced.dispute_id]) in page
    assert "属占道经营，归执法局" in page
    digest = DailyDigest.objects.get(day=DAY)
    assert AuditEntry.objects.get(action="grievances.digest.built").actor == officer
    assert digest.mailed_to == 1


def test_a_running_build_shows_its_progress(login: Any, officer: Any) -> None:
    with time_machine.travel(at(DAY + timedelta(days=1), 9), tick=True):
        browser = login(officer)
        browser.post(reverse("grievances:digest_build"), {"day": DAY.isoformat()})  # no worker runs it
        page = browser.get(reverse("grievances:digest_detail", args=[DAY.isoformat()])).content.decode()
    assert "data-job-status" in page and "data-stage-digest-overdue" in page
    assert Job.objects.get(kind="grievances.digest").state == "queued"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-12-05", "%(day)s has not come yet: a digest is built for a day that has begun."),
        ("yesterday", "“%(v)s” is not a date: write it as 2026-12-06."),
        ("2026-02-30", "“%(v)s” is not a date: write it as 2026-12-06."),
        ("", "Choose a day."),
    ],
)
def test_a_bad_day_is_refused_with_a_clear_message(
    login: Any, officer: Any, value: str, message: str
) -> None:
    with time_machine.travel(at(DAY + timedelta(days=1), 9), tick=True):
        response = login(officer).post(reverse("grievances:digest_build"), {"day": value})
    assert response.status_code == 400
    expected = zh(message) % {"day": value, "v": value} if "%" in message else zh(message)
    html = unescape(response.content.decode())
    assert 'role="alert"' in html and expected in html
    assert not Job.objects.exists()


def test_a_day_without_a_digest_and_a_quiet_day_show_empty_states(login: Any, officer: Any) -> None:
    browser = login(officer)
    with time_machine.travel(at(DAY + timedelta(days=1), 9), tick=True):
        day_url = reverse("grievances:digest_detail", args=[DAY.isoformat()])
        nothing = browser.get(day_url)
        assert nothing.status_code == 200 and zh("No digest of this day yet.") in nothing.content.decode()
        build()
        quiet = browser.get(day_url).content.decode()
        assert zh("A quiet day: nothing new, nothing overdue, no returns, no disputes.") in quiet
        assert browser.get(reverse("grievances:digest_detail", args=["2026-13-01"])).status_code == 404
        assert browser.get(reverse("grievances:digest_detail", args=["2026-12-09"])).status_code == 404


def test_the_list_pages_the_digests_newest_first_in_a_fixed_number_of_queries(
    login: Any, officer: Any
) -> None:
    browser = login(officer)
    counts = []
    for days in (3, 35):
        for n in range(days):
            build(DAY - timedelta(days=n), mail=False)
        with CaptureQueriesContext(connection) as queries:
            first = browser.get(reverse("grievances:digest_list")).content.decode()
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert first.index(f'data-digest="{DAY.isoformat()}"') < first.index(
        f'data-digest="{(DAY - timedelta(days=1)).isoformat()}"'
    )
    assert first.count("data-digest=") == 30
    second = browser.get(reverse("grievances:digest_list") + "?page=2").content.decode()
    assert second.count("data-digest=") == 5


def test_a_superuser_builds_and_the_job_refuses_a_leader(
    login: Any, leader: Any, jobs_inline: None, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.factories import UserFactory

    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    with time_machine.travel(at(DAY + timedelta(days=1), 9), tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            response = login(admin).post(reverse("grievances:digest_build"), {"day": DAY.isoformat()})
        assert response.status_code == 302
        with pytest.raises(PermissionRefused):
            jobs.job_start(actor=leader, kind="grievances.digest", params={"day": DAY.isoformat()})
    assert DailyDigest.objects.filter(day=DAY).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_first_builds_at_once_make_one_digest_mailed_once(
    officer: Any, eager_celery: None, mailoutbox: list[Any]
) -> None:
    """The beat job and clicks racing on a day nobody built yet: the unique day decides, the rest rebuild."""
    yesterday = timezone.localdate() - timedelta(days=1)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            digest_build(actor=SYSTEM, day=yesterday)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert DailyDigest.objects.filter(day=yesterday).count() == 1
    assert DailyDigest.objects.get(day=yesterday).mailed_to == 1
    assert Notification.objects.filter(key=digest_key(yesterday)).count() == 1
    assert len(mailoutbox) == 1
    assert AuditEntry.objects.filter(action="grievances.digest.built").count() == 4
