from __future__ import annotations

import sys
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.errors import ApplicationError
from duty_lists import linked_data
from duty_lists.models import DutyList


class Command(BaseCommand):
    help = (
        "Write a duty list's edition (the one in force, a numbered one, or the one in force on a date) as "
        "CPSV-AP JSON-LD: the same document as GET /api/v1/duty-lists/<code>/linked-data/?download=1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("list_code", help="The duty list's code.")
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--edition", type=int, help="The edition's number.")
        when.add_argument("--as-of", type=date.fromisoformat, help="A date, YYYY-MM-DD (end of that day).")
        parser.add_argument(
            "--base-url",
            help=(
                "The site's public address, e.g. https://zhize.example.gov.cn: every IRI in the document "
                "is built on it. Default: the SITE_URL setting."
            ),
        )
        parser.add_argument(
            "-o", "--output", default="-", help="The file to write (e.g. ms-edition-3.jsonld); - for stdout."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The IRIs are the site's pages, and a command has no request to learn the host from; a guessed
        # default would publish IRIs that lead nowhere, so say so instead.
        base_url = options["base_url"] or getattr(settings, "SITE_URL", "")
        if not base_url:
            raise CommandError("Give --base-url (the site's public address), or set SITE_URL.")
        duty_list = DutyList.objects.filter(code=options["list_code"]).first()
        if duty_list is None:
            raise CommandError(f"No duty list {options['list_code']}.")
        as_of = None
        if options["as_of"] is not None:
            # The end of that day, as the API reads a bare date: what was published that day counts.
            next_day = timezone.make_aware(datetime.combine(options["as_of"] + timedelta(days=1), time.min))
            as_of = next_day - timedelta(microseconds=1)
        try:
            edition = linked_data.edition_for(duty_list, number=options["edition"], as_of=as_of)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        text = linked_data.to_json(linked_data.duty_list_document(edition, base_url=base_url))
        output: str = options["output"]
        if output == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.stdout.write(f"Wrote {output} (edition {edition.number}, {len(text.encode())} bytes).")
