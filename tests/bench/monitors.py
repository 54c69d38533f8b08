"""The monitors' figure: one worker cycle over 1,000 monitors with breakdowns (issue 19: ≤ 60 s on 2
cores at full scale). The monitors are made in a transaction that is rolled back afterwards."""

from django.db import transaction

from backoffice.models import Workspace
from metrics.models import Channel, Monitor
from metrics.monitors.evaluation import evaluate_due
from metrics.monitors.presets import PRESETS

from .measure import Figure, timed

NAME, TARGET = "Monitors: one cycle of 1,000 monitors with breakdowns", "≤ 60 s"
MONITORS = 1000
BREAKDOWNS = {
    "runs": ["agent", "workflow", "user_id"],
    "tasks": ["agent", "name"],
    "model_calls": ["model", "agent"],
}
WINDOWS = [60, 24 * 60]


class RolledBack(Exception):
    pass


def monitors_figure(facts):
    workspace = Workspace.objects.get(slug=facts.workspaces[0])
    metrics = list(PRESETS.values())
    result = {}
    try:
        with transaction.atomic():
            channel = Channel.objects.create(
                workspace=workspace, kind="webhook", name="bench", url="http://127.0.0.1:9/"
            )
            made = []
            for n in range(MONITORS):
                preset = metrics[n % len(metrics)]
                source = preset["metric"]["source"]
                breakdowns = BREAKDOWNS[source]
                made.append(
                    Monitor(
                        workspace=workspace,
                        name=f"bench {n}",
                        metric={**preset["metric"], "breakdown": breakdowns[n % len(breakdowns)]},
                        window_minutes=WINDOWS[n % len(WINDOWS)],
                        compare_windows=preset.get("compare_windows"),
                        alert=preset["alert"],
                        direction=preset.get("direction", "above"),
                    )
                )
            made = Monitor.objects.bulk_create(made)
            Monitor.channels.through.objects.bulk_create(
                Monitor.channels.through(monitor_id=monitor.pk, channel_id=channel.pk) for monitor in made
            )
            Monitor.objects.filter(workspace=workspace).exclude(name__startswith="bench ").update(
                enabled=False
            )
            seconds, count = timed(lambda: evaluate_due(now=facts.anchor_time))
            result.update(seconds=seconds, count=count, deliveries=channel.deliveries.count())
            raise RolledBack
    except RolledBack:
        pass
    note = (
        f"{result['count']:,} monitors evaluated (breakdowns by agent, workflow, end user, step, model; "
        f"windows of 1 h and 1 day), {result['deliveries']:,} notifications queued"
    )
    return Figure(NAME, TARGET, f"{result['seconds']:,.1f} s", result["seconds"] <= 60, note=note)
