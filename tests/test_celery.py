"""The Celery app against the real Redis broker: a task enqueued by the web side runs in a worker."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery_app import VISIBILITY_TIMEOUT_SECONDS, app
from core.models import AuditEntry, Heartbeat
from core.tasks import record_heartbeat, verify_audit_chain


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_task_runs_through_the_real_redis_broker() -> None:
    assert str(app.conf.broker_url).startswith("redis://")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        record_heartbeat.delay("ci-check")
        assert _wait_for(lambda: Heartbeat.objects.filter(component="ci-check").exists())


@pytest.mark.redis
def test_redis_redelivery_is_tuned_for_a_lost_worker() -> None:
    options = app.conf.broker_transport_options
    # a killed worker's tasks come back after the visibility timeout, which must outlast the hard limit
    assert options["visibility_timeout"] == VISIBILITY_TIMEOUT_SECONDS
    assert app.conf.task_time_limit < VISIBILITY_TIMEOUT_SECONDS <= 120
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.accept_content == ["json"]


@pytest.mark.django_db
def test_audit_verification_task_records_a_broken_chain() -> None:
    from tests.test_audit import _entries, _tamper

    entries = _entries(3)
    assert verify_audit_chain()["ok"] is True
    _tamper("UPDATE core_auditentry SET reason = %s WHERE seq = %s", ["x", entries[1].seq])
    result = verify_audit_chain()
    assert result["ok"] is False
    assert AuditEntry.objects.filter(action="core.audit.chain_broken", object_id=str(entries[1].seq)).exists()


def test_beat_schedule_names_only_registered_tasks() -> None:
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_training_goes_to_the_solo_workers_queue_and_both_runners_consume_it() -> None:
    """The router's training counts features in a second process, which a prefork pool's daemonic process
    may not start: it is routed to the "training" queue, which docker-compose's trainer and the embedded
    run consume with the solo pool; everything else stays on the default queue."""
    from core.management.commands.runstack import stack_commands

    route = app.amqp.router.route({}, "grievances.tasks.train_router")
    assert route["queue"].name == "training"
    assert app.amqp.router.route({}, "grievances.tasks.retrain_router")["queue"].name == "celery"
    commands = {name: " ".join(command) for name, command in stack_commands("127.0.0.1", 8000).items()}
    assert "-Q training --pool solo" in commands["trainer"]
    assert "-Q" not in commands["worker"]  # the default queue
