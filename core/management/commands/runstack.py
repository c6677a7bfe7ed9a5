"""Run the whole product from one command: web server, Celery worker and Celery beat.

``make run`` calls this. It migrates, loads the demo data (idempotent), starts the three processes, prints
the address and the demo logins once the web server answers, and on Ctrl-C (or SIGTERM) stops all three
and waits for them. If any of them dies, the others are stopped too: a half-running stack hides faults.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

STOP_GRACE_SECONDS = 15  # a Celery worker finishes its current task (hard limit 60 s) or is killed after this


class Command(BaseCommand):
    help = "Migrate, load demo data, and run web + Celery worker + beat until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo data.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Behind a pipe or a log file stdout is block-buffered: the banner and the relayed lines would
        # reach the reader minutes late, or only at exit.
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(line_buffering=True)
        host, port = options["host"], options["port"]
        if _port_taken(host, port):
            raise CommandError(f"{host}:{port} is already in use. Stop what runs there, or choose PORT=…")

        call_command("migrate", interactive=False, verbosity=0)
        call_command("compile_translations", verbosity=0)
        if not options["no_demo"]:
            call_command("load_demo", quiet_logins=True)

        commands = stack_commands(host, port)
        stack = Stack(self.stdout)
        stopping = StopRequest()
        signal.signal(signal.SIGINT, stopping.request)
        signal.signal(signal.SIGTERM, stopping.request)
        try:
            for name, command in commands.items():
                stack.start(name, command)
            url = f"http://{host}:{port}/"
            if _wait_for(url, stack, stopping):
                self._banner(url, options["no_demo"])
            while not stopping.is_set():
                died = stack.first_exited()
                if died:
                    self.stderr.write(f"{died} stopped unexpectedly; stopping the rest.")
                    raise CommandError(f"{died} exited")
                time.sleep(0.5)
        finally:
            stack.stop_all()
        self.stdout.write("zhize stopped.")

    def _banner(self, url: str, no_demo: bool) -> None:
        from core import registry

        lines = ["", "=" * 64, f"  zhize is running at {url}", f"  API: {url}api/v1/   docs: {url}api/docs/"]
        if not no_demo:
            lines += registry.banner()  # the demo logins and keys, from each app
        lines += ["  Press Ctrl-C to stop web, workers and beat.", "=" * 64, ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


class StopRequest:
    """Set from a signal handler. A plain flag, not a threading.Event: Event.set() takes a lock that the
    interrupted main thread may already hold inside Event.wait(), and the handler would deadlock."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int, frame: Any) -> None:
        self.requested = True

    def is_set(self) -> bool:
        return self.requested


class Stack:
    def __init__(self, out: Any):
        self.out = out
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()

    def start(self, name: str, command: list[str]) -> None:
        # Each child leads its own process group: Ctrl-C reaches only us, and we stop each group in order
        # (the worker's pool processes go with it).
        process = subprocess.Popen(  # noqa: S603  (our own fixed command lines, no shell)
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        threading.Thread(target=self._relay, args=(name, process), daemon=True).start()

    def _relay(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            with self.lock:
                self.out.write(f"{name:>6} | {raw.decode('utf-8', 'replace').rstrip()}")

    def first_exited(self) -> str | None:
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def stop_all(self) -> None:
        # SIGTERM to each leader only: the worker then shuts down warmly and stops its own pool; the whole
        # group is killed only if it outstays the grace period.
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_for(url: str, stack: Stack, stopping: StopRequest, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping.is_set() and stack.alive():
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2):  # noqa: S310  (our own loopback URL)
                return True
        except OSError:
            time.sleep(0.3)
    return False


def stack_commands(host: str, port: int | str) -> dict[str, list[str]]:
    """The processes of the embedded product: the web server, a Celery worker, the trainer and beat."""
    python = sys.executable
    manage = str(settings.BASE_DIR / "manage.py")
    schedule = str(settings.VAR_DIR / "celerybeat-schedule")
    return {
        "web": [python, manage, "runserver", f"{host}:{port}", "--noreload"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "2",
            "-n",
            "worker@%h",
        ],
        # The router's training, in the worker's own process (config/celery_app.py, task_routes).
        "trainer": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-l",
            "info",
            "-Q",
            "training",
            "--pool",
            "solo",
            "-n",
            "trainer@%h",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "-l",
            "info",
            "-s",
            schedule,
            "--pidfile=",
        ],
    }
