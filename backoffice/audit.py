"""The audit log: any app records who changed what with `record(request, action, target, changes)`.

Entries are append-only. Nothing in the product updates or deletes one, the admin shows them read-only,
and on PostgreSQL a trigger (migration 0007) refuses UPDATE and DELETE on the table. Two writes pass
it: a deleted account leaves its entries with the actor's name and no link (ON DELETE SET NULL), and
the audit log's own retention (`purge`), which sets a transaction-local flag the trigger reads.

Why a flag rather than a SECURITY DEFINER function: the application's role owns the table, so a
function owned by the same role grants nothing the role does not already have; what the trigger guards
against is the product, the admin and a stray statement, and a flag that only `purge` sets, for one
transaction (SET LOCAL), keeps that guard without a second database role to provision.
"""

import json
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from traces.keyset import past

from .models import AuditEntry, Workspace

# An end user forgotten (backoffice.forget): the proof that it was done outlives the audit retention.
FORGOTTEN = "end_user.forgotten"
KEPT_FOREVER = (FORGOTTEN,)
# Read by the trigger (migration 0007): set to "on" by `purge`, for its transaction only.
PURGE_FLAG = "backoffice.audit_purge"
BATCH = 1000
CHUNK = 500


def actor_of(request):
    """(user, name) of whoever made the request: an API key by its label (an API request answers to
    its key, whatever session cookie came along), or a signed-in person."""
    api_key = getattr(request, "api_key", None)
    if api_key is not None:
        return None, f"key {api_key.label} ({api_key.prefix}…)"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, user.get_username()
    return None, ""


def record(request, action, target="", changes=None, workspace=None):
    """Note a change made by the request's user (or API key) in request.workspace (or `workspace`).
    One INSERT.

    `action` is a dotted name (`member.role_changed`, `dashboard.card_deleted`), `target` says what it
    was done to, `changes` maps field names to [before, after] or holds any JSON details.
    """
    user, name = actor_of(request)
    return note(workspace or request.workspace, name, action, target, changes, actor=user)


def note(workspace, actor_name, action, target="", changes=None, actor=None):
    """An entry for a change no request made (ingest, a command): `actor_name` says who. One INSERT."""
    return AuditEntry.objects.create(
        workspace=workspace,
        actor=actor,
        actor_name=actor_name[:150],
        action=action,
        target=str(target)[:300],
        changes=changes or {},
    )


def diff(before, after):
    """{field: [old, new]} for the fields whose value changed, values made JSON-friendly."""
    return {
        name: [_plain(before.get(name)), _plain(value)]
        for name, value in after.items()
        if before.get(name) != value
    }


def _plain(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | dict):
        return json.loads(json.dumps(value, default=str))
    return str(value)


class AuditedAdmin:
    """A ModelAdmin mixin: what a superuser changes in the Django admin is recorded like a change
    made in Settings. `audited` names the fields recorded, `audit_name` prefixes the action. Rows of
    no workspace (the default model prices) have no audit log to go to."""

    audited = ()
    audit_name = ""
    audit_deletes = True

    def save_model(self, request, obj, form, change):
        before = {name: form.initial.get(name) for name in self.audited} if change else {}
        super().save_model(request, obj, form, change)
        changes = diff(before, {name: getattr(obj, name) for name in self.audited})
        if changes:
            self.audit(request, obj, "changed" if change else "created", changes)

    def delete_model(self, request, obj):
        self.deleting(request, [obj], lambda: super(AuditedAdmin, self).delete_model(request, obj))

    def delete_queryset(self, request, queryset):
        objs = list(queryset)
        self.deleting(request, objs, lambda: super(AuditedAdmin, self).delete_queryset(request, queryset))

    def deleting(self, request, objs, delete):
        gone = [(obj, {name: [_plain(getattr(obj, name)), None] for name in self.audited}) for obj in objs]
        delete()
        if self.audit_deletes:
            for obj, changes in gone:
                self.audit(request, obj, "deleted", changes)

    def audit(self, request, obj, verb, changes):
        workspace = obj if isinstance(obj, Workspace) else obj.workspace
        if workspace is not None:
            record(request, f"{self.audit_name}.admin_{verb}", str(obj), changes, workspace=workspace)


def expired(workspace, now=None):
    """Entries older than the workspace's audit retention (none when it keeps them forever), but those
    of KEPT_FOREVER."""
    if workspace.audit_retention_days is None:
        return AuditEntry.objects.none()
    cutoff = (now or timezone.now()) - timedelta(days=workspace.audit_retention_days)
    # Served by the audit_latest index (workspace, created_at, id).
    return AuditEntry.objects.filter(workspace=workspace, created_at__lt=cutoff).exclude(
        action__in=KEPT_FOREVER
    )


@contextmanager
def purging():
    """A transaction in which the trigger lets entries be deleted. Inside an outer transaction this
    is a savepoint, so the flag is put back at its end (an error rolls it back with the savepoint)."""
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic():
        if postgresql:
            set_flag("on")
        yield
        if postgresql:
            set_flag("off")


def set_flag(value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [PURGE_FLAG, value])


def purge(workspace, now=None, batch=BATCH):
    """Delete the entries past the audit retention, `batch` per transaction; returns how many went."""
    rows, removed = expired(workspace, now), 0
    while True:
        with purging():
            pks = list(rows.order_by().values_list("pk", flat=True)[:batch])
            if not pks:
                return removed
            AuditEntry.objects.filter(pk__in=pks).delete()
        removed += len(pks)


def exported(entry):
    return {
        "id": entry.pk,
        "at": entry.created_at.isoformat(),
        "actor": entry.actor_name,
        "action": entry.action,
        "target": entry.target,
        "changes": entry.changes,
    }


def jsonl(workspace):
    """Every entry of the workspace as JSON lines, oldest first, read CHUNK at a time by keyset so a
    long log streams in constant memory."""
    entries = AuditEntry.objects.filter(workspace=workspace).order_by("created_at", "id")
    after = None
    while True:
        chunk = entries.filter(past("created_at", *after, later=True)) if after else entries
        chunk = list(chunk[:CHUNK])
        for entry in chunk:
            yield json.dumps(exported(entry), ensure_ascii=False) + "\n"
        if len(chunk) < CHUNK:
            return
        after = (chunk[-1].created_at, chunk[-1].pk)
