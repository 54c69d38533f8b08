"""Settings › Monitors: the workspace's monitors with their state and last value; one monitor's page
(its values' states, history, edit, mute, test, evaluate now); a card made into a monitor in one click.
The work is metrics.monitors'; every change goes to the audit log (metrics.monitors.changes)."""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from backoffice.access import workspace_view
from backoffice.models import Role
from metrics.models import DashboardCard, Monitor, MonitorTransition
from metrics.monitors import changes, metric
from metrics.monitors.evaluation import evaluate, fire_test
from metrics.monitors.forms import MonitorForm
from metrics.monitors.messages import shown
from traces.keyset import past

HISTORY_PAGE = 50
MUTE_CHOICES = [(60, "1 hour"), (8 * 60, "8 hours"), (24 * 60, "1 day"), (7 * 24 * 60, "1 week")]


def monitors_in(workspace):
    return Monitor.objects.filter(workspace=workspace).select_related("workspace")


def get_monitor(request, monitor_id):
    return get_object_or_404(monitors_in(request.workspace).select_related("card__dashboard"), pk=monitor_id)


def back_to(request, monitor=None):
    if monitor is None:
        return redirect("governance:monitors", workspace=request.workspace.slug)
    return redirect("governance:monitor", workspace=request.workspace.slug, monitor_id=monitor.pk)


@require_GET
@workspace_view(Role.ADMIN)
def monitor_list(request):
    monitors = list(monitors_in(request.workspace).annotate(channel_count=Count("channels")))
    now = timezone.now()
    for monitor in monitors:
        monitor.shown_value = shown(monitor, monitor.value)
        monitor.muted = monitor.is_muted(now)
    context = {"section": "monitors", "monitors": monitors}
    return render(request, "backoffice/governance/monitors.html", context)


@require_GET
@workspace_view(Role.ADMIN)
def monitor_new(request):
    return render_form(
        request, MonitorForm(workspace=request.workspace, initial={"metric": {"source": "runs"}})
    )


def render_form(request, form, monitor=None):
    context = {"section": "monitors", "form": form, "monitor": monitor}
    return render(request, "backoffice/governance/monitor_form.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def monitor_create(request):
    form = MonitorForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return render_form(request, form)
    monitor = changes.save_monitor(request, form)
    messages.success(
        request,
        f"Monitor “{monitor.name}” added: the worker evaluates it every {monitor.interval_minutes} minutes.",
    )
    return back_to(request, monitor)


@require_GET
@workspace_view(Role.ADMIN)
def monitor_detail(request, monitor_id):
    monitor = get_monitor(request, monitor_id)
    now = timezone.now()
    history = MonitorTransition.objects.filter(monitor=monitor).order_by("-at", "-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        last = history.filter(pk=int(before)).first()
        if last is not None:
            history = history.filter(past("at", last.at, last.pk, later=False))
    history = list(history[: HISTORY_PAGE + 1])
    more = history[HISTORY_PAGE].pk if len(history) > HISTORY_PAGE else None
    history = history[:HISTORY_PAGE]
    for row in history:
        row.shown_value, row.shown_threshold = shown(monitor, row.value), shown(monitor, row.threshold)
    states = list(monitor.key_states.order_by("key"))
    start = now - timedelta(minutes=monitor.window_minutes)
    for row in states:
        row.shown_value = shown(monitor, row.value)
        row.rows_url = metric.rows_url(monitor, row.key, start, now)
    context = {
        "section": "monitors",
        "monitor": monitor,
        "shown_value": shown(monitor, monitor.value),
        "muted": monitor.is_muted(now),
        "states": states,
        "history": history,
        "more": more,
        "channels": list(monitor.channels.all()),
        "mute_choices": MUTE_CHOICES,
        "form": MonitorForm(instance=monitor, workspace=request.workspace),
    }
    return render(request, "backoffice/governance/monitor.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def monitor_update(request, monitor_id):
    monitor = get_monitor(request, monitor_id)
    form = MonitorForm(request.POST, instance=monitor, workspace=request.workspace)
    if not form.is_valid():
        return render_form(request, form, monitor)
    changes.save_monitor(request, form)
    messages.success(request, f"Monitor “{monitor.name}” saved.")
    return back_to(request, monitor)


@require_POST
@workspace_view(Role.ADMIN)
def monitor_mute(request, monitor_id):
    monitor = get_monitor(request, monitor_id)
    minutes = request.POST.get("minutes", "")
    if minutes == "0":
        changes.mute(request, monitor, None)
        messages.success(request, f"Monitor “{monitor.name}” unmuted.")
    elif minutes in {str(choice) for choice, _ in MUTE_CHOICES}:
        until = timezone.now() + timedelta(minutes=int(minutes))
        changes.mute(request, monitor, until)
        messages.success(request, f"Monitor “{monitor.name}” muted: its changes are kept, nobody is told.")
    else:
        messages.error(request, "minutes: pick how long to mute it for.")
    return back_to(request, monitor)


@require_POST
@workspace_view(Role.ADMIN)
def monitor_test(request, monitor_id):
    monitor = get_monitor(request, monitor_id)
    queued = fire_test(monitor)
    changes.record_test(request, monitor, queued)
    if queued:
        messages.success(
            request, f"A test notification is on its way to {queued} channel(s): see their delivery logs."
        )
    else:
        messages.error(request, "This monitor has no channel to test: pick one in its settings.")
    return back_to(request, monitor)


@require_POST
@workspace_view(Role.ADMIN)
def monitor_evaluate(request, monitor_id):
    monitor = get_monitor(request, monitor_id)
    outcome = evaluate(monitor)
    messages.success(
        request, f"Evaluated now: {outcome.state.replace('_', ' ')}, {shown(monitor, outcome.value)}."
    )
    return back_to(request, monitor)


@require_POST
@workspace_view(Role.ADMIN)
def monitor_delete(request, monitor_id):
    monitor = get_monitor(request, monitor_id)
    changes.delete_monitor(request, monitor)
    messages.success(request, f"Monitor “{monitor.name}” deleted, with its history.")
    return back_to(request)


@require_POST
@workspace_view(Role.ADMIN)
def monitor_from_card(request, card_id):
    """A card's metric and thresholds become a monitor, which the card then shows the state of."""
    cards = DashboardCard.objects.filter(dashboard__workspace=request.workspace)
    card = get_object_or_404(cards, pk=card_id)
    monitor = card.monitors.first()
    if monitor is None:
        monitor = changes.monitor_from_card(request, card)
        messages.success(
            request, f"Monitor “{monitor.name}” made from the card: check its thresholds and channels."
        )
    return back_to(request, monitor)
