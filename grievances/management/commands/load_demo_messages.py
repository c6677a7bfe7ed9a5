from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grievances.demo import MESSAGES_FILE, load_demo_messages, shared_data_dir


class Command(BaseCommand):
    help = (
        "Receive the first N citizens' messages of shared/data/tipdm2020 as hotline grievances, for a "
        "realistic dispatchers' queue (read from there at run time; needs `load_demo` first). Running it "
        "again creates nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--messages", type=int, default=50, help="How many messages (default 50).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not get_user_model().objects.filter(username="dispatcher").exists():
            raise CommandError("Load the demo first: python manage.py load_demo")
        created = load_demo_messages(max(options["messages"], 0))
        if created is None:
            self.stdout.write(f"No {shared_data_dir() / MESSAGES_FILE}: no citizens' messages loaded.")
            return
        self.stdout.write(f"Received {created} new grievances from the citizens' messages.")
