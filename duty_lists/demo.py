"""Demo agencies and people for trying zhize out. The agencies of 广安区 are real names (from
shared/data/guangan-service-items); the people are invented, and every demo account shares one password."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from core.actors import SYSTEM
from core.services import user_create
from duty_lists.models import Agency, AgencyKind, AgencyLevel, Role
from duty_lists.services import agency_create, membership_grant

DEMO_PASSWORD = "Zhize-demo-2026"  # noqa: S105  (printed by make run; demo data only)

ROOT = ("511602", "广安市广安区人民政府", "区政府", AgencyLevel.DISTRICT, AgencyKind.GOVERNMENT)
DISTRICT_AGENCIES = [
    ("511602-bb", "中共广安市广安区委机构编制委员会办公室", "区委编办", AgencyKind.EDITORIAL_OFFICE),
    ("511602-zhzf", "广安市广安区综合行政执法局", "区综合执法局", AgencyKind.GOVERNMENT),
    ("511602-sjj", "广安市广安区市场监督管理局", "区市监局", AgencyKind.GOVERNMENT),
    ("511602-sthj", "广安市广安区生态环境局", "区生态环境局", AgencyKind.GOVERNMENT),
    ("511602-zjj", "广安市广安区住房和城乡建设局", "区住建局", AgencyKind.GOVERNMENT),
    ("511602-sw", "广安市广安区水务局", "区水务局", AgencyKind.GOVERNMENT),
    ("511602-sfj", "广安市广安区司法局", "区司法局", AgencyKind.GOVERNMENT),
    # A joint reviewer of the livelihood list (with 区司法局): the ruling's amendment waits for both.
    ("511602-czj", "广安市广安区财政局", "区财政局", AgencyKind.GOVERNMENT),
    ("511602-xzsp", "广安市广安区行政审批局", "区行政审批局", AgencyKind.GOVERNMENT),
    ("511602-12345", "广安区12345政务服务便民热线中心", "区12345热线", AgencyKind.HOTLINE),
]
STREETS = [
    ("511602-bc", "广安区北辰街道办事处", "北辰街道"),
    ("511602-gf", "广安区广福街道办事处", "广福街道"),
    ("511602-ws", "广安区万盛街道办事处", "万盛街道"),
    ("511602-zq", "广安区中桥街道办事处", "中桥街道"),
]
COMMUNITIES = [("511602-bc-01", "北辰街道新区社区居民委员会", "新区社区", "511602-bc")]


@dataclass(frozen=True)
class DemoPerson:
    username: str
    name: str
    agency_code: str
    role: Role

    @property
    def login_line(self) -> str:
        """What `make run` prints for this account: enough to know which agency it speaks for."""
        agency = SHORT_NAMES.get(self.agency_code, self.agency_code)
        return f"{self.username:<12} {self.name:<4} {self.role.label}（{agency}）"


PEOPLE = [
    DemoPerson("staff_zhzf", "王磊", "511602-zhzf", Role.AGENCY_STAFF),
    DemoPerson("staff_sjj", "李娜", "511602-sjj", Role.AGENCY_STAFF),
    DemoPerson("staff_bc", "张伟", "511602-bc", Role.AGENCY_STAFF),
    # Staff of the joint reviewing agencies (ga-livelihood: 区司法局, 区财政局; ga-services: 区司法局,
    # 区行政审批局), who give their agency's opinion; `legal` reviews legality, a different step.
    DemoPerson("staff_sfj", "钱峰", "511602-sfj", Role.AGENCY_STAFF),
    DemoPerson("staff_czj", "冯雪", "511602-czj", Role.AGENCY_STAFF),
    DemoPerson("staff_xzsp", "何琳", "511602-xzsp", Role.AGENCY_STAFF),
    DemoPerson("officer", "陈静", "511602-bb", Role.EDITORIAL_OFFICER),
    DemoPerson("leader", "刘洋", "511602", Role.LEADER),
    DemoPerson("legal", "赵敏", "511602-sfj", Role.LEGAL_REVIEWER),
    DemoPerson("dispatcher", "孙丽", "511602-12345", Role.DISPATCHER),
    DemoPerson("auditor", "周杰", "511602-bb", Role.AUDITOR),
    DemoPerson("sysadmin", "吴昊", "511602-bb", Role.SYSTEM_ADMIN),
    DemoPerson("secadmin", "郑洁", "511602-bb", Role.SECURITY_ADMIN),
]

SHORT_NAMES = {
    code: short for code, _name, short, *_rest in [ROOT, *DISTRICT_AGENCIES, *STREETS, *COMMUNITIES]
}


def _agency(code: str, name: str, short: str, level: str, kind: str, parent: Agency | None) -> Agency:
    existing = Agency.objects.filter(code=code).first()
    if existing is not None:
        return existing  # a second run reuses what the first made, even if someone has since edited it
    return agency_create(
        actor=SYSTEM,
        reason="demo data",
        code=code,
        name=name,
        short_name=short,
        level=level,
        kind=kind,
        parent=parent,
    )


@transaction.atomic
def load_demo(*, registry: bool = True) -> list[DemoPerson]:
    """Create whatever of the demo set is missing; safe to run any number of times. ``registry=False``
    loads only the agencies and people (what a test of the browser shell needs)."""
    code, name, short, level, kind = ROOT
    root = _agency(code, name, short, level, kind, None)
    for code, name, short, kind in DISTRICT_AGENCIES:
        _agency(code, name, short, AgencyLevel.DISTRICT, kind, root)
    for code, name, short in STREETS:
        _agency(code, name, short, AgencyLevel.STREET, AgencyKind.STREET_OFFICE, root)
    for code, name, short, parent_code in COMMUNITIES:
        _agency(
            code,
            name,
            short,
            AgencyLevel.COMMUNITY,
            AgencyKind.COMMUNITY,
            Agency.objects.get(code=parent_code),
        )

    user_model = get_user_model()
    for person in PEOPLE:
        user = user_model.objects.filter(username=person.username).first()
        if user is None:
            user = user_create(
                actor=SYSTEM,
                username=person.username,
                password=DEMO_PASSWORD,
                name=person.name,
                email=f"{person.username}@demo.zhize.invalid",
                reason="demo data",
            )
        membership_grant(
            actor=SYSTEM,
            user=user,
            agency=Agency.objects.get(code=person.agency_code),
            role=person.role,
            reason="demo data",
        )
    if registry:
        from duty_lists.demo_registry import load_registry_demo

        load_registry_demo()
    return PEOPLE
