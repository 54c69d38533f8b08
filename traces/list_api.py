"""The read API's lists and exports of the run record: runs, sessions, tasks and model calls.

Each list takes the filters of its page (the same forms; see backoffice.api_lists). Runs page by the
chosen sort, by default `id`: ingest order, an immutable key, so a client paging while events arrive
sees every run once. Sessions, tasks and model calls page in ingest order.
"""

from django import forms
from ninja import Router

from backoffice.api_auth import ApiKeyAuth
from backoffice.api_lists import ApiListForm, Listing

from .forms import DateRangeForm, ModelCallFilterForm, SessionFilterForm, of_agent
from .models import Agent, ModelCall, Session, Task, TaskStatus, TaskType
from .run_filters import SORT_CURSOR, RunFilterForm, matching

router = Router(tags=["lists and exports"], auth=ApiKeyAuth())


class RunListForm(ApiListForm, RunFilterForm):
    takes_agents = True
    default_sort = "id"
    cursor_fields = ("cursor",)
    cursor_validators = (SORT_CURSOR,)

    def __init__(self, data, agents=()):
        super().__init__(data, agents)
        self.fields[
            "sort"
        ].help_text = "A sort key, with a leading - for highest first; default id (ingest order)."


class SessionListForm(ApiListForm, SessionFilterForm):
    takes_agents = True
    # The Conversations page's message search reads a window of sessions: not a keyset page.
    page_only = (*ApiListForm.page_only, "q")


class TaskListForm(ApiListForm, DateRangeForm):
    run = forms.CharField(required=False, max_length=200, help_text="The tasks of this run (its run_id).")
    name = forms.CharField(required=False, max_length=200)
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *TaskType.choices])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *TaskStatus.choices])


class ModelCallListForm(ApiListForm, ModelCallFilterForm):
    run = forms.CharField(required=False, max_length=200, help_text="The calls of this run (its run_id).")


RUN_ITEM = {
    **dict.fromkeys(("run_id", "invocation_id")),
    "session_id": "session__session_id",
    "agent_id": "agent__agent_id",
    **dict.fromkeys(("user_id", "workflow", "status", "started_at", "ended_at", "duration_ms")),
    **dict.fromkeys(("model_calls", "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens")),
    **dict.fromkeys(("cost", "error", "metadata", "tags")),
}
SESSION_ITEM = {
    "session_id": None,
    "agent_id": "agent__agent_id",
    **dict.fromkeys(("user_id", "started_at", "last_activity_at", "run_count", "message_count")),
    **dict.fromkeys(("total_tokens", "cost", "has_error")),
}
TASK_ITEM = {
    "run_id": "run__run_id",
    "step_id": None,
    "parent_id": "parent_step_id",
    **dict.fromkeys(("sequence", "name", "type", "status", "started_at", "ended_at", "duration_ms")),
    **dict.fromkeys(("attempt", "total_tokens", "cost", "error")),
}
MODEL_CALL_ITEM = {
    "run_id": "run__run_id",
    **dict.fromkeys(("step_id", "call_id", "provider", "model", "prompt_tokens", "completion_tokens")),
    **dict.fromkeys(("cached_tokens", "total_tokens", "latency_ms", "ttft_ms", "cost", "finish_reason")),
    **dict.fromkeys(("status", "created_at")),
}


def fields(item):
    """An item's output names and the `values()` path of each (its own name when None)."""
    return {name: path or name for name, path in item.items()}


def workspace_agents(request):
    return list(Agent.objects.filter(workspace=request.workspace).only("agent_id", "name"))


def runs_of(request, form, agents):
    return matching(request.workspace, form, agents)


def sessions_of(request, form, agents):
    sessions = Session.objects.filter(workspace=request.workspace, **form.time_range("last_activity_at"))
    return form.narrow(of_agent(sessions, form.cleaned_data["agent"], agents))


def tasks_of(request, form, agents):
    data = form.cleaned_data
    tasks = Task.objects.filter(workspace=request.workspace, **form.time_range("started_at"))
    if data["run"]:
        tasks = tasks.filter(run__run_id=data["run"])
    return tasks.filter(**{name: data[name] for name in ("name", "type", "status") if data[name]})


def model_calls_of(request, form, agents):
    calls = ModelCall.objects.filter(workspace=request.workspace, **form.time_range("created_at"))
    if form.cleaned_data["run"]:
        calls = calls.filter(run__run_id=form.cleaned_data["run"])
    return form.narrow(calls)


LISTINGS = [
    Listing("runs", RunListForm, runs_of, fields(RUN_ITEM), summary="Runs", agents=workspace_agents),
    Listing(
        "sessions",
        SessionListForm,
        sessions_of,
        fields(SESSION_ITEM),
        summary="Sessions",
        agents=workspace_agents,
    ),
    Listing("tasks", TaskListForm, tasks_of, fields(TASK_ITEM), summary="Tasks"),
    Listing("model-calls", ModelCallListForm, model_calls_of, fields(MODEL_CALL_ITEM), summary="Model calls"),
]
for listing in LISTINGS:
    listing.register(router)
