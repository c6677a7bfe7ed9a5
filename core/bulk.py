"""Writing many rows of one model at once, for the paths that write thousands a minute (the sweep).

On PostgreSQL the rows go in one ``INSERT … SELECT FROM unnest(<one array per column>)``: one statement
whatever the count, with the values read straight from the instances. ``bulk_create`` builds a
placeholder and prepares a value through the field for every cell, which at 10,000 escalations (a stage
row, an event and an audit entry each) cost more than the database's own work. Elsewhere (SQLite in the
embedded set-up) it is ``bulk_create``.

What it does not do, so callers must not need it: set the instances' primary keys, run ``pre_save``
(``auto_now`` fields), or send signals (``bulk_create`` sends none either).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def insert_many(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    if not objects:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    assert not any(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
    params = [[_cell(f, getattr(o, f.attname)) for o in objects] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _cell(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder)
    if isinstance(value, str):
        return str(value)  # a TextChoices member as its plain value
    return value


def commit_without_waiting_for_disk() -> None:
    """Inside a transaction whose work can be done again from what the database holds (the sweep's: a
    dispute still due is found due again): let its commit return before the WAL reaches the disk. A
    database crash can then lose the last fraction of a second of such transactions, each whole, never
    half of one. The wait is most of what a sweep's hundred commits cost."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
