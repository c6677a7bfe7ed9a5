from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.actors import SYSTEM
from core.errors import ApplicationError
from duty_lists.importing import ImportReport, duty_list_import
from duty_lists.models import DutyList, DutyListKind
from duty_lists.services import duty_list_create, edition_publish


def report_lines(report: ImportReport) -> list[str]:
    lines = [
        f"{report.file_name}: {report.rows} rows ({report.file_format})",
        *(
            f"  {label:<16} new {tally.new:>5}  changed {tally.changed:>5}  unchanged {tally.unchanged:>5}"
            for label, tally in (
                ("categories", report.categories),
                ("classifications", report.classifications),
                ("duties", report.duties),
            )
        ),
    ]
    lines += [f"  row {e.row}, {e.column or '-'}: {e.message}" for e in report.errors]
    return lines


class Command(BaseCommand):
    help = (
        "Import a duty list from an Excel file (the import template, or the three-column taxonomy) as "
        "revisions awaiting publication. Every row is checked first; one bad row and nothing is written. "
        "Runs as the system actor."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="An .xlsx file (or a CSV file exported from zhize).")
        parser.add_argument("--list", dest="list_code", required=True, help="The duty list's code.")
        parser.add_argument(
            "--create-list", action="store_true", help="Create the list if it does not exist."
        )
        parser.add_argument("--name", default="", help="The new list's name (with --create-list).")
        parser.add_argument(
            "--kind",
            default=DutyListKind.LIVELIHOOD,
            choices=DutyListKind.values,
            help="The new list's kind.",
        )
        parser.add_argument(
            "--default-lead",
            default="",
            help="Agency code that leads every duty of a file naming no agencies.",
        )
        parser.add_argument("--publish", action="store_true", help="Publish an edition after the import.")
        parser.add_argument("--note", default="", help="The edition's note (with --publish).")
        parser.add_argument("--dry-run", action="store_true", help="Check the file only; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"] and options["publish"]:
            raise CommandError("--publish and --dry-run exclude each other.")
        try:
            self._run(options)
        except ApplicationError as error:
            raise CommandError(error.message) from error

    def _run(self, options: dict[str, Any]) -> None:
        code = options["list_code"]
        duty_list = DutyList.objects.filter(code=code).first()
        if duty_list is None:
            if not options["create_list"]:
                raise CommandError(f"No duty list {code}. Add --create-list --name NAME to create it.")
            if not options["name"]:
                raise CommandError("--create-list needs --name.")
            if options["dry_run"]:
                raise CommandError("A dry run cannot check against a list that does not exist yet.")
            duty_list = duty_list_create(actor=SYSTEM, code=code, name=options["name"], kind=options["kind"])
            self.stdout.write(f"Created the duty list {code}.")
        try:
            with open(options["file"], "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error.strerror}") from error
        report = duty_list_import(
            actor=SYSTEM,
            duty_list=duty_list,
            source=data,
            file_name=options["file"].rsplit("/", 1)[-1],
            default_lead=options["default_lead"],
            write=not options["dry_run"],
        )
        for line in report_lines(report):
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(f"{len(report.errors)} problems in the file: nothing was written.")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
        elif report.written:
            self.stdout.write(self.style.SUCCESS("Written as revisions awaiting publication."))
        else:
            self.stdout.write("Nothing to change: the list already says what the file says.")
        if options["publish"]:
            try:
                edition = edition_publish(actor=SYSTEM, duty_list=duty_list, note=options["note"])
            except ApplicationError as error:
                if error.code != "nothing_to_publish":
                    raise
                self.stdout.write("Nothing awaits publication: no edition published.")
            else:
                self.stdout.write(
                    self.style.SUCCESS(f"Published edition {edition.number} of {duty_list.code}.")
                )
