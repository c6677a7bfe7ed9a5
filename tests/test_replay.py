"""What-if replay (issue 10): a draft amendment is tried on the last months' grievances before anyone
approves it — how many would go to another agency, which, and the expected change in returns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from duty_lists.models import Agency
from duty_lists.services import amendment_create
from grievances import routing, services
from grievances.models import Grievance, GrievanceState
from grievances.replay import replay
from tests.grievance_helpers import World, build_world
from tests.registry import content


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def _received(
    dispatcher: Any, world: World, title: str, key: str, *, final: Agency | None, days_ago: int
) -> None:
    grievance, _ = services.grievance_receive(
        actor=dispatcher,
        title=title,
        details="",
        contact_name="王小明",
        contact_phone="13800000000",
        street=world.street,
        idempotency_key=key,
        route=False,
    )
    changes: dict[str, Any] = {"received_at": timezone.now() - timedelta(days=days_ago)}
    if final is not None:  # as fixture data: how the grievance ended after its returns
        changes.update(state=GrievanceState.ACCEPTED, handling_agency=final)
    Grievance.objects.filter(pk=grievance.pk).update(**changes)


def _transfer_vending(world: World, officer: Any, agency_a: Agency, agency_b: Agency) -> Any:
    return amendment_create(
        actor=officer,
        duty_list=world.duty_list,
        kind="transfer",
        duty=world.vending,
        proposing_agency=agency_a,
        justification="占道经营的处置实际由市监局承担",
        proposal=content("占道经营", agency_b, keywords=["摆摊", "流动摊贩", "占道"]).to_dict(),
    )


def test_replay_counts_moved_grievances_and_the_returns_the_amendment_would_avoid(
    dispatcher, world, agency_a, agency_b, officer
):
    routing.forget()
    for i in range(3):  # agency_a returned these; agency_b handled them in the end
        _received(dispatcher, world, f"流动摊贩占道经营{i}", f"v{i}", final=agency_b, days_ago=10 + i)
    _received(dispatcher, world, "路边摆摊占道", "v9", final=agency_a, days_ago=5)  # a handled this one
    _received(dispatcher, world, "夜间施工噪音扰民", "n1", final=agency_b, days_ago=3)  # not touched
    _received(dispatcher, world, "流动摊贩占道经营老", "old", final=agency_b, days_ago=400)  # too old
    amendment = _transfer_vending(world, officer, agency_a, agency_b)
    stages: list[int] = []

    result = replay(amendment, months=6, progress=lambda percent, stage: stages.append(percent))

    assert result["replayed"] == 5 and result["touched"] == 4  # the noise grievance is not routed twice
    assert result["moved"] == 4
    assert result["moves"] == [{"from": agency_a.name, "to": agency_b.name, "count": 4}]
    assert (result["returns_avoided"], result["returns_added"]) == (3, 1)
    assert result["expected_return_change"] == -2
    assert {row["final"] for row in result["sample"]} == {agency_a.name, agency_b.name}
    assert stages[-1] == 100
    # Nothing changed in the list or the grievances: it was only a replay.
    assert routing.route("流动摊贩占道经营")[0].agency_id == agency_a.pk


def test_replay_of_a_removal_and_of_a_new_duty(dispatcher, world, agency_a, agency_b, officer):
    routing.forget()
    _received(dispatcher, world, "共享单车乱停放堵路", "b1", final=agency_b, days_ago=2)
    added = amendment_create(
        actor=officer,
        duty_list=world.duty_list,
        kind="add",
        proposing_agency=agency_b,
        justification="新增共享单车管理职责",
        proposal=content("共享单车停放管理", agency_b, keywords=["共享单车", "单车"]).to_dict(),
    )
    result = replay(added, months=1)
    assert result["touched"] == 1 and result["moved"] == 1 and result["returns_avoided"] == 1

    _received(dispatcher, world, "小区门口流动摊贩", "r1", final=agency_a, days_ago=1)
    removed = amendment_create(
        actor=officer,
        duty_list=world.duty_list,
        kind="remove",
        duty=world.vending,
        proposing_agency=agency_a,
        justification="职责取消",
    )
    result = replay(removed, months=1)
    assert result["touched"] == 1 and result["moved"] == 1 and result["returns_added"] == 1
