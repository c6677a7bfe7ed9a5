"""The gap finder (issue 10): clusters of grievances the list serves badly, found from the work orders
before the agencies quarrel, with what an officer needs to act on each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from duty_lists.models import Agency
from grievances import routing, services
from grievances.gaps import find_gaps
from grievances.models import Grievance
from tests.grievance_helpers import World, build_world

BIKES = [
    "共享单车乱停放堵住人行道",
    "小区门口共享单车乱停放",
    "地铁站共享单车乱停放没人管",
    "共享单车乱停放占用盲道",
]
PARKING = ["楼下有人长期占用消防通道停车", "消防通道被私家车停车堵死", "小区消防通道停车没人管"]


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def _grievance(
    dispatcher: Any, world: World, title: str, key: str, days_ago: int, **changes: Any
) -> Grievance:
    grievance, _ = services.grievance_receive(
        actor=dispatcher,
        title=title,
        details="请相关部门处理",
        contact_name="王小明",
        contact_phone="13800000000",
        street=world.street,
        idempotency_key=key,
        route=False,
    )
    Grievance.objects.filter(pk=grievance.pk).update(
        received_at=timezone.now() - timedelta(days=days_ago), **changes
    )
    return grievance


def test_unlisted_and_twice_returned_grievances_cluster_by_matter_with_their_evidence(dispatcher, world):
    routing.forget()
    for i, title in enumerate(BIKES):
        _grievance(dispatcher, world, title, f"b{i}", days_ago=2 + i, unlisted=True)
    for i, title in enumerate(PARKING):
        _grievance(dispatcher, world, title, f"p{i}", days_ago=40 + i, return_count=2)
    _grievance(dispatcher, world, "共享单车乱停放", "ok", days_ago=1)  # routed fine: not a candidate
    _grievance(dispatcher, world, "共享单车乱停放太久了", "old", days_ago=200, unlisted=True)  # too old
    stages: list[int] = []

    result = find_gaps(days=90, progress=lambda percent, stage: stages.append(percent))

    assert result["grievances"] == 7
    sizes = sorted(cluster["size"] for cluster in result["clusters"])
    assert sizes == [3, 4]
    bikes = result["clusters"][0]
    assert bikes["size"] == 4 and "单车" in "".join(bikes["words"])
    assert bikes["why"]["unlisted"] == 4 and bikes["rising"]
    assert sum(bikes["weekly"]) == 4 and len(bikes["samples"]) == 4
    parking = result["clusters"][1]
    assert parking["why"]["returned_twice"] == 3 and not parking["rising"]
    assert stages[-1] == 100


def test_too_few_candidates_is_an_empty_result_not_an_error(dispatcher, world):
    _grievance(dispatcher, world, "共享单车乱停放", "x", days_ago=1, unlisted=True)
    assert find_gaps()["clusters"] == []
