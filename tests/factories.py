"""Plain functions that make rows for tests: make_run(**overrides) and friends."""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from backoffice.models import ApiKey, Membership, Role, Workspace
from traces.models import (
    Agent,
    ChatMessage,
    Event,
    Exporter,
    ModelCall,
    Review,
    Run,
    Score,
    ScoreConfig,
    Session,
    Task,
)
from traces.rollups import daily as trace_rollups

_ids = itertools.count(1)


def next_id(prefix):
    return f"{prefix}-{next(_ids):06d}"


def make_workspace(**overrides):
    slug = overrides.pop("slug", None) or next_id("ws")
    return Workspace.objects.create(slug=slug, name=overrides.pop("name", slug.title()), **overrides)


def make_user(username=None, password="correct horse battery staple", **overrides):  # noqa: S107
    username = username or next_id("user")
    return get_user_model().objects.create_user(username=username, password=password, **overrides)


def make_member(workspace, role=Role.VIEWER, **user_fields):
    user = make_user(**user_fields)
    Membership.objects.create(user=user, workspace=workspace, role=role)
    return user


def make_cast(workspace):
    """The usual cast: a viewer, a reviewer and an admin of `workspace`, and an outsider of another one."""
    other = make_workspace()
    return {
        "viewer": make_member(workspace, Role.VIEWER),
        "reviewer": make_member(workspace, Role.REVIEWER),
        "admin": make_member(workspace, Role.ADMIN),
        "outsider": make_member(other, Role.ADMIN),
        "other_workspace": other,
    }


def make_api_key(workspace, label="tests", scopes=("ingest", "read")):
    """Returns (api_key, raw_key)."""
    return ApiKey.issue(workspace, label, scopes=scopes)


def make_agent(workspace, **overrides):
    agent_id = overrides.pop("agent_id", None) or next_id("agent")
    return Agent.objects.create(
        workspace=workspace, agent_id=agent_id, name=overrides.pop("name", agent_id), **overrides
    )


def make_session(workspace, **overrides):
    now = timezone.now()
    fields = {"session_id": next_id("session"), "started_at": now, "last_activity_at": now, **overrides}
    return Session.objects.create(workspace=workspace, **fields)


def summarised(row, part):
    """A row written as ingest would: added to the daily trace roll-ups (traces.rollups.daily)."""
    trace_rollups.add(trace_rollups.Scope.of(**{part: [row.pk]}))
    return row


def make_run(workspace, **overrides):
    run_id = overrides.pop("run_id", None) or next_id("run")
    started = overrides.pop("started_at", None) or timezone.now()
    fields = {
        "invocation_id": run_id[-8:].rjust(8, "0"),
        "status": "completed",
        "started_at": started,
        "ended_at": started + timedelta(seconds=2),
        "duration_ms": 2000,
        "workflow": "support",
        "total_tokens": 150,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "cost": Decimal("0.0012"),
        **overrides,
    }
    return summarised(Run.objects.create(workspace=workspace, run_id=run_id, **fields), "run_rows")


def make_task(run, **overrides):
    step_id = overrides.pop("step_id", None) or next_id("step")
    started = overrides.pop("started_at", None) or run.started_at
    fields = {
        "name": step_id,
        "type": "function",
        "status": "ok",
        "started_at": started,
        "ended_at": started + timedelta(milliseconds=300),
        "duration_ms": 300,
        "sequence": run.tasks.count() + 1,
        **overrides,
    }
    return summarised(
        Task.objects.create(workspace=run.workspace, run=run, step_id=step_id, **fields), "tasks"
    )


def make_model_call(run, **overrides):
    fields = {
        "call_id": next_id("call"),
        "model": "gpt-4o-mini",
        "provider": "openai",
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "latency_ms": 800,
        "cost": Decimal("0.0004"),
        "created_at": run.started_at,
        **overrides,
    }
    return summarised(ModelCall.objects.create(workspace=run.workspace, run=run, **fields), "calls")


def make_message(session, **overrides):
    fields = {
        "event_id": next_id("event"),
        "role": "user",
        "content": "Hello",
        "created_at": timezone.now(),
        "sequence": session.messages.count() + 1,
        **overrides,
    }
    return ChatMessage.objects.create(workspace=session.workspace, session=session, **fields)


def make_event(run, **overrides):
    fields = {
        "event_id": next_id("event"),
        "type": "step.start",
        "timestamp": timezone.now(),
        "payload": {},
        **overrides,
    }
    return Event.objects.create(workspace=run.workspace, run=run, **fields)


def make_review(run, **overrides):
    """A review filed straight into the table (no activity): for tests of reading and listing."""
    fields = {
        "rating": "bad",
        "comment": "The answer was wrong.",
        "priority": "medium",
        "reviewed_by": "tester",
        **overrides,
    }
    return Review.objects.create(workspace=run.workspace, run=run, **fields)


def make_score_config(workspace, **overrides):
    fields = {"name": next_id("score"), "data_type": "numeric", **overrides}
    return ScoreConfig.objects.create(workspace=workspace, **fields)


def make_score(run, **overrides):
    """A score written straight into the table, unchecked: for tests of reading and figures."""
    fields = {
        "name": "helpfulness",
        "data_type": "numeric",
        "value": 3.0,
        "source": "api",
        "author": "tests",
        "client_id": next_id("score"),
        "session": run.session,
        **overrides,
    }
    return Score.objects.create(workspace=run.workspace, run=run, **fields)


def make_exporter(workspace, **overrides):
    fields = {"name": next_id("exporter"), "endpoint": "https://collector.example.com/v1/traces", **overrides}
    return Exporter.objects.create(workspace=workspace, **fields)
