"""A workspace holding one row of every kind, made through the real ingest, for tests that walk
every page: the URL policy walk and the escaping walk."""

from datetime import timedelta

from backoffice import cost_recompute
from backoffice.models import AuditEntry, Role, Scope
from metrics.dashboards import default_dashboard
from metrics.models import Budget, Dashboard, DashboardCard
from tests.events import BASE
from tests.factories import make_api_key, make_member, make_workspace
from traces.ingest import ingest_batch
from traces.models import EventType, Exporter, ExportItem, ModelPrice, RedactionRule, Review, Run

START = BASE

ALL_SCOPES = tuple(Scope.values)


def stamp(seconds):
    return (START + timedelta(seconds=seconds)).isoformat()


def populate(workspace, text="hello"):
    """Ingest a conversation with a run, tasks, a model call, messages and a business event, and add a
    review, a key, a price, a redaction rule, an audit entry and a recompute job. `text` goes into
    every name and payload that takes free text."""
    short = text[:150]  # for names, which the schema caps at 200 characters
    run_id, session_id, agent_id = (
        f"{workspace.slug}-run",
        f"{workspace.slug}-session",
        f"{workspace.slug}-agent",
    )
    batch = [
        ("agent.upsert", {"agent_id": agent_id, "name": f"Agent {short}", "description": short}),
        (
            "run.start",
            {
                "run_id": run_id,
                "agent_id": agent_id,
                "session_id": session_id,
                # The workspace in the end user's id too: forgetting one is answered 404 elsewhere.
                "user_id": f"user {short} {workspace.slug}",
                # A workflow is named, not numbered: the workspace in its name keeps it one workspace's.
                # Without control characters, which ingest refuses in names that are part of URLs.
                "workflow": f"flow {''.join(c for c in short if c.isprintable())} {workspace.slug}",
                "input": {"question": text, text[:50]: [text]},
                "metadata": {"note": text},
                "tags": [short],
                "graph": {"nodes": [{"id": "n1", "name": short}], "edges": []},
            },
        ),
        ("step.start", {"run_id": run_id, "step_id": "step-1", "name": f"step {short}", "input": text}),
        ("tool.call", {"run_id": run_id, "step_id": "tool-1", "tool": f"tool {short}", "args": {"q": text}}),
        ("tool.failed", {"run_id": run_id, "step_id": "tool-1", "error": {"message": text}}),
        (
            "llm.call",
            {
                "run_id": run_id,
                "step_id": "step-1",
                "call_id": "call-1",
                "model": f"model {short}",
                "provider": "provider",
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "request": {"messages": [{"role": "user", "content": text}]},
                "response": {"text": text},
            },
        ),
        ("message", {"session_id": session_id, "run_id": run_id, "role": "user", "content": text}),
        (
            "message",
            {
                "session_id": session_id,
                "run_id": run_id,
                "role": "assistant",
                "content": {"type": "card", "title": text},
            },
        ),
        ("state.checkpoint", {"run_id": run_id, "state": {"memory": text}, "trace": [short]}),
        ("gate.waiting", {"run_id": run_id, "step_id": "gate-1", "name": short}),
        ("track", {"name": f"event {short}", "properties": {"plan": text}, "run_id": run_id}),
        ("log", {"run_id": run_id, "step_id": "log-1", "name": f"log {short}", "output": text}),
        ("step.ok", {"run_id": run_id, "step_id": "step-1", "output": text}),
        ("run.failed", {"run_id": run_id, "error": {"message": text, "trace": text}}),
    ]
    events = [
        {"id": f"{workspace.slug}-{i}", "type": kind, "timestamp": stamp(i), "body": body}
        for i, (kind, body) in enumerate(batch)
    ]
    results = ingest_batch(workspace, events)
    rejected = [r for r in results if r["status"] != "accepted"]
    assert not rejected, rejected
    run = Run.objects.get(workspace=workspace, run_id=run_id)
    reviewer = make_member(workspace, Role.REVIEWER)
    Review.objects.create(
        workspace=workspace,
        run=run,
        rating="bad",
        comment=f"Wrong answer {text}",
        tags=[text],
        assignee=reviewer,
    )
    make_api_key(workspace, label=f"key {short}"[:100])
    ModelPrice.objects.create(workspace=workspace, model_pattern=short or "m")
    RedactionRule.objects.create(workspace=workspace, pattern="secret", replacement=f"[{short}]"[:100])
    exporter = Exporter.objects.create(
        workspace=workspace,
        name=short[:100] or "exporter",
        endpoint="https://collector.example.com/v1/traces",
        headers={"X-Note": text[:4000] or "x"},
        last_error=text[:500],
    )
    ExportItem.objects.create(exporter=exporter, run=run)
    # Named after the workspace: the same name in another workspace would be another row answering.
    EventType.objects.create(
        workspace=workspace, name=f"w{workspace.pk}", description=text[:500], schema={"title": text}
    )
    AuditEntry.objects.create(
        workspace=workspace,
        actor_name=short,
        action="member.added",
        target=short,
        changes={"role": [text, text]},
    )
    cost_recompute.start(workspace, None, START.date(), START.date())
    # Dashboard slugs are names within a workspace: this one's is unique, so it also tells workspaces apart.
    board = Dashboard.objects.create(workspace=workspace, slug=f"{workspace.slug}-board", name=short[:100])
    DashboardCard.objects.create(
        dashboard=board, title=short[:100], kind="pie", source="events", breakdown="$name"
    )
    default_dashboard(workspace)
    Budget.objects.create(workspace=workspace, scope="user", key=short, limit=1)
    return run


def make_world(text="hello"):
    """Two workspaces, each populated; `home` is the outsiders' own, `target` the one they must not see."""
    home, target = make_workspace(), make_workspace(name=f"Team {text}"[:200])
    populate(home)
    populate(target, text)
    return {
        "home": home,
        "target": target,
        "home_admin": make_member(home, Role.ADMIN),
        "target_admin": make_member(target, Role.ADMIN),
        "target_viewer": make_member(target, Role.VIEWER),
        # Every scope, so the walks reach the admin routes too.
        "home_key": make_api_key(home, scopes=ALL_SCOPES)[1],
        "target_key": make_api_key(target, scopes=ALL_SCOPES)[1],
    }
