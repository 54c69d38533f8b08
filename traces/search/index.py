"""The search index: one document per searchable text of a row, written with the rows.

The fold collects what it stores (a `Batch`): the texts of the runs, tasks, model calls and chat turns
it creates or changes, and the business events its sinks store, each as the row holds it, after
redaction and the payload mode. `Batch.write` then replaces their documents in two statements, in the
fold's transaction: a row's documents always say what the row says. On PostgreSQL, the entries its GIN
indexes keep pending are merged into them once the transaction has committed (`merge_pending`). A
payload mode applied late (recut) re-reads the rows it cut (`reindex_runs`); purge deletes the
documents of what it deletes.
"""

import contextlib
import contextvars
from collections import namedtuple

from django.db import connection, transaction

from traces import bulk
from traces.ingest import policy
from traces.keyset import chunks
from traces.locks import lock_workspace
from traces.models import ChatMessage, ModelCall, Run, SearchDocument, SearchKind, Task

from .text import MAX_TEXT, flatten, words

RUN_FIELDS = {"input": SearchKind.RUN_INPUT, "output": SearchKind.RUN_OUTPUT, "error": SearchKind.RUN_ERROR}
TASK_FIELDS = {
    "name": SearchKind.TASK_NAME,
    "input": SearchKind.TASK_INPUT,
    "output": SearchKind.TASK_OUTPUT,
    "error": SearchKind.TASK_ERROR,
}
CALL_FIELDS = {
    "request": SearchKind.CALL_REQUEST,
    "response": SearchKind.CALL_RESPONSE,
    "error": SearchKind.CALL_ERROR,
}
# Keys per DELETE statement: three parameters each, well under SQLite's limit of 32,766.
DELETE_CHUNK = 1000
CHUNK = 1000

# `at`: the document's time, or the task whose time it takes, or None for its run's start: a run's and a
# task's times are read when the batch is written, once the fold has settled them.
Text = namedtuple("Text", "run kind ref at value replaces")


def task_time(task):
    return task.started_at or task.status_at or task.run.started_at


class Batch:
    """The texts one fold stores, to index when its rows are written. A text `replaces` when its row
    may have documents already (it existed before the batch)."""

    def __init__(self, workspace):
        self.workspace = workspace
        self.texts = []

    def add(self, run, kind, ref, at, value, *, replaces=False):
        self.texts.append(Text(run, kind, ref, at, value, replaces))

    def add_run(self, run, names, *, replaces):
        for name in names:
            if name in RUN_FIELDS:
                self.add(run, RUN_FIELDS[name], run.run_id, None, getattr(run, name), replaces=replaces)

    def add_task(self, task, names, *, replaces):
        for name in names:
            if name in TASK_FIELDS:
                self.add(
                    task.run, TASK_FIELDS[name], task.step_id, task, getattr(task, name), replaces=replaces
                )

    def add_changed(self, dirty, add):
        """The changed fields of rows stored before the batch, from the fold's Dirty."""
        for obj, names in dirty.changed.values():
            if obj.pk is not None:
                add(obj, names, replaces=True)

    def write(self):
        """Replace the documents of every text collected, then forget them. Run and task times are read
        now, when the fold has settled them."""
        rows, stale = [], []
        for text in self.texts:
            run = text.run
            if text.at is None:
                at = run.started_at
            elif isinstance(text.at, Task):
                at = task_time(text.at)
            else:
                at = text.at
            if text.replaces and run is not None:
                stale.append((text.kind, text.ref, run.pk))
            row = document(self.workspace, run, text.kind, text.ref, at, text.value)
            if row is not None:
                rows.append(row)
        self.texts = []
        delete(self.workspace, stale)
        bulk.append(SearchDocument, rows)
        if rows and connection.vendor == "postgresql" and not merging_after_commit():
            transaction.on_commit(merge_pending, robust=True)


def merging_after_commit():
    return any(func is merge_pending for _, func, _ in connection.run_on_commit)


def merge_pending():
    """Merge the entries the documents' GIN indexes hold in their pending lists into the indexes
    proper, after the ingest transaction commits: no longer under the workspace lock, where the
    writer that found a list over its limit merged it (a third of the documents' cost on the
    database). Searches read the pending list too: nothing is found later for it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gin_clean_pending_list('search_fragments'::regclass), "
            "gin_clean_pending_list('search_words'::regclass)"
        )


def document(workspace, run, kind, ref, at, value):
    """A document row for a stored value, or None when it holds no word (or only says that minimal
    mode omitted it, or that retention removed it)."""
    if value is None or value in (policy.OMITTED, policy.REMOVED):
        return None
    made = (found_ahead.get() or {}).get(id(value))
    text, found = made[1:] if made is not None and made[0] is value else text_and_words(value)
    if not found:
        return None
    return dict(workspace=workspace, run=run, kind=kind, ref=ref, at=at, text=text, words=found)


def text_and_words(value):
    text = value[:MAX_TEXT] if isinstance(value, str) else flatten(value)
    return text, words(text)


# Text and words found ahead for values about to be stored, {id(value): (value, text, words)}: see ahead().
found_ahead = contextvars.ContextVar("found_ahead", default=None)


def words_ahead(values):
    """The text and words of each of these values, found before the workspace lock (ingest): under it,
    a document of a value stored as it came takes them from here (see ahead)."""
    return {id(value): (value, *text_and_words(value)) for value in values}


@contextlib.contextmanager
def ahead(made):
    """Within the block, documents take the text and words of a value from `made` (words_ahead) instead
    of finding them again. Holding each value keeps its id from being reused; the values must not change
    in between (a payload mode that cuts one stores a new value, whose words are found then)."""
    token = found_ahead.set(made)
    try:
        yield
    finally:
        found_ahead.reset(token)


def delete(workspace, keys):
    """Delete the documents of these (kind, ref, run pk) keys, in a statement per chunk."""
    keys = list(dict.fromkeys(keys))
    if keys and connection.vendor == "postgresql":
        delete_probing(workspace, keys)
        return
    for start in range(0, len(keys), DELETE_CHUNK):
        chunk = keys[start : start + DELETE_CHUNK]
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params = [workspace.pk, *(part for key in chunk for part in key)]
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM search_documents WHERE workspace_id = %s "  # noqa: S608 - placeholders only
                f"AND (kind, ref, run_id) IN (VALUES {values})",
                params,
            )


def delete_probing(workspace, keys):
    """PostgreSQL: one statement that looks each key up in search_by_source. Written as `(kind, ref,
    run_id) IN (VALUES …)`, the planner read every document of the workspace against every key
    whenever the statistics had not seen the workspace grow yet (a new or fast-growing one): 3.3 s
    for 600 keys among 13,200 documents, under the workspace lock. The lateral lookup (kept apart by
    OFFSET 0, so it is not flattened into a join the planner may turn around) has no other plan."""
    kinds, refs, runs = zip(*keys, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM search_documents WHERE id = ANY(ARRAY("
            "SELECT d.id FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS k(kind, ref, run_id) "
            "CROSS JOIN LATERAL (SELECT id FROM search_documents WHERE workspace_id = %s "
            "AND kind = k.kind AND ref = k.ref AND run_id = k.run_id OFFSET 0) AS d))",
            [list(kinds), list(refs), list(runs), workspace.pk],
        )


def forget(workspace, kind, refs):
    """Delete the documents of chat turns or business events (by event id) that go."""
    SearchDocument.objects.filter(workspace=workspace, kind=kind, ref__in=list(refs)).delete()


def reindex_runs(workspace, runs):
    """Rebuild from the stored rows the documents of these runs (a queryset of them): their own texts,
    their tasks', model calls' and chat turns'. For a payload mode applied late, and the backfill.
    Reads and writes a chunk of rows at a time."""
    batch = Batch(workspace)
    for chunk in chunks(runs, "run_id", "started_at", *RUN_FIELDS):
        by_pk = {run.pk: run for run in chunk}
        # Business events are not cut by a payload mode: theirs stay.
        SearchDocument.objects.filter(run__in=list(by_pk)).exclude(kind=SearchKind.EVENT).delete()
        for run in chunk:
            batch.add_run(run, RUN_FIELDS, replaces=False)
        for tasks in chunks(
            Task.objects.filter(run__in=list(by_pk)),
            "run",
            "step_id",
            "started_at",
            "status_at",
            *TASK_FIELDS,
        ):
            for task in tasks:
                task.run = by_pk[task.run_id]
                batch.add_task(task, TASK_FIELDS, replaces=False)
            batch.write()
        for calls in chunks(
            ModelCall.objects.filter(run__in=list(by_pk)), "run", "call_id", "created_at", *CALL_FIELDS
        ):
            for call in calls:
                add_call(batch, by_pk[call.run_id], call.call_id, call.created_at, vars(call))
            batch.write()
        for messages in chunks(
            ChatMessage.objects.filter(run__in=list(by_pk)), "run", "event_id", "created_at", "content"
        ):
            for message in messages:
                batch.add(
                    by_pk[message.run_id],
                    SearchKind.MESSAGE,
                    message.event_id,
                    message.created_at,
                    message.content,
                )
            batch.write()
        batch.write()


def reindex_runless_messages(workspace, messages):
    """Rebuild the documents of these chat turns, which belong to no run."""
    batch = Batch(workspace)
    for chunk in chunks(messages, "event_id", "created_at", "content"):
        forget(workspace, SearchKind.MESSAGE, [m.event_id for m in chunk])
        for message in chunk:
            batch.add(None, SearchKind.MESSAGE, message.event_id, message.created_at, message.content)
        batch.write()


def add_call(batch, run, call_id, at, values, *, replaces=False):
    for name, kind in CALL_FIELDS.items():
        batch.add(run, kind, call_id, at, values[name], replaces=replaces)


# Other apps' rows to index again in a backfill: reindex(workspace) each (see register).
_backfills = []


def register(reindex):
    """`reindex(workspace)` rebuilds the documents of another app's rows (business events), which
    traces cannot import."""
    if reindex not in _backfills:
        _backfills.append(reindex)


def backfill(workspace, progress=None):
    """Rebuild every document of a workspace from its rows: runs a chunk at a time, each chunk in its
    own transaction under the workspace lock (so ingest waits for one chunk, never for the whole)."""
    runs = Run.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)
    last = 0
    while True:
        chunk = list(runs.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            break
        with transaction.atomic():
            lock_workspace(workspace)
            reindex_runs(workspace, Run.objects.filter(pk__in=chunk))
        last = chunk[-1]
        if progress:
            progress(len(chunk))
    with transaction.atomic():
        lock_workspace(workspace)
        runless = ChatMessage.objects.filter(workspace=workspace, run__isnull=True)
        reindex_runless_messages(workspace, runless)
        for reindex in _backfills:
            reindex(workspace)
