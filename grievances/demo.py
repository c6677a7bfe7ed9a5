"""Demo grievances for `make run`: one at each point of the loop, all made through the services by the demo
people of duty_lists/demo.py, on the demo livelihood list ("ga-livelihood"). The texts are invented for the
demo (the citizens' messages of shared/data are other people's prose and stay there).

What it leaves behind:

- grievances the router dispatched on its own — one awaiting acceptance, one accepted and in progress, one
  accepted by a street under the area rule, one that came in through the demo Open311 client;
- one resolved and closed with a satisfied rating, one resolved and awaiting the citizen's feedback;
- one in the dispatchers' queue with the router's suggestions, and one the list does not cover at all;
- one returned by two agencies, each citing the list: the second return files a pushback dispute;
- a whistle blown by 北辰街道 summoning two departments, one of which has reported;
- two-way dispatch: a matter 北辰街道 reported up and the department took over, one reported up a day late
  and still waiting, and one a department passed down to the street;
- the Open311 client "演示热线系统" with a fixed, printed key;
- 双向考评: three past months of ratings between 北辰街道 (and two other streets) and the departments, one
  of them voided by an upheld appeal, and this month's ratings given through the service, one of them
  appealed by the department and waiting for the office.

``load_grievance_demo`` is idempotent: it does nothing once grievances with a ``demo-`` external id exist.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.actors import SYSTEM
from core.workdays import SHANGHAI, add_working_days
from duty_lists.models import Agency, Duty
from grievances import routing
from grievances.models import (
    ApiClient,
    Channel,
    Grievance,
    GrievanceKind,
    GrievanceState,
    OrderRole,
    OrderState,
    WorkOrder,
)
from grievances.ratings import selectors as rating_selectors
from grievances.ratings.models import (
    AppealState,
    MutualRating,
    MutualRatingScore,
    RatingAppeal,
    RatingCriterion,
    RatingDirection,
)
from grievances.services import (
    api_client_issue,
    grievance_dispatch,
    grievance_feedback,
    grievance_progress,
    grievance_publish,
    grievance_receive,
    grievance_resolve,
    handover_complete,
    handover_report,
    order_accept,
    order_return,
    summons_report,
    whistle_blow,
)
from grievances.services.ratings import rating_appeal_file, rating_submit, weighted_mean

DEMO_OPEN311_CLIENT = "演示热线系统"
DEMO_OPEN311_KEY = "demo-open311-key-zhize"  # printed by make run; demo data only
MARKER = "demo-"  # the external ids of the demo grievances
LIVELIHOOD_LIST = "ga-livelihood"
STREET = "511602-bc"  # 北辰街道


@dataclass(frozen=True)
class DemoGrievance:
    external_id: str
    title: str
    details: str
    hours_ago: int
    channel: str = Channel.HOTLINE
    kind: str = GrievanceKind.COMPLAINT
    address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    # What happens after intake, in order: ("accept", username), ("progress", username),
    # ("resolve", username, text), ("feedback", rating, comment).
    steps: tuple[tuple[Any, ...], ...] = field(default=())
    # Shown on Open311 (with the masked text the dispatcher would be offered); the rest stay internal.
    public: bool = False


GRIEVANCES = [
    DemoGrievance(
        "demo-01",
        "夜间工地施工噪音污染扰民",
        "滨河路东段一处在建工地每晚十一点以后仍在施工，打桩和切割声很大，噪音污染严重，"
        "附近居民连续一周无法正常休息。",
        public=True,
        hours_ago=3,
        address="滨河路东段在建工地",
        contact_name="何先生",
        contact_phone="13800000101",
    ),
    DemoGrievance(
        "demo-02",
        "饭店后厨卫生差，担心食品安全",
        "建设路一家小饭店后厨脏乱，餐具不消毒，昨晚几位顾客用餐后出现腹泻，担心食品安全问题，希望尽快检查。",
        hours_ago=26,
        channel=Channel.APP,
        address="建设路中段",
        contact_name="罗女士",
        contact_phone="13800000102",
        steps=(("accept", "staff_sjj"), ("progress", "staff_sjj")),
    ),
    DemoGrievance(
        "demo-03",
        "背街小巷垃圾堆积无人清运",
        "北辰街道新民巷的垃圾已堆放多日无人清运，环境卫生很差，天热后气味难闻，蚊蝇很多。",
        public=True,
        hours_ago=50,
        address="新民巷12号附近",
        contact_name="唐先生",
        contact_phone="13800000103",
        steps=(
            ("accept", "staff_zhzf"),
            ("resolve", "staff_zhzf", "已安排环卫作业队清运堆积垃圾，并将新民巷纳入每日清扫路线。"),
            ("feedback", 5, "第二天就清理干净了，很满意。"),
        ),
    ),
    DemoGrievance(
        "demo-04",
        "菜市场商户缺斤短两、物价虚高",
        "北辰农贸市场部分商户称重缺斤短两，个别蔬菜价格明显高于周边市场，也没有明码标价，请求物价监督。",
        hours_ago=30,
        channel=Channel.WEB,
        address="北辰农贸市场",
        contact_name="邓女士",
        contact_phone="13800000104",
        steps=(
            ("accept", "staff_sjj"),
            ("resolve", "staff_sjj", "已对市场商户的电子秤进行抽检，责令两户整改并落实明码标价。"),
        ),
    ),
    DemoGrievance(
        "demo-05",
        "小区物业服务差，电梯长期故障",
        "金安小区物业服务不到位，电梯经常故障停运，楼道长期无人打扫，业主多次向物业反映都没有结果。",
        hours_ago=2,
        address="金安小区",
        contact_name="付先生",
        contact_phone="13800000105",
    ),
    DemoGrievance(
        "demo-06",
        "居委会换届选举候选人名单未公示",
        "新区社区居委会换届选举，候选人名单一直没有张贴公示，想咨询居委会选举的公示时间和程序。",
        hours_ago=20,
        kind=GrievanceKind.CONSULTATION,
        address="新区社区",
        contact_name="曾先生",
        contact_phone="13800000106",
        steps=(("accept", "staff_bc"),),
    ),
    DemoGrievance(
        "demo-08",
        "商铺门头违规设置大型户外广告牌",
        "建设路多家商铺在门头上方加装大型户外广告牌，遮挡住户窗户，大风天有坠落隐患，广告内容也有夸大宣传。",
        hours_ago=40,
        address="建设路88号至96号",
        contact_name="杨女士",
        contact_phone="13800000108",
    ),
    DemoGrievance(
        "demo-09",
        "共享单车乱停放堵塞人行道",
        "公交站旁人行道上共享单车乱停乱放，轮椅和婴儿车都过不去。",
        hours_ago=5,
        address="北辰公交站",
        contact_name="苏女士",
        contact_phone="13800000109",
    ),
]
# Through the demo Open311 client, as a hotline system would post it.
OPEN311_GRIEVANCE = DemoGrievance(
    "demo-07",
    "小区燃气供应中断",
    "锦华小区燃气供应已中断两天，没有任何停气通知，居民无法做饭。",
    hours_ago=4,
    channel=Channel.OPEN311,
    address="锦华小区",
    contact_phone="13800000107",
)


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def _livelihood_duty(title: str) -> Duty:
    return Duty.objects.get(duty_list__code=LIVELIHOOD_LIST, revisions__title=title)


def demo_open311_key() -> str | None:
    """The demo key, while the demo client still holds it (an administrator may have re-issued it)."""
    # The same digest grievances.services.clients stores: only the hash of a key is kept.
    digest = hashlib.sha256(DEMO_OPEN311_KEY.encode()).hexdigest()
    held = ApiClient.objects.filter(name=DEMO_OPEN311_CLIENT, key_hash=digest, is_active=True).exists()
    return DEMO_OPEN311_KEY if held else None


def _client() -> ApiClient:
    client = ApiClient.objects.filter(name=DEMO_OPEN311_CLIENT).first()
    if client is None:
        # Issued only once: re-issuing would overwrite a key an administrator has since rotated.
        client, _ = api_client_issue(actor=_user("sysadmin"), name=DEMO_OPEN311_CLIENT, key=DEMO_OPEN311_KEY)
    return client


def _receive(item: DemoGrievance, actor: Any, street: Agency, client: ApiClient | None = None) -> Grievance:
    grievance, _ = grievance_receive(
        actor=actor,
        title=item.title,
        details=item.details,
        channel=item.channel,
        kind=item.kind,
        street=street,
        address=item.address,
        contact_name=item.contact_name,
        contact_phone=item.contact_phone,
        received_at=timezone.now() - timedelta(hours=item.hours_ago),
        client=client,
        idempotency_key=item.external_id,
        external_id=item.external_id,
    )
    return grievance


def _lead_order(grievance: Grievance) -> WorkOrder:
    return grievance.orders.get(role=OrderRole.LEAD, state=OrderState.PENDING)


def _follow(grievance: Grievance, steps: tuple[tuple[Any, ...], ...], dispatcher: Any) -> None:
    for step in steps:
        grievance.refresh_from_db()
        match step:
            case ("accept", username):
                if grievance.state == GrievanceState.RECEIVED and grievance.suggestions:
                    # The router was not sure enough to go alone: the dispatcher takes its first suggestion.
                    best = grievance.suggestions[0]
                    grievance = grievance_dispatch(
                        actor=dispatcher,
                        grievance=grievance,
                        agency=Agency.objects.get(pk=best["agency_id"]),
                        duty=Duty.objects.get(pk=best["duty_id"]),
                        note="按系统建议派单",
                    )
                order_accept(actor=_user(username), order=_lead_order(grievance), note="已接单")
            case ("progress", username):
                grievance_progress(actor=_user(username), grievance=grievance, note="已派员现场核查")
            case ("resolve", username, text):
                grievance_resolve(actor=_user(username), grievance=grievance, resolution=text)
            case ("feedback", rating, comment):
                grievance_feedback(actor=dispatcher, grievance=grievance, rating=rating, comment=comment)
            case _:
                raise ValueError(f"unknown demo step {step!r}")


def _bounce(grievance: Grievance, dispatcher: Any) -> None:
    """Two agencies each say "not ours", citing a duty that names the other: the second return makes the
    grievance a pushback dispute (ZHIZE_BOUNCE_RETURNS = 2)."""
    advertising, enforcement = _livelihood_duty("广告监管"), _livelihood_duty("城管执法")
    sjj, zhzf = Agency.objects.get(code="511602-sjj"), Agency.objects.get(code="511602-zhzf")
    grievance = grievance_dispatch(
        actor=dispatcher, grievance=grievance, agency=sjj, duty=advertising, note="涉及广告内容，派市场监管"
    )
    order_return(
        actor=_user("staff_sjj"),
        order=_lead_order(grievance),
        reason="广告牌的设置和安全属户外设施管理，应由综合执法部门处理；本局只管广告内容。",
        cited_duty=enforcement,
    )
    grievance.refresh_from_db()
    grievance = grievance_dispatch(
        actor=dispatcher,
        grievance=grievance,
        agency=zhzf,
        duty=enforcement,
        note="市场监管局退回，改派执法局",
    )
    order_return(
        actor=_user("staff_zhzf"),
        order=_lead_order(grievance),
        reason="群众主要反映广告夸大宣传，属广告监管，应由市场监管部门查处。",
        cited_duty=advertising,
    )


def _whistle(street: Agency) -> None:
    zhzf, sjj = Agency.objects.get(code="511602-zhzf"), Agency.objects.get(code="511602-sjj")
    whistle = whistle_blow(
        actor=_user("staff_bc"),
        street=street,
        title="新民巷临街商铺违规搭棚占道经营联合整治",
        description="新民巷十余家临街商铺搭建雨棚、占用人行道经营，部分无证照，街道多次劝导无效，请部门到场联合执法。",
        address="新民巷",
        agencies=[zhzf, sjj],
    )
    summons_report(
        actor=_user("staff_zhzf"),
        summons=whistle.summonses.get(agency=zhzf),
        note="执法中队两名队员已到场。",
    )


def _handovers(street: Agency) -> None:
    zhzf, sjj = Agency.objects.get(code="511602-zhzf"), Agency.objects.get(code="511602-sjj")
    now = timezone.now()
    taken_over = handover_report(
        actor=_user("staff_bc"),
        direction="up",
        from_agency=street,
        to_agency=sjj,
        matter="网格员巡查发现北辰街道农贸市场内一家超市货架上有过期奶制品，已拍照留存，请市场监管部门查处。",
    )
    handover_complete(actor=_user("staff_sjj"), handover=taken_over, note="已安排执法人员今日到场检查。")
    handover_report(
        actor=_user("staff_bc"),
        direction="up",
        from_agency=street,
        to_agency=zhzf,
        matter="北辰街道滨河路夜间有渣土车沿途抛洒，路面污染严重，需综合执法部门查处。",
        # Found on the working day before: reported late, whatever day the demo is loaded on.
        found_at=add_working_days(now, -1),
    )
    handover_report(
        actor=_user("staff_zhzf"),
        direction="down",
        from_agency=zhzf,
        to_agency=street,
        matter="新民巷3号院楼道长期堆放杂物，属小区环境整治事项，请街道督促物业清理。",
    )


def load_grievance_demo() -> str | None:
    """Create the demo grievances, whistle and Open311 client once; return the demo Open311 key (None when
    the client no longer holds it). Needs the demo people and the demo livelihood list."""
    if not Duty.objects.filter(duty_list__code=LIVELIHOOD_LIST).exists():
        return demo_open311_key()  # loaded without the registry: nothing to route by
    with transaction.atomic():
        client = _client()
        if not Grievance.objects.filter(external_id__startswith=MARKER).exists():
            _load(client)
    from grievances.services.summary import summary_refresh

    summary_refresh()  # the dashboard's figures at once, not at beat's first refresh five minutes later
    return demo_open311_key()


def _load(client: ApiClient) -> None:
    routing.forget()  # the list was just published in this process: route by it, not by a stale index
    dispatcher = _user("dispatcher")
    street = Agency.objects.get(code=STREET)
    for item in GRIEVANCES:
        grievance = _receive(item, dispatcher, street)
        if item.external_id == "demo-08":
            _bounce(grievance, dispatcher)
        else:
            _follow(grievance, item.steps, dispatcher)
        if item.public:
            grievance_publish(actor=dispatcher, grievance=grievance)
    _receive(OPEN311_GRIEVANCE, SYSTEM, street, client=client)
    _whistle(street)
    _handovers(street)
    _ratings()


# 双向考评: (rater, its demo person, rated, scores by criterion in the office's order, comment). The
# departments' marks follow the demo story: 区市监局 took the expired-milk handover over the same day,
# 区综合执法局 was slow to report to the whistle and let the muck trucks go on.
DEMO_RATINGS = [
    ("511602-bc", "staff_bc", "511602-sjj", (92, 90, 88), "过期食品移交当天即到场检查，配合积极。"),
    ("511602-bc", "staff_bc", "511602-zhzf", (66, 70, 64), "吹哨后报到偏慢，滨河路渣土抛洒问题反复出现。"),
    ("511602-bc", "staff_bc", "511602-sthj", (84, 82, 80), ""),
    ("511602-zhzf", "staff_zhzf", "511602-bc", (86, 78, 90), "属地先行处置及时，上报材料偶有缺项。"),
    ("511602-zhzf", "staff_zhzf", "511602-gf", (75, 72, 80), ""),
    ("511602-sjj", "staff_sjj", "511602-bc", (90, 88, 85), "网格巡查发现问题及时，照片证据齐全。"),
    ("511602-sjj", "staff_sjj", "511602-ws", (70, 76, 74), "专项检查配合一般。"),
]
RATING_HISTORY_MONTHS = 3


def _by_criterion(criteria: list[RatingCriterion], scores: tuple[int, ...]) -> dict[int, int]:
    """The demo's scores in the office's order; a criterion the office added since scores 80."""
    return {c.pk: scores[i] if i < len(scores) else 80 for i, c in enumerate(criteria)}


def _past_rating(
    month: date, rater: Agency, rated: Agency, person: Any, scores: tuple[int, ...], text: str
) -> MutualRating:
    """A past month's rating as the service would have left it (the service accepts only the open months,
    and the history goes back further)."""
    direction = rating_selectors.direction_between(rater, rated)
    if direction is None:
        raise ValueError(f"{rater.code} does not rate {rated.code}")
    criteria = list(RatingCriterion.objects.filter(direction=direction, is_active=True).order_by("position"))
    by_criterion = _by_criterion(criteria, scores)
    at = datetime.combine(rating_selectors.next_month(month).replace(day=5), time(10), tzinfo=SHANGHAI)
    rating = MutualRating.objects.create(
        month=month,
        direction=direction,
        rater=rater,
        rated=rated,
        rated_by=person,
        score=weighted_mean(by_criterion, {c.pk: c.weight for c in criteria}),
        comment=text,
        submitted_at=at,
        updated_at=at,
    )
    MutualRatingScore.objects.bulk_create(
        MutualRatingScore(rating=rating, criterion_id=c, score=s) for c, s in by_criterion.items()
    )
    return rating


def _ratings() -> None:
    if any(not rating_selectors.criteria(d) for d in RatingDirection.values):
        return  # no criteria (a test database flushed after migrating): nothing to rate on
    agencies = {
        a.code: a
        for a in Agency.objects.filter(code__in={r[0] for r in DEMO_RATINGS} | {r[2] for r in DEMO_RATINGS})
    }
    this_month = rating_selectors.today().replace(day=1)
    month = this_month
    for back in range(1, RATING_HISTORY_MONTHS + 1):
        month = rating_selectors.previous_month(month)
        for rater, username, rated, scores, text in DEMO_RATINGS:
            # A little drift from month to month, so the ranking's months differ.
            drifted = tuple(max(0, min(100, s - 3 * back + (back % 2) * 4)) for s in scores)
            rating = _past_rating(month, agencies[rater], agencies[rated], _user(username), drifted, text)
            if back == 2 and rated == "511602-zhzf":
                # Upheld on appeal: the department showed the whistle's report times; the rating no longer
                # counts.
                at = rating.submitted_at + timedelta(days=3)
                RatingAppeal.objects.create(
                    rating=rating,
                    filed_by=_user("staff_zhzf"),
                    reason="当月两次吹哨均在30分钟内报到，报到记录可查。",
                    filed_at=at,
                    state=AppealState.UPHELD,
                    decided_by=_user("officer"),
                    decided_at=at + timedelta(days=2),
                    decision="核对吹哨报到记录属实，该评价不计分。",
                )
                rating.voided = True
                rating.save(update_fields=["voided"])
    for rater, username, rated, scores, text in DEMO_RATINGS[:4]:
        criteria = rating_selectors.criteria(
            rating_selectors.direction_between(agencies[rater], agencies[rated]) or ""
        )
        rating = rating_submit(
            actor=_user(username),
            rater=agencies[rater],
            rated=agencies[rated],
            month=this_month,
            scores=_by_criterion(criteria, scores),
            comment=text,
        )
        if rated == "511602-zhzf":
            rating_appeal_file(
                actor=_user("staff_zhzf"),
                rating=rating,
                reason="本月街道吹哨两次，执法中队均按时到场，渣土车问题已移交交通部门联合治理。",
            )


def first_dispatch_kpi() -> str:
    """The loop's headline figure, printed by ``load_demo``: of the grievances an agency has accepted or
    returned after their first dispatch, how many the first agency accepted."""
    from grievances.selectors import grievance_stats

    (overall,) = grievance_stats()
    decided = overall.counts.get("first_decided", 0)
    if not decided or overall.first_dispatch_success_rate is None:
        return "First-dispatch success: no grievance decided yet"
    accepted = round(overall.first_dispatch_success_rate * decided)
    return (
        f"First-dispatch success: {accepted} of {decided} "
        f"({overall.first_dispatch_success_rate:.0%}) accepted by the first agency asked"
    )


# --- Citizens' messages of shared/data, for a realistic queue ---------------------------------------------

MESSAGES_FILE = Path("tipdm2020") / "messages_unlabelled.csv"


def shared_data_dir() -> Path:
    return Path(os.environ.get("ZHIZE_SHARED_DATA") or settings.BASE_DIR.parent / "shared" / "data")


def load_demo_messages(count: int, *, path: Path | None = None) -> int | None:
    """Receive the first ``count`` citizens' messages of the tipdm2020 set as hotline grievances, read from
    shared/data at run time (never copied into the project). Routed like any other: some are dispatched at
    once, the rest wait in the dispatchers' queue. Returns how many were new; None if the file is missing.
    Running it again creates nothing new (each message's number is its idempotency key)."""
    source = path or shared_data_dir() / MESSAGES_FILE
    if not source.is_file():
        return None
    dispatcher = _user("dispatcher")
    street = Agency.objects.get(code=STREET)
    created = 0
    with source.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            if number >= count:
                break
            title, details = (row.get("留言主题") or "").strip(), (row.get("留言详情") or "").strip()
            if not title:
                continue
            external_id = f"tipdm-{row.get('留言编号', number)}"
            _, new = grievance_receive(
                actor=dispatcher,
                title=title,
                details=details,
                channel=Channel.WEB,
                street=street,
                idempotency_key=external_id,
                external_id=external_id,
            )
            created += new
    return created
