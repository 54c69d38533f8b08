"""Writing scores: checked against their configs, linked to what they score, upserted on their id.

The API, the Langfuse endpoints and the Review tab all write through `save_scores`, a batch at a
time: a fixed number of queries whatever the batch holds, and one upsert on (workspace, client id), so
a score sent again with its id replaces the one stored, even when two requests race.
"""

import uuid
from dataclasses import dataclass, field

from django.utils import timezone

from traces.models import ChatMessage, Run, Score, Session, Task

from .configs import ScoreError, check_score, configs_named

MAX_NAME = 200
MAX_COMMENT = 10_000
# What an upsert replaces: everything but where the score came from first and when.
REPLACED = (
    "run",
    "task",
    "session",
    "message",
    "name",
    "data_type",
    "value",
    "string_value",
    "comment",
    "metadata",
    "source",
    "author",
    "user",
    "updated_at",
)


@dataclass
class ScoreIn:
    """One score as sent: ids of what it scores, by their public ids."""

    name: str
    value: object
    run_id: str | None = None
    task_id: str | None = None
    session_id: str | None = None
    message_id: str | None = None
    data_type: str | None = None
    comment: str = ""
    metadata: dict = field(default_factory=dict)
    id: str | None = None


@dataclass
class Saved:
    score: Score
    created: bool


def save_scores(workspace, items, *, source, author, user=None):
    """Store each ScoreIn; returns, in order, a Saved or the ScoreError that rejected it."""
    targets = Targets(workspace, items)
    configs = configs_named(workspace, [item.name for item in items])
    ids = [item.id or uuid.uuid4().hex for item in items]
    known = set(
        Score.objects.filter(workspace=workspace, client_id__in=ids).values_list("client_id", flat=True)
    )
    now = timezone.now()
    results, rows = [], {}
    for item, client_id in zip(items, ids, strict=True):
        try:
            score = Score(
                workspace=workspace,
                client_id=client_id,
                source=source,
                author=author,
                user=user,
                created_at=now,
                updated_at=now,
                **targets.of(item),
                **scored(item, configs.get(item.name)),
            )
        except ScoreError as exc:
            results.append(exc)
            continue
        rows[client_id] = score  # the last of equal ids wins, as if sent one after the other
        results.append(Saved(score, created=client_id not in known))
    Score.objects.bulk_create(
        rows.values(),
        batch_size=500,
        update_conflicts=True,
        unique_fields=["workspace", "client_id"],
        update_fields=REPLACED,
    )
    return results


def scored(item, config):
    if not isinstance(item.name, str) or not item.name.strip() or len(item.name) > MAX_NAME:
        raise ScoreError("name", f"must be text of 1 to {MAX_NAME} characters")
    if not isinstance(item.comment or "", str) or len(item.comment or "") > MAX_COMMENT:
        raise ScoreError("comment", f"must be text of at most {MAX_COMMENT} characters")
    checked = check_score(config, item.data_type, item.value)
    return {
        "name": item.name.strip(),
        "data_type": checked.data_type,
        "value": checked.value,
        "string_value": checked.string_value,
        "comment": item.comment or "",
        "metadata": item.metadata if isinstance(item.metadata, dict) else {"value": item.metadata},
    }


class Targets:
    """The runs, tasks, conversations and messages a batch of scores names, fetched in four queries."""

    def __init__(self, workspace, items):
        run_ids = {item.run_id for item in items if item.run_id}
        self.runs = {
            run.run_id: run
            for run in Run.objects.filter(workspace=workspace, run_id__in=run_ids).select_related("session")
        }
        session_ids = {item.session_id for item in items if item.session_id}
        self.sessions = {
            session.session_id: session
            for session in Session.objects.filter(workspace=workspace, session_id__in=session_ids)
        }
        runs = list(self.runs.values())
        step_ids = {item.task_id for item in items if item.task_id}
        self.tasks = {
            (task.run_id, task.step_id): task
            for task in Task.objects.filter(run__in=runs, step_id__in=step_ids).only(
                "id", "run_id", "step_id"
            )
        }
        event_ids = {item.message_id for item in items if item.message_id}
        self.messages = {
            (message.run_id, message.event_id): message
            for message in ChatMessage.objects.filter(run__in=runs, event_id__in=event_ids).only(
                "id", "run_id", "event_id", "session_id"
            )
        }

    def of(self, item):
        if not item.run_id and not item.session_id:
            raise ScoreError("run_id", "a score names the run (or the conversation) it scores")
        run = self.runs.get(item.run_id) if item.run_id else None
        if item.run_id and run is None:
            raise ScoreError("run_id", "no run of this workspace has that id")
        session = self.sessions.get(item.session_id) if item.session_id else (run.session if run else None)
        if item.session_id and session is None:
            raise ScoreError("session_id", "no conversation of this workspace has that id")
        if run is not None and item.session_id and run.session_id != session.pk:
            raise ScoreError("session_id", "the run is not part of that conversation")
        if (item.task_id or item.message_id) and run is None:
            field = "task_id" if item.task_id else "message_id"
            raise ScoreError(field, "a task or message score names its run_id too")
        task = self.tasks.get((run.pk, item.task_id)) if item.task_id else None
        if item.task_id and task is None:
            raise ScoreError("task_id", "no task of this run has that id")
        message = self.messages.get((run.pk, item.message_id)) if item.message_id else None
        if item.message_id and message is None:
            raise ScoreError("message_id", "no chat message of this run has that id")
        return {"run": run, "session": session, "task": task, "message": message}
