from django.db import transaction
from django.db.models import F, Max
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from backoffice.models import Role

from ..charts import figure_for
from ..discovery import event_names, metric_names, property_choices
from ..display import card_view
from ..engine import evaluate
from ..forms import CardForm
from ..models import DashboardCard, Source
from .common import dashboard_url, done, get_card, get_dashboard, range_form


def card_context(card, workspace, **evaluate_kwargs):
    """What the #card partial shows for a computed card. Hits the database once."""
    result = evaluate(card, workspace, **evaluate_kwargs)
    return {
        "card": card,
        "result": result,
        "view": card_view(card, result),
        "figure": figure_for(card, result),
        "chart_id": f"chart-{card.pk or 'preview'}",
        "computed_at": timezone.now(),
    }


@require_GET
@workspace_view()
@vary_on_headers("HX-Request")
def card_detail(request, dashboard, card):
    card = get_card(request, dashboard, card)
    ranges, bad_request = range_form(request)
    if bad_request:
        return bad_request
    context = card_context(card, request.workspace, **ranges.evaluate_kwargs())
    context.update(
        dashboard=card.dashboard,
        query=ranges.query(),
        refresh=ranges.cleaned_data.get("refresh"),
        can_admin=request.role == Role.ADMIN,
        # Fragments live in the dashboard grid, where cards can be dragged; the full page holds one card.
        sortable=bool(request.htmx),
    )
    template = "metrics/card_detail.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#card"
    return render(request, template, context)


def suggestions(request, source, event_name, metric_name):
    """Event or metric names and property names for the form's datalists. Two queries (three for
    OTLP metrics: their resource attributes too)."""
    source = source if source in Source.values else Source.RUNS
    if source == Source.OTLP_METRIC:
        return {
            "metric_names": metric_names(request.workspace),
            "property_names": property_choices(request.workspace, source, metric_name),
        }
    return {
        "event_names": event_names(request.workspace),
        "property_names": property_choices(
            request.workspace, source, event_name if source == Source.EVENTS else ""
        ),
    }


def preview_context(request, form):
    """The preview of a card form: the card computed as it stands, or why it cannot be yet."""
    names = (form["event_name"].value() or "", form["metric_name"].value() or "")
    context = suggestions(request, form["source"].value(), *names)
    if form.is_bound and not form.is_valid():
        return {**context, "preview": None}
    card = form.instance
    if form.is_bound:
        card.filters, card.condition = form.cleaned_data["filters"], form.cleaned_data["condition"]
    return {**context, "preview": card_context(card, request.workspace)}


def card_form_page(request, dashboard, form, card=None):
    context = {"form": form, "dashboard": dashboard, "card": card, **preview_context(request, form)}
    return render(request, "metrics/card_form.html", context)


@require_http_methods(["GET", "POST"])
@workspace_view(role=Role.ADMIN)
def card_create(request, dashboard):
    dashboard = get_dashboard(request, dashboard)
    instance = DashboardCard(dashboard=dashboard, title="Runs per day")
    form = CardForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        card = form.save(commit=False)
        last = dashboard.cards.aggregate(last=Max("position"))["last"]
        card.position = 0 if last is None else last + 1
        card.save()
        return done(request, f"{dashboard_url(request, dashboard)}#card-{card.pk}")
    return card_form_page(request, dashboard, form)


@require_http_methods(["GET", "POST"])
@workspace_view(role=Role.ADMIN)
def card_edit(request, dashboard, card):
    card = get_card(request, dashboard, card)
    form = CardForm(request.POST or None, instance=card)
    if request.method == "POST" and form.is_valid():
        card = form.save(commit=False)
        card.updated_at = timezone.now()
        card.save()
        return done(request, f"{dashboard_url(request, card.dashboard)}#card-{card.pk}")
    return card_form_page(request, card.dashboard, form, card)


@require_POST
@workspace_view(role=Role.ADMIN)
def card_preview(request, dashboard):
    dashboard = get_dashboard(request, dashboard)
    form = CardForm(request.POST, instance=DashboardCard(dashboard=dashboard))
    return render(request, "metrics/card_form.html#preview", {"form": form, **preview_context(request, form)})


@require_POST
@workspace_view(role=Role.ADMIN)
def card_duplicate(request, dashboard, card):
    card = get_card(request, dashboard, card)
    with transaction.atomic():
        # The copy goes right after the original: make room for it.
        card.dashboard.cards.filter(position__gt=card.position).update(position=F("position") + 1)
        card.pk = None
        card.title = f"{card.title} (copy)"[:100]
        card.position += 1
        card.created_at = card.updated_at = timezone.now()
        card.save()
    return done(request, f"{dashboard_url(request, card.dashboard)}#card-{card.pk}")


@require_POST
@workspace_view(role=Role.ADMIN)
def card_delete(request, dashboard, card):
    card = get_card(request, dashboard, card)
    card.delete()
    return done(request, dashboard_url(request, card.dashboard))


def reposition(dashboard, ordered_ids):
    cards = {card.pk: card for card in dashboard.cards.all()}
    for position, card_id in enumerate(ordered_ids):
        cards[card_id].position = position
    DashboardCard.objects.bulk_update(cards.values(), ["position"])


@require_POST
@workspace_view(role=Role.ADMIN)
def card_move(request, dashboard, card):
    card = get_card(request, dashboard, card)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("direction: must be up or down", content_type="text/plain")
    ids = list(card.dashboard.cards.values_list("pk", flat=True))
    index = ids.index(card.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
        reposition(card.dashboard, ids)
    return done(request, f"{dashboard_url(request, card.dashboard)}#card-{card.pk}")


@require_POST
@workspace_view(role=Role.ADMIN)
def card_order(request, dashboard):
    """Drag and drop: the dashboard's card ids in their new order."""
    dashboard = get_dashboard(request, dashboard)
    try:
        ordered = [int(value) for value in request.POST.getlist("card")]
    except ValueError:
        return HttpResponseBadRequest("card: each must be a card id", content_type="text/plain")
    existing = list(dashboard.cards.values_list("pk", flat=True))
    if sorted(ordered) != sorted(existing):
        return HttpResponseBadRequest(
            "card: list every card of this dashboard once", content_type="text/plain"
        )
    reposition(dashboard, ordered)
    return HttpResponse(status=204)
