"""Model calls: every call, newest first, under a per-model roll-up of the chosen range."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import ModelCallFilterForm
from traces.keyset import Keyset
from traces.models import ModelCall
from traces.rollups.model_calls import model_rollup

from .common import PAGE_SIZE, bad_query, fragment_target, pager_urls, render_region

CALLS = Keyset("created_at")
# Without a chosen range the roll-up covers this much, so its query stays bounded.
DEFAULT_ROLLUP_DAYS = 7
LISTED_FIELDS = (
    "id",
    "run__run_id",
    "run__invocation_id",
    "step_id",
    "call_id",
    "provider",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "total_tokens",
    "latency_ms",
    "ttft_ms",
    "cost",
    "finish_reason",
    "status",
    "created_at",
)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def model_call_list(request):
    form = ModelCallFilterForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    data = form.cleaned_data
    in_range = ModelCall.objects.filter(workspace=request.workspace, **form.time_range("created_at"))
    calls = in_range
    if data["model"]:
        calls = calls.filter(model=data["model"])
    if data["provider"]:
        calls = calls.filter(provider=data["provider"])
        in_range = in_range.filter(provider=data["provider"])
    if data["status"] == "ok":
        calls = calls.filter(status="ok")
    elif data["status"] == "error":
        calls = calls.filter(~Q(status="ok"))
    page = CALLS.page(
        calls.select_related("run").only(*LISTED_FIELDS),
        after=data["after"],
        before=data["before"],
        size=PAGE_SIZE,
    )
    context = {"form": form, "page": page, **pager_urls(request, page, data)}
    # Paging swaps the list of calls alone: the roll-up of the range, the page's costliest query,
    # is the same on every page of it.
    if fragment_target(request) != "calls":
        default_range = not (data["since"] or data["until"])
        if default_range:
            in_range = in_range.filter(created_at__gte=timezone.now() - timedelta(days=DEFAULT_ROLLUP_DAYS))
        context.update(
            rollup=model_rollup(in_range), default_range=default_range, rollup_days=DEFAULT_ROLLUP_DAYS
        )
    regions = {"results": "results", "calls": "calls"}
    return render_region(request, "traces/model_call_list.html", context, regions)
