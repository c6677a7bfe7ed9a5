"""The registry's rules: one lead, editions that read as of any date, diffs, and delegation admission."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import SYSTEM
from core.errors import ApplicationError, Conflict, PermissionRefused
from core.models import AuditEntry
from duty_lists import selectors
from duty_lists.models import AgencyLevel, DutyRevision, Participation
from duty_lists.services import edition_publish, revision_stage
from tests.factories import AgencyFactory
from tests.registry import content, make_list, publish, stage


@pytest.mark.django_db
def test_the_database_refuses_a_second_lead(agency_a, agency_b) -> None:
    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    revision = DutyRevision.objects.get(code="01-01-0001")
    with pytest.raises(IntegrityError), transaction.atomic():
        Participation.objects.create(revision=revision, agency=agency_b, role="lead")


@pytest.mark.django_db
def test_a_duty_without_exactly_one_lead_is_refused(agency_a, agency_b) -> None:
    duty_list = make_list()
    no_lead = content("占道经营", agency_a)
    no_lead.participants[0].role = "cooperating"
    with pytest.raises(ApplicationError) as refused:
        revision_stage(duty_list=duty_list, code="01-01-0001", content=no_lead)
    assert "participants" in refused.value.extra
    assert not DutyRevision.objects.exists()


@pytest.mark.django_db
def test_list_reads_as_of_any_date_across_two_editions(agency_a, agency_b) -> None:
    duty_list = make_list()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        stage(duty_list, "01-01-0001", "占道经营", agency_a)
        stage(duty_list, "01-01-0002", "违章建筑", agency_a)
        first = publish(duty_list)
        traveller.shift(timedelta(days=30))
        stage(duty_list, "01-01-0001", "占道经营", agency_b)
        second = publish(duty_list)

    def lead_at(moment):
        revision = selectors.revisions_in_force(duty_list=duty_list, as_of=moment).get(code="01-01-0001")
        return revision.lead.agency

    assert lead_at(start + timedelta(days=1)) == agency_a
    assert lead_at(start + timedelta(days=31)) == agency_b
    assert lead_at(first.published_at) == agency_a
    assert lead_at(second.published_at) == agency_b
    assert not selectors.revisions_in_force(duty_list=duty_list, as_of=start - timedelta(days=1)).exists()
    assert [r.code for r in selectors.revisions_at_edition(first)] == ["01-01-0001", "01-01-0002"]


@pytest.mark.django_db
def test_published_revisions_are_never_edited_in_place(agency_a, agency_b) -> None:
    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    publish(duty_list)
    original = DutyRevision.objects.get()
    stage(duty_list, "01-01-0001", "占道经营（含夜市）", agency_b)
    publish(duty_list)
    original.refresh_from_db()
    assert original.title == "占道经营" and original.lead.agency == agency_a
    assert original.valid_until is not None
    assert DutyRevision.objects.filter(code="01-01-0001").count() == 2


@pytest.mark.django_db
def test_edition_diff_reports_added_removed_changed_and_lead_changes(agency_a, agency_b) -> None:
    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    stage(duty_list, "01-01-0002", "违章建筑", agency_a)
    stage(duty_list, "01-01-0003", "油烟污染", agency_a)
    first = publish(duty_list)
    stage(duty_list, "01-01-0001", "占道经营", agency_b)  # lead changes
    stage(duty_list, "01-01-0002", "违法建设", agency_a)  # title changes
    revision_stage(duty_list=duty_list, code="01-01-0003", content=None)  # removed
    stage(duty_list, "01-01-0004", "噪音扰民", agency_a, classification="02-01")  # added
    second = publish(duty_list)

    diff = selectors.edition_diff(first, second)
    assert [c.code for c in diff.added] == ["01-01-0004"]
    assert [c.code for c in diff.removed] == ["01-01-0003"]
    changed = {c.code: c for c in diff.changed}
    assert set(changed) == {"01-01-0001", "01-01-0002"}
    assert changed["01-01-0001"].lead_changed and changed["01-01-0001"].new.lead.agency == agency_b
    assert "lead" in changed["01-01-0001"].fields
    assert not changed["01-01-0002"].lead_changed and "title" in changed["01-01-0002"].fields
    assert "classification" not in changed["01-01-0002"].fields
    assert not selectors.revisions_in_force(duty_list=duty_list).filter(code="01-01-0003").exists()


@pytest.mark.django_db
def test_publishing_needs_an_officer_and_something_pending(agency_a, member_a, officer) -> None:
    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    with pytest.raises(PermissionRefused):
        edition_publish(actor=member_a, duty_list=duty_list)
    edition = edition_publish(actor=officer, duty_list=duty_list, note="首版")
    assert edition.number == 1 and edition.published_by == officer
    assert AuditEntry.objects.filter(action="duty_lists.edition.published", actor=officer).exists()
    with pytest.raises(Conflict):
        edition_publish(actor=officer, duty_list=duty_list)


@pytest.mark.django_db
def test_direct_push_down_to_a_street_is_refused(agency_a) -> None:
    street = AgencyFactory(code="S-bc", name="北辰街道", level=AgencyLevel.STREET)
    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    publish(duty_list)
    with pytest.raises(ApplicationError) as refused:
        stage(duty_list, "01-01-0001", "占道经营", street)
    assert refused.value.code == "delegation_requires_approval"
    with pytest.raises(ApplicationError) as refused_layer:
        stage(duty_list, "01-01-0001", "占道经营", agency_a, layer="street")
    assert refused_layer.value.code == "delegation_requires_approval"
    assert selectors.revisions_in_force(duty_list=duty_list).get().lead.agency == agency_a


@pytest.mark.django_db
def test_removing_a_duty_not_in_force_is_refused(agency_a) -> None:
    duty_list = make_list()
    with pytest.raises(Conflict):
        revision_stage(duty_list=duty_list, code="01-01-0009", content=None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_publishing_at_once_get_consecutive_editions(agency_a) -> None:
    import threading

    from django.db import connection

    duty_list = make_list()
    stage(duty_list, "01-01-0001", "占道经营", agency_a)
    results: list[object] = []

    def publish_once() -> None:
        try:
            results.append(edition_publish(actor=SYSTEM, duty_list=duty_list).number)
        except Conflict as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) == [
        "1",
        "nothing_to_publish",
        "nothing_to_publish",
        "nothing_to_publish",
    ]
