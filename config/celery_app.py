"""The Celery application: broker, reliability settings and the one beat schedule.

Reliability, in numbers:
- A task is acknowledged only after it has run (``acks_late``), and a task whose worker process died is
  handed back rather than acknowledged (``task_reject_on_worker_lost``): nothing a crash interrupts is lost,
  so every task must be idempotent (they are: ids in, services that re-check state under a lock).
- Soft limit 30 s (the task gets ``SoftTimeLimitExceeded`` and can clean up), hard limit 60 s (the process
  is killed). Our tasks are short: long work is split into sweeps that each handle one item at a time.
- When a whole worker is killed (``kill -9``, a lost machine), its unacknowledged Redis messages sit in the
  "unacked" set. Redis hands them back after ``visibility_timeout`` = 90 s — longer than the 60 s hard limit,
  so a task still legitimately running is never delivered twice — and any live worker checks for such
  messages every ``unacked_restore_interval`` = 10 s, on every check (``unacked_restore_throttle`` = 1;
  kombu's default of 10 would stretch the check to 100 s). A killed worker's tasks so come back within
  90-100 s. The same figure forbids ``countdown``/``eta`` beyond 90 s (they would be redelivered early):
  anything due later is found by a beat sweep over an indexed deadline column instead.
- ``worker_prefetch_multiplier`` = 1: with late acks a worker holds at most one task it has not started.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("zhize")
app.config_from_object("django.conf:settings", namespace="CELERY")

VISIBILITY_TIMEOUT_SECONDS = 90
TASK_SOFT_TIME_LIMIT_SECONDS = 30
TASK_HARD_TIME_LIMIT_SECONDS = 60
TRAINING_QUEUE = "training"

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    timezone="Asia/Shanghai",
    enable_utc=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_soft_time_limit=TASK_SOFT_TIME_LIMIT_SECONDS,
    task_time_limit=TASK_HARD_TIME_LIMIT_SECONDS,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    # Training the router counts its features in two processes (joblib). A prefork pool's processes are
    # daemonic and may not start processes of their own, so there joblib falls back to one (a 100,000-
    # grievance version takes ~70 s instead of ~50). Training goes to its own queue, which a worker with the
    # solo pool consumes (docker-compose's "trainer", runstack's "trainer"): the task runs in the worker's
    # main process.
    task_routes={"grievances.tasks.train_router": {"queue": TRAINING_QUEUE}},
)


@app.on_after_configure.connect
def _tune_redis_redelivery(sender: Celery, **kwargs: object) -> None:
    # Connected to the signal rather than done at import: reading app.conf here would load Django's
    # settings while the config package is still being imported.
    if str(sender.conf.broker_url or "").startswith(("redis://", "rediss://")):
        sender.conf.broker_transport_options = {
            "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
        }
        sender.conf.result_backend_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}


# The one beat schedule. Sweeps run often and are safe to run twice; reports run daily.
app.conf.beat_schedule = {
    "record-heartbeat": {
        "task": "core.tasks.record_heartbeat",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "verify-audit-chain": {
        "task": "core.tasks.verify_audit_chain",
        "schedule": crontab(hour=2, minute=30),
    },
    "sweep-disputes": {
        "task": "arbitration.tasks.sweep_disputes",
        "schedule": float(os.environ.get("ZHIZE_SWEEP_SECONDS", "60")),
        "options": {"expires": 55},
    },
    "report-overdue-disputes": {
        "task": "arbitration.tasks.report_overdue_daily",
        "schedule": crontab(hour=8, minute=30),
    },
    "sweep-grievances": {
        "task": "grievances.tasks.sweep_grievances",
        "schedule": float(os.environ.get("ZHIZE_SWEEP_SECONDS", "60")),
        "options": {"expires": 55},
    },
    "check-unlisted-clusters": {
        "task": "grievances.tasks.check_unlisted_clusters",
        "schedule": crontab(minute=15),
    },
    # The dashboard's daily summary: today, yesterday and the days whose grievances changed.
    "refresh-dashboard-summary": {
        "task": "grievances.tasks.refresh_dashboard_summary",
        "schedule": float(os.environ.get("ZHIZE_DASHBOARD_REFRESH_SECONDS", "300")),
        "options": {"expires": 280},
    },
    # The office's digest of yesterday, in its inbox before the working day starts.
    "build-daily-digest": {
        "task": "grievances.tasks.build_daily_digest",
        "schedule": crontab(hour=7, minute=0),
    },
    "retrain-router": {
        "task": "grievances.tasks.retrain_router",
        "schedule": crontab(hour=1, minute=40),
    },
    "purge-unconfirmed-imports": {
        "task": "duty_lists.tasks.import_files_purge",
        "schedule": crontab(hour=3, minute=10),
    },
    "list-health-nightly": {
        "task": "duty_lists.tasks.list_health_nightly",
        "schedule": crontab(hour=4, minute=20),
    },
}

app.autodiscover_tasks()
