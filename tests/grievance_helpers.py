"""A small published duty list and people for grievance tests, built through the product's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duty_lists.models import Agency, AgencyKind, AgencyLevel, Duty, DutyList, Role
from grievances import routing
from tests.factories import AgencyFactory, MembershipFactory, UserFactory
from tests.registry import make_list, publish, stage


@dataclass
class World:
    duty_list: DutyList
    street: Agency
    street_staff: Any
    vending: Duty  # 占道经营 → agency_a (区综合执法局)
    noise: Duty  # 噪音扰民 → agency_b (区市监局)
    sanitation: Duty  # 小区环境卫生, territorial → the street where it happened


def street_agency(code: str = "S-bc", name: str = "北辰街道办事处") -> Any:
    return AgencyFactory(code=code, name=name, level=AgencyLevel.STREET, kind=AgencyKind.STREET_OFFICE)


def build_world(agency_a: Agency, agency_b: Agency) -> World:
    """占道经营 led by agency_a, 噪音扰民 by agency_b, and a territorial sanitation duty of the street."""
    street = street_agency()
    staff = UserFactory(username="staff_street")
    MembershipFactory(user=staff, agency=street, role=Role.AGENCY_STAFF)
    duty_list = make_list("ms")
    stage(duty_list, "01-01-0001", "占道经营", agency_a, keywords=["摆摊", "流动摊贩", "占道"])
    stage(
        duty_list,
        "02-01-0001",
        "噪音扰民",
        agency_b,
        classification="02-01",
        keywords=["噪音", "噪声", "施工噪音"],
        synonyms=["吵闹"],
    )
    stage(
        duty_list,
        "01-01-0002",
        "小区环境卫生",
        street,
        keywords=["垃圾", "环境卫生", "清运"],
        duty_type="territorial",
        layer="street",
    )
    publish(duty_list)
    routing.forget()
    duties = {d.code: d for d in Duty.objects.filter(duty_list=duty_list)}
    return World(
        duty_list=duty_list,
        street=street,
        street_staff=staff,
        vending=duties["01-01-0001"],
        noise=duties["02-01-0001"],
        sanitation=duties["01-01-0002"],
    )
