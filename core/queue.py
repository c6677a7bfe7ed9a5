"""Services queue their Celery tasks by name.

A task module imports the services it calls (tasks are thin: ids in, a service call), so a service that
imported its task module back would close a circle of imports (tests/test_architecture.py forbids one).
Every app's ``tasks`` module is imported when Django starts (core.apps), so the name is registered in the
web's processes as in the worker's; ``task(name)`` is then the very task object, and ``delay`` on it runs
eagerly in tests as a direct import would.
"""

from __future__ import annotations

from typing import Any


def task(name: str) -> Any:
    from celery import current_app

    return current_app.tasks[name]
