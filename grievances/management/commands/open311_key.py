"""Issue, revoke and list the API keys of Open311 clients (hotline systems, citizen apps).

    manage.py open311_key create NAME   # the key alone on stdout's last line: KEY=$(… | tail -n1)
    manage.py open311_key revoke NAME
    manage.py open311_key list

Run by the operator at the console, so the actor is the system; the audit log records each issue and revoke.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.actors import SYSTEM
from core.errors import ApplicationError
from grievances.models import ApiClient
from grievances.services import api_client_issue, api_client_revoke


class Command(BaseCommand):
    help = "Issue (create), revoke or list the API keys of Open311 clients."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Issue a key; a client of that name gets a new one.")
        create.add_argument("name")
        revoke = actions.add_parser("revoke", help="Revoke the client's key.")
        revoke.add_argument("name")
        revoke.add_argument("--reason", default="")
        actions.add_parser("list", help="List the clients.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(**options)
        except ApplicationError as error:
            raise CommandError(error.message) from error

    def _create(self, *, name: str, **options: Any) -> None:
        client, key = api_client_issue(actor=SYSTEM, name=name)
        # The note on stderr keeps stdout to the key alone, for scripts.
        self.stderr.write(
            f"Key issued for {client.name}. It is shown only now (only its hash is stored): keep it safe."
        )
        self.stdout.write(key)

    def _revoke(self, *, name: str, reason: str, **options: Any) -> None:
        client = ApiClient.objects.filter(name=name.strip()).first()
        if client is None:
            raise CommandError(f"No Open311 client is named {name!r}.")
        api_client_revoke(actor=SYSTEM, client=client, reason=reason)
        self.stdout.write(f"Revoked the key of {client.name}.")

    def _list(self, **options: Any) -> None:
        for client in ApiClient.objects.order_by("name"):
            last = client.last_used_at
            used = f"{timezone.localtime(last):%Y-%m-%d %H:%M}" if last else "never"
            state = "active" if client.is_active else "revoked"
            self.stdout.write(f"{client.name}\t{client.key_prefix}…\t{state}\tlast used {used}")
