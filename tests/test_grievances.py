"""The grievance loop through its services: intake and routing, every transition and refusal, returns that
cite the list, first-asked responsibility, bounces into disputes, re-routing after a new edition, two-way
dispatch and whistles, feedback, masking, and the figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from arbitration.models import Dispute
from core.actors import SYSTEM
from core.errors import ApplicationError, Conflict, PermissionRefused
from core.workdays import SHANGHAI
from duty_lists.models import Agency
from grievances import routing, selectors, services
from grievances.models import (
    Feedback,
    Grievance,
    GrievanceState,
    Handover,
    HandoverState,
    OrderRole,
    OrderState,
    Summons,
    WorkOrder,
)
from tests.factories import AgencyFactory
from tests.grievance_helpers import World, build_world
from tests.registry import content, publish

pytestmark = pytest.mark.django_db

VENDING_TEXT = ("小区门口有流动摊贩占道经营", "每天晚上有人摆摊，占道严重")


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def receive(
    dispatcher: Any, world: World, title: str = VENDING_TEXT[0], details: str = VENDING_TEXT[1], **kw: Any
):
    kw.setdefault("street", world.street)
    grievance, created = services.grievance_receive(
        actor=dispatcher,
        title=title,
        details=details,
        contact_name="王小明",
        contact_phone="13812345678",
        **kw,
    )
    assert created
    return grievance


def lead_order(grievance: Grievance) -> WorkOrder:
    return grievance.orders.get(role=OrderRole.LEAD, state__in=[OrderState.PENDING, OrderState.ACCEPTED])


def received_unrouted(dispatcher: Any, world: World, **kw: Any) -> Grievance:
    return receive(dispatcher, world, route=False, **kw)


# --- Intake and routing ------------------------------------------------------------------------------------


def test_a_clear_grievance_is_routed_to_the_lead_with_an_explanation_and_dispatched(
    dispatcher, world, agency_a
):
    grievance = receive(dispatcher, world)
    assert grievance.reference.startswith("G")
    best = grievance.suggestions[0]
    assert best["duty_code"] == "01-01-0001" and best["agency_id"] == agency_a.pk
    assert {"摆摊", "占道"} <= set(best["matched_words"])
    assert grievance.state == GrievanceState.DISPATCHED  # confident enough to go by itself
    assert grievance.handling_agency == agency_a and grievance.first_agency == agency_a
    assert lead_order(grievance).agency == agency_a
    assert grievance.category == "城乡建设"  # the duty's category, for the figures


def test_a_territorial_duty_goes_to_the_street_where_it_happened(dispatcher, world):
    other_street: Any = AgencyFactory(
        code="S-gf", name="广福街道办事处", level="street", kind="street_office"
    )
    grievance = receive(
        dispatcher, world, title="楼下垃圾没人清运", details="环境卫生很差", street=other_street
    )
    assert grievance.suggestions[0]["agency_id"] == other_street.pk
    suggestions = routing.route("楼下垃圾没人清运", "环境卫生很差", street=other_street)
    assert suggestions[0].duty_code == "01-01-0002"
    assert suggestions[0].agency_id == other_street.pk and suggestions[0].area_rule == "territorial"


def test_a_vague_grievance_waits_in_the_queue_with_suggestions(dispatcher, world):
    grievance = receive(dispatcher, world, title="反映一个问题", details="希望有关部门重视")
    assert grievance.state == GrievanceState.RECEIVED
    assert grievance in selectors.dispatch_queue()


def test_only_dispatchers_record_grievances(member_a, world):
    with pytest.raises(PermissionRefused):
        services.grievance_receive(actor=member_a, title="噪音", details="")
    assert not Grievance.objects.exists()


def test_bad_intake_is_refused_whole_and_nothing_is_saved(dispatcher, world, agency_a):
    with pytest.raises(ApplicationError) as refused:
        services.grievance_receive(actor=dispatcher, title=" ", channel="fax", street=agency_a, latitude=123)
    assert set(refused.value.extra) == {"title", "channel", "street", "latitude"}
    assert not Grievance.objects.exists()


def test_the_same_idempotency_key_gives_back_the_same_grievance(dispatcher, world):
    first, created = services.grievance_receive(actor=dispatcher, title="噪音扰民", idempotency_key="k-1")
    again, created_again = services.grievance_receive(
        actor=dispatcher, title="噪音扰民", idempotency_key="k-1"
    )
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(Conflict):
        services.grievance_receive(actor=dispatcher, title="另一件事", idempotency_key="k-1")
    assert Grievance.objects.count() == 1


def test_deadlines_count_working_days_across_national_day(dispatcher, world):
    with time_machine.travel(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI), tick=False):
        consultation = receive(dispatcher, world, kind="consultation", route=False)
        urgent = receive(dispatcher, world, urgency="urgent", route=False, idempotency_key="u")
    assert consultation.deadline_at == datetime(
        2026, 10, 10, 23, 59, 59, tzinfo=SHANGHAI
    )  # a working Saturday
    assert urgent.deadline_at == datetime(2026, 9, 30, 23, 59, 59, tzinfo=SHANGHAI)


# --- Dispatch, accept, return ------------------------------------------------------------------------------


def test_accepting_is_for_the_agency_it_was_sent_to(dispatcher, world, member_a, member_b):
    grievance = receive(dispatcher, world)
    order = lead_order(grievance)
    with pytest.raises(PermissionRefused):
        services.order_accept(actor=member_b, order=order)
    services.order_accept(actor=member_a, order=order)
    services.order_accept(actor=member_a, order=order)  # a double click changes nothing
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.ACCEPTED and grievance.first_dispatch_accepted is True
    assert grievance.events.filter(action="accept").count() == 1


def test_a_return_must_cite_the_list(dispatcher, world, agency_b, member_b, member_a):
    grievance = received_unrouted(dispatcher, world)
    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_b, duty=world.noise)
    order = lead_order(grievance)
    with pytest.raises(ApplicationError) as refused:
        services.order_return(actor=member_b, order=order, reason="不是我们的")
    assert "cited_duty" in refused.value.extra
    with pytest.raises(ApplicationError) as own:
        services.order_return(actor=member_b, order=order, reason="不是我们的", cited_duty=world.noise)
    assert "cited_duty" in own.value.extra  # 噪音扰民 names agency_b itself
    with pytest.raises(ApplicationError):
        services.order_return(actor=member_b, order=order, reason=" ", cited_duty=world.vending)
    with pytest.raises(PermissionRefused):
        services.order_return(actor=member_a, order=order, reason="x", cited_duty=world.vending)

    services.order_return(actor=member_b, order=order, reason="占道经营归综合执法", cited_duty=world.vending)
    grievance.refresh_from_db()
    order.refresh_from_db()
    assert grievance.state == GrievanceState.RETURNED and grievance.handling_agency is None
    assert grievance.return_count == 1 and grievance.first_dispatch_accepted is False
    assert order.cited_agency == world.vending.revisions.get().participations.get(role="lead").agency
    # The dispatcher now sees the cited duty's agency first, and not the agency that returned it.
    assert grievance.suggestions[0]["duty_id"] == world.vending.pk
    assert grievance.suggestions[0]["source"] == "cited"
    assert all(s["agency_id"] != agency_b.pk for s in grievance.suggestions)


def test_an_accepted_grievance_cannot_be_returned(dispatcher, world, member_a):
    grievance = receive(dispatcher, world)
    order = lead_order(grievance)
    services.order_accept(actor=member_a, order=order)
    with pytest.raises(Conflict):
        services.order_return(actor=member_a, order=order, reason="x", unlisted=True)


def test_the_database_refuses_a_return_without_citation(dispatcher, world):
    from django.db import IntegrityError, transaction

    grievance = receive(dispatcher, world)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkOrder.objects.filter(pk=lead_order(grievance).pk).update(state=OrderState.RETURNED)


def test_steps_out_of_order_are_refused(dispatcher, world, member_a, agency_a):
    grievance = received_unrouted(dispatcher, world)
    with pytest.raises(PermissionRefused):
        services.grievance_progress(actor=member_a, grievance=grievance)  # not theirs yet
    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a, duty=world.vending)
    grievance.refresh_from_db()
    with pytest.raises(Conflict):
        services.grievance_resolve(actor=member_a, grievance=grievance, resolution="已处理")  # not accepted
    with pytest.raises(Conflict):
        services.grievance_feedback(actor=dispatcher, grievance=grievance, rating=5)
    with pytest.raises(Conflict):
        services.grievance_close(actor=dispatcher, grievance=grievance, reason="联系不上")


def test_the_lead_cannot_resolve_before_the_cooperators_answer(
    dispatcher, world, agency_a, agency_b, member_a, member_b
):
    grievance = received_unrouted(dispatcher, world)
    services.grievance_dispatch(
        actor=dispatcher, grievance=grievance, agency=agency_a, duty=world.vending, cooperating=[agency_b]
    )
    lead = lead_order(grievance)
    coop = grievance.orders.get(role=OrderRole.COOPERATING)
    assert coop.deadline_at == lead.deadline_at == grievance.deadline_at
    services.order_accept(actor=member_a, order=lead)
    services.grievance_progress(actor=member_a, grievance=grievance, note="已派人到场")
    with pytest.raises(Conflict) as waiting:
        services.grievance_resolve(actor=member_a, grievance=grievance, resolution="已取缔")
    assert waiting.value.code == "cooperators_pending"
    with pytest.raises(Conflict):
        services.order_return(actor=member_b, order=coop, reason="x", unlisted=True)  # cooperators answer
    services.order_answer(actor=member_b, order=coop, answer="已配合核查证照")
    services.grievance_resolve(actor=member_a, grievance=grievance, resolution="已取缔")
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.RESOLVED and grievance.resolved_at is not None


# --- First-asked responsibility, bounces, clusters --------------------------------------------------------


def test_first_asked_agency_handles_an_unlisted_matter_and_the_gap_goes_to_arbitration(
    dispatcher, world, agency_a, member_a, editorial_office
):
    grievance = received_unrouted(dispatcher, world, title="共享单车电池私拉电线充电", details="无人管理")
    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a, duty=None)
    order = lead_order(grievance)
    with pytest.raises(Conflict) as refused:
        services.order_return(actor=member_a, order=order, reason="清单没有", unlisted=True)
    assert refused.value.code == "first_asked_responsibility"
    services.order_accept(actor=member_a, order=order)
    grievance.refresh_from_db()
    assert grievance.provisional and grievance.state == GrievanceState.ACCEPTED
    dispute = grievance.dispute
    assert dispute is not None and dispute.kind == "gap"
    assert dispute.source_ref == f"grievances.grievance:{grievance.pk}"
    assert f"/grievances/{grievance.pk}/" in dispute.evidence_links
    # The citizen's clock did not stop.
    assert grievance.deadline_at == Grievance.objects.get(pk=grievance.pk).deadline_at


def test_a_grievance_returned_twice_becomes_a_pushback_dispute_once(
    dispatcher, world, agency_a, agency_b, member_a, member_b, editorial_office
):
    grievance = received_unrouted(dispatcher, world)
    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_b, duty=world.noise)
    services.order_return(
        actor=member_b, order=lead_order(grievance), reason="归执法局", cited_duty=world.vending
    )
    assert Grievance.objects.get(pk=grievance.pk).dispute is None
    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a, duty=world.vending)
    services.order_return(
        actor=member_a, order=lead_order(grievance), reason="归市监局", cited_duty=world.noise
    )
    grievance.refresh_from_db()
    dispute = grievance.dispute
    assert dispute is not None and dispute.kind == "pushback"
    assert {p.agency_id for p in dispute.parties.all()} == {agency_a.pk, agency_b.pk}
    assert set(dispute.duties.values_list("pk", flat=True)) == {world.vending.pk, world.noise.pk}
    assert grievance.reference in dispute.description and "归执法局" in dispute.description
    # The office reads the time it was received on its own clock, not UTC's.
    assert f"{timezone.localtime(grievance.received_at):%Y-%m-%d %H:%M}" in dispute.description
    # A third dispatch and return do not file a second dispute.
    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=world.street, duty=None)
    assert Dispute.objects.filter(source_ref=f"grievances.grievance:{grievance.pk}").count() == 1


def test_a_cluster_of_unmatched_grievances_becomes_one_gap_dispute(
    dispatcher, world, editorial_office, agency_a
):
    titles = ["电动自行车楼道充电", "楼道里电动自行车充电很危险", "电动自行车飞线充电"]
    made = [received_unrouted(dispatcher, world, title=t, details="") for t in titles]
    for grievance in made:
        services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a, duty=None)
    disputes = services.unlisted_clusters_check()
    assert len(disputes) == 1 and disputes[0].kind == "gap"
    assert set(Grievance.objects.filter(dispute=disputes[0]).values_list("pk", flat=True)) == {
        g.pk for g in made
    }
    assert services.unlisted_clusters_check() == []


# --- A new edition re-routes -------------------------------------------------------------------------------


def test_a_new_edition_moves_open_grievances_to_the_new_lead(dispatcher, world, agency_a, agency_b, member_a):
    from duty_lists.services import revision_stage

    grievance = receive(dispatcher, world)
    services.order_accept(actor=member_a, order=lead_order(grievance))
    closed = receive(dispatcher, world, title="占道经营", details="摆摊", idempotency_key="c")
    services.grievance_cancel(actor=dispatcher, grievance=closed, reason="重复")

    revision_stage(
        duty_list=world.duty_list,
        code="01-01-0001",
        content=content("占道经营", agency_b, keywords=["摆摊", "占道"]),
        source_ref="test",
    )
    edition = publish(world.duty_list)
    moved = services.grievances_reroute_for_edition(edition_id=edition.pk)
    assert moved == 1
    grievance.refresh_from_db()
    assert grievance.handling_agency == agency_b and grievance.state == GrievanceState.DISPATCHED
    assert grievance.orders.filter(agency=agency_a, state=OrderState.WITHDRAWN).exists()
    status = selectors.public_status(grievance)
    assert status["handling_agency"] == agency_b.name
    assert any(agency_b.name in e.reason for e in status["events"])
    assert Grievance.objects.get(pk=closed.pk).state == GrievanceState.CANCELLED
    assert services.grievances_reroute_for_edition(edition_id=edition.pk) == 0  # run twice: nothing more


def test_publishing_enqueues_the_reroute(world, agency_b, monkeypatch, django_capture_on_commit_callbacks):
    from grievances import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.reroute_after_edition, "delay", queued.append)
    from duty_lists.services import revision_stage

    revision_stage(
        duty_list=world.duty_list, code="01-01-0001", content=content("占道经营", agency_b), source_ref="t"
    )
    with django_capture_on_commit_callbacks(execute=True):
        edition = publish(world.duty_list)
    assert queued == [edition.pk]


# --- Feedback ----------------------------------------------------------------------------------------------


def resolved(dispatcher: Any, world: World, member_a: Any, **kw: Any) -> Grievance:
    grievance = receive(dispatcher, world, **kw)
    services.order_accept(actor=member_a, order=lead_order(grievance))
    services.grievance_resolve(actor=member_a, grievance=grievance, resolution="已劝离摊贩")
    grievance.refresh_from_db()
    return grievance


def test_a_satisfied_citizen_closes_the_grievance(dispatcher, world, member_a):
    grievance = resolved(dispatcher, world, member_a)
    services.grievance_feedback(actor=dispatcher, grievance=grievance, rating=5, comment="很快")
    services.grievance_feedback(actor=dispatcher, grievance=grievance, rating=5)  # a repeat is a no-op
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.CLOSED and grievance.rating == 5
    assert Feedback.objects.filter(grievance=grievance).count() == 1


def test_an_unsatisfied_citizen_can_have_it_redone(dispatcher, world, member_a):
    grievance = resolved(dispatcher, world, member_a)
    with pytest.raises(ApplicationError):
        services.grievance_feedback(actor=dispatcher, grievance=grievance, rating=4, reopen=True)
    with pytest.raises(ApplicationError):
        services.grievance_feedback(actor=dispatcher, grievance=grievance, rating=9)
    services.grievance_feedback(
        actor=dispatcher, grievance=grievance, rating=1, reopen=True, comment="又来了"
    )
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.REOPENED and grievance.reopen_count == 1
    assert grievance in selectors.dispatch_queue()


def test_feedback_for_a_citizen_is_recorded_by_dispatchers_only(dispatcher, world, member_a):
    grievance = resolved(dispatcher, world, member_a)
    with pytest.raises(PermissionRefused):
        services.grievance_feedback(actor=member_a, grievance=grievance, rating=5)


def test_cancel_needs_a_dispatcher_and_a_reason(dispatcher, world, member_a):
    grievance = receive(dispatcher, world)
    with pytest.raises(PermissionRefused):
        services.grievance_cancel(actor=member_a, grievance=grievance, reason="x")
    with pytest.raises(ApplicationError):
        services.grievance_cancel(actor=dispatcher, grievance=grievance, reason="")
    services.grievance_cancel(actor=dispatcher, grievance=grievance, reason="市民撤回")
    grievance.refresh_from_db()
    assert grievance.state == GrievanceState.CANCELLED
    assert not grievance.orders.filter(state__in=[OrderState.PENDING, OrderState.ACCEPTED]).exists()


# --- Personal data -----------------------------------------------------------------------------------------


def test_personal_data_is_masked_for_everyone_but_dispatchers_and_the_handling_agency(
    dispatcher, world, member_a, member_b, officer
):
    grievance = receive(dispatcher, world)
    assert selectors.contact_of(dispatcher, grievance)["phone"] == "13812345678"
    assert selectors.contact_of(member_a, grievance)["name"] == "王小明"
    for outsider in (member_b, officer):
        shown = selectors.contact_of(outsider, grievance)
        assert shown["masked"] and shown["phone"] == "138****5678" and shown["name"] == "王**"
    assert grievance not in selectors.grievances_visible_to(member_b)
    assert grievance in selectors.grievances_visible_to(member_a)


# --- Two-way dispatch and whistles -------------------------------------------------------------------------


def test_a_street_hands_a_matter_up_and_the_handover_is_due_three_working_days_later(
    world, agency_a, member_a
):
    found = datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI), tick=False):
        handover = services.handover_report(
            actor=world.street_staff,
            direction="up",
            from_agency=world.street,
            to_agency=agency_a,
            matter="辖区内发现无证占道经营",
            found_at=found,
        )
    assert handover.report_due == datetime(2026, 9, 30, 23, 59, 59, tzinfo=SHANGHAI)
    assert handover.handover_due == datetime(2026, 10, 10, 23, 59, 59, tzinfo=SHANGHAI)  # over National Day
    assert not handover.reported_late
    with time_machine.travel(datetime(2026, 10, 11, 9, 0, tzinfo=SHANGHAI), tick=False):
        assert services.handovers_flag_late() == 1
        assert services.handovers_flag_late() == 0
    services.handover_complete(actor=member_a, handover=handover)
    assert Handover.objects.get(pk=handover.pk).state == HandoverState.COMPLETED


def test_two_way_dispatch_refuses_the_wrong_direction_and_outsiders(world, agency_a, member_a, member_b):
    with pytest.raises(ApplicationError):
        services.handover_report(
            actor=member_a, direction="up", from_agency=agency_a, to_agency=world.street, matter="x"
        )
    with pytest.raises(PermissionRefused):
        services.handover_report(
            actor=member_b, direction="down", from_agency=agency_a, to_agency=world.street, matter="x"
        )
    down = services.handover_report(
        actor=member_a, direction="down", from_agency=agency_a, to_agency=world.street, matter="小区垃圾清运"
    )
    with pytest.raises(PermissionRefused):
        services.handover_report_back(actor=member_a, handover=down, report="done")
    services.handover_report_back(actor=world.street_staff, handover=down, report="已清运")
    assert Handover.objects.get(pk=down.pk).state == HandoverState.DONE
    back_up = services.handover_report(
        actor=world.street_staff,
        direction="back_up",
        from_agency=world.street,
        to_agency=agency_a,
        matter="涉及违法建设，街道无执法权",
        parent=services.handover_report(
            actor=member_a, direction="down", from_agency=agency_a, to_agency=world.street, matter="违建"
        ),
    )
    assert back_up.direction == "back_up" and back_up.parent is not None
    assert back_up.parent.state == HandoverState.REFUSED
    # A matter goes back up once; one already done cannot go back up at all. Nothing is written.
    for settled in (back_up.parent, down):
        with pytest.raises(Conflict):
            services.handover_report(
                actor=world.street_staff,
                direction="back_up",
                from_agency=world.street,
                to_agency=agency_a,
                matter="再次退回",
                parent=settled,
            )
    assert Handover.objects.filter(direction="back_up").count() == 1
    assert Handover.objects.get(pk=down.pk).state == HandoverState.DONE


def test_a_whistle_summons_departments_and_the_sweep_flags_those_late(
    world, agency_a, agency_b, member_a, member_b
):
    blown = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    with pytest.raises(PermissionRefused):
        services.whistle_blow(actor=member_a, street=world.street, title="x", agencies=[agency_b])
    with time_machine.travel(blown, tick=False):
        whistle = services.whistle_blow(
            actor=world.street_staff, street=world.street, title="夜市占道", agencies=[agency_a, agency_b]
        )
    on_time, late = (whistle.summonses.get(agency=agency_a), whistle.summonses.get(agency=agency_b))
    assert on_time.due_at == blown + timedelta(minutes=30)
    with pytest.raises(PermissionRefused):
        services.summons_report(actor=member_b, summons=on_time)
    with time_machine.travel(blown + timedelta(minutes=20), tick=False):
        services.summons_report(actor=member_a, summons=on_time, note="已到场")
        assert services.summonses_flag_late() == 0
    with time_machine.travel(blown + timedelta(minutes=31), tick=False):
        assert services.summonses_flag_late() == 1
        assert services.summonses_flag_late() == 0
    late.refresh_from_db()
    assert late.late_flagged_at is not None and late.reported_at is None
    with time_machine.travel(blown + timedelta(minutes=45), tick=False):
        services.summons_report(actor=member_b, summons=late)
    assert Summons.objects.get(pk=late.pk).is_late and not Summons.objects.get(pk=on_time.pk).is_late


# --- Numbers -----------------------------------------------------------------------------------------------


def test_figures_on_a_known_set(dispatcher, world, agency_a, agency_b, member_a, member_b):
    # 1: accepted by the first agency, resolved on time, satisfied (5).
    one = resolved(dispatcher, world, member_a, idempotency_key="1")
    services.grievance_feedback(actor=dispatcher, grievance=one, rating=5)
    # 2: accepted first time, resolved, unsatisfied and redone (1).
    two = resolved(dispatcher, world, member_a, idempotency_key="2")
    services.grievance_feedback(actor=dispatcher, grievance=two, rating=1, reopen=True)
    # 3: first sent to agency_b, returned, then accepted by agency_a.
    three = received_unrouted(dispatcher, world, idempotency_key="3")
    services.grievance_dispatch(actor=dispatcher, grievance=three, agency=agency_b, duty=world.noise)
    services.order_return(actor=member_b, order=lead_order(three), reason="不归我", cited_duty=world.vending)
    services.grievance_dispatch(actor=dispatcher, grievance=three, agency=agency_a, duty=world.vending)
    services.order_accept(actor=member_a, order=lead_order(three))
    # 4: dispatched, not yet decided.
    receive(dispatcher, world, idempotency_key="4")

    (overall,) = selectors.grievance_stats()
    assert overall.received == 4 and overall.dispatched == 4
    assert overall.first_dispatch_success_rate == round(2 / 3, 4)  # 1, 2 yes; 3 no; 4 undecided
    assert overall.return_rate == 0.25
    assert overall.redo_rate == 0.5  # of the two ever resolved, one reopened
    assert overall.on_time_completion_rate == 1.0
    assert overall.on_time_acceptance_rate == 1.0
    assert overall.satisfaction_rate == 0.5 and overall.mean_rating == 3.0

    by_agency = {f.key: f for f in selectors.grievance_stats(group_by="agency")}
    assert by_agency[agency_a.pk].received == 3 and by_agency[agency_a.pk].first_dispatch_success_rate == 1.0
    assert by_agency[agency_b.pk].first_dispatch_success_rate == 0.0

    late_acceptance = WorkOrder.objects.filter(grievance=three, agency=agency_a).get()
    WorkOrder.objects.filter(pk=late_acceptance.pk).update(
        accepted_at=late_acceptance.accept_by + timedelta(hours=1)
    )
    (overall,) = selectors.grievance_stats()
    assert overall.on_time_acceptance_rate == round(2 / 3, 4)  # lead orders accepted: one, two, three
    (month,) = selectors.grievance_stats(group_by="month")
    assert month.received == 4
    assert selectors.grievance_stats(since=timezone.now() + timedelta(days=1))[0].received == 0


# --- Learning from accepted grievances ---------------------------------------------------------------------


def test_the_router_learns_from_accepted_grievances(dispatcher, world, agency_a, member_a, officer):
    for i in range(3):
        grievance = received_unrouted(
            dispatcher, world, title=f"烧烤摊油烟扰民{i}", details="夜宵", idempotency_key=str(i)
        )
        services.grievance_dispatch(
            actor=dispatcher, grievance=grievance, agency=agency_a, duty=world.vending
        )
        services.order_accept(actor=member_a, order=lead_order(grievance))
    model = services.router_train(actor=SYSTEM, min_samples=3)
    assert model is not None and model.samples == 3
    assert not model.in_force  # too few to measure on its newest fifth: an officer decides
    services.router_model_activate(actor=officer, model=model)
    routing.forget()
    suggestions = routing.route("烧烤摊油烟", street=world.street)
    assert suggestions[0].duty_id == world.vending.pk
    assert suggestions[0].learned_words


# --- evaluate_router on the office's own history -----------------------------------------------------------


def _accepted(dispatcher, world, agency, member, duty, title: str, key: str) -> None:
    grievance = received_unrouted(dispatcher, world, title=title, details="", idempotency_key=key)
    services.grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency, duty=duty)
    services.order_accept(actor=member, order=lead_order(grievance))


def _evaluate_history(*args: str) -> dict[str, Any]:
    import io
    import json

    from django.core.management import call_command

    out = io.StringIO()
    call_command("evaluate_router", *args, stdout=out)
    return json.loads(out.getvalue())


def test_evaluate_router_without_files_measures_the_newest_history_by_final_agency(
    dispatcher, world, agency_a, agency_b, member_a, member_b
):
    for i in range(8):
        _accepted(dispatcher, world, agency_a, member_a, world.vending, f"流动摊贩占道经营{i}", f"a{i}")
        _accepted(dispatcher, world, agency_b, member_b, world.noise, f"夜间施工噪音扰民{i}", f"b{i}")
    report = _evaluate_history("--threshold", "0.5")
    assert report["source"] == "history" and report["split"]["by"] == "accepted_at"
    assert (report["train_size"], report["test_size"]) == (12, 4)  # the newest fifth is measured
    assert report["labels"] == 2 and report["top1"] == 1.0
    assert set(report["per_label"]) == {agency_a.name, agency_b.name}  # labelled by agency, not by duty


def test_evaluate_router_without_enough_history_says_so(dispatcher, world, agency_a, member_a):
    from django.core.management.base import CommandError

    _accepted(dispatcher, world, agency_a, member_a, world.vending, "流动摊贩占道经营", "only")
    with pytest.raises(CommandError, match="Too little history"):
        _evaluate_history()


def test_evaluate_router_with_only_one_file_names_what_is_missing(tmp_path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--test, --text-cols, --label-col"):
        _evaluate_history("--train", str(tmp_path / "train.csv"))
