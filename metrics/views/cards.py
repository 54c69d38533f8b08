from django.db import transaction
from django.db.models import F, Max
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role

from ..charts import figure_for
from ..dashboards import card_fields
from ..discovery import custom_event_types, event_names, metric_names, property_choices
from ..display import card_view
from ..drill import drill_rows, links_for
from ..engine import evaluate
from ..forms import CardForm
from ..models import DashboardCard, Source
from ..sources import NAMED_BY
from .common import dashboard_url, done, get_card, get_dashboard, range_form


def card_context(card, workspace, **evaluate_kwargs):
    """What the #card partial shows for a computed card. Hits the database once."""
    result = evaluate(card, workspace, **evaluate_kwargs)
    links = links_for(card, result, workspace)
    return {
        "card": card,
        "result": result,
        "view": card_view(card, result),
        "links": links,
        "drill_rows": drill_rows(card, result, links),
        "figure": figure_for(card, result, links),
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
        # The card's monitor, whose state the card shows (Settings › Monitors makes one from it).
        monitor=card.monitors.only("pk", "state", "enabled").first(),
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
    names = custom_event_types if source == Source.CUSTOM_EVENTS else event_names
    return {
        "event_names": names(request.workspace),
        "property_names": property_choices(
            request.workspace, source, event_name if source in NAMED_BY else ""
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
        record_card(request, "dashboard.card_created", card, {}, card_fields(card))
        return done(request, f"{dashboard_url(request, dashboard)}#card-{card.pk}")
    return card_form_page(request, dashboard, form)


@require_http_methods(["GET", "POST"])
@workspace_view(role=Role.ADMIN)
def card_edit(request, dashboard, card):
    card = get_card(request, dashboard, card)
    before = card_fields(card)
    form = CardForm(request.POST or None, instance=card)
    if request.method == "POST" and form.is_valid():
        card = form.save(commit=False)
        card.updated_at = timezone.now()
        card.save()
        record_card(request, "dashboard.card_edited", card, before, card_fields(card))
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
        record_card(request, "dashboard.card_duplicated", card, {}, card_fields(card))
    return done(request, f"{dashboard_url(request, card.dashboard)}#card-{card.pk}")


@require_POST
@workspace_view(role=Role.ADMIN)
def card_delete(request, dashboard, card):
    card = get_card(request, dashboard, card)
    fields = card_fields(card)
    card.delete()
    record_card(request, "dashboard.card_deleted", card, fields, {})
    return done(request, dashboard_url(request, card.dashboard))


def record_card(request, action, card, before, after):
    """An audit entry for a card: its dashboard and title, and the fields that changed."""
    changes = audit.diff(before, after) if after else {name: [value, None] for name, value in before.items()}
    audit.record(request, action, f"{card.dashboard.name} › {card.title}", changes)


def reposition(request, dashboard, ordered_ids):
    cards = {card.pk: card for card in dashboard.cards.all()}
    before = [card.title for card in sorted(cards.values(), key=lambda card: (card.position, card.pk))]
    for position, card_id in enumerate(ordered_ids):
        cards[card_id].position = position
    DashboardCard.objects.bulk_update(cards.values(), ["position"])
    after = [cards[card_id].title for card_id in ordered_ids]
    if after != before:
        audit.record(request, "dashboard.cards_reordered", dashboard.name, {"order": [before, after]})


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
        reposition(request, card.dashboard, ids)
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
    reposition(request, dashboard, ordered)
    return HttpResponse(status=204)
