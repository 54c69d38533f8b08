"""Fold accepted events into the run-record rows.

Events of one run may arrive in any order and in any number of batches, so every rule here gives
the same rows whatever the order:

- a start time is the earliest start seen; a status is the one carried by the latest event
  (equal times go to the more final status), and the time of that event is kept beside it;
- payloads come from the event that owns them (the output from `step.ok`, the error from
  `step.failed`), the state from the latest checkpoint;
- a task's metadata key and an agent.upsert field take the value of the latest event that sent them,
  by (time, event id): rows keep the stamp of what set them (see order);
- a conversation's agent and user are those of its earliest run that names one, else of the earliest
  event naming them with it (settle_session_people);
- an agent's payload mode cuts the batch's payloads before they are stored, and what was stored before
  when a new mode, or a run's agent, arrives late (see recut);
- model calls that report the same response (call id `response:<id>`) are one row, whose fields
  merge by rules that pick by value, not by arrival (see same_call);
- links to rows that may arrive later (a task's parent, a model call's task) are kept as external
  ids and resolved in SQL at the end of every batch;
- sequences, run and session roll-ups are recomputed from the stored rows for what the batch touched;
- the daily roll-ups (trace_rollups) lose what the rows the batch may change added before the fold
  writes, and get it back as they stand after: one statement each (see rollup_scope).

A batch is a handful of queries whatever its size: one read per kind of row, bulk writes, and a
few set-based updates.
"""

import hashlib
import itertools
from collections import defaultdict
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from backoffice import audit
from traces import bulk
from traces.models import (
    Agent,
    ChatMessage,
    ChatRole,
    Event,
    ModelCall,
    PayloadMode,
    Run,
    RunStatus,
    SearchKind,
    Session,
    Task,
    TaskStatus,
    TaskType,
)
from traces.reviews.rules import route_finished
from traces.rollups.daily import Scope, add, subtract
from traces.rollups.sessions import refresh_sessions
from traces.search import index as search

from . import order, policy, usage
from .pricing import PriceBook, known_sum, priced_cost, sent_cost
from .recut import POLICY_FIELDS, recut
from .same_call import SameCalls
from .sinks import sink_for

RUN_STATUS = {
    "run.start": RunStatus.RUNNING,
    "run.resumed": RunStatus.RUNNING,
    "run.paused": RunStatus.PAUSED,
    "run.complete": RunStatus.COMPLETED,
    "run.failed": RunStatus.FAILED,
}
RUN_RANK = {RunStatus.RUNNING: 0, RunStatus.PAUSED: 1, RunStatus.COMPLETED: 2, RunStatus.FAILED: 3}
RUN_FINAL = {RunStatus.COMPLETED, RunStatus.FAILED}

TASK_STATUS = {
    "step.start": TaskStatus.RUNNING,
    "tool.call": TaskStatus.RUNNING,
    "step.ok": TaskStatus.OK,
    "tool.ok": TaskStatus.OK,
    "log": TaskStatus.OK,
    "step.failed": TaskStatus.FAILED,
    "tool.failed": TaskStatus.FAILED,
    "gate.waiting": TaskStatus.WAITING,
    "gate.approved": TaskStatus.APPROVED,
    "gate.rejected": TaskStatus.REJECTED,
}
TASK_RANK = {
    TaskStatus.RUNNING: 0,
    TaskStatus.WAITING: 1,
    TaskStatus.OK: 2,
    TaskStatus.APPROVED: 3,
    TaskStatus.REJECTED: 4,
    TaskStatus.SKIPPED: 5,
    TaskStatus.FAILED: 6,
}
TASK_FINAL = {TaskStatus.OK, TaskStatus.FAILED, TaskStatus.APPROVED, TaskStatus.REJECTED, TaskStatus.SKIPPED}
# Events that open a task: they name it, type it and start its clock.
TASK_OPENERS = {"step.start", "tool.call", "log", "gate.waiting"}
# The task type an event implies when no opener has been seen.
IMPLIED_TYPE = {
    "tool.call": TaskType.TOOL,
    "tool.ok": TaskType.TOOL,
    "tool.failed": TaskType.TOOL,
    "gate.waiting": TaskType.GATE,
    "gate.approved": TaskType.GATE,
    "gate.rejected": TaskType.GATE,
    "log": TaskType.CUSTOM,
}
TASK_EVENTS = set(TASK_STATUS) | set(IMPLIED_TYPE)


def opener_type(event):
    """The task type an opener sets (see Fold.fold_task_event)."""
    if event.type == "step.start":
        return event.body.type or TaskType.FUNCTION
    return IMPLIED_TYPE[event.type]


def is_task_event(event):
    """Does the event fold into a task? A `log` without a step_id is only a line of the event log."""
    return event.type in TASK_EVENTS and getattr(event.body, "step_id", None) is not None


KNOWN_ROLES = set(ChatRole.values)
NO_TIME = datetime.min.replace(tzinfo=UTC)
RUN_PAYLOADS = ("input", "output", "error", "state", "graph")
TASK_PAYLOADS = ("input", "output", "error")


# Ids any event may carry to name its run's conversation (see link_conversation).
CONVERSATION_LINKS = ("session_id", "user_id")
# The fields of a run that decide its conversation's agent and user (see settle_session_people).
PEOPLE_FIELDS = {"started_at", "agent", "user_id", "session"}


def legacy_stamps(agent):
    """An agent upserted before stamps were kept: its fields date from its latest upsert."""
    if agent.updated_at is None:
        return {}
    at = [agent.updated_at.isoformat(), ""]
    return {field: at for field in ("name", "description", *POLICY_FIELDS)}


def cut_of(agent):
    return tuple(getattr(agent, field) for field in POLICY_FIELDS)


def derive_invocation_id(run_id):
    return hashlib.sha256(run_id.encode()).hexdigest()[:8]


def replayed_run(metadata):
    """The run a run.start says it replays: `replay_of` in its body or its metadata (an id, so text of at
    most 200 characters; anything else is only metadata)."""
    value = metadata.get("replay_of")
    return value if isinstance(value, str) and 0 < len(value) <= 200 else ""


def later(ts, rank, seen_ts, seen_rank):
    """Does a status at (ts, rank) replace the one seen at (seen_ts, seen_rank)?"""
    return seen_ts is None or (ts, rank) > (seen_ts, seen_rank)


def task_order(task):
    """renumber()'s order of a run's tasks: by COALESCE(started_at, status_at), NULL last, then step id."""
    at = task.started_at or task.status_at
    return (at is None, at or NO_TIME, task.step_id)


def duration_ms(start, end):
    if start is None or end is None:
        return None
    return max(int((end - start).total_seconds() * 1000), 0)


class Dirty:
    """Which fields changed on which loaded rows, so bulk_update writes only those."""

    def __init__(self):
        # Keyed by id(): a model instance without a primary key cannot be hashed.
        self.changed = {}

    def set(self, obj, **values):
        deferred = obj.get_deferred_fields() if obj.pk else ()
        for name, value in values.items():
            # A deferred payload is not read back just to compare it: it is written.
            if name in deferred or getattr(obj, name) != value:
                setattr(obj, name, value)
                self.changed.setdefault(id(obj), (obj, set()))[1].add(name)

    def has(self, obj):
        return id(obj) in self.changed

    def forget(self, obj):
        self.changed.pop(id(obj), None)

    def save(self, model):
        groups = defaultdict(list)
        for obj, names in self.changed.values():
            if obj.pk is not None:
                groups[frozenset(names)].append(obj)
        for names, objs in groups.items():
            bulk.update(model, objs, sorted(names))
        self.changed.clear()


class Fold:
    def __init__(self, workspace, events, package_prices=None):
        self.workspace = workspace
        self.package_prices = package_prices
        self.events = sorted(events, key=lambda e: e.sort_key)
        self.agents = {}
        self.sessions = {}
        self.runs = {}
        self.new_runs = set()
        # Runs that completed or failed with this batch, for the review rules.
        self.finished_runs = set()
        self.tasks = {}
        self.touched_sessions = set()
        self.new_sessions = set()
        self.run_dirty = Dirty()
        self.agents_by_pk = {}
        self.starts_by_run = {}
        self.new_task_runs = set()
        self.recut_agents = []
        self.recut_runs = {}
        # Sessions whose agent or user may change with this batch (see settle_session_people).
        self.people_sessions = set()
        # Stored runs without an end user that an event of the batch names one for (see rollup_scope).
        self.runs_getting_user = set()
        # The texts of what the batch stores, for the search index; sinks add theirs.
        self.search = search.Batch(workspace)

    # -- helpers ------------------------------------------------------------------------------
    # The ids an event names (run_id, session_id…) are read from its stored form, a dict the body is
    # built from: the same values, where asking a body for a field its type lacks (an id kept as an
    # extra, or none) costs pydantic a raised AttributeError.

    def of_type(self, *types):
        return [e for e in self.events if e.type in types]

    def run_for(self, event):
        run_id = event.stored.get("run_id")
        return self.runs.get(run_id) if run_id else None

    # -- the fold -------------------------------------------------------------------------------

    def apply(self):
        self.load_runs()
        self.same_calls = SameCalls(self.runs, self.of_type("llm.call"))
        # Nothing is written yet, and the runs seen before are loaded: take away what the rows this
        # batch may change add to the daily roll-ups; they are added back as they stand after.
        subtract(self.rollup_scope())
        self.fold_agents()
        self.apply_policy()
        self.fold_sessions()
        created_runs = self.fold_runs()
        created_tasks = self.fold_tasks()
        calls = self.same_calls.merge(self.model_call_rows())
        self.prefill_totals(created_runs, created_tasks, calls)
        self.insert_runs_and_tasks(created_runs, created_tasks)
        # A call id seen before keeps its first row: the client retried the same call.
        bulk.append(ModelCall, calls, ignore_conflicts=True)
        self.same_calls.update_stored()
        self.index_calls(calls)
        self.insert_messages()
        self.insert_events()
        for event_type in {e.type for e in self.events}:
            handler = sink_for(event_type)
            if handler:
                handler(self, self.of_type(event_type))
        self.finish_runs()
        self.search.write()
        recut_sessions = recut(self.workspace, self.recut_agents, self.recut_runs)
        self.reindex_recut(recut_sessions)
        self.touched_sessions |= recut_sessions
        self.settle_session_people()
        add(self.rollup_scope())
        self.finish_sessions()
        # Last, so the rules see the runs as this batch leaves them (tasks, costs, search texts).
        route_finished(self.workspace, [self.runs[run_id].pk for run_id in self.finished_runs])

    def index_calls(self, calls):
        """The texts of the batch's model calls: a call of a run stored before may replace a stored
        call's (a retried call id), and a call merged into a stored row gives it new texts."""
        for call in calls:
            run = call["run"]
            replaces = run.run_id not in self.new_runs
            search.add_call(self.search, run, call["call_id"], call["created_at"], call, replaces=replaces)
        for stored, _ in self.same_calls.updates:
            run = next(r for r in self.runs.values() if r.pk == stored.run_id)
            search.add_call(self.search, run, stored.call_id, stored.created_at, vars(stored), replaces=True)

    def reindex_recut(self, sessions):
        """The documents of what recut cut, read again from the rows. A run whose agent keeps full
        payloads was not cut (its rows, and so its documents, are as stored): most runs that arrive
        before their run.start, as OTLP log records before their spans."""
        runs = {pk for pk, agent in self.recut_runs.items() if agent.mode != PayloadMode.FULL}
        cut_agents = [agent for agent in self.recut_agents if agent.mode != PayloadMode.FULL]
        if cut_agents:
            runs |= set(Run.objects.filter(agent__in=cut_agents).values_list("pk", flat=True))
        if runs:
            search.reindex_runs(self.workspace, Run.objects.filter(pk__in=runs))
        if sessions:
            messages = ChatMessage.objects.filter(session__in=sessions, run__isnull=True)
            search.reindex_runless_messages(self.workspace, messages)

    def rollup_scope(self):
        """The stored rows (so far) that this batch may change, for the daily roll-ups: each run's own
        row; every task and model call of a run whose run.start is here (it sets the agent and the
        workflow, dimensions of them all) or that gets its end user here (a dimension of the spend
        roll-up, which any event naming one fills in: see link_conversation; known before the fold,
        so that both calls name the same runs); of the other runs,
        the tasks the batch's events name (a model call also changes its task's tokens and cost)
        and the model calls it holds."""
        pk = {run_id: run.pk for run_id, run in self.runs.items() if run.pk}
        starts, task_keys, call_keys = set(), set(), set()
        for event in self.events:
            body = event.body
            run = pk.get(getattr(body, "run_id", None))
            if run is None:
                continue
            if event.type == "run.start" or body.run_id in self.runs_getting_user:
                starts.add(run)
            elif is_task_event(event) or (event.type == "llm.call" and body.step_id):
                task_keys.add((run, body.step_id))
            if event.type == "llm.call":
                call_keys.add((run, body.call_id or event.id))
        task_keys |= self.same_calls.task_keys()  # a merged call may leave the task that shows it
        return Scope.of(
            runs=starts,
            run_rows=pk.values(),
            task_keys=[key for key in task_keys if key[0] not in starts],
            call_keys=[key for key in call_keys if key[0] not in starts],
        )

    def load_runs(self):
        run_ids = {e.stored.get("run_id") for e in self.events} - {None}
        if run_ids:
            rows = Run.objects.filter(workspace=self.workspace, run_id__in=run_ids).defer(*RUN_PAYLOADS)
            self.runs = {r.run_id: r for r in rows}
            self.runs_getting_user = {
                e.stored["run_id"]
                for e in self.events
                if e.stored.get("user_id")
                and e.stored.get("run_id") in self.runs
                and not self.runs[e.stored["run_id"]].user_id
            }

    def fold_agents(self):
        wanted = {e.stored["agent_id"] for e in self.events if e.stored.get("agent_id")}
        # A run started in an earlier batch keeps its agent, whose payload policy applies here too.
        known_pks = {r.agent_id for r in self.runs.values() if r.agent_id}
        if not wanted and not known_pks:
            return
        for agent in Agent.objects.filter(
            Q(workspace=self.workspace, agent_id__in=wanted) | Q(pk__in=known_pks)
        ):
            self.agents[agent.agent_id] = agent
        created = []
        for agent_id in wanted - set(self.agents):
            agent = Agent(workspace=self.workspace, agent_id=agent_id, name=agent_id)
            self.agents[agent_id] = agent
            created.append(agent)
        dirty = Dirty()
        cuts_before = {id(agent): cut_of(agent) for agent in self.agents.values() if agent.pk}
        for event in self.of_type("agent.upsert"):
            agent, body = self.agents[event.body.agent_id], event.body
            # Field by field, the latest upsert that sends a field decides it: one that leaves the mode
            # out keeps the mode an earlier one set, whichever arrives first.
            sent = {"name": body.name, "description": body.description}
            for field in POLICY_FIELDS:
                if getattr(body, field) is not None:
                    sent[field] = getattr(body, field)
            current = {field: getattr(agent, field) for field in sent}
            seen = agent.stamps or legacy_stamps(agent)
            values, stamps = order.merge_latest(current, seen, sent, order.stamp(event))
            if stamps is seen:
                continue
            values.update(stamps=stamps, updated_at=max(order.key(s)[0] for s in stamps.values()))
            if agent.pk is None:
                for name, value in values.items():
                    setattr(agent, name, value)
            else:
                dirty.set(agent, **values)
        Agent.objects.bulk_create(created)
        dirty.save(Agent)
        self.agents_by_pk = {a.pk: a for a in self.agents.values()}
        # Agents whose stored payloads were cut by another mode or other limits than theirs now.
        self.recut_agents = [
            agent
            for agent in self.agents.values()
            if id(agent) in cuts_before and cut_of(agent) != cuts_before[id(agent)]
        ]
        for agent in self.recut_agents:
            before, after = (
                dict(zip(POLICY_FIELDS, cut, strict=True)) for cut in (cuts_before[id(agent)], cut_of(agent))
            )
            # A capture mode is configuration: the audit log says when an upsert changed it.
            audit.note(
                self.workspace, "agent.upsert", "agent.capture_changed", agent.name, audit.diff(before, after)
            )

    def agent_of_run(self, run_id):
        """The agent whose payload mode governs a run's events: named by its start, here or earlier."""
        for event in self.starts_by_run.get(run_id, ()):
            return self.agents.get(event.body.agent_id)
        run = self.runs.get(run_id)
        if run is not None and run.agent_id:
            return self.agents_by_pk.get(run.agent_id)
        return None

    def apply_policy(self):
        """The agent's payload mode, on bodies already redacted (see ingest.redact). The fold reads the
        body as stored: it is rebuilt where the mode changed it."""
        self.starts_by_run = defaultdict(list)
        for event in self.of_type("run.start"):
            self.starts_by_run[event.body.run_id].append(event)
        governed = [(event, self.governing_agent(event.stored)) for event in self.events]
        tools = self.tool_results(governed)
        for event, agent in governed:
            raw = event.stored
            tool = event.type == "step.ok" and (raw.get("run_id"), raw.get("step_id")) in tools
            stored = policy.apply_mode(raw, agent, tool=tool)
            if stored is not raw:
                event.body = type(event.body).model_construct(**stored)
            event.stored = stored

    def governing_agent(self, raw):
        run_id = raw.get("run_id")
        return self.agent_of_run(run_id) if run_id else self.agents.get(raw.get("agent_id"))

    def tool_results(self, governed):
        """The (run id, step id) of the step.ok events whose output is a tool's result, for agents whose
        capture flag keeps tool results whole. A task's type is its earliest opener's (see
        fold_task_event): one in the batch, or the stored task's. A step.ok of a task not opened yet
        keeps its output whole until an opener says otherwise: then its run is recut, and recut (which
        reads the tasks as folded) cuts it as if the opener had come first. One query, only for those
        agents."""
        flagged = {e.stored.get("run_id") for e, agent in governed if policy.keeps_tool_results(agent)}
        flagged.discard(None)
        if not flagged:
            return set()
        ends, openers = set(), {}
        for event in self.events:
            if event.stored.get("run_id") not in flagged or not is_task_event(event):
                continue
            key = (event.body.run_id, event.body.step_id)
            if event.type == "step.ok":
                ends.add(key)
            if event.type in TASK_OPENERS:
                opener = (event.timestamp, opener_type(event) == TaskType.TOOL)
                if key not in openers or opener[0] <= openers[key][0]:
                    openers[key] = opener
        stored_runs = {self.runs[r].pk: r for r in flagged if r in self.runs and self.runs[r].pk}
        stored = {}
        if stored_runs:
            rows = Task.objects.filter(run__in=stored_runs, step_id__in={s for _, s in ends | set(openers)})
            for run_pk, step_id, started_at, type_ in rows.values_list(
                "run", "step_id", "started_at", "type"
            ):
                stored[stored_runs[run_pk], step_id] = (started_at, type_ == TaskType.TOOL)
        tools = set()
        for key in ends:
            known = [o for o in (openers.get(key), stored.get(key)) if o is not None and o[0] is not None]
            if not known or min(known, key=lambda opener: opener[0])[1]:
                tools.add(key)
        for key, (at, _) in openers.items():
            before = stored.get(key)
            if before is not None and (before[0] is None or at <= before[0]):
                self.recut_runs[self.runs[key[0]].pk] = self.agent_of_run(key[0])
        return tools

    def fold_sessions(self):
        """Create the sessions the batch names and widen their times. Their agent and user are settled
        once the runs are folded (settle_session_people); here the earliest event of the batch that
        names them with the session is kept in the session's stamps."""
        first_seen, last_seen, named = {}, {}, defaultdict(dict)
        for event in self.events:
            session_id = event.stored.get("session_id")
            if not session_id:
                continue
            first_seen.setdefault(session_id, event.timestamp)
            last_seen[session_id] = event.timestamp
            names = named[session_id]
            # Events are in stamp order: the first that names an agent or a user is the earliest.
            if event.stored.get("agent_id") and "agent" not in names:
                names["agent"] = [*order.stamp(event), self.agents[event.stored["agent_id"]].pk]
            if event.stored.get("user_id") and "user" not in names:
                names["user"] = [*order.stamp(event), event.stored["user_id"]]
        if not first_seen:
            return
        for session in Session.objects.filter(workspace=self.workspace, session_id__in=first_seen):
            self.sessions[session.session_id] = session
        created = []
        dirty = Dirty()
        for session_id in first_seen:
            session = self.sessions.get(session_id)
            if session is None:
                stamps = named[session_id]
                session = Session(
                    workspace=self.workspace,
                    session_id=session_id,
                    agent_id=stamps["agent"][2] if "agent" in stamps else None,
                    user_id=stamps["user"][2] if "user" in stamps else "",
                    started_at=first_seen[session_id],
                    last_activity_at=last_seen[session_id],
                    stamps=stamps,
                )
                self.sessions[session_id] = session
                created.append(session)
                continue
            dirty.set(
                session,
                started_at=min(session.started_at, first_seen[session_id]),
                last_activity_at=max(session.last_activity_at, last_seen[session_id]),
            )
            stamps = {
                name: value
                for name, value in named[session_id].items()
                if order.earlier(value[:2], session.stamps.get(name))
            }
            if stamps:
                dirty.set(session, stamps={**session.stamps, **stamps})
                self.people_sessions.add(session.pk)
        bulk.insert(Session, created)
        self.new_sessions = {id(session) for session in created}
        self.people_sessions.update(session.pk for session in created)
        dirty.save(Session)
        self.touched_sessions.update(s.pk for s in self.sessions.values())

    def fold_runs(self):
        created = []
        for event in self.events:
            run_id = event.stored.get("run_id")
            if not run_id:
                continue
            run = self.runs.get(run_id)
            if run is None:
                run = Run(
                    workspace=self.workspace,
                    run_id=run_id,
                    invocation_id=derive_invocation_id(run_id),
                    started_at=event.timestamp,
                    status=RunStatus.RUNNING,
                    trace=[],
                    metadata={},
                    tags=[],
                )
                self.runs[run_id] = run
                self.new_runs.add(run_id)
                created.append(run)
            self.fold_run_event(run, event)
        return created

    def fold_run_event(self, run, event):
        """Apply one event to a run. Events come in (timestamp, id) order within the batch."""
        body, ts, set_ = event.body, event.timestamp, self.run_dirty.set
        if ts < run.started_at:
            set_(run, started_at=ts)
        status = RUN_STATUS.get(event.type)
        if status and later(ts, RUN_RANK[status], run.status_at, RUN_RANK[RunStatus(run.status)]):
            if status in RUN_FINAL and run.status not in RUN_FINAL:
                self.finished_runs.add(run.run_id)
            set_(run, status=status, status_at=ts)
        if event.type == "run.start":
            agent = self.agents[body.agent_id]
            if run.pk is not None and run.agent_id != agent.pk:
                # Stored before its agent was known: cut to the agent's mode (see recut).
                self.recut_runs[run.pk] = agent
            metadata = {**(body.metadata or {}), **body.extras()}
            set_(
                run,
                has_start=True,
                agent=agent,
                workflow=body.workflow or "",
                input=body.input,
                metadata=metadata,
                replay_of=replayed_run(metadata),
                tags=body.tags or [],
                graph=body.graph.model_dump()
                if body.graph is not None and hasattr(body.graph, "model_dump")
                else body.graph,
            )
            if body.invocation_id:
                set_(run, invocation_id=body.invocation_id)
        elif event.type == "run.complete":
            set_(run, output=body.output)
        elif event.type == "run.failed":
            set_(run, error=body.error)
        elif event.type == "state.checkpoint":
            if run.state_at is None or ts >= run.state_at:
                set_(run, state=body.state, state_at=ts)
            if body.trace is not None and (run.trace_at is None or ts >= run.trace_at):
                set_(run, trace=list(body.trace), trace_at=ts)
        self.link_conversation(run, event)
        ended = run.status_at if run.status in RUN_FINAL else None
        set_(run, ended_at=ended, duration_ms=duration_ms(run.started_at, ended))

    def link_conversation(self, run, event):
        """The run.start names a run's session and user; any other event naming them fills them in.

        An OTLP trace names its session on whichever span the agent code set it, and the root span
        (the run.start) usually arrives last. The run.start wins whatever the order.
        """
        starts = event.type == "run.start"
        session_id = event.stored.get("session_id")
        if session_id and (starts or run.session_id is None):
            session = self.sessions[session_id]
            if run.session_id is None or run.session_id != session.pk:
                # The conversation it leaves may have taken its agent or user from this run.
                self.people_sessions.add(run.session_id)
                self.run_dirty.set(run, session=session)
        user_id = event.stored.get("user_id")
        if user_id and (starts or not run.user_id):
            self.run_dirty.set(run, user_id=user_id)

    def fold_tasks(self):
        """Fold task events into loaded or new tasks; the changed ones are written, the new returned."""
        task_events = [e for e in self.events if is_task_event(e)]
        if not task_events:
            return []
        keys = {(e.body.run_id, e.body.step_id) for e in task_events}
        existing_runs = [self.runs[r].pk for r, _ in keys if r not in self.new_runs]
        if existing_runs:
            rows = Task.objects.filter(run__in=set(existing_runs), step_id__in={s for _, s in keys}).defer(
                *TASK_PAYLOADS
            )
            by_pk = {r.pk: run_id for run_id, r in self.runs.items()}
            for task in rows:
                key = (by_pk[task.run_id], task.step_id)
                if key in keys:
                    task.run = self.runs[key[0]]  # loaded already: reading it must not query
                    self.tasks[key] = task
        created, dirty = [], Dirty()
        for event in task_events:
            key = (event.body.run_id, event.body.step_id)
            task = self.tasks.get(key)
            if task is None:
                task = Task(
                    workspace=self.workspace,
                    run=self.runs[key[0]],
                    step_id=key[1],
                    type=IMPLIED_TYPE.get(event.type, TaskType.FUNCTION),
                    metadata={},
                    stamps={},
                )
                self.tasks[key] = task
                created.append(task)
            self.fold_task_event(task, event, dirty)
        self.number_new_runs_tasks(created)
        self.link_new_tasks_to_parents(created)
        for task in created:
            dirty.forget(task)
        self.search.add_changed(dirty, self.search.add_task)
        dirty.save(Task)
        self.new_task_runs = {k[0] for k in keys}
        return created

    def link_new_tasks_to_parents(self, created):
        """Point new tasks at parents the batch knows before they are written (PostgreSQL, where keys
        can be had first), as finish_runs would: it then rewrites only the tasks whose parent is not
        known yet, instead of nearly every task just inserted (a second copy of each row)."""
        if not bulk.on_postgresql():
            return
        bulk.assign_ids(Task, created)
        for task in created:
            if task.parent_step_id:
                parent = self.tasks.get((task.run.run_id, task.parent_step_id))
                if parent is not None and parent.pk is not None:
                    task.parent = parent

    def number_new_runs_tasks(self, created):
        """Number the tasks of runs first seen in this batch as renumber() will, so that it finds nothing
        to rewrite: a rewrite copies each ~1 KB row and its index entries once more. (Where text
        collation orders step ids differently, renumber() still sets the right numbers.)"""
        new = [task for task in created if task.run.run_id in self.new_runs]
        for task, place in places(new, lambda task: task.run.run_id, task_order):
            task.sequence = place

    def prefill_totals(self, runs, tasks, calls):
        """Give the new runs and tasks the token and cost totals, and the runs the trace, that
        finish_runs derives from the stored rows, so that it finds them right instead of rewriting
        each ~1 KB row just written. finish_runs still decides: anything computed differently here
        (a call stored by an earlier batch, a collation that orders step ids otherwise) is rewritten
        there."""
        kept = {}
        for call in calls:  # the first row of a call id is the one stored
            kept.setdefault((call["run"].run_id, call["call_id"]), call)
        new_tasks = {id(task) for task in tasks}
        by_run = defaultdict(list)
        for call in kept.values():
            by_run[id(call["run"])].append(call)
            task = call["task"]
            if id(task) in new_tasks:
                task.total_tokens += call["total_tokens"]
                task.cost = known_sum((task.cost, call["cost"]))
        for run in runs:
            run_calls = by_run.get(id(run), ())
            run.model_calls = len(run_calls)
            for total in ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens"):
                setattr(run, total, sum(call[total] for call in run_calls))
            run.cost = known_sum(call["cost"] for call in run_calls)
        top = defaultdict(list)
        for task in sorted((t for t in tasks if not t.parent_step_id), key=lambda t: t.sequence):
            top[id(task.run)].append(task.name or task.step_id)
        for run in runs:
            if run.trace_at is None and run.run_id in self.new_task_runs:
                run.trace = top[id(run)]

    def insert_runs_and_tasks(self, runs, tasks):
        """Write the new runs, then the new tasks that point to them."""
        bulk.insert(Run, runs)
        for run in runs:
            self.run_dirty.forget(run)
            self.search.add_run(run, search.RUN_FIELDS, replaces=False)
        bulk.insert(Task, tasks)
        for task in tasks:
            self.search.add_task(task, search.TASK_FIELDS, replaces=False)

    def fold_task_event(self, task, event, dirty):
        body, ts, set_ = event.body, event.timestamp, dirty.set
        opened = task.started_at is not None
        if event.type in TASK_OPENERS and (task.started_at is None or ts <= task.started_at):
            values = {"started_at": ts}
            if event.type == "step.start":
                values.update(name=body.name, type=body.type or TaskType.FUNCTION, input=body.input)
                values.update(parent_step_id=body.parent_id or "", attempt=body.attempt or 1)
            elif event.type == "tool.call":
                values.update(name=body.tool, type=TaskType.TOOL, input=body.args)
                values.update(parent_step_id=body.parent_id or "")
            elif event.type == "log":
                values.update(name=body.name, type=TaskType.CUSTOM, input=body.input, output=body.output)
                values.update(parent_step_id=body.parent_id or "")
            elif event.type == "gate.waiting":
                values.update(type=TaskType.GATE, name=body.name or task.name or body.step_id)
            set_(task, **values)
        elif not opened and event.type in IMPLIED_TYPE:
            set_(task, type=IMPLIED_TYPE[event.type])
        if not task.name and getattr(body, "name", None):
            set_(task, name=body.name)
        status = TASK_STATUS.get(event.type)
        if status and later(ts, TASK_RANK[status], task.status_at, TASK_RANK[TaskStatus(task.status)]):
            set_(task, status=status, status_at=ts)
        if event.type in ("step.ok",):
            set_(task, output=body.output)
        elif event.type == "tool.ok":
            set_(task, output=body.result)
        elif event.type in ("step.failed", "tool.failed"):
            set_(task, error=body.error)
        # The ids that link the run to its conversation are links, not the task's metadata.
        extras = {k: v for k, v in body.extras().items() if k not in CONVERSATION_LINKS}
        if event.type == "log":
            extras = {**(body.metadata or {}), **extras, **({"level": body.level} if body.level else {})}
        elif event.type.startswith("gate."):
            extras.update({k: getattr(body, k) for k in ("approver", "comment") if getattr(body, k)})
        if extras:
            seen = task.stamps.get("metadata", {})
            metadata, stamps = order.merge_latest(task.metadata, seen, extras, order.stamp(event))
            if stamps is not seen:
                set_(task, metadata=metadata, stamps={**task.stamps, "metadata": stamps})
        ended = task.status_at if task.status in TASK_FINAL else None
        set_(task, ended_at=ended, duration_ms=duration_ms(task.started_at, ended))

    def model_call_rows(self):
        """The batch's model calls as rows to insert; a task here is one of the batch's, maybe unsaved."""
        calls = []
        prices = None
        for event in self.of_type("llm.call"):
            body = event.body
            tokens = usage.of_llm_call(body)
            costs = sent_cost(body)
            if costs is None:
                prices = prices or PriceBook(self.workspace, self.package_prices)
                costs = priced_cost(prices, body.model, body.provider, event.timestamp, tokens)
            task = self.tasks.get((body.run_id, body.step_id)) if body.step_id else None
            calls.append(
                dict(
                    workspace=self.workspace,
                    run=self.runs[body.run_id],
                    task=task,
                    step_id=body.step_id or "",
                    call_id=body.call_id or event.id,
                    provider=body.provider or "",
                    model=body.model,
                    **tokens,
                    total_tokens=tokens["prompt_tokens"] + tokens["completion_tokens"],
                    latency_ms=round(body.latency_ms) if body.latency_ms is not None else None,
                    ttft_ms=round(body.ttft_ms) if body.ttft_ms is not None else None,
                    **costs,
                    finish_reason=body.finish_reason or "",
                    status=body.status or ("error" if body.error else "ok"),
                    error=body.error,
                    request=body.request,
                    response=body.response,
                    metadata=body.extras(),
                    created_at=event.timestamp,
                )
            )
        return calls

    def insert_messages(self):
        messages = []
        for event in self.of_type("message"):
            body = event.body
            metadata = {**(body.metadata or {}), **body.extras()}
            role = body.role.lower()
            if role not in KNOWN_ROLES:
                metadata["role"] = body.role
                role = ChatRole.CUSTOM
            messages.append(
                dict(
                    workspace=self.workspace,
                    session=self.sessions[body.session_id],
                    run=self.runs.get(body.run_id) if body.run_id else None,
                    step_id=body.step_id or "",
                    event_id=event.id,
                    role=role,
                    content=body.content,
                    metadata=metadata,
                    created_at=event.timestamp,
                )
            )
        number_new_sessions_messages(messages, self.new_sessions)
        bulk.append(ChatMessage, messages)
        for message in messages:
            self.search.add(
                message["run"],
                SearchKind.MESSAGE,
                message["event_id"],
                message["created_at"],
                message["content"],
            )

    def insert_events(self):
        bulk.append(
            Event,
            [
                dict(
                    workspace=self.workspace,
                    event_id=e.id,
                    type=e.type,
                    run=self.run_for(e),
                    step_id=e.stored.get("step_id") or "",
                    timestamp=e.timestamp,
                    payload=e.stored,
                )
                for e in self.events
            ],
        )

    # -- what is derived from the stored rows -----------------------------------------------------

    def finish_runs(self):
        touched = [r.pk for r in self.runs.values()]
        if not touched:
            return
        task_runs = {self.runs[r].pk for r in self.new_task_runs}
        llm_runs = {self.runs[e.body.run_id].pk for e in self.of_type("llm.call")}
        if task_runs or llm_runs:
            link_runs = task_runs | llm_runs
            ModelCall.objects.filter(run__in=link_runs, task__isnull=True).exclude(step_id="").update(
                task=Subquery(
                    Task.objects.filter(run=OuterRef("run"), step_id=OuterRef("step_id")).values("pk")[:1]
                )
            )
            add_up_task_calls(link_runs)
        if task_runs:
            # Tasks whose parent has arrived: one still missing is not rewritten with NULL again.
            parents = Task.objects.filter(run=OuterRef("run"), step_id=OuterRef("parent_step_id"))
            Task.objects.filter(run__in=task_runs, parent__isnull=True).exclude(parent_step_id="").filter(
                Exists(parents)
            ).update(parent=Subquery(parents.values("pk")[:1]))
            renumber("tasks", "run_id", "COALESCE(started_at, status_at)", "step_id", task_runs)
        if llm_runs:
            sums = (
                ModelCall.objects.filter(run__in=llm_runs)
                .values("run")
                .annotate(
                    n=Count("id"),
                    prompt=Sum("prompt_tokens"),
                    completion=Sum("completion_tokens"),
                    cached=Sum("cached_tokens"),
                    total=Sum("total_tokens"),
                    cost_sum=Sum("cost"),
                )
            )
            by_pk = {r.pk: r for r in self.runs.values()}
            for row in sums:
                self.run_dirty.set(
                    by_pk[row["run"]],
                    model_calls=row["n"],
                    prompt_tokens=row["prompt"] or 0,
                    completion_tokens=row["completion"] or 0,
                    cached_tokens=row["cached"] or 0,
                    total_tokens=row["total"] or 0,
                    cost=row["cost_sum"],  # NULL when no call has a known cost
                )
        self.derive_traces(task_runs)
        now = timezone.now()
        for run in self.runs.values():
            changed = self.run_dirty.changed.get(id(run), (run, ()))[1]
            if run.run_id in self.new_runs or not PEOPLE_FIELDS.isdisjoint(changed):
                self.people_sessions.add(run.session_id)
            if self.run_dirty.has(run):
                self.run_dirty.set(run, updated_at=now)
            if run.session_id:
                self.touched_sessions.add(run.session_id)
        self.search.add_changed(self.run_dirty, self.search.add_run)
        self.run_dirty.save(Run)

    def derive_traces(self, task_runs):
        """A run without a checkpointed trace shows its top-level tasks' names in start order."""
        runs = [r for r in self.runs.values() if r.trace_at is None and r.pk in task_runs]
        if not runs:
            return
        names = defaultdict(list)
        rows = (
            Task.objects.filter(run__in=[r.pk for r in runs], parent_step_id="")
            .order_by("run", "sequence")
            .values_list("run", "name", "step_id")
        )
        for run_pk, name, step_id in rows:
            names[run_pk].append(name or step_id)
        for run in runs:
            self.run_dirty.set(run, trace=names[run.pk])

    def settle_session_people(self):
        """A session's agent and user are those of its earliest run (by start time, then run id) that
        names one; without such a run, those the earliest event naming them with the session named
        (its stamps). Sessions first seen in this batch have all their runs here: no query."""
        pks = self.people_sessions - {None}
        if not pks:
            return
        new = {s.pk: s for s in self.sessions.values() if id(s) in self.new_sessions and s.pk in pks}
        found = {pk: [session, None, ""] for pk, session in new.items()}
        for run in sorted(self.runs.values(), key=lambda r: (r.started_at, r.run_id)):
            seen = found.get(run.session_id)
            if seen is not None:
                seen[1] = seen[1] or run.agent_id
                seen[2] = seen[2] or run.user_id
        stored = pks - set(new)
        if stored:
            runs = Run.objects.filter(session=OuterRef("pk")).order_by("started_at", "run_id")
            rows = (
                Session.objects.filter(pk__in=stored)
                .only("pk", "agent", "user_id", "stamps")
                .annotate(
                    run_agent=Subquery(runs.filter(agent__isnull=False).values("agent")[:1]),
                    run_user=Subquery(runs.exclude(user_id="").values("user_id")[:1]),
                )
            )
            for session in rows:
                found[session.pk] = [session, session.run_agent, session.run_user or ""]
        dirty = Dirty()
        for session, run_agent, run_user in found.values():
            named_agent = session.stamps.get("agent", (None, None, session.agent_id))[2]
            if named_agent not in self.agents_by_pk:
                # Named in an earlier batch: the session holds it already, unless it was deleted since.
                named_agent = session.agent_id
            named_user = session.stamps.get("user", (None, None, session.user_id))[2]
            dirty.set(session, agent_id=run_agent or named_agent, user_id=run_user or named_user)
        dirty.save(Session)

    def finish_sessions(self):
        if self.of_type("message"):
            renumber(
                "chat_messages",
                "session_id",
                "created_at",
                "event_id",
                {self.sessions[e.body.session_id].pk for e in self.of_type("message")},
            )
        refresh_sessions(self.touched_sessions)


def number_new_sessions_messages(messages, new_sessions):
    """Number the messages of conversations first seen in this batch as renumber() will, so that it
    finds nothing to rewrite."""
    new = [message for message in messages if id(message["session"]) in new_sessions]
    for message, place in places(new, lambda m: id(m["session"]), lambda m: (m["created_at"], m["event_id"])):
        message["sequence"] = place


def places(rows, partition, order):
    """(row, place) for each row: its 1-based place within its partition, in `order`."""
    groups = defaultdict(list)
    for row in rows:
        groups[partition(row)].append(row)
    for group in groups.values():
        yield from zip(sorted(group, key=order), itertools.count(1))


def add_up_task_calls(runs):
    """Set each task's tokens and cost to the sums of its model calls, for the tasks with calls in these
    runs, rewriting only the tasks whose sums are not already right. A cost no call knows stays NULL
    (-1 stands for it in the comparison: a cost is never negative)."""
    runs = list(runs)
    placeholders = ", ".join(["%s"] * len(runs))
    sql = f"""
        UPDATE tasks SET total_tokens = called.tokens, cost = called.cost
        FROM (
            SELECT task_id, SUM(total_tokens) AS tokens, SUM(cost) AS cost
            FROM model_call_stats WHERE run_id IN ({placeholders}) AND task_id IS NOT NULL
            GROUP BY task_id
        ) AS called
        WHERE tasks.id = called.task_id AND (
            tasks.total_tokens <> called.tokens OR COALESCE(tasks.cost, -1) <> COALESCE(called.cost, -1)
        )
    """  # noqa: S608 - only placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, runs)


def renumber(table, partition, order_by, tie_breaker, keys):
    """Set `sequence` to each row's place within its partition, in SQL, touching only rows that move."""
    keys = list(keys)
    if not keys:
        return
    placeholders = ", ".join(["%s"] * len(keys))
    # NULL times sort last on both SQLite and PostgreSQL.
    sql = f"""
        UPDATE {table} SET sequence = ranked.place
        FROM (
            SELECT id, ROW_NUMBER() OVER (
                PARTITION BY {partition}
                ORDER BY ({order_by}) IS NULL, {order_by}, {tie_breaker}, id
            ) AS place
            FROM {table} WHERE {partition} IN ({placeholders})
        ) AS ranked
        WHERE {table}.id = ranked.id AND {table}.sequence <> ranked.place
    """  # noqa: S608 - table and column names are constants of this module
    with connection.cursor() as cursor:
        cursor.execute(sql, keys)
