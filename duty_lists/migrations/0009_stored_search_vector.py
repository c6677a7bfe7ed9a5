"""On PostgreSQL, the weighted tsvector of ``DutyRevision.search_text`` becomes a stored generated column,
``search_vector``, with its own GIN index; the expression index of 0003 goes.

Before, ranking a search recomputed the vector of every matching revision from its text (2,644 for
``噪音`` at 100,000 duties: 200 ms of the 210 ms query); now the rank reads the stored vector. The
column is not a model field: SQLite has no tsvector (search there matches substrings), and no other read
needs a vector; ``duty_lists.search.stored_search_vector()`` names it in queries. Adding the column rewrites
the table once (about 30 s at 100,000 revisions).

The index is kept without GIN's pending list (``fastupdate = off``): revisions are written in rare bulk
publications and searched all day, and a pending list is scanned by every search until a vacuum merges it
(and makes the planner shun the index on a freshly written table).
"""

from django.db import migrations

VECTOR = """(
    setweight(to_tsvector('simple'::regconfig, split_part(search_text, '|', 1)), 'A')
    || setweight(to_tsvector('simple'::regconfig, split_part(search_text, '|', 2)), 'B')
    || setweight(to_tsvector('simple'::regconfig, split_part(search_text, '|', 3)), 'C')
)"""

FORWARD = [
    f"ALTER TABLE duty_lists_dutyrevision ADD COLUMN IF NOT EXISTS search_vector tsvector "
    f"GENERATED ALWAYS AS {VECTOR} STORED",
    "CREATE INDEX IF NOT EXISTS dutyrevision_search_vector_gin ON duty_lists_dutyrevision "
    "USING gin (search_vector) WITH (fastupdate = off)",
    "DROP INDEX IF EXISTS dutyrevision_search_gin",
]
BACKWARD = [
    f"CREATE INDEX IF NOT EXISTS dutyrevision_search_gin ON duty_lists_dutyrevision USING gin ({VECTOR})",
    "DROP INDEX IF EXISTS dutyrevision_search_vector_gin",
    "ALTER TABLE duty_lists_dutyrevision DROP COLUMN IF EXISTS search_vector",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("duty_lists", "0008_delegated_powers")]

    operations = [migrations.RunPython(forward, backward)]
