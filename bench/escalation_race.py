"""Phase 4 of ``bench/escalation.py``: four workers racing over the same due disputes and reminders, with
``kill -9`` of one worker and then of Redis itself in the middle of their sweeps.

The workers and this process talk to a Redis server of the run's own (``redis-server`` on a free port,
no persistence, as a cache-only Redis would be): killing it loses every queued and unacknowledged message
and every kombu binding, which is the worst a broker can do. PostgreSQL holds what matters; the bench
checks that nothing the sweep owes is lost or done twice:

- each due dispute escalated exactly once, whole (stage, stage row, event, audit entry agree), with its
  messages to every party's staff and the editorial office;
- each due reminder claimed once and delivered, with its messages;
- the e-mails whose tasks died with Redis are found again by ``notification_emails_requeue`` and none is
  left unclaimed.

Beat is played by this process: four sweeps at once (as if four beats, or four minutes' worth, had piled
up), then four more each time the queue is empty, until nothing is due.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import verdict
from bench.escalation_base import VAR_DIR, Children, wait_for
from bench.escalation_phases import KillResult, count_outcome

WORKERS = 4
# Open disputes (far from due) whose id % 10 is: made due here, or their reminders. The other phases use
# 0 (due at the start), 3 (reminders) and 5 (the kill test).
RACE_REMAINDER = 7
RACE_REMINDER_REMAINDER = 9
REDIS_DOWN_SECONDS = 3.0


class PrivateRedis:
    """A ``redis-server`` of the run's own, which the bench may kill."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed: the race test starts a Redis of its own")
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "redis.log").open("ab") as out:
            self.process = subprocess.Popen(
                [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis.from_url(self.url)

        def answers() -> bool:
            with suppress(redis.exceptions.ConnectionError):
                return bool(client.ping())
            return False

        if not wait_for(answers, 10, every=0.1):
            raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.process is not None:
            with suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RaceResult:
    workers: int = WORKERS
    due: int = 0
    reminders_due: int = 0
    sweeps_sent: int = 0
    worker_killed_at: int = 0  # escalations committed when the worker was killed
    redis_killed_at: int = 0
    redis_down_seconds: float = 0.0
    outcome: KillResult = field(default_factory=KillResult)
    escalations_without_messages: int = 0
    reminded: int = 0
    reminders_without_messages: int = 0
    emails_unqueued: int = 0  # messages whose e-mail task died with Redis, or was never queued
    emails_requeued: int = 0
    requeue_sweeps: int = 0
    emails_left: int = 0
    bound_reached: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def race_test(env: dict[str, str], queue: str, *, due: int, reminders: int, limit: float) -> RaceResult:
    from django.db.models import F
    from django.utils import timezone

    from arbitration.models import Dispute, DisputeStage, DisputeState, Notification, Stage
    from arbitration.services.notifications import notification_emails_requeue, notification_send_emails
    from arbitration.tasks import sweep_disputes
    from config.celery_app import app

    result = RaceResult(workers=WORKERS)
    started = time.monotonic()

    def open_with(remainder: int) -> list[int]:
        return list(
            Dispute.objects.filter(
                state=DisputeState.OPEN, stage=Stage.NEGOTIATION, deadline_at__gt=timezone.now()
            )
            .annotate(remainder=F("id") % 10)
            .filter(remainder=remainder)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    ids = open_with(RACE_REMAINDER)[:due]
    reminder_ids = open_with(RACE_REMINDER_REMAINDER)[:reminders]
    now = timezone.now()
    # The earlier phases' messages, whose e-mail tasks were dropped with their queue: set aside, so that what
    # is counted below is this test's.
    Notification.objects.filter(emailed_at__isnull=True).update(emailed_at=now)
    Dispute.objects.filter(pk__in=ids).update(
        deadline_at=now - timedelta(minutes=5), reminded_stage=Stage.NEGOTIATION
    )
    Dispute.objects.filter(pk__in=reminder_ids).update(
        remind_at=now - timedelta(minutes=5), reminded_stage=""
    )
    result.due, result.reminders_due = len(ids), len(reminder_ids)

    redis_server = PrivateRedis(VAR_DIR / "race-redis")
    redis_server.start()
    children = Children({**env, "REDIS_URL": redis_server.url}, queue)

    def escalated() -> int:
        return DisputeStage.objects.filter(dispute_id__in=ids, stage=Stage.EDITORIAL_OFFICE).count()

    def start_worker(name: str) -> None:
        children.start(
            name, "worker", "-l", "info", "--concurrency", "1", "-n", f"{name}-{queue}@%h", "--without-gossip"
        )

    def send(sweeps: int) -> None:
        # As beat would, through the run's Redis; a publish while it is down fails, as beat's would.
        try:
            with app.connection_for_write(redis_server.url) as connection:
                for _ in range(sweeps):
                    sweep_disputes.apply_async(connection=connection, queue=queue, retry=False)  # type: ignore[call-arg]
                    result.sweeps_sent += 1
        except Exception as exc:  # a broker down is this test's point: recorded
            result.errors.append(f"publish: {type(exc).__name__}")

    def queued() -> int:
        with suppress(Exception):
            return int(redis_server.client().llen(queue))
        return -1

    try:
        names = [f"race-{n}" for n in range(1, WORKERS + 1)]
        for name in names:
            start_worker(name)
        wait_for(lambda: all("ready" in children.log(n) for n in names), 60, children=children)
        send(WORKERS)
        print(f"  {WORKERS} workers, {WORKERS} sweeps at once over {len(ids):,} due, {len(reminder_ids):,} "
              "reminders", flush=True)  # fmt: skip
        wait_for(lambda: escalated() >= len(ids) // 5, 60, every=0.1, children=children)
        children.kill(names[0])
        result.worker_killed_at = escalated()
        print(f"  killed {names[0]} at {result.worker_killed_at:,} escalated", flush=True)
        wait_for(lambda: escalated() >= result.worker_killed_at + len(ids) // 5, 60, every=0.1)
        redis_server.kill()
        down = time.monotonic()
        result.redis_killed_at = escalated()
        print(f"  killed Redis at {result.redis_killed_at:,} escalated", flush=True)
        time.sleep(REDIS_DOWN_SECONDS)
        redis_server.start()
        result.redis_down_seconds = time.monotonic() - down
        start_worker(f"{names[0]}-again")
        stop_at = started + limit

        def settled() -> bool:
            return (
                escalated() >= len(ids)
                and not Dispute.objects.filter(pk__in=reminder_ids)
                .exclude(reminded_stage=F("stage"))
                .exists()
            )

        while not settled() and time.monotonic() < stop_at:
            if queued() == 0:
                send(WORKERS)
            time.sleep(1.0)
        result.bound_reached = not settled()
        # Let the workers drain the e-mail tasks the last sweeps queued, then stop them.
        wait_for(lambda: queued() == 0, 60, every=0.5)
    finally:
        children.stop_all()
        redis_server.kill()
    print(
        f"  settled: {escalated():,} of {len(ids):,} escalated; {result.sweeps_sent} sweeps sent", flush=True
    )
    count_outcome(result.outcome, ids)
    everyone = 4  # two parties' staff and two editorial officers (bench/escalation.py's people)
    escalation_messages = Notification.objects.filter(
        key__in=[f"dispute:{pk}:stage:{Stage.EDITORIAL_OFFICE}" for pk in ids]
    )
    per_key: dict[str, int] = {}
    for key in escalation_messages.values_list("key", flat=True):
        per_key[key] = per_key.get(key, 0) + 1
    result.escalations_without_messages = sum(
        1 for pk in ids if per_key.get(f"dispute:{pk}:stage:{Stage.EDITORIAL_OFFICE}", 0) < everyone
    )
    reminded = set(
        Dispute.objects.filter(pk__in=reminder_ids, reminded_stage=Stage.NEGOTIATION).values_list(
            "pk", flat=True
        )
    )
    result.reminded = len(reminded)
    remind_keys: dict[str, int] = {}
    for key in Notification.objects.filter(
        key__in=[f"dispute:{pk}:remind:{Stage.NEGOTIATION}" for pk in reminder_ids]
    ).values_list("key", flat=True):
        remind_keys[key] = remind_keys.get(key, 0) + 1
    result.reminders_without_messages = sum(
        1 for pk in reminder_ids if remind_keys.get(f"dispute:{pk}:remind:{Stage.NEGOTIATION}", 0) < 2
    )
    # The e-mails whose tasks went with Redis: what the sweep queues again once they have waited 10 minutes.
    unsent = Notification.objects.filter(emailed_at__isnull=True)
    result.emails_unqueued = unsent.count()
    later = timezone.now() + timedelta(minutes=10)
    from unittest import mock

    for _ in range(20):  # as successive sweeps would, each queueing what it finds
        with mock.patch("arbitration.tasks.notification_emails.delay") as delay:
            requeued = notification_emails_requeue(later)
        for call in delay.call_args_list:  # what the worker does with each queued task
            notification_send_emails(call.args[0])
        result.emails_requeued += requeued
        result.requeue_sweeps += 1
        if not requeued:
            break
    result.emails_left = unsent.count()
    result.seconds = time.monotonic() - started
    return result


def race_rows(r: RaceResult) -> list[tuple[str, str, str, str]]:
    o = r.outcome
    what = f"{r.workers} workers racing, kill -9 of a worker and of Redis"
    return [
        (f"{what}: lost escalations", "0", f"{o.lost:,} of {r.due:,}",
         verdict(o.lost == 0 and not r.bound_reached)),
        (f"{what}: doubled escalations", "0", f"{o.doubled_events} (events), {o.doubled_audit} (audit)",
         verdict(o.doubled_events == 0 and o.doubled_audit == 0)),
        (f"{what}: half-done escalations", "0", f"{o.half_done}", verdict(o.half_done == 0)),
        (f"{what}: escalations without their messages", "0", f"{r.escalations_without_messages:,}",
         verdict(r.escalations_without_messages == 0)),
        (f"{what}: reminders lost (not claimed, or claimed without messages)", "0",
         f"{r.reminders_due - r.reminded + r.reminders_without_messages:,} of {r.reminders_due:,}",
         verdict(r.reminded == r.reminders_due and r.reminders_without_messages == 0)),
        (f"{what}: e-mails left unclaimed after the sweep's requeue", "0",
         f"{r.emails_left:,} ({r.emails_unqueued:,} waiting before it, {r.emails_requeued:,} requeued "
         f"by {r.requeue_sweeps} sweeps)",
         verdict(r.emails_left == 0)),
    ]  # fmt: skip


def race_method(r: RaceResult) -> str:
    errors = sorted(set(r.errors))
    return (
        f"- **{r.workers} workers racing**: {r.due:,} more disputes made due and {r.reminders_due:,} "
        f"reminders made due; {r.workers} `celery worker`s (one process each) on a Redis of the run's own "
        "(`redis-server` on a free port, no persistence). This process played beat: "
        f"{r.workers} sweeps at once, then {r.workers} more whenever the queue was empty, "
        f"{r.sweeps_sent} in all. `SIGKILL` to one worker's process group at {r.worker_killed_at:,} "
        f"escalations (it was replaced), then `SIGKILL` to Redis at {r.redis_killed_at:,}: down "
        f"{r.redis_down_seconds:.1f} s and back empty, every queued and unacknowledged message and every "
        "binding gone; the workers reconnected by themselves. "
        + (f"Publishes refused while Redis was down: {', '.join(errors)}. " if errors else "")
        + f"Messages counted per key (4 per escalation, 2 per reminder); e-mails left waiting "
        f"({r.emails_unqueued:,}) were found by `notification_emails_requeue` as the sweep runs it ten "
        f"minutes later and claimed as the e-mail task claims them. {r.seconds:.0f} s in all."
    )
