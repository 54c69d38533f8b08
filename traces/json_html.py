"""JSON payloads as collapsible, syntax-coloured HTML, built on the server and escaped throughout.

Large values are cut so that a page stays light: long strings, long lists and very large documents
stop at a budget, and the caller offers a "show all" link that fetches the value again without limits.
Built in Python rather than with a recursive template include, which is slow on deep documents.
Strings of several lines read as text (their line breaks kept), and markdown among them is rendered
(traces/markdown_text.py: safe by construction).
"""

from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from . import markdown_text

OPEN_DEPTH = 2  # objects and lists nested deeper start folded
TEXT_CHARS = 120  # a string this long, or of several lines, reads as a block of text


@dataclass(frozen=True)
class Limits:
    chars: int = 500  # per string
    items: int = 50  # per object or list
    nodes: int = 400  # per document


CUT = Limits()
FULL = Limits(chars=10**9, items=10**9, nodes=10**9)


class JsonHtml:
    def __init__(self, key, limits):
        self.key = key
        self.limits = limits
        self.nodes = 0
        self.cut = False

    def value(self, value, path, depth):
        self.nodes += 1
        if isinstance(value, dict):
            return self.container(list(value.items()), path, depth, "{", "}", "key")
        if isinstance(value, list):
            return self.container(list(enumerate(value)), path, depth, "[", "]", "item")
        return self.scalar(value)

    def scalar(self, value):
        if value is None:
            return '<span class="j-null">null</span>'
        if value is True or value is False:
            return f'<span class="j-bool">{"true" if value else "false"}</span>'
        if isinstance(value, int | float):
            return f'<span class="j-num">{escape(value)}</span>'
        text = str(value)
        cut = ""
        if len(text) > self.limits.chars:
            self.cut = True
            cut = format_html(' <span class="j-cut">+{} chars</span>', f"{len(text) - self.limits.chars:,}")
            text = text[: self.limits.chars] + "…"
        if markdown_text.looks_like_markdown(text):
            rendered = mark_safe(markdown_text.render(text))  # noqa: S308 - raw HTML is off: escaped
            return format_html('<div class="j-md">{}</div>{}', rendered, cut)
        if "\n" in text or len(text) > TEXT_CHARS:
            return format_html('<span class="j-str j-text">{}</span>{}', text, cut)
        return format_html('<span class="j-str">"{}"</span>{}', text, cut)

    def container(self, entries, path, depth, start, end, noun):
        if not entries:
            return f'<span class="j-punct">{start}{end}</span>'
        rows = []
        for index, (name, child) in enumerate(entries):
            if index >= self.limits.items or self.nodes >= self.limits.nodes:
                self.cut = True
                rows.append(format_html('<li class="j-cut">… {} more</li>', f"{len(entries) - index:,}"))
                break
            label = format_html('<span class="j-key">"{}"</span>: ', name) if noun == "key" else ""
            rows.append(
                format_html("<li>{}{}</li>", label, mark_safe(self.value(child, f"{path}.{name}", depth + 1)))
            )
        count = f"{len(entries):,} {noun}{'' if len(entries) == 1 else 's'}"
        return format_html(
            '<details class="j-node" data-key="{}"{}><summary><span class="j-punct">{}</span>'
            '<span class="j-count">{}</span></summary><ul>{}</ul><span class="j-punct">{}</span></details>',
            f"json:{self.key}{path}",
            mark_safe(" open") if depth < OPEN_DEPTH else "",
            start,
            count,
            mark_safe("".join(rows)),
            end,
        )


def json_html(value, key, *, full=False):
    """(html, was_cut) for one JSON value; `key` names it on the page and keeps folds across refreshes."""
    builder = JsonHtml(key, FULL if full else CUT)
    return mark_safe(builder.value(value, "", 0)), builder.cut
