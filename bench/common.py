"""What every benchmark under bench/ shares: its own database (made and dropped only if its name says
\"bench\"), timings and their percentiles, the machine's description, PASS/MISS."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _server_connection(database_url: str) -> tuple[Any, str]:
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(database_url)
    name = str(config["NAME"])
    if "bench" not in name:
        raise SystemExit(f"Refusing to manage database {name!r}: its name must contain 'bench'.")
    connection = psycopg2.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
    )
    connection.autocommit = True
    return connection, name


def database_reset(database_url: str, *, drop: bool) -> bool:
    """Create the benchmark database when missing (then True); drop it first when asked."""
    from psycopg2 import sql

    connection, name = _server_connection(database_url)
    try:
        with connection.cursor() as cursor:
            if drop:
                cursor.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is not None:
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        connection.close()


@dataclass
class Timing:
    samples: list[float]  # seconds

    def _ms(self, fraction: float) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000  # nearest rank

    @property
    def p50(self) -> float:
        return self._ms(0.50)

    @property
    def p95(self) -> float:
        return self._ms(0.95)

    @property
    def p99(self) -> float:
        return self._ms(0.99)

    @property
    def max(self) -> float:
        return max(self.samples) * 1000


def machine() -> dict[str, str]:
    import django
    import rest_framework
    from django.db import connection

    memory = ""
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    return {
        "CPU": f"{cpu}, nproc {os.cpu_count()}",
        "memory": memory,
        "load average at start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "PostgreSQL": f"{postgres} (shared_buffers {shared_buffers}), same machine, over TCP on loopback",
        "Python / Django / DRF": (
            f"{platform.python_version()} / {django.get_version()} / {rest_framework.VERSION}"
        ),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def docs_section_write(docs: Path, start: str, end: str, figures: str) -> None:
    """Replace one benchmark's section of docs/benchmarks.md (``figures``, which opens with ``start`` and
    closes with ``end``), else append it: every other benchmark's section is left as it is."""
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + figures + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + figures + "\n"
    docs.write_text(text, encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    print(f"\nWrote the figures to {docs.relative_to(root) if docs.is_relative_to(root) else docs}.")
