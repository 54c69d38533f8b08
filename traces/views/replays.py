"""Replay a run (send it to its agent's webhook) and compare two runs side by side."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from backoffice.access import workspace_view
from backoffice.models import Role
from traces.compare import compare
from traces.models import Run
from traces.replay import send

from .common import bad_query

RUN_FIELDS = (
    *("run_id", "invocation_id", "workflow", "status", "started_at", "duration_ms", "trace", "output"),
    *(
        "model_calls",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost",
        "replay_of",
        "agent__name",
    ),
    "agent__agent_id",
)


@require_POST
@workspace_view(Role.ADMIN)
def run_replay(request, run_id):
    """Send the run to its agent's replay webhook; the run page then says how it went."""
    runs = Run.objects.filter(workspace=request.workspace).select_related("agent", "session")
    run = get_object_or_404(runs, run_id=run_id)
    sent, error = send(request, run)
    if error is not None:
        messages.error(request, f"Replay not sent. {error}")
    else:
        messages.success(
            request,
            f"Replay sent (the webhook answered {sent.status}). The new run links here once it arrives.",
        )
    return redirect("traces:run_detail", workspace=request.workspace.slug, run_id=run.run_id)


class CompareForm(forms.Form):
    a = forms.CharField(required=False, max_length=200, label="Run A")
    b = forms.CharField(required=False, max_length=200, label="Run B")


@require_GET
@workspace_view()
def run_compare(request):
    """?a=…&b=…: the two runs side by side; with one or none, the form to name them. A run id of no
    run of this workspace answers 404."""
    form = CompareForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    wanted = [form.cleaned_data["a"], form.cleaned_data["b"]]
    context = {"form": form}
    if all(wanted):
        runs = Run.objects.filter(workspace=request.workspace, run_id__in=wanted).select_related("agent")
        found = {run.run_id: run for run in runs.only(*RUN_FIELDS)}
        if any(run_id not in found for run_id in wanted):
            raise Http404("No such run in this workspace")
        run_a, run_b = found[wanted[0]], found[wanted[1]]
        context.update(run_a=run_a, run_b=run_b, comparison=compare(run_a, run_b))
    return render(request, "traces/run_compare.html", context)
