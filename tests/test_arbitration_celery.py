"""The escalation ladder runs by itself: a real Celery beat and worker, as separate processes against Redis
and the test database, escalate a dispute whose negotiation deadline has passed — once.

The two processes are started the way production starts them (``celery worker`` / ``celery beat``), with the
sweep every 2 seconds instead of 60 so the test takes seconds. They publish to and consume from a queue of
their own, so that another checkout's test run sharing this Redis database cannot take their work (or hand
them its own).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from arbitration.models import Dispute, DisputeEvent, DisputeKind, DisputeStage, Domain, Stage
from arbitration.services.disputes import dispute_file
from core.actors import SYSTEM
from core.models import AuditEntry
from tests.factories import AgencyFactory

ROOT = Path(__file__).resolve().parent.parent
SWEEP_SECONDS = 2
ESCALATION_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

# `celery <argv>` with the app's default queue replaced: what beat publishes and what the worker consumes.
CELERY_ON_QUEUE = (
    "import sys; from config.celery_app import app; "
    "app.conf.update(task_default_queue=sys.argv[1]); sys.exit(app.start(sys.argv[2:]))"
)


def _database_url() -> str:
    """The test database this test runs in (pytest-django's ``test_…``), for the child processes."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}{port}/{quote(db['NAME'], safe='')}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the main process (a warm shutdown), then SIGKILL to whatever of its group is left."""
    with suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5.0)


@contextmanager
def _beat_and_worker(workdir: Path) -> Iterator[Callable[[], str]]:
    """Start a worker and beat; yield a function returning the tail of their logs; stop both."""
    queue = f"zhize-test-escalation-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "ZHIZE_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("ZHIZE_TEST_DATABASE", None)
    commands = {
        "worker": ["worker", "-l", "info", "--pool", "solo", "--without-mingle", "-n", f"{queue}@%h"],
        "beat": ["beat", "-l", "info", "-s", str(workdir / "celerybeat-schedule"), "--pidfile="],
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: workdir / f"{name}.log" for name in commands}

    def tails() -> str:
        return "\n".join(
            f"--- {name} ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            for name, log in logs.items()
            if log.exists()
        )

    try:
        for name, argv in commands.items():
            with logs[name].open("wb") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, "-c", CELERY_ON_QUEUE, queue, *argv],
                    cwd=ROOT,  # `python -c` imports from the working directory: config, the apps
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, stopped as a whole
                )
        yield tails
    finally:
        for process in reversed(processes.values()):  # beat first: nothing new while the worker stops
            _stop(process)
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"*{queue}*"))  # its list and kombu's binding sets
        if keys:
            client.delete(*keys)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_beat_and_worker_escalate_an_overdue_dispute_once_by_themselves(tmp_path: Path) -> None:
    # A transactional test before this one may have flushed what the data migration wrote.
    domain, _ = Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})
    filer, respondent = AgencyFactory(), AgencyFactory()
    dispute = dispute_file(
        actor=SYSTEM,
        title="背街小巷占道堆物，两部门互相推诿",
        description="城管与街道均称不属本部门职责。",
        kind=DisputeKind.GAP,
        domain=domain,
        filing_agency=filer,
        respondents=(respondent,),
    )
    # Negotiation's limit ran out a minute ago; nobody escalates by hand.
    Dispute.objects.filter(pk=dispute.pk).update(deadline_at=timezone.now() - timedelta(minutes=1))

    with _beat_and_worker(tmp_path) as logs:
        deadline = time.monotonic() + ESCALATION_TIMEOUT
        escalated = False
        while time.monotonic() < deadline:
            dispute.refresh_from_db()
            if (
                dispute.stage == Stage.EDITORIAL_OFFICE
                and DisputeStage.objects.filter(dispute=dispute, stage=Stage.EDITORIAL_OFFICE).count() == 1
            ):
                escalated = True
                break
            time.sleep(0.25)
        assert escalated, f"not escalated within {ESCALATION_TIMEOUT:.0f} s\n{logs()}"
        # Let at least one more sweep run over it: it must find nothing left to do.
        time.sleep(SWEEP_SECONDS * 1.5)

    dispute.refresh_from_db()
    assert dispute.stage == Stage.EDITORIAL_OFFICE
    entered = DisputeStage.objects.get(dispute=dispute, stage=Stage.EDITORIAL_OFFICE)
    assert entered.by_sweep
    assert dispute.deadline_at is not None and dispute.deadline_at > timezone.now()
    escalations = DisputeEvent.objects.filter(dispute=dispute, action="escalate")
    assert escalations.count() == 1
    event = escalations.get()
    assert (event.from_stage, event.to_stage, event.actor_repr) == (
        Stage.NEGOTIATION,
        Stage.EDITORIAL_OFFICE,
        "system",
    )
    audit = AuditEntry.objects.filter(
        action="arbitration.dispute.escalate", object_type="arbitration.dispute", object_id=str(dispute.pk)
    )
    assert audit.count() == 1
    assert audit.get().actor_repr == "system"
