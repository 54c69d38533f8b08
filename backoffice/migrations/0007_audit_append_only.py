from django.db import migrations, models

# On PostgreSQL the audit log refuses UPDATE and DELETE (backoffice.audit says why and what passes):
# - an UPDATE that only unlinks a deleted account (ON DELETE SET NULL keeps the actor's name);
# - a DELETE inside the transaction where the audit retention set backoffice.audit_purge.
# TRUNCATE is not a row trigger's business: only the test runner empties tables that way.
APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (NEW.id, NEW.workspace_id, NEW.actor_name, NEW.action, NEW.target, NEW.changes, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.workspace_id, OLD.actor_name, OLD.action, OLD.target, OLD.changes, OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND current_setting('backoffice.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No parameters: the % of RAISE is not a placeholder.
            schema_editor.execute(sql, None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0006_invitations"),
    ]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="audit_retention_days",
            field=models.PositiveIntegerField(
                blank=True, help_text="Empty keeps the audit log forever.", null=True
            ),
        ),
        migrations.RunPython(on_postgresql(APPEND_ONLY), on_postgresql(DROP)),
    ]
