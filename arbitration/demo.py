"""Demo disputes for `make run`: one at each stage of the ladder, one past its negotiation deadline so the
first sweep escalates it, and one ruled for a class of matters whose amendment awaits legal review. The
cases are invented (marked as demo) on the demo agencies and lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from arbitration.models import Dispute, Domain
from arbitration.services import (
    NewDuty,
    dispute_file,
    dispute_transition,
    meeting_record,
    position_record,
    ruling_issue,
)
from duty_lists.models import Agency, Duty

SOURCE = "demo"


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def _agency(code: str) -> Agency:
    return Agency.objects.get(code=code)


def _duty(list_code: str, title: str) -> Duty | None:
    return Duty.objects.filter(duty_list__code=list_code, revisions__title=title).first()


@transaction.atomic
def load_arbitration_demo() -> None:
    if Dispute.objects.filter(source_ref=SOURCE).exists():
        return  # loaded before
    staff_zhzf, staff_sjj, staff_bc = _user("staff_zhzf"), _user("staff_sjj"), _user("staff_bc")
    officer, leader = _user("officer"), _user("leader")
    zhzf, sjj, bc = _agency("511602-zhzf"), _agency("511602-sjj"), _agency("511602-bc")
    zjj, sw = _agency("511602-zjj"), _agency("511602-sw")
    urban = Domain.objects.get(code="urban")

    def file(
        actor: Any,
        filer: Agency,
        respondent: Agency,
        title: str,
        description: str,
        kind: str,
        duties: Any = (),
        urgency: str = "normal",
    ) -> Dispute:
        return dispute_file(
            actor=actor,
            title=title,
            description=description,
            kind=kind,
            domain=urban,
            filing_agency=filer,
            respondents=[respondent],
            duties=[d for d in duties if d],
            urgency=urgency,
            source_ref=SOURCE,
        )

    stalls = file(
        staff_zhzf,
        zhzf,
        sjj,
        "夜市摊贩占道经营由谁查处（演示）",
        "滨河路夜市摊贩占用人行道经营，综合执法局认为属无照经营应由市场监管查处，市场监管局认为属占道应由城管查处。",
        "pushback",
        [_duty("ga-livelihood", "城管执法")],
    )
    position_record(
        actor=staff_sjj,
        dispute=stalls,
        agency=sjj,
        stance="proposes",
        statement="占用道路经营属市容管理范畴，应由综合执法局查处。",
        proposed_agency=zhzf,
        legal_basis="《城市市容和环境卫生管理条例》第十四条",
    )

    noise = file(
        staff_bc,
        bc,
        zjj,
        "老旧小区物业管理纠纷归属（演示）",
        "北辰街道某老旧小区无物业，居民反映楼道堆物、管网老化，街道与住建局对牵头单位有分歧。",
        "vague",
        [_duty("ga-livelihood", "物业服务")],
    )
    # Its negotiation time ran out an hour ago: the first sweep of `make run` escalates it.
    Dispute.objects.filter(pk=noise.pk).update(
        deadline_at=timezone.now() - timedelta(hours=1), remind_at=None
    )

    building = file(
        staff_zhzf,
        zhzf,
        zjj,
        "违章搭建拆除职责（演示）",
        "在建工地违章搭建临时用房，执法局与住建局就拆除职责有分歧。",
        "overlap",
        [_duty("ga-livelihood", "违章建筑")],
    )
    building = dispute_transition(
        actor=staff_zhzf, dispute=building, action="escalate", reason="协商不成，报编办协调"
    )
    building = dispute_transition(actor=officer, dispute=building, action="accept_scope")
    meeting_record(
        actor=officer,
        dispute=building,
        held_on=timezone.localdate(),
        attendees="编办、综合执法局、住建局",
        minutes="明确在建工地范围内的违章搭建由住建局督促建设单位拆除，综合执法局配合。",
    )

    river = file(
        staff_bc,
        bc,
        sw,
        "河道垃圾清理责任（演示）",
        "辖区河道漂浮垃圾清理，街道与水务局各执一词。",
        "pushback",
        urgency="major",
    )
    river = dispute_transition(actor=staff_bc, dispute=river, action="escalate", reason="协商不成")
    river = dispute_transition(
        actor=officer, dispute=river, action="escalate", reason="涉及多部门，报请领导决定"
    )

    bikes = file(
        staff_zhzf,
        zhzf,
        sjj,
        "共享单车乱停放管理（演示）",
        "清单中没有共享单车乱停放管理的事项，群众投诉无人受理。",
        "gap",
    )
    bikes.duty_list_id = (
        Duty.objects.filter(duty_list__code="ga-livelihood").values_list("duty_list_id", flat=True).first()
    )
    bikes.save(update_fields=["duty_list"])
    bikes = dispute_transition(actor=staff_zhzf, dispute=bikes, action="escalate", reason="清单空白")
    bikes = dispute_transition(actor=officer, dispute=bikes, action="accept_scope")
    ruling_issue(
        actor=officer,
        dispute=bikes,
        lead_agency=zhzf,
        lead_responsibility="负责共享单车乱停放的日常巡查和处置",
        cooperating=[(_agency("511602-jtysj"), "督促运营企业落实停放管理责任")],
        rationale="共享单车停放属市容秩序管理，由综合执法局牵头，交通运输局配合。",
        scope="class",
        effective_date=timezone.localdate(),
        new_duty=NewDuty(classification="01-02", title="共享单车乱停放"),
    )
    assert leader is not None
