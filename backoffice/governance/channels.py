"""Settings › Channels: where the workspace's notifications go, and each channel's delivery log. The
sending is metrics.monitors.delivery's; every change goes to the audit log (metrics.monitors.changes)."""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backoffice.access import workspace_view
from backoffice.models import Role
from metrics.models import Channel
from metrics.monitors import changes
from metrics.monitors.forms import ChannelForm
from traces.keyset import past

LOG_PAGE = 50


def channels_in(workspace):
    return Channel.objects.filter(workspace=workspace)


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def channel_list(request):
    form = ChannelForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        channel = changes.save_channel(request, form)
        messages.success(
            request, f"Channel “{channel.name}” added: pick it in a monitor to send it notifications."
        )
        return redirect("governance:channel", workspace=request.workspace.slug, channel_id=channel.pk)
    channels = channels_in(request.workspace).annotate(monitor_count=Count("monitors"))
    context = {"section": "channels", "channels": channels, "form": form}
    return render(request, "backoffice/governance/channels.html", context)


@require_GET
@workspace_view(Role.ADMIN)
def channel_detail(request, channel_id):
    channel = get_object_or_404(channels_in(request.workspace), pk=channel_id)
    log = channel.deliveries.order_by("-created_at", "-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        last = log.filter(pk=int(before)).first()
        if last is not None:
            log = log.filter(past("created_at", last.created_at, last.pk, later=False))
    log = list(log[: LOG_PAGE + 1])
    more = log[LOG_PAGE].pk if len(log) > LOG_PAGE else None
    context = {"section": "channels", "channel": channel, "deliveries": log[:LOG_PAGE], "more": more}
    return render(request, "backoffice/governance/channel.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def channel_delete(request, channel_id):
    channel = get_object_or_404(channels_in(request.workspace), pk=channel_id)
    changes.delete_channel(request, channel)
    messages.success(request, f"Channel “{channel.name}” deleted, with its delivery log.")
    return redirect("governance:channels", workspace=request.workspace.slug)
