from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from duty_lists.exporting import export_csv_bytes, export_xlsx, revisions_for_export
from duty_lists.models import DutyList, Edition


class Command(BaseCommand):
    help = (
        "Export a duty list — now, as an edition published it, or as it stood on a date — to xlsx or CSV, "
        "in the import template's columns (so the file re-imports)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--list", dest="list_code", required=True, help="The duty list's code.")
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--edition", type=int, help="The edition's number.")
        when.add_argument("--as-of", type=date.fromisoformat, help="A date, YYYY-MM-DD (end of that day).")
        parser.add_argument(
            "--format", choices=["xlsx", "csv"], help="Default: from -o's extension, else xlsx."
        )
        parser.add_argument("-o", "--output", default="-", help="The file to write; - for standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        duty_list = DutyList.objects.filter(code=options["list_code"]).first()
        if duty_list is None:
            raise CommandError(f"No duty list {options['list_code']}.")
        edition = None
        if options["edition"] is not None:
            edition = Edition.objects.filter(duty_list=duty_list, number=options["edition"]).first()
            if edition is None:
                raise CommandError(f"The list {duty_list.code} has no edition {options['edition']}.")
        output: str = options["output"]
        file_format = options["format"] or ("csv" if output.lower().endswith(".csv") else "xlsx")
        revisions = revisions_for_export(duty_list, edition=edition, as_of=options["as_of"])
        data = export_csv_bytes(revisions) if file_format == "csv" else export_xlsx(revisions)
        if output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        with open(output, "wb") as handle:
            handle.write(data)
        self.stdout.write(f"Wrote {output} ({file_format}, {len(data)} bytes).")
