"""Settings → Agents: each agent's capture mode, truncation limits and capture flags, and its replay
webhook (traces.replay).

A change is applied as an agent.upsert would apply it (traces.ingest.recut.set_policy): what is
already stored for the agent is cut to the new mode in the same transaction, and the audit log
records it with before and after.
"""

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from traces.forms import PagedForm
from traces.ingest.recut import POLICY_FIELDS, set_policy
from traces.keyset import Keyset
from traces.models import Agent

from .forms import AgentCaptureForm, ReplayWebhookForm

PAGE = 50
# Agents in the order they were first seen: a name may change, the order does not.
ORDER = Keyset("created_at", descending=False)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view(Role.ADMIN)
def agent_list(request):
    form = PagedForm(request.GET)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return HttpResponseBadRequest(f"{field}: {errors[0]}")
    agents = Agent.objects.filter(workspace=request.workspace)
    page = ORDER.page(agents, after=form.cleaned_data["after"], before=form.cleaned_data["before"], size=PAGE)
    context = {"section": "agents", "page": page}
    template = "backoffice/governance/agents.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def agent_edit(request, agent_pk):
    agent = get_object_or_404(Agent.objects.filter(workspace=request.workspace), pk=agent_pk)
    form = AgentCaptureForm(request.POST or None, instance=agent)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in POLICY_FIELDS}
        # The form has set the values on `agent` already: set_policy reads the stored ones again.
        changes = set_policy(agent, values)
        if changes:
            audit.record(request, "agent.capture_changed", agent.name, changes)
            messages.success(request, f"Capture of {agent.name} saved; what was stored is cut to it.")
        return redirect("governance:agents", workspace=request.workspace.slug)
    return render(
        request, "backoffice/governance/agent_edit.html", {"section": "agents", "agent": agent, "form": form}
    )


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def agent_replay(request, agent_pk):
    agent = get_object_or_404(Agent.objects.filter(workspace=request.workspace), pk=agent_pk)
    form = ReplayWebhookForm(
        request.POST or None, initial={"replay_url": agent.replay_url}, has_secret=bool(agent.replay_secret)
    )
    if request.method == "POST" and form.is_valid():
        before = {"replay_url": agent.replay_url, "replay_secret": "set" if agent.replay_secret else ""}
        agent.replay_url = form.cleaned_data["replay_url"]
        if form.cleaned_data["replay_secret"]:
            agent.replay_secret = form.cleaned_data["replay_secret"]
        if not agent.replay_url:
            agent.replay_secret = ""
        agent.save(update_fields=["replay_url", "replay_secret"])
        # The secret itself never goes into the log: only whether one is set, and that it changed.
        after = {
            "replay_url": agent.replay_url,
            "replay_secret": ("changed" if form.cleaned_data["replay_secret"] else "set")
            if agent.replay_secret
            else "",
        }
        changes = audit.diff(before, after)
        if changes:
            audit.record(request, "agent.replay_webhook_changed", agent.agent_id, changes)
        messages.success(request, f"Replay webhook of {agent} saved.")
        return redirect("governance:agents", workspace=request.workspace.slug)
    status = 400 if request.method == "POST" else 200
    context = {"section": "agents", "agent": agent, "form": form}
    return render(request, "backoffice/governance/agent_replay.html", context, status=status)
