"""An agent's payload mode, applied to what is already stored for it.

The fold cuts an event's payloads by its agent's mode before it stores them (policy.apply_mode). The
mode can reach the workspace after events it governs: an agent.upsert sent after them, or a run.start
(which names the run's agent) after the run's other events. Then the payloads already stored are cut
here, in the same transaction, as the fold would have cut them had the mode come first:

- for an agent whose mode or limits changed: its runs' input, output, error and state; their tasks'
  input, output and error; their model calls' request, response and error; the content of their chat
  messages and of the messages that named the agent without a run; the event log's payloads of all
  of those events;
- for a run whose agent became known: the same, of that run only.

Cutting is one-way: a mode that keeps more than an earlier one does not bring back what was cut.
policy.truncate cuts a cut value as it would cut its original, so applying a mode again changes
nothing and a stricter mode cuts as if it had come first.

Rows are read in key order, a chunk at a time, and the changed ones written in bulk: a few queries a
chunk, never one a row. Only timings, statuses and counts feed the roll-ups, and a mode keeps those;
the conversations' previews are recomputed by the caller from the sessions returned.
"""

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q

from traces import bulk
from traces.keyset import chunks
from traces.locks import lock_workspace
from traces.models import Agent, ChatMessage, Event, ModelCall, PayloadMode, Run, Task, TaskType
from traces.rollups.sessions import refresh_sessions
from traces.search import index as search

from . import policy

CHUNK = 1000

# The payload columns of each row, with the body field whose cut applies to them (a task's input came
# as `input` or as a tool's `args`: both are inputs).
RUN_COLUMNS = {"input": "input", "output": "output", "error": "error", "state": "state"}
TASK_COLUMNS = {"input": "input", "output": "output", "error": "error"}
CALL_COLUMNS = {"request": "request", "response": "response", "error": "error"}
MESSAGE_COLUMNS = {"content": "content"}


def recut(workspace, agents, runs):
    """Cut what is stored for these agents (their mode changed) and these runs ({run pk: agent}, their
    agent became known) to the agent's mode. Returns the primary keys of sessions whose messages
    changed."""
    sessions = set()
    for agent in agents:
        if agent.mode == PayloadMode.FULL:
            continue
        of_runs = {"run__agent": agent}
        cut(Run.objects.filter(agent=agent), RUN_COLUMNS, agent)
        cut_tasks(Task.objects.filter(**of_runs), agent)
        cut(ModelCall.objects.filter(**of_runs), CALL_COLUMNS, agent)
        sessions |= cut(ChatMessage.objects.filter(**of_runs), MESSAGE_COLUMNS, agent)
        cut_events(Event.objects.filter(**of_runs), agent)
        # A message without a run is governed by the agent it names, which only its event records.
        named = Event.objects.filter(workspace=workspace, type="message", run__isnull=True)
        named = named.filter(payload__agent_id=agent.agent_id)
        event_ids = cut_events(named, agent, keep_ids=True)
        messages = ChatMessage.objects.filter(workspace=workspace, run__isnull=True)
        for start in range(0, len(event_ids), CHUNK):
            chunk = messages.filter(event_id__in=event_ids[start : start + CHUNK])
            sessions |= cut(chunk, MESSAGE_COLUMNS, agent)
    by_agent = {}
    for run_pk, agent in runs.items():
        if agent.mode != PayloadMode.FULL and agent not in agents:
            by_agent.setdefault(agent.pk, (agent, []))[1].append(run_pk)
    for agent, run_pks in by_agent.values():
        cut(Run.objects.filter(pk__in=run_pks), RUN_COLUMNS, agent)
        cut_tasks(Task.objects.filter(run__in=run_pks), agent)
        cut(ModelCall.objects.filter(run__in=run_pks), CALL_COLUMNS, agent)
        sessions |= cut(ChatMessage.objects.filter(run__in=run_pks), MESSAGE_COLUMNS, agent)
        cut_events(Event.objects.filter(run__in=run_pks), agent)
    return sessions


# A tool task's output is a tool's result, which a capture flag may keep whole; so is the output of a
# task no opener has typed yet, as the fold keeps it (Fold.tool_results).
TOOL_RESULTS = Q(type=TaskType.TOOL) | Q(started_at__isnull=True)


# The agent's fields that say what its events' payloads keep (and agent.upsert may send).
POLICY_FIELDS = (
    "mode",
    "max_input_chars",
    "max_output_chars",
    "capture_llm_payloads",
    "capture_tool_results",
)


def set_policy(agent, values, source="settings"):
    """Set an agent's capture mode, limits and flags outside ingest (Settings → Agents), and cut what
    is stored for it as an agent.upsert would: under the workspace lock, in one transaction, with the
    search index and the conversations' previews kept. The change is stamped now, so an upsert sent
    before it does not undo it (see traces.ingest.order). Returns {field: [before, after]}."""
    with transaction.atomic():
        lock_workspace(agent.workspace)
        agent = Agent.objects.select_for_update().get(pk=agent.pk)
        changed = {
            name: [getattr(agent, name), value]
            for name, value in values.items()
            if getattr(agent, name) != value
        }
        if not changed:
            return {}
        at = [datetime.now(UTC).isoformat(), source]
        stamps = dict(agent.stamps or {})
        for name in changed:
            setattr(agent, name, values[name])
            stamps[name] = at
        agent.stamps = stamps
        agent.save(update_fields=[*changed, "stamps"])
        workspace = agent.workspace
        sessions = recut(workspace, [agent], {})
        search.reindex_runs(workspace, Run.objects.filter(agent=agent))
        if sessions:
            search.reindex_runless_messages(
                workspace, ChatMessage.objects.filter(session__in=sessions, run__isnull=True)
            )
            refresh_sessions(sessions)
    return changed


def cut_tasks(queryset, agent):
    if not policy.keeps_tool_results(agent):
        cut(queryset, TASK_COLUMNS, agent)
        return
    cut(queryset.exclude(TOOL_RESULTS), TASK_COLUMNS, agent)
    cut(queryset.filter(TOOL_RESULTS), TASK_COLUMNS, agent, tool=True)


def cut(queryset, columns, agent, tool=False):
    """Cut these rows' payload columns to the agent's mode; returns the sessions of the changed rows
    (for chat messages, whose session shows a preview of them)."""
    model = queryset.model
    has_session = model is ChatMessage
    sessions = set()
    for rows in chunks(queryset, *columns, *(["session"] if has_session else [])):
        changed = {}
        for row in rows:
            body = {field: getattr(row, column) for column, field in columns.items()}
            kept = policy.apply_mode(body, agent, tool=tool)
            names = [column for column, field in columns.items() if kept[field] != body[field]]
            for column in names:
                setattr(row, column, kept[columns[column]])
            if names:
                changed.setdefault(tuple(names), []).append(row)
                if has_session:
                    sessions.add(row.session_id)
        for names, objs in changed.items():
            write(model, objs, list(names))
    return sessions


def cut_events(queryset, agent, keep_ids=False):
    """Cut the event log's payloads to the agent's mode; returns the events' ids if asked."""
    event_ids = []
    for rows in chunks(queryset, "payload", "event_id", "type", "run", "step_id"):
        changed = []
        tools = tool_steps(rows) if policy.keeps_tool_results(agent) else set()
        for row in rows:
            if keep_ids:
                event_ids.append(row.event_id)
            tool = row.type == "step.ok" and (row.run_id, row.step_id) in tools
            kept = policy.apply_mode(row.payload, agent, tool=tool)
            if kept != row.payload:
                row.payload = kept
                changed.append(row)
        write(Event, changed, ["payload"])
    return event_ids


def tool_steps(events):
    """The (run pk, step id) of the tasks whose result these step.ok events give: one query a chunk."""
    ends = [row for row in events if row.type == "step.ok" and row.run_id]
    if not ends:
        return set()
    tasks = Task.objects.filter(TOOL_RESULTS).filter(
        run__in={row.run_id for row in ends}, step_id__in={row.step_id for row in ends}
    )
    return set(tasks.values_list("run_id", "step_id"))


def write(model, objs, names):
    if not objs:
        return
    if model in bulk.STAGED:
        bulk.update(model, objs, names)
    else:
        # Not the fold's path: a mode arriving late is rare, and these tables have no staging table.
        model.objects.bulk_update(objs, names, batch_size=500)
