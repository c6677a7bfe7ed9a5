"""On PostgreSQL, a GIN index for full-text search over ``DutyRevision.search_text``.

The indexed expression weights the three ``|``-separated sections of ``search_text`` (title A, keywords and
synonyms B, description C; see ``duty_lists/search.py``). PostgreSQL uses an expression index only for a
query that repeats the expression exactly, so ``duty_lists.search.search_vector()`` renders this same text;
the expression is copied here rather than imported so that this migration keeps meaning what it meant.
SQLite has no tsvector: there search falls back to substring matching and needs no index.
"""

from django.db import migrations

CREATE_SQL = """
CREATE INDEX IF NOT EXISTS dutyrevision_search_gin ON duty_lists_dutyrevision USING gin ((
    setweight(to_tsvector('simple'::regconfig, split_part(search_text, '|', 1)), 'A')
    || setweight(to_tsvector('simple'::regconfig, split_part(search_text, '|', 2)), 'B')
    || setweight(to_tsvector('simple'::regconfig, split_part(search_text, '|', 3)), 'C')
));
"""

DROP_SQL = "DROP INDEX IF EXISTS dutyrevision_search_gin;"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL, params=None)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("duty_lists", "0002_registry")]

    operations = [migrations.RunPython(create_index, drop_index)]
