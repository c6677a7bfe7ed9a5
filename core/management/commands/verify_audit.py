from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.audit import verify_chain


class Command(BaseCommand):
    help = "Check the audit log's hash chain and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(f"Audit chain broken at entry #{report.broken_seq}: {report.problem}")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} entries verified."))
