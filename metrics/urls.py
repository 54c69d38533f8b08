from django.urls import path

from .views import cards, dashboards, events, rows

app_name = "metrics"

urlpatterns = [
    path("events/", events.event_list, name="event_list"),
    # The rows behind cards over sources with no list of their own (metrics.drill).
    path("rows/tasks/", rows.card_rows, {"source": "tasks"}, name="task_rows"),
    path("rows/scores/", rows.card_rows, {"source": "scores"}, name="score_rows"),
    path("rows/custom-events/", rows.card_rows, {"source": "custom_events"}, name="custom_event_rows"),
    path("metrics/", dashboards.dashboard_detail, name="dashboard_default"),
    path("metrics/new/", dashboards.dashboard_create, name="dashboard_create"),
    path("metrics/import/", dashboards.dashboard_import, name="dashboard_import"),
    path("metrics/<slug:dashboard>/", dashboards.dashboard_detail, name="dashboard_detail"),
    path("metrics/<slug:dashboard>/settings/", dashboards.dashboard_edit, name="dashboard_edit"),
    path("metrics/<slug:dashboard>/delete/", dashboards.dashboard_delete, name="dashboard_delete"),
    path("metrics/<slug:dashboard>/export/", dashboards.dashboard_export, name="dashboard_export"),
    path("metrics/<slug:dashboard>/order/", cards.card_order, name="card_order"),
    path("metrics/<slug:dashboard>/cards/new/", cards.card_create, name="card_create"),
    path("metrics/<slug:dashboard>/cards/preview/", cards.card_preview, name="card_preview"),
    path("metrics/<slug:dashboard>/cards/<int:card>/", cards.card_detail, name="card_detail"),
    path("metrics/<slug:dashboard>/cards/<int:card>/edit/", cards.card_edit, name="card_edit"),
    path("metrics/<slug:dashboard>/cards/<int:card>/duplicate/", cards.card_duplicate, name="card_duplicate"),
    path("metrics/<slug:dashboard>/cards/<int:card>/delete/", cards.card_delete, name="card_delete"),
    path("metrics/<slug:dashboard>/cards/<int:card>/move/", cards.card_move, name="card_move"),
]
