"""The escalation benchmark's ground: its constants, the environment its processes share, and the Celery
children it starts and kills (see bench/escalation.py)."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file (python bench/escalation.py), not as a module
    sys.path.insert(0, str(ROOT))


DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/zhize_bench_escalation"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START = "<!-- bench/escalation.py writes from here -->"
DOCS_END = "<!-- bench/escalation.py writes up to here -->"
VAR_DIR = ROOT / "var" / "bench-escalation"

DISPUTES = 1_000_000
WORKER_PROCESSES = 2  # as `make run` starts the worker
# The newest tenth are open, the rest were closed long ago; open disputes with id % 10 == 0 are past their
# deadline (10,000 of 10⁶).
RESERVE_REMAINDER = 5  # open disputes with id % 10 == 5: made due for the kill and race tests
REMINDER_REMAINDER = 3  # open disputes with id % 10 == 3: their reminders made due after the one sweep
REMINDERS = 2_000
SWEEP_TARGET_SECONDS = 5.0  # issue 11: the 10,000 due among 1,000,000 escalated in ≤ 5 s
RACE_DUE = 10_000
AGENCIES = 50
SWEEP_SECONDS = 60
LAG_DISPUTES = 60
STOP_TIMEOUT = 15.0

# `celery <argv>` with the default queue replaced by the run's own: what beat publishes, what the worker
# consumes and what this process enqueues all stay within the run.
CELERY_MAIN = (
    "import sys; from config.celery_app import app; "
    "app.conf.update(task_default_queue=sys.argv[1]); sys.exit(app.start(sys.argv[2:]))"
)


# --- The environment ---------------------------------------------------------------------------------------


def environment(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_DEBUG": "false",
        "ZHIZE_VAR_DIR": str(VAR_DIR),
        "ZHIZE_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def configure(env: dict[str, str], queue: str) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from config.celery_app import app

    app.conf.update(task_default_queue=queue)  # what this process enqueues (e-mails) goes to the run's queue


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- Worker and beat as separate processes -----------------------------------------------------------------


class Children:
    """Celery processes, each leading its own process group (a prefork worker's pool goes with it)."""

    def __init__(self, env: dict[str, str], queue: str) -> None:
        self.env, self.queue = env, queue
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = VAR_DIR / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", CELERY_MAIN, self.queue, *argv],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        # As `make run` starts it: prefork, two processes.
        return self.start(
            name,
            "worker",
            "-l",
            "info",
            "--concurrency",
            str(WORKER_PROCESSES),
            "-n",
            f"{name}-{self.queue}@%h",
            "--without-gossip",
        )

    def beat(self, name: str) -> subprocess.Popen[bytes]:
        schedule = VAR_DIR / f"{name}-schedule"
        return self.start(name, "beat", "-l", "info", "-s", str(schedule), "--pidfile=")

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace") if name in self.logs else ""

    def kill(self, name: str) -> None:
        """``kill -9`` of the whole worker: its main process and its pool at once, as a lost machine."""
        process = self.processes.pop(name)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        # SIGTERM to the main process only: a warm shutdown, in which it stops its own pool (SIGTERM to the
        # pool processes too would kill them mid-task). Then SIGKILL to whatever of the group is left.
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5.0)

    def check(self) -> None:
        """Stop the run when a child has died by itself: waiting on it would only time out."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = "\n".join(self.log(name).splitlines()[-20:])
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)


def wait_for(
    predicate: Callable[[], bool], timeout: float, every: float = 0.5, children: Children | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children is not None:
            children.check()
        if predicate():
            return True
        time.sleep(every)
    return predicate()


SUCCEEDED = re.compile(r"Task arbitration\.tasks\.sweep_disputes\[([0-9a-f-]+)\] succeeded in ([0-9.]+)s")


def sweep_durations(log: str) -> list[float]:
    return [float(seconds) for _id, seconds in SUCCEEDED.findall(log)]


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


@contextmanager
def redis_queue(redis_url: str, queue: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=f"*{queue}*"))  # the queue and kombu's binding sets
        if keys:
            client.delete(*keys)
