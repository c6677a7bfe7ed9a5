from typing import Any

from django.core.management.base import BaseCommand

from arbitration.demo import load_arbitration_demo
from duty_lists.demo import DEMO_PASSWORD, load_demo
from grievances.demo import DEMO_OPEN311_CLIENT, first_dispatch_kpi, load_grievance_demo


class Command(BaseCommand):
    # Here, in the top app, because it loads every app's demo (duty lists, then disputes, then grievances).
    help = "Load the demo agencies, users, duty lists and disputes. Running it again changes nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args: Any, **options: Any) -> None:
        people = load_demo()
        load_arbitration_demo()
        open311_key = load_grievance_demo()
        if options["quiet_logins"]:
            return
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for person in people:
            self.stdout.write(f"  {person.login_line}")
        if open311_key:
            self.stdout.write(f"Demo Open311 API key ({DEMO_OPEN311_CLIENT}): {open311_key}")
        self.stdout.write(f"Demo {first_dispatch_kpi()}.")
