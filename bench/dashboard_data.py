"""The dashboard benchmark's data: 1,000,000 grievances over two years with their lead work orders and
ratings, and 5,000 disputes with parties, stages, rulings and follow-ups, written with PostgreSQL's COPY.

Bench fixtures, not product writes: receiving a million grievances through ``grievance_receive`` would take
hours and measure nothing the dashboard is about. What the figures read only needs the rows to have the
shapes the services give them — counters, first-dispatch outcome, the lead orders with their accept-by
times, one rating per round — and the table constraints (state, handling agency, one active lead order,
a return citing the list) hold for every row. History rows (events, audit) are left out: nothing here
reads them. Reproducible from ``seed``.
"""

from __future__ import annotations

import bisect
import io
import json
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

AGENCIES = 40
# The 15 top-level topics of the TipDM message board (shared/data/tipdm2020), most frequent first.
CATEGORIES = (
    "城乡建设", "环境保护", "交通运输", "劳动和社会保障", "商贸旅游", "教育文体", "卫生计生", "政法",
    "民政", "经济管理", "国土资源", "农村农业", "科技与信息产业", "党务政务", "纪检监察",
)  # fmt: skip
DAYS = 730
CHUNK = 50_000
RATING_CDF = [0.04, 0.08, 0.18, 0.45]  # P(rating ≤ 1, 2, 3, 4); 5 otherwise (a rating ≤ 2 is unsatisfied)


@dataclass
class Built:
    grievances: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    analyze_seconds: float = 0.0
    agencies: list[int] = field(default_factory=list)


def _text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _defaults(model: Any) -> tuple[list[str], dict[str, Any]]:
    """The model's columns, and what a row gets where the generator says nothing: NULL, the field's
    default, or an empty text."""
    columns: list[str] = []
    defaults: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        columns.append(f.column)
        if f.null:
            defaults[f.column] = None
        elif f.has_default():
            defaults[f.column] = f.get_default()
        elif f.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
            defaults[f.column] = ""
    return columns, defaults


def copy(cursor: Any, model: Any, rows: Iterable[dict[str, Any]]) -> int:
    """COPY ``rows`` (column → value) into the model's table, CHUNK rows per statement."""
    columns, defaults = _defaults(model)
    table = model._meta.db_table
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    count, buffer = 0, io.StringIO()
    for row in rows:
        values = {**defaults, **row}
        buffer.write("\t".join(_text(values[c]) for c in columns) + "\n")
        count += 1
        if count % CHUNK == 0:
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
            buffer = io.StringIO()
    buffer.seek(0)
    cursor.copy_expert(statement, buffer)
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
    return count


# --- People and agencies -----------------------------------------------------------------------------------


def people_ensure() -> tuple[list[int], dict[str, Any]]:
    """40 agencies under one district, an editorial officer, a leader and one staff member of the agency
    most asked; through the product's services (there are few)."""
    from django.contrib.auth import get_user_model

    from core.actors import SYSTEM
    from duty_lists.models import AgencyKind, AgencyLevel, Role
    from duty_lists.services.agencies import agency_create, membership_grant

    root = agency_create(
        actor=SYSTEM, code="bd", name="基准区", level=AgencyLevel.DISTRICT, kind=AgencyKind.GOVERNMENT
    )
    agencies = [
        agency_create(
            actor=SYSTEM,
            code=f"bd-{i:02d}",
            name=f"基准区第{i}局",
            level=AgencyLevel.DISTRICT,
            kind=AgencyKind.GOVERNMENT,
            parent=root,
        )
        for i in range(1, AGENCIES + 1)
    ]
    users = get_user_model().objects
    people = {}
    for username, agency, role in (
        ("bench-officer", root, Role.EDITORIAL_OFFICER),
        ("bench-leader", root, Role.LEADER),
        ("bench-staff", agencies[0], Role.AGENCY_STAFF),
    ):
        people[username] = users.create_user(username=username, email="")
        membership_grant(actor=SYSTEM, user=people[username], agency=agency, role=role)
    return [a.pk for a in agencies], people


# --- Grievances --------------------------------------------------------------------------------------------


class Loop:
    """One grievance's life, drawn at random with the field's proportions: ~2 % wait for a dispatcher,
    1 % cancelled, ~88 % accepted by the first agency asked, the rest returned once and accepted by the next;
    ~93 % of the accepted resolved, ~88 % of those on time; 60 % rated, a third of the unhappy redone."""

    def __init__(self, seed: int, agencies: list[int], now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.agencies = agencies
        weights = [1 / (rank + 1) ** 0.8 for rank in range(len(CATEGORIES))]  # Zipf-like
        total = sum(weights)
        self.category_cdf = list(_cumulative([w / total for w in weights]))
        self.candidates = [self.rng.sample(agencies, 3) for _ in CATEGORIES]
        self.order_id = 0
        self.feedback_id = 0
        self.orders: list[dict[str, Any]] = []
        self.feedback: list[dict[str, Any]] = []

    def _agency(self, category: int) -> int:
        r = self.rng.random()
        if r < 0.03:
            return self.rng.choice(self.agencies)  # misrouted: any agency
        first, second, third = self.candidates[category]
        return first if r < 0.82 else second if r < 0.96 else third

    def _order(self, gid: int, agency: int, round_: int, at: datetime, **fields: Any) -> None:
        self.order_id += 1
        self.orders.append(
            {
                "id": self.order_id,
                "grievance_id": gid,
                "agency_id": agency,
                "role": "lead",
                "round": round_,
                "dispatched_at": at,
                "accept_by": at + timedelta(hours=24),
                "deadline_at": at + timedelta(days=7),
                **fields,
            }
        )

    def _rate(self, gid: int, round_: int, at: datetime) -> int:
        rating = 1 + bisect.bisect(RATING_CDF, self.rng.random())
        self.feedback_id += 1
        self.feedback.append(
            {
                "id": self.feedback_id,
                "grievance_id": gid,
                "round": round_,
                "rating": rating,
                "satisfied": rating > 2,
                "via": "dispatcher",
                "at": at,
            }
        )
        return rating

    def grievance(self, gid: int, received: datetime) -> dict[str, Any]:
        rng, now = self.rng, self.now
        category = bisect.bisect(self.category_cdf, rng.random())
        row: dict[str, Any] = {
            "id": gid,
            "reference": f"B{gid:09d}",
            "token": f"bench-{gid}",
            "channel": "hotline",
            "received_at": received,
            "title": f"{CATEGORIES[category]}问题反映",
            "category": CATEGORIES[category],
            "deadline_at": received + timedelta(days=7),
            "created_at": received,
            "updated_at": received,
            "state": "received",
        }
        r = rng.random()
        if r < 0.01:
            return {**row, "state": "cancelled", "closed_at": received + timedelta(hours=1)}
        dispatched = received + timedelta(minutes=10)
        if r < 0.03 or dispatched > now:
            return row
        first = self._agency(category)
        row.update(
            first_agency_id=first,
            handling_agency_id=first,
            dispatched_at=dispatched,
            accept_by=dispatched + timedelta(hours=24),
            dispatch_count=1,
            state="dispatched",
            updated_at=dispatched,
        )
        delay = timedelta(hours=rng.uniform(0.5, 20) if rng.random() < 0.92 else rng.uniform(25, 40))
        accepted = dispatched + delay
        if rng.random() < 0.10:  # not ours: returned once, then accepted by the next on the list
            returned = dispatched + timedelta(hours=rng.uniform(1, 20))
            if returned > now:
                self._order(gid, first, 1, dispatched, state="pending")
                return row
            self._order(
                gid,
                first,
                1,
                dispatched,
                state="returned",
                returned_at=returned,
                return_reason="不属本单位职责",
                declared_unlisted=True,
            )
            second = next(a for a in (*self.candidates[category], *self.agencies) if a != first)
            dispatched, accepted = returned + timedelta(minutes=5), returned + timedelta(minutes=5) + delay
            row.update(
                first_dispatch_accepted=False,
                return_count=1,
                dispatch_count=2,
                handling_agency_id=second,
                dispatched_at=dispatched,
                accept_by=dispatched + timedelta(hours=24),
            )
            first = second
        if accepted > now:
            self._order(gid, first, row["dispatch_count"], dispatched, state="pending")
            return row
        self._order(gid, first, row["dispatch_count"], dispatched, state="accepted", accepted_at=accepted)
        row.setdefault("first_dispatch_accepted", True)
        row.update(state="accepted", accepted_at=accepted, updated_at=accepted)
        days = rng.uniform(0.5, 6.5) if rng.random() < 0.88 else rng.uniform(7.5, 12)
        resolved = accepted + timedelta(days=days)
        if rng.random() > 0.93 or resolved > now:
            return row
        row.update(state="resolved", resolved_at=resolved, resolution="已办理", updated_at=resolved)
        rated = resolved + timedelta(hours=rng.uniform(2, 48))
        if rng.random() > 0.6 or rated > now:
            return row
        rating = self._rate(gid, 1, rated)
        if rating <= 2 and rng.random() < 0.35:  # redone: reopened, resolved again, rated again or not
            again = rated + timedelta(days=rng.uniform(1, 5))
            row.update(
                reopen_count=1,
                rating=rating,
                updated_at=rated,
                state="reopened",
                handling_agency_id=None,
                resolved_at=None,
            )
            self.feedback[-1]["reopened"] = True
            if again <= now:
                row.update(state="resolved", handling_agency_id=first, resolved_at=again, updated_at=again)
            return row
        return {**row, "rating": rating, "state": "closed", "closed_at": rated, "updated_at": rated}


def _cumulative(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for w in weights[:-1]:
        total += w
        yield total


def build_grievances(
    cursor: Any, agencies: list[int], count: int, seed: int, now: datetime
) -> dict[str, int]:
    from grievances.models import Feedback, Grievance, WorkOrder

    loop = Loop(seed, agencies, now)
    start = now - timedelta(days=DAYS)
    offsets = sorted(loop.rng.random() for _ in range(count))
    moments = (start + timedelta(seconds=o * DAYS * 86400) for o in offsets)
    written = copy(cursor, Grievance, (loop.grievance(i, at) for i, at in enumerate(moments, start=1)))
    return {
        "grievances": written,
        "lead work orders": copy(cursor, WorkOrder, loop.orders),
        "ratings": copy(cursor, Feedback, loop.feedback),
    }


# --- Disputes ----------------------------------------------------------------------------------------------


def build_disputes(cursor: Any, agencies: list[int], count: int, seed: int, now: datetime) -> dict[str, int]:
    """Disputes over two years: most closed (agreed in negotiation, ruled by the office, a few decided by
    leadership), the newest open at every stage, some of those past their deadline."""
    from arbitration.models import Dispute, DisputeParty, DisputeStage, Domain, FollowUp, Ruling

    rng = random.Random(seed + 1)
    domain = Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})[0]
    kinds = ("overlap", "gap", "vague", "pushback", "delegation")
    disputes: list[dict[str, Any]] = []
    parties: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    rulings: list[dict[str, Any]] = []
    follow_ups: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        created = now - timedelta(days=DAYS * (1 - i / count) + rng.uniform(0, 1))
        filer, respondent = rng.sample(agencies, 2)
        recent = created > now - timedelta(days=60)
        level = rng.choices((0, 1, 2), weights=(55, 38, 7))[0]
        state = "open" if recent and rng.random() < 0.6 else "closed"
        stage = ("negotiation", "editorial_office", "leadership")[level]
        entered = created + timedelta(days=5 * level)
        deadline = entered + timedelta(days=rng.choice((3, 5, 10)))
        row = {
            "id": i,
            "title": f"职责争议第{i}号",
            "description": "两部门均称不属本部门职责。",
            "kind": rng.choice(kinds),
            "domain_id": domain.pk,
            "filing_agency_id": filer,
            "stage": stage,
            "state": state,
            "stage_started_at": entered,
            "created_at": created,
            "deadline_at": deadline if state == "open" else None,
            "overdue": state == "open" and level == 2 and deadline < now,
        }
        for n in range(level + 1):
            stages.append(
                {
                    "dispute_id": i,
                    "stage": ("negotiation", "editorial_office", "leadership")[n],
                    "entered_at": created + timedelta(days=5 * n),
                    "by_sweep": n > 0 and rng.random() < 0.5,
                    "deadline_at": created + timedelta(days=5 * n + 5),
                }
            )
        parties += [
            {"dispute_id": i, "agency_id": filer, "role": "filer"},
            {"dispute_id": i, "agency_id": respondent, "role": "respondent"},
        ]
        if state == "closed":
            issued = entered + timedelta(days=rng.uniform(0.2, 20))
            outcome = ("agreed", "ruled", "decided")[level]
            row.update(outcome=outcome, closed_at=issued)
            rulings.append(
                {
                    "id": len(rulings) + 1,
                    "dispute_id": i,
                    "lead_agency_id": rng.choice((filer, respondent)),
                    "kind": ("agreement", "ruling", "decision")[level],
                    "lead_responsibility": "牵头负责",
                    "rationale": "依职责清单",
                    "effective_date": issued.date(),
                    "issued_at": issued,
                }
            )
            due = issued.date() + timedelta(days=30)
            done = due < now.date() - timedelta(days=10) or rng.random() < 0.3
            follow_ups.append(
                {
                    "ruling_id": len(rulings),
                    "agency_id": rulings[-1]["lead_agency_id"],
                    "description": "修订清单并报告落实情况",
                    "due_date": due,
                    "state": "closed" if done else "open",
                    "overdue": not done and due < now.date(),
                }
            )
        disputes.append(row)
    return {
        "disputes": copy(cursor, Dispute, disputes),
        "dispute parties": copy(cursor, DisputeParty, ({"id": n, **p} for n, p in enumerate(parties, 1))),
        "dispute stages": copy(cursor, DisputeStage, ({"id": n, **s} for n, s in enumerate(stages, 1))),
        "rulings": copy(cursor, Ruling, rulings),
        "follow-ups": copy(cursor, FollowUp, ({"id": n, **f} for n, f in enumerate(follow_ups, 1))),
    }


TABLES = (
    "grievances_grievance", "grievances_workorder", "grievances_feedback", "arbitration_dispute",
    "arbitration_disputeparty", "arbitration_disputestage", "arbitration_ruling", "arbitration_followup",
)  # fmt: skip


def build(count: int, disputes: int, seed: int, now: datetime) -> Built:
    from django.db import connection, transaction

    report = Built(grievances=count)
    started = time.monotonic()
    report.agencies, _people = people_ensure()
    with transaction.atomic(), connection.cursor() as cursor:
        # Deferred foreign-key checks of millions of rows would queue in memory until the commit; the ids
        # written are correct by construction (bench/escalation.py does the same).
        cursor.execute("SET LOCAL session_replication_role = replica")
        report.rows.update(build_grievances(cursor.cursor, report.agencies, count, seed, now))
        report.rows.update(build_disputes(cursor.cursor, report.agencies, disputes, seed, now))
    report.seconds = time.monotonic() - started
    started = time.monotonic()
    with connection.cursor() as cursor:  # what autovacuum would do after a bulk load
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    report.analyze_seconds = time.monotonic() - started
    return report
