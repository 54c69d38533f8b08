"""Score configs: the names, types, ranges and labels that scores must match. Admins add and archive
them; an archived config stays for the scores already given, and refuses new ones."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from traces.models import ScoreConfig
from traces.scores.configs import config_snapshot

from .forms import ScoreConfigForm


def render_configs(request, form=None):
    context = {
        "section": "score_configs",
        "configs": ScoreConfig.objects.filter(workspace=request.workspace),
        "form": form or ScoreConfigForm(workspace=request.workspace),
    }
    return render(request, "backoffice/governance/score_configs.html", context)


@require_GET
@workspace_view(Role.ADMIN)
def score_config_list(request):
    return render_configs(request)


@require_POST
@workspace_view(Role.ADMIN)
def score_config_create(request):
    form = ScoreConfigForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return render_configs(request, form)
    config = ScoreConfig.objects.create(workspace=request.workspace, **form.cleaned_data)
    audit.record(request, "score_config.created", config.name, audit.diff({}, config_snapshot(config)))
    messages.success(request, f"Score config “{config.name}” added: reviewers can score it now.")
    return redirect("governance:score_configs", workspace=request.workspace.slug)


@require_POST
@workspace_view(Role.ADMIN)
def score_config_archive(request, config_id):
    config = get_object_or_404(ScoreConfig.objects.filter(workspace=request.workspace), pk=config_id)
    config.archived = not config.archived
    config.save(update_fields=["archived", "updated_at"])
    audit.record(
        request, "score_config.archived", config.name, {"archived": [not config.archived, config.archived]}
    )
    return redirect("governance:score_configs", workspace=request.workspace.slug)
