"""Formatting for the drill-down pages: durations, money, microsecond times and JSON payloads."""

import json
from datetime import UTC

from django import template
from django.template import engines
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from traces import chat_content
from traces.durations import duration
from traces.json_html import json_html
from traces.money import money

register = template.Library()


@register.filter
def chat_shown(content):
    """How a chat turn's content renders: traces/chat_content.py."""
    return chat_content.shown(content)


register.filter("duration", duration)  # traces/durations.py
register.filter("money", money)  # traces/money.py

RAW_CHARS = 4_000  # of a payload's raw JSON in the page: "show all" and Copy fetch the rest
ID_TAIL = 8  # characters always shown at the end of a shortened id: where ids of one family differ


@register.filter
def short_id(value):
    """An id that CSS shortens in the middle when it does not fit (`abc…89f1e2d4`), whole on hover.

    The head is ellipsed and the tail kept; both hold the real text, so selecting the id copies it all.
    """
    value = str(value)
    if len(value) <= ID_TAIL * 2:
        return value
    return format_html(
        '<span class="mid-id" title="{}"><span class="mid-head">{}</span>'
        '<span class="mid-tail">{}</span></span>',
        value,
        value[:-ID_TAIL],
        value[-ID_TAIL:],
    )


@register.filter
def micro(value):
    """A timestamp to the microsecond, as the event log records it, in the viewer's zone."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S.%f") if value else "—"


@register.filter
def utc(value):
    """A moment in UTC, for hover titles: pages show times in the viewer's zone (backoffice/timezones.py)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


@register.filter
def iso(value):
    """What `|date:'c'` prints, for <time datetime>, at a tenth of its cost in long lists."""
    return timezone.localtime(value).isoformat() if value else ""


@register.simple_tag(takes_context=True)
def show_all_url(context, key):
    """The current URL asking for the value `key` in full (page and filters kept)."""
    request = context["request"]
    query = request.GET.copy()
    query["full"] = key
    return f"{request.path}?{urlencode(sorted(query.lists()), doseq=True)}"


@register.inclusion_tag("traces/includes/json.html", takes_context=True)
def json_view(context, value, key, number=None):
    """A payload in the payload viewer (static/js/payloads.js): a collapsible tree, its raw JSON, and its
    chat messages as bubbles when it holds some; cut when large, unless the URL asks for it in full.

    `key` (with `number`, for one of many: "event", 42 -> "event-42") names the value in the page.
    """
    request = context["request"]
    key = key if number is None else f"{key}-{number}"
    full = request.GET.get("full") == key
    html, cut = json_html(value, key, full=full)
    raw = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(raw) > RAW_CHARS and not full:
        raw, cut = raw[:RAW_CHARS] + "\n…", True
    return {
        "html": html,
        "raw": raw,
        "cut": cut,
        "key": key,
        "url": show_all_url(context, key) if cut else "",
        "messages": chat_content.payload_messages(value, key, full=full),
        "workspace": context.get("workspace"),
        "request": request,
    }


@register.filter
def since_start(moment, start):
    """Milliseconds from the run's start to `moment`, as an offset (+1.24 s)."""
    if moment is None or start is None:
        return "—"
    return f"+{duration(max(int((moment - start).total_seconds() * 1000), 0))}"


@register.filter
def indent(depth):
    """A CSS depth class, capped: deeper levels line up at the cap (the tree stays readable at 390 px)."""
    return f"d{min(int(depth), 12)}"


@register.filter
def error_message(error):
    """One line for an error that is a string or an object with a message."""
    if isinstance(error, dict):
        for key in ("message", "error", "detail", "type"):
            if isinstance(error.get(key), str):
                return error[key]
        return ", ".join(f"{k}: {v}" for k, v in error.items())
    return "" if error is None else str(error)


@register.simple_tag(takes_context=True)
def rows(context, template_name, items, **extra):
    """The rows of a long list, rendered by the Jinja2 template `template_name` (see backoffice.jinja)
    with `rows`, the link prefixes of the layout and the `extra` values the tag names."""
    names = ("runs_url", "conversations_url", "workflows_url", "columns")
    values = {"rows": items, **{name: context.get(name) for name in names}, **extra}
    return mark_safe(engines["jinja2"].get_template(template_name).render(values))  # noqa: S308 - Jinja2 escaped it
