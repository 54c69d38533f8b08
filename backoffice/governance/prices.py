from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from backoffice import audit, cost_recompute
from backoffice.access import workspace_view
from backoffice.models import CostRecomputeJob, Role
from traces.ingest.pricing import DEFAULTS_SOURCE
from traces.models import ModelPrice

from .forms import ModelPriceForm, RecomputeForm

PRICE_FIELDS = [
    "model_pattern",
    "input_per_million",
    "output_per_million",
    "cached_per_million",
    "effective_from",
]


def dollars(value):
    """15 → "15", 0.8 → "0.80", 0.075 → "0.075": cents at least, and every digit that matters."""
    text = f"{value.normalize():f}"
    whole, _, fraction = text.partition(".")
    return text if not fraction or len(fraction) >= 2 else f"{whole}.{fraction:0<2}"


def price_snapshot(price):
    return {name: getattr(price, name) for name in PRICE_FIELDS}


def render_prices(request, *, form=None, recompute_form=None):
    prices = list(
        ModelPrice.objects.filter(Q(workspace=request.workspace) | Q(workspace__isnull=True)).order_by(
            "model_pattern", "-effective_from", "id"
        )
    )
    overridden = {p.model_pattern.lower() for p in prices if p.workspace_id}
    for price in prices:
        price.shown = [dollars(getattr(price, name)) for name in PRICE_FIELDS[1:4]]
        price.is_default = price.workspace_id is None
        price.is_overridden = price.is_default and price.model_pattern.lower() in overridden
    context = {
        "section": "prices",
        "overrides": [p for p in prices if not p.is_default],
        "defaults": [p for p in prices if p.is_default],
        "defaults_source": DEFAULTS_SOURCE,
        "form": form or ModelPriceForm(),
        "recompute_form": recompute_form or RecomputeForm.last_month(),
        "jobs": CostRecomputeJob.objects.filter(workspace=request.workspace).select_related("created_by")[:5],
    }
    return render(request, "backoffice/governance/prices.html", context)


@require_GET
@workspace_view(Role.ADMIN)
def price_list(request):
    return render_prices(request)


@require_POST
@workspace_view(Role.ADMIN)
def price_create(request):
    form = ModelPriceForm(request.POST, instance=ModelPrice(workspace=request.workspace))
    if not form.is_valid():
        return render_prices(request, form=form)
    price = form.save()
    audit.record(request, "price.created", price.model_pattern, audit.diff({}, price_snapshot(price)))
    messages.success(
        request, f"Added a price for {price.model_pattern}. Recompute costs to apply it to past calls."
    )
    return redirect("governance:prices", workspace=request.workspace.slug)


@require_POST
@workspace_view(Role.ADMIN)
def price_delete(request, price_id):
    """Only the workspace's own rows: the shipped defaults are shared by every workspace."""
    price = get_object_or_404(ModelPrice.objects.filter(workspace=request.workspace), pk=price_id)
    price.delete()
    audit.record(request, "price.deleted", price.model_pattern, audit.diff(price_snapshot(price), {}))
    messages.success(request, f"Removed the price for {price.model_pattern}.")
    return redirect("governance:prices", workspace=request.workspace.slug)


@require_POST
@workspace_view(Role.ADMIN)
def recompute_start(request):
    form = RecomputeForm(request.POST)
    if not form.is_valid():
        return render_prices(request, recompute_form=form)
    start, end = form.cleaned_data["period_start"], form.cleaned_data["period_end"]
    job = cost_recompute.start(request.workspace, request.user, start, end)
    audit.record(request, "price.recompute_started", f"{start} – {end}", {"calls": [None, job.total]})
    return redirect("governance:recompute_detail", workspace=request.workspace.slug, job_id=job.pk)


def get_job(request, job_id):
    jobs = CostRecomputeJob.objects.filter(workspace=request.workspace).select_related("created_by")
    return get_object_or_404(jobs, pk=job_id)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view(Role.ADMIN)
def recompute_detail(request, job_id):
    job = get_job(request, job_id)
    template = "backoffice/governance/recompute.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#progress"
    return render(request, template, {"section": "prices", "job": job})


@require_POST
@workspace_view(Role.ADMIN)
def recompute_step(request, job_id):
    """Run one batch. HTMX polls this and swaps in the progress; a plain form post comes back to the page."""
    job = get_job(request, job_id)
    job = cost_recompute.step(job.pk, request.workspace)
    if request.htmx:
        return render(request, "backoffice/governance/recompute.html#progress", {"job": job})
    return redirect("governance:recompute_detail", workspace=request.workspace.slug, job_id=job.pk)
