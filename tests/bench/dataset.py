"""The benchmark data set: realistic rows written straight into the real tables.

Rows are generated conversation by conversation, so every roll-up (a session's runs, messages, tokens
and cost; a run's model calls and tokens; a task's sequence) agrees with the rows below it, as the
ingest fold would leave them. Each chunk is written in dependency order (sessions, runs, tasks, model
calls, chat messages, business events) in its own transaction: COPY on PostgreSQL, executemany on
SQLite. Primary keys are assigned here and the sequences reset afterwards.

A marker table records the scale and seed of a complete build, so the next run reuses it.
"""

import hashlib
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from backoffice.models import Membership, Role, Workspace
from metrics.models import TrackedEvent, TrackedEventRollup
from metrics.rollups import spend
from metrics.rollups import tracked_events as rollups
from traces.models import Agent, ChatMessage, ModelCall, Run, Session, Task
from traces.rollups import daily as trace_rollups
from traces.rollups.sessions import preview

from .payloads import Payloads
from .tables import Table, max_id, reset_sequences

# Full scale, as the issue states it; `scale` is a fraction of it.
FULL = {
    "sessions": 200_000,
    "runs": 1_000_000,
    "tasks": 10_000_000,
    "model_calls": 2_000_000,
    "messages": 2_000_000,
    "tracked": 10_000_000,
}
# Bumped whenever a change of this module changes the rows it builds.
GENERATOR = 2
BIG_RUN_TASKS = 10_000
API_RUN_TASKS = 1_000
WORKFLOW_NODES = 500
DAYS = 90
WORKSPACES = [("bench-acme", "Acme (bench)", 0.6), ("bench-globex", "Globex (bench)", 0.3)]
WORKSPACES += [("bench-initech", "Initech (bench)", 0.1)]
AGENTS = [
    ("support-bot", "Support bot", "answer_ticket"),
    ("order-bot", "Order bot", "validate_order"),
    ("refund-flow", "Refund flow", "process_refund"),
    ("research-agent", "Research agent", "deep_research"),
    ("triage", "Triage", "triage_ticket"),
    ("sales-assistant", "Sales assistant", "qualify_lead"),
]
TOP_STEPS = [
    ("load_context", "function"),
    ("plan", "agent"),
    ("validate_input", "function"),
    ("is_refundable", "condition"),
    ("route", "switch"),
    ("compose_answer", "function"),
    ("persist", "function"),
]
CHILD_STEPS = [
    ("lookup_order", "tool"),
    ("search_kb", "retriever"),
    ("draft_reply", "llm"),
    ("fetch_invoice", "tool"),
    ("classify_intent", "llm"),
    ("crm_update", "tool"),
    ("send_email", "connector"),
]
LLM_CHILDREN = [step for step in CHILD_STEPS if step[1] == "llm"]
OTHER_CHILDREN = [step for step in CHILD_STEPS if step[1] != "llm"]
# The share of child steps that call a model. Children are ~63 % of the tasks (1-3 per top step, cut at
# the run's size), so this makes model calls the fifth of the tasks that FULL asks for.
LLM_CHILD_SHARE = 0.317
# $ per million tokens (input, output): the cost of a call in micro-dollars is tokens × price.
MODELS = [
    ("openai", "gpt-4o", 2.5, 10.0),
    ("openai", "gpt-4o-mini", 0.15, 0.6),
    ("anthropic", "claude-sonnet-4", 3.0, 15.0),
    ("google", "gemini-2.0-flash", 0.1, 0.4),
]
TRACKED_NAMES = ["order_validated", "checkout", "refund_requested", "ticket_resolved", "search"]
USER = "bench-admin"
MARKER = "bench_dataset"
CHUNK_SESSIONS = 400

SESSIONS = Table(
    Session,
    "id workspace_id session_id agent_id user_id started_at last_activity_at run_count message_count "
    "total_tokens cost has_error last_user_text last_assistant_text metadata",
)
RUNS = Table(
    Run,
    "id workspace_id run_id invocation_id session_id agent_id user_id workflow status started_at ended_at "
    "duration_ms input output error trace model_calls prompt_tokens completion_tokens cached_tokens "
    "total_tokens cost state graph metadata tags status_at state_at trace_at has_start updated_at",
)
TASKS = Table(
    Task,
    "id workspace_id run_id step_id parent_id parent_step_id sequence name type status started_at ended_at "
    "duration_ms input output error metadata attempt total_tokens cost status_at",
)
CALLS = Table(
    ModelCall,
    "id workspace_id run_id task_id step_id call_id provider model prompt_tokens completion_tokens "
    "cached_tokens total_tokens latency_ms ttft_ms input_cost output_cost cost finish_reason status error "
    "request response metadata created_at",
)
MESSAGES = Table(
    ChatMessage,
    "id workspace_id session_id run_id step_id event_id sequence role content metadata created_at",
)
TRACKED = Table(
    TrackedEvent,
    "id workspace_id event_id agent_id session_id run_id name properties timestamp",
)
ORDER = [SESSIONS, RUNS, TASKS, CALLS, MESSAGES, TRACKED]


def money(micro):
    return Decimal(micro).scaleb(-6)


def special_size(full, scale):
    """The special runs keep their full size down to scale 0.001, then shrink with it (tiny CI runs)."""
    return min(full, max(20, round(full * scale * 1000)))


@dataclass
class Facts:
    """What a build made, stored in the marker table and read back when the data set is reused."""

    scale: float
    seed: int
    anchor: str
    workspaces: list
    big_run: str
    api_run: str
    workflow_run: str
    counts: dict
    seconds: float
    # The generator's version: a data set built by an earlier one is rebuilt, not reused.
    generator: int = 1

    @property
    def anchor_time(self):
        return datetime.fromisoformat(self.anchor)


class Chunk:
    """The rows of a few hundred conversations, waiting to be written."""

    def __init__(self):
        self.rows = {table.model: [] for table in ORDER}

    def add(self, table, row):
        self.rows[table.model].append(row)

    def __len__(self):
        return sum(len(rows) for rows in self.rows.values())


class Builder:
    def __init__(self, scale, seed, anchor, progress):
        self.scale, self.seed, self.anchor = scale, seed, anchor
        self.rng = random.Random(seed)
        self.pay = Payloads(seed)
        self.ids = {table.model: max_id(table.model) for table in ORDER}
        self.counts = dict.fromkeys(FULL, 0)
        self.progress = progress
        self.bar = None

    def next_id(self, table):
        self.ids[table.model] += 1
        return self.ids[table.model]

    # -- the whole build -------------------------------------------------------------------------

    def build(self):
        started = time.monotonic()
        total = sum(round(n * self.scale) for n in FULL.values())
        specials = {
            "big": special_size(BIG_RUN_TASKS, self.scale),
            "api": special_size(API_RUN_TASKS, self.scale),
        }
        specials["nodes"] = special_size(WORKFLOW_NODES, self.scale)
        total += specials["big"] + specials["api"] + specials["nodes"]
        self.bar = tqdm(
            total=total, unit="rows", unit_scale=True, desc="bench data set", disable=not self.progress
        )
        workspaces, made = [], []
        for slug, name, share in WORKSPACES:
            workspace, agents = make_workspace(slug, name)
            workspaces.append(workspace.slug)
            made.append(workspace)
            if not workspaces[1:]:
                names = self.build_specials(workspace, agents, specials)
            sessions = round(FULL["sessions"] * self.scale * share) or 1
            for start in range(0, sessions, CHUNK_SESSIONS):
                chunk = Chunk()
                for _ in range(min(CHUNK_SESSIONS, sessions - start)):
                    self.conversation(chunk, workspace, agents, self.rng.randint(1, 9))
                self.write(chunk)
        self.bar.close()
        reset_sequences([table.model for table in ORDER])
        # The rows went in around the fold and the business-event sink: summarise them as those
        # would have (one INSERT … SELECT … GROUP BY per workspace and roll-up).
        for workspace in made:
            trace_rollups.rebuild(workspace)
            rollups.rebuild(workspace)
            spend.rebuild(workspace)
        if connection.vendor == "postgresql":
            # Fresh statistics and visibility maps, as autovacuum leaves insert-only tables after a
            # day of ingest: the plans measured (index-only scans included) are the plans production gets.
            # (VACUUM cannot run in a transaction: the smoke test's data set gets statistics only.)
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            with connection.cursor() as cursor:
                for table in [
                    *(t.name for t in ORDER),
                    trace_rollups.TABLE,
                    TrackedEventRollup._meta.db_table,
                    spend.TABLE,
                ]:
                    cursor.execute(f"{command} {table}")
        return Facts(
            scale=self.scale,
            seed=self.seed,
            anchor=self.anchor.isoformat(),
            workspaces=workspaces,
            big_run=names["big"],
            api_run=names["api"],
            workflow_run=names["workflow"],
            counts=self.counts,
            seconds=round(time.monotonic() - started, 1),
            generator=GENERATOR,
        )

    def build_specials(self, workspace, agents, specials):
        """The 10,000-task run, the 1,000-task run and the 500-node workflow, each in its own conversation."""
        chunk = Chunk()
        names = {}
        for key, tasks, hours in (("big", specials["big"], 3), ("api", specials["api"], 2)):
            names[key] = f"bench-run-{tasks}-tasks"
            self.conversation(
                chunk,
                workspace,
                agents,
                1,
                run_ids=[names[key]],
                tasks=tasks,
                at=self.anchor - timedelta(hours=hours),
            )
        names["workflow"] = f"bench-workflow-{specials['nodes']}-nodes"
        self.conversation(
            chunk,
            workspace,
            agents,
            1,
            run_ids=[names["workflow"]],
            workflow_nodes=specials["nodes"],
            at=self.anchor - timedelta(hours=1),
        )
        self.write(chunk)
        return names

    def write(self, chunk):
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # A half-written chunk after a crash is rebuilt anyway (the marker comes last),
                # so the build need not wait for each commit to reach the disk.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit = off")
            for table in ORDER:
                table.write(chunk.rows[table.model])
        self.bar.update(len(chunk))

    # -- one conversation ------------------------------------------------------------------------

    def conversation(
        self, chunk, workspace, agents, runs, run_ids=None, tasks=None, workflow_nodes=None, at=None
    ):
        rng = self.rng
        agent = rng.choice(agents)
        session_pk = self.next_id(SESSIONS)
        session_id = f"conv-{rng.getrandbits(64):016x}"
        user_id = f"user-{rng.randrange(50_000):05d}"
        start = at or self.anchor - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        clock = start
        totals = {"tokens": 0, "cost": 0, "failed": False, "messages": 0, "user": "", "assistant": ""}
        for n in range(runs):
            run_id = run_ids[n] if run_ids else f"{rng.getrandbits(128):032x}"
            clock = self.run(
                chunk, workspace, agent, session_pk, user_id, run_id, clock, totals, tasks, workflow_nodes
            )
            clock += timedelta(seconds=rng.uniform(5, 900))
        chunk.add(
            SESSIONS,
            (
                session_pk,
                workspace.pk,
                session_id,
                agent.pk,
                user_id,
                start,
                totals["last"],
                runs,
                totals["messages"],
                totals["tokens"],
                money(totals["cost"]),
                totals["failed"],
                preview(totals["user"]),
                preview(totals["assistant"]),
                "{}",
            ),
        )
        self.counts["sessions"] += 1

    def run(self, chunk, workspace, agent, session_pk, user_id, run_id, start, totals, tasks, workflow_nodes):
        rng, pay = self.rng, self.pay
        run_pk = self.next_id(RUNS)
        live = (
            self.anchor - start < timedelta(hours=2) and rng.random() < 0.5 and not (tasks or workflow_nodes)
        )
        failed = not live and rng.random() < 0.08 and workflow_nodes is None
        if workflow_nodes:
            steps, graph = workflow_steps(rng, workflow_nodes)
        else:
            steps, graph = tree_steps(rng, tasks or rng.randint(6, 14)), None
        built = self.tasks(chunk, workspace, run_pk, run_id, start, steps, failed, live)
        end = None if live else built["end"] + timedelta(milliseconds=rng.uniform(5, 200))
        status = "running" if live else ("failed" if failed else "completed")
        error = rng.choice(pay.errors) if failed else None
        trace = json.dumps(built["trace"])
        chunk.add(
            RUNS,
            (
                run_pk,
                workspace.pk,
                run_id,
                hashlib.sha256(run_id.encode()).hexdigest()[:8],
                session_pk,
                agent.pk,
                user_id,
                agent.workflow,
                status,
                start,
                end,
                None if end is None else int((end - start).total_seconds() * 1000),
                rng.choice(pay.task_inputs),
                None if live or failed else rng.choice(pay.task_outputs),
                error,
                trace,
                built["calls"],
                built["prompt"],
                built["completion"],
                built["cached"],
                built["prompt"] + built["completion"],
                money(built["cost"]),
                rng.choice(pay.states),
                json.dumps(graph) if graph else None,
                "{}",
                '["bench"]',
                end or start,
                built["end"],
                None,
                True,
                end or built["end"],
            ),
        )
        self.counts["runs"] += 1
        # Two turns per run: the user's ask when it starts and the answer when it ends.
        ask = rng.choice(pay.user_texts)
        self.message(chunk, workspace, session_pk, run_pk, "user", json.dumps(ask), start, totals)
        totals["user"] = ask
        last = end or built["end"]
        if not live:
            answer = rng.choice(pay.assistant_texts)
            content = json.dumps({"type": "text", "text": answer} if rng.random() < 0.3 else answer)
            self.message(chunk, workspace, session_pk, run_pk, "assistant", content, last, totals)
            totals["assistant"] = answer
        self.tracked(chunk, workspace, agent, session_pk, run_pk, start, last)
        totals["tokens"] += built["prompt"] + built["completion"]
        totals["cost"] += built["cost"]
        totals["failed"] = totals["failed"] or failed
        totals["last"] = last
        return last

    def tasks(self, chunk, workspace, run_pk, run_id, start, steps, failed, live):
        """Rows for a run's steps, in start order; returns the run's roll-ups."""
        rng, pay = self.rng, self.pay
        built = {"calls": 0, "prompt": 0, "completion": 0, "cached": 0, "cost": 0, "trace": []}
        clock = start + timedelta(milliseconds=rng.uniform(1, 20))
        pks, ends = [], {}
        last = len(steps) - 1
        for index, (name, type_, parent) in enumerate(steps):
            pk = self.next_id(TASKS)
            pks.append(pk)
            step_id = f"step-{index + 1:05d}"
            begin = clock
            took = (
                rng.uniform(20, 2500)
                if type_ in ("llm", "tool", "retriever", "connector")
                else rng.uniform(1, 40)
            )
            end = begin + timedelta(milliseconds=took)
            clock = begin + timedelta(milliseconds=rng.uniform(1, 30) if parent is None else took)
            status, error, output = "ok", None, rng.choice(pay.task_outputs)
            if index == last and failed:
                status, error, output = "failed", rng.choice(pay.errors), None
            elif index == last and live:
                status, end, output = "running", None, None
            tokens, cost = 0, 0
            if type_ == "llm":
                tokens, cost = self.model_call(chunk, workspace, run_pk, pk, step_id, begin, took, built)
            if parent is None:
                built["trace"].append(name)
            else:
                ends[parent] = max(ends.get(parent, end or begin), end or begin)
            chunk.add(
                TASKS,
                (
                    pk,
                    workspace.pk,
                    run_pk,
                    step_id,
                    None if parent is None else pks[parent],
                    "" if parent is None else f"step-{parent + 1:05d}",
                    index + 1,
                    name,
                    type_,
                    status,
                    begin,
                    end,
                    None if end is None else int(took),
                    rng.choice(pay.task_inputs),
                    output,
                    error,
                    "{}",
                    1,
                    tokens,
                    money(cost),
                    end or begin,
                ),
            )
            self.counts["tasks"] += 1
        built["end"] = clock
        return built

    def model_call(self, chunk, workspace, run_pk, task_pk, step_id, at, latency, built):
        rng, pay = self.rng, self.pay
        provider, model, price_in, price_out = rng.choice(MODELS)
        prompt, completion = rng.randint(200, 4000), rng.randint(20, 900)
        cached = prompt // 2 if rng.random() < 0.25 else 0
        cost_in, cost_out = round(prompt * price_in), round(completion * price_out)
        ok = rng.random() > 0.02
        chunk.add(
            CALLS,
            (
                self.next_id(CALLS),
                workspace.pk,
                run_pk,
                task_pk,
                step_id,
                f"call-{rng.getrandbits(64):016x}",
                provider,
                model,
                prompt,
                completion,
                cached,
                prompt + completion,
                int(latency),
                int(latency * rng.uniform(0.1, 0.4)),
                money(cost_in),
                money(cost_out),
                money(cost_in + cost_out),
                "stop" if ok else "error",
                "ok" if ok else "error",
                None if ok else pay.errors[2],
                rng.choice(pay.requests),
                rng.choice(pay.responses) if ok else None,
                "{}",
                at,
            ),
        )
        built["calls"] += 1
        built["prompt"] += prompt
        built["completion"] += completion
        built["cached"] += cached
        built["cost"] += cost_in + cost_out
        self.counts["model_calls"] += 1
        return prompt + completion, cost_in + cost_out

    def message(self, chunk, workspace, session_pk, run_pk, role, content, at, totals):
        pk = self.next_id(MESSAGES)
        totals["messages"] += 1
        chunk.add(
            MESSAGES,
            (
                pk,
                workspace.pk,
                session_pk,
                run_pk,
                "",
                f"bench-m{pk}",
                totals["messages"],
                role,
                content,
                "{}",
                at,
            ),
        )
        self.counts["messages"] += 1

    def tracked(self, chunk, workspace, agent, session_pk, run_pk, start, end):
        rng, pay = self.rng, self.pay
        span = max((end - start).total_seconds(), 0.001)
        for _ in range(rng.randint(5, 15)):
            pk = self.next_id(TRACKED)
            chunk.add(
                TRACKED,
                (
                    pk,
                    workspace.pk,
                    f"bench-t{pk}",
                    agent.pk,
                    session_pk,
                    run_pk,
                    rng.choice(TRACKED_NAMES),
                    rng.choice(pay.properties),
                    start + timedelta(seconds=rng.uniform(0, span)),
                ),
            )
            self.counts["tracked"] += 1


def tree_steps(rng, count):
    """(name, type, parent index) for a run of `count` steps: top-level steps with 1-3 children each."""
    steps = []
    while len(steps) < count:
        name, type_ = rng.choice(TOP_STEPS)
        top = len(steps)
        steps.append((name, type_, None))
        for _ in range(min(rng.randint(1, 3), count - len(steps))):
            pool = LLM_CHILDREN if rng.random() < LLM_CHILD_SHARE else OTHER_CHILDREN
            child, child_type = pool[rng.randrange(len(pool))]
            steps.append((child, child_type, top))
    return steps


def workflow_steps(rng, nodes):
    """A declared workflow of `nodes` nodes in layers of ten, each node feeding one or two of the next layer,
    and one top-level step per node."""
    kinds = ["function", "llm", "tool", "condition", "retriever", "connector"]
    graph_nodes = [
        {"id": f"n{i:03d}", "name": f"node_{i:03d}", "type": kinds[i % len(kinds)]} for i in range(nodes)
    ]
    edges = []
    for i in range(nodes):
        layer_next = range((i // 10 + 1) * 10, min((i // 10 + 2) * 10, nodes))
        for target in rng.sample(list(layer_next), min(len(layer_next), rng.randint(1, 2))):
            edges.append({"source": f"n{i:03d}", "target": f"n{target:03d}"})
    steps = [(node["name"], node["type"], None) for node in graph_nodes]
    return steps, {"nodes": graph_nodes, "edges": edges}


def make_workspace(slug, name):
    """The workspace, its agents, and an admin member for the page figures."""
    from django.contrib.auth import get_user_model

    workspace = Workspace.objects.create(slug=slug, name=name)
    user, _ = get_user_model().objects.get_or_create(username=USER)
    Membership.objects.create(user=user, workspace=workspace, role=Role.ADMIN)
    agents = Agent.objects.bulk_create(
        [Agent(workspace=workspace, agent_id=a, name=n, description=f"Runs {w}.") for a, n, w in AGENTS]
    )
    for agent, (_, _, workflow) in zip(agents, AGENTS, strict=True):
        agent.workflow = workflow
    return workspace, agents


# -- the marker ----------------------------------------------------------------------------------


def read_marker():
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER} (id INTEGER PRIMARY KEY, facts TEXT NOT NULL)")
        cursor.execute(f"SELECT facts FROM {MARKER} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    return Facts(**json.loads(row[0])) if row else None


def write_marker(facts):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {MARKER}")  # noqa: S608
        cursor.execute(f"INSERT INTO {MARKER} (id, facts) VALUES (1, %s)", [json.dumps(facts.__dict__)])  # noqa: S608


def clear():
    """Remove a previous (or half-built) bench data set; the marker goes first."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {MARKER}")  # noqa: S608
    slugs = [slug for slug, _, _ in WORKSPACES]
    if connection.vendor == "postgresql" and not Workspace.objects.exclude(slug__in=slugs).exists():
        # A database that holds only the bench data set: TRUNCATE is instant where DELETE takes minutes.
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE workspaces CASCADE")
    else:
        Workspace.objects.filter(slug__in=slugs).delete()


def ensure(scale, seed=1, progress=True, rebuild=False):
    """The data set of this scale and seed: reused when the marker says it is there, else built."""
    facts = read_marker()
    if facts and not rebuild and (facts.scale, facts.seed, facts.generator) == (scale, seed, GENERATOR):
        return facts, True
    clear()
    anchor = timezone.now().astimezone(UTC).replace(microsecond=0)
    facts = Builder(scale, seed, anchor, progress).build()
    write_marker(facts)
    return facts, False
