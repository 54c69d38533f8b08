import json
from datetime import timedelta

from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role

from ..dashboards import default_dashboard, export, unique_slug
from ..forms import DashboardForm, ImportForm, RangeForm
from ..models import Dashboard, DashboardCard
from ..sources import SOURCES
from .common import dashboard_url, done, get_dashboard, range_form


@require_GET
@workspace_view()
@vary_on_headers("HX-Request")
def dashboard_detail(request, dashboard=None):
    dashboards = list(Dashboard.objects.filter(workspace=request.workspace))
    if not dashboards:
        dashboards = [default_dashboard(request.workspace)]
    if dashboard is None:
        current = next((item for item in dashboards if item.is_default), dashboards[0])
    else:
        current = next((item for item in dashboards if item.slug == dashboard), None)
        if current is None:
            raise Http404("No such dashboard")
    ranges, bad_request = range_form(request)
    if bad_request:
        return bad_request

    cards = list(current.cards.all())
    # Cards flagged "hide without data" wait until their source has a row: one EXISTS per source.
    flagged = {card.source for card in cards if card.hide_without_data}
    with_data = {source for source in flagged if SOURCES[source].queryset(request.workspace).exists()}
    can_admin = request.role == Role.ADMIN
    slots = []
    for card in cards:
        waiting = card.hide_without_data and card.source not in with_data
        if waiting and not can_admin:
            continue
        slots.append({"card": card, "waiting": waiting})

    context = {
        "dashboards": dashboards,
        "dashboard": current,
        "slots": slots,
        "ranges": ranges,
        "query": ranges.query(),
        "refresh": ranges.cleaned_data.get("refresh"),
        "can_admin": can_admin,
        "range_choices": RangeForm.base_fields["range"].choices,
        # What the custom range offers before anyone picks dates: the last seven days.
        "default_start": timezone.localdate() - timedelta(days=6),
        "default_end": timezone.localdate(),
    }
    template = "metrics/dashboard_detail.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#grid"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@workspace_view(role=Role.ADMIN)
def dashboard_create(request):
    form = DashboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        dashboard = form.save(commit=False)
        dashboard.workspace = request.workspace
        dashboard.slug = unique_slug(request.workspace, dashboard.name)
        dashboard.save()
        audit.record(request, "dashboard.created", dashboard.name, {"name": [None, dashboard.name]})
        return done(request, dashboard_url(request, dashboard))
    return render(request, "metrics/dashboard_form.html", {"form": form, "dashboard": None})


@require_http_methods(["GET", "POST"])
@workspace_view(role=Role.ADMIN)
def dashboard_edit(request, dashboard):
    dashboard = get_dashboard(request, dashboard)
    before = {"name": dashboard.name, "is_default": dashboard.is_default}
    form = DashboardForm(request.POST or None, instance=dashboard)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if request.POST.get("is_default") and not dashboard.is_default:
                # One default per workspace (a unique constraint): clear the old one first.
                Dashboard.objects.filter(workspace=request.workspace, is_default=True).update(
                    is_default=False
                )
                dashboard.is_default = True
            form.save()
            after = {"name": dashboard.name, "is_default": dashboard.is_default}
            if after != before:
                audit.record(request, "dashboard.edited", dashboard.name, audit.diff(before, after))
        return done(request, dashboard_url(request, dashboard))
    return render(request, "metrics/dashboard_form.html", {"form": form, "dashboard": dashboard})


@require_POST
@workspace_view(role=Role.ADMIN)
def dashboard_delete(request, dashboard):
    dashboard = get_dashboard(request, dashboard)
    with transaction.atomic():
        cards = dashboard.cards.count()
        dashboard.delete()
        audit.record(
            request, "dashboard.deleted", dashboard.name, {"name": [dashboard.name, None], "cards": cards}
        )
        if dashboard.is_default:
            successor = (
                Dashboard.objects.filter(workspace=request.workspace).order_by("created_at", "id").first()
            )
            if successor:
                successor.is_default = True
                successor.save(update_fields=["is_default"])
    return done(request, reverse("metrics:dashboard_default", args=[request.workspace.slug]))


@require_GET
@workspace_view()
def dashboard_export(request, dashboard):
    dashboard = get_dashboard(request, dashboard)
    audit.record(request, "dashboard.exported", dashboard.name)
    body = json.dumps(export(dashboard, dashboard.cards.all()), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="dashboard-{dashboard.slug}.json"'
    return response


@require_http_methods(["GET", "POST"])
@workspace_view(role=Role.ADMIN)
def dashboard_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        with transaction.atomic():
            dashboard = Dashboard.objects.create(
                workspace=request.workspace, name=name, slug=unique_slug(request.workspace, name)
            )
            cards = []
            for position, card_form in enumerate(form.cleaned_data["cards"]):
                card = card_form.save(commit=False)
                card.dashboard, card.position = dashboard, position
                cards.append(card)
            DashboardCard.objects.bulk_create(cards)
            audit.record(request, "dashboard.imported", name, {"name": [None, name], "cards": len(cards)})
        return done(request, dashboard_url(request, dashboard))
    return render(request, "metrics/dashboard_import.html", {"form": form})
