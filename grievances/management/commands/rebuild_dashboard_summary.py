"""``rebuild_dashboard_summary``: rebuild the dashboard's daily summary from every grievance, day by day,
printing its progress; with ``--queue`` hand it to a Celery worker instead (the dashboard follows it).

Needed after grievances were changed outside the services (a bulk import by SQL, rows deleted in the
admin); the beat refresh keeps it up to date otherwise. Safe to run while the site is in use: each week of
days is rebuilt in its own transaction, and a rebuild already queued or running is the one followed."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.actors import SYSTEM
from grievances.models import SummaryRebuildState
from grievances.services import summary


class Command(BaseCommand):
    help = "Rebuild the dashboard's daily summary of the grievances, with its progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", action="store_true", help="run it in a Celery worker, not here")

    def handle(self, *args: Any, **options: Any) -> None:
        job = summary.summary_rebuild_request(
            actor=SYSTEM, reason="manage.py rebuild_dashboard_summary", enqueue=options["queue"]
        )
        if options["queue"]:
            self.stdout.write(f"Rebuild #{job.pk} is queued ({job.state}); the dashboard shows its progress.")
            return
        if job.state != SummaryRebuildState.QUEUED:
            self.stdout.write(f"Rebuild #{job.pk} is already {job.state}: follow it on the dashboard.")
            return
        started = time.monotonic()

        def progress(job: Any) -> None:
            self.stdout.write(f"\r{job.days_done:>6} / {job.days_total} days ({job.progress:3d}%)", ending="")
            self.stdout.flush()

        done = summary.summary_rebuild_run(job_id=job.pk, progress=progress)
        if done is None:  # a worker claimed it first
            self.stdout.write(f"Rebuild #{job.pk} was taken by a worker: follow it on the dashboard.")
            return
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {done.days_total} day{'' if done.days_total == 1 else 's'} of the summary "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
