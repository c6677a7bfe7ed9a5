from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.actors import SYSTEM
from core.errors import ApplicationError
from grievances.importing import ImportReport, grievances_import


def report_lines(report: ImportReport, *, dry_run: bool) -> list[str]:
    lines = [f"{report.file_name}: {report.rows} rows"]
    if report.ok:
        if dry_run:
            lines.append(f"  would create      {report.new:>5}")
        else:
            lines.append(
                f"  created           {report.new:>5}  ({report.dispatched} dispatched automatically, "
                f"{report.queued} in the dispatchers' queue)"
            )
        lines.append(f"  already imported  {report.existing:>5}")
    lines += [f"  row {e.row}, {e.column or '-'}: {e.message}" for e in report.errors]
    return lines


class Command(BaseCommand):
    help = (
        "Import grievances from an .xlsx or CSV file (columns: docs/grievance-import.md). Every row is "
        "checked first; one bad row and nothing is written. Rows already imported are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="An .xlsx workbook or a CSV file (UTF-8).")
        parser.add_argument(
            "--as",
            dest="username",
            default="",
            help="Record the grievances as this dispatcher (default: the system actor).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file only; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor: Any = SYSTEM
        if options["username"]:
            actor = get_user_model().objects.filter(username=options["username"], is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user {options['username']}.")
        try:
            with open(options["file"], "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error.strerror}") from error
        try:
            report = grievances_import(
                actor=actor,
                source=data,
                file_name=options["file"].rsplit("/", 1)[-1],
                write=not options["dry_run"],
            )
        except ApplicationError as error:
            raise CommandError(error.message) from error
        for line in report_lines(report, dry_run=options["dry_run"]):
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(f"{len(report.errors)} problems in the file: nothing was imported.")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
        elif report.written:
            self.stdout.write(self.style.SUCCESS(f"Imported {report.new} grievances."))
        else:
            self.stdout.write("Nothing new: every row was imported before.")
