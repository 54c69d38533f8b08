from django.db import migrations


def backfill(apps, schema_editor):
    """Summarise the rows stored before the roll-ups existed.

    Runs the current rebuild() (raw SQL over runs, tasks and model_call_stats, per workspace under its
    ingest lock). A database without runs has nothing to summarise: a new one, or the test database,
    skips it, so a later change of the table's columns cannot break this step there.
    """
    if not apps.get_model("traces", "Run").objects.exists():
        return
    from traces.rollups.daily import rebuild

    rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("traces", "0007_trace_rollups"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
