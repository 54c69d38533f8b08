# PostgreSQL only: the GIN indexes of the search documents keep new entries in a pending list of up to
# 64 MB instead of 4 MB. Ingest merges the lists after its transaction commits (traces.search.index
# merge_pending), outside the workspace lock; at 4 MB the writer holding the lock merged them itself,
# every request or so. SQLite has no GIN index: there this migration does nothing.
from django.db import migrations

INDEXES = ("search_fragments", "search_words")
POSTGRESQL = [f"ALTER INDEX {name} SET (gin_pending_list_limit = 65536)" for name in INDEXES]
POSTGRESQL_BACK = [f"ALTER INDEX {name} RESET (gin_pending_list_limit)" for name in INDEXES]


def run_on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("traces", "0022_review_rules_and_queues")]

    operations = [
        migrations.RunPython(run_on_postgresql(POSTGRESQL), run_on_postgresql(POSTGRESQL_BACK)),
    ]
