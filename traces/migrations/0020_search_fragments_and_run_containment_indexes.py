# PostgreSQL only: the indexes the search's inside-a-word fallback and the Runs list's tag and metadata
# filters use. SQLite has neither pg_trgm nor JSON containment: there this migration does nothing.
from django.db import migrations

POSTGRESQL = [
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # traces.search.query: `words LIKE '%term%'` (a query word inside a document's word).
    "CREATE INDEX IF NOT EXISTS search_fragments ON search_documents USING gin (words gin_trgm_ops)",
    # traces.run_filters: `tags @> '["tag"]'` (tag=) and `metadata @> '{"key": value}'` (meta=key=value).
    # jsonb_path_ops: smaller than the default operator class, and containment is all these serve.
    "CREATE INDEX IF NOT EXISTS run_by_tag ON runs USING gin (tags jsonb_path_ops)",
    "CREATE INDEX IF NOT EXISTS run_by_metadata ON runs USING gin (metadata jsonb_path_ops)",
]
POSTGRESQL_BACK = [
    "DROP INDEX IF EXISTS search_fragments",
    "DROP INDEX IF EXISTS run_by_tag",
    "DROP INDEX IF EXISTS run_by_metadata",
]


def run_on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("traces", "0019_replay_webhooks_and_forget_indexes")]

    operations = [
        migrations.RunPython(run_on_postgresql(POSTGRESQL), run_on_postgresql(POSTGRESQL_BACK)),
    ]
