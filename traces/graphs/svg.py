"""Inline SVG for a laid-out graph, rendered on the server. Every text is escaped here.

Colours come from classes styled in app.css (`.dag …`), so the SVG follows the design tokens.
Status is told three ways: the colour, a marker shape (circle for steps, rounded square for a
gate's decision, dashed ring when never reached) with a glyph inside, and the text of the node's
title. Condition and switch nodes are diamonds and hexagons; gates have a double border, foreach
and parallel nodes are stacked.
"""

from html import escape

from django.utils.safestring import mark_safe

from traces.durations import duration

STATUS_LABELS = {
    "ok": "OK",
    "failed": "Failed",
    "running": "Running",
    "waiting": "Waiting",
    "approved": "Approved",
    "rejected": "Rejected",
    "skipped": "Skipped",
    "warn": "Some runs failed here",
    None: "Not reached",
}
DECISIONS = {"approved", "rejected"}
GLYPHS = {
    "ok": '<path class="glyph" d="M-3.6 0.2 -1 2.8 3.8 -2.4"/>',
    "approved": '<path class="glyph" d="M-3.6 0.2 -1 2.8 3.8 -2.4"/>',
    "failed": '<path class="glyph" d="M-3 -3 3 3M3 -3 -3 3"/>',
    "rejected": '<path class="glyph" d="M-3 -3 3 3M3 -3 -3 3"/>',
    "running": '<path class="glyph fill" d="M-2.2 -3.6 3.6 0 -2.2 3.6z"/>',
    "waiting": '<path class="glyph" d="M-1.8 -3.4V3.4M1.8 -3.4V3.4"/>',
    "skipped": '<path class="glyph" d="M-3.4 0H3.4"/>',
    "warn": '<path class="glyph" d="M0 -4V0.8M0 3.6V3.8"/>',
    None: "",
}
TYPE_SHAPES = {
    "condition": "diamond",
    "switch": "hexagon",
    "gate": "gate",
    "foreach": "stack",
    "parallel": "stack",
    "agent": "pill",
}
NAME_SIZE, META_SIZE = 12.5, 11  # px, as in app.css
STACK = 6  # how far the cards behind a foreach or parallel node show
# Pointed shapes need more room for the same text: (extra width, extra height).
ROOMIER = {"diamond": (46, 26), "hexagon": (0, 12), "stack": (STACK, STACK)}
NARROW = set(" .,:;·|!'ijlftr1()[]-")
WIDE = set("mwMW@%")


def percent(rate):
    """A share between 0 and 1 as a percentage: 0%, 0.4%, 12%."""
    value = float(rate) * 100
    if value == 0 or value >= 10:
        return f"{value:.0f}%"
    return f"{value:.1f}%"


def status_class(status):
    return f"s-{status}" if status in STATUS_LABELS and status else "s-unreached"


def marker(status, cx, cy):
    """The status marker: its outline tells a step from a gate's decision, its glyph the outcome."""
    if status is None:
        outline = '<circle class="marker" r="7.5"/>'
    elif status in DECISIONS:
        outline = '<rect class="marker" x="-8" y="-8" width="16" height="16" rx="3.5"/>'
    else:
        outline = '<circle class="marker" r="8"/>'
    return f'<g transform="translate({cx:g} {cy:g})">{outline}{GLYPHS.get(status, "")}</g>'


def shape_kind(type_):
    return TYPE_SHAPES.get(type_, "box")


def node_sizes(graph, width, height):
    """{key: (width, height)} for the nodes whose shape needs more room than the default."""
    sizes = {}
    for key, node in graph.nodes.items():
        kind = shape_kind(node.type)
        extra = ROOMIER.get(kind)
        if extra:
            # A line more needs a wider, taller point; the cards behind a stack stay as they are.
            grow = 1 + 0.7 * (len(node_lines(node)) - 1) if kind != "stack" else 1
            sizes[key] = (width + round(extra[0] * grow), height + round(extra[1] * grow))
    return sizes


def shape(type_, w, h):
    kind = shape_kind(type_)
    if kind == "diamond":
        return f'<path class="shape" d="M0 {h / 2:g} {w / 2:g} 0 {w:g} {h / 2:g} {w / 2:g} {h:g}z"/>'
    if kind == "hexagon":
        cut = h / 2.4
        return (
            f'<path class="shape" d="M0 {h / 2:g} {cut:g} 0 {w - cut:g} 0 {w:g} {h / 2:g} '
            f'{w - cut:g} {h:g} {cut:g} {h:g}z"/>'
        )
    if kind == "gate":
        return (
            f'<rect class="shape" width="{w:g}" height="{h:g}" rx="2"/>'
            f'<rect class="inset" x="3.5" y="3.5" width="{w - 7:g}" height="{h - 7:g}" rx="1"/>'
        )
    if kind == "stack":
        front_w, front_h = w - STACK, h - STACK
        return (
            f'<rect class="shape behind" x="{STACK:g}" y="{STACK:g}" width="{front_w:g}" '
            f'height="{front_h:g}" rx="8"/>'
            f'<rect class="shape behind" x="{STACK / 2:g}" y="{STACK / 2:g}" width="{front_w:g}" '
            f'height="{front_h:g}" rx="8"/>'
            f'<rect class="shape" width="{front_w:g}" height="{front_h:g}" rx="8"/>'
        )
    radius = h / 2 if kind == "pill" else 8
    return f'<rect class="shape" width="{w:g}" height="{h:g}" rx="{radius:g}"/>'


def text_width(text, size, bold=False):
    """An estimate of the width of `text` in the sans-serif font, good enough to decide where to cut."""
    ems = sum(0.3 if c in NARROW else 0.86 if c in WIDE else 0.67 if c.isupper() else 0.58 for c in text)
    return ems * size * (1.07 if bold else 1)


def clip(text, room, size, bold=False):
    """Cut `text` to fit about `room` pixels, with an ellipsis when cut."""
    if text_width(text, size, bold) <= room:
        return text
    while len(text) > 3 and text_width(text + "…", size, bold) > room:
        text = text[:-1]
    return text + "…"


def inset_at(kind, w, h, baseline, size):
    """How far in from the box's sides a pointed shape's outline is, along a line of text."""
    reach = max(abs(baseline - size * 0.8 - h / 2), abs(baseline + size * 0.25 - h / 2)) / (h / 2)
    if kind == "diamond":
        return w / 2 * min(reach, 1)
    if kind == "hexagon":
        return h / 2.4 * min(reach, 1)
    return 0


def node_lines(node):
    """The lines under a node's name: what it is and how it went."""
    if node.stats is not None:
        stats = node.stats
        reached = f"{stats['reached']:,} run{'s' if stats['reached'] != 1 else ''}"
        first = f"{reached} · {percent(stats['failure_rate'])} failed" if stats["reached"] else "not reached"
        if stats.get("p50_ms") is None:
            return [first]
        return [first, f"p50 {duration(stats['p50_ms'])} · p95 {duration(stats['p95_ms'])}"]
    parts = [node.type or "step"]
    if node.reached and node.duration_ms is not None:
        parts.append(duration(node.duration_ms))
    if not node.reached:
        parts.append("not reached")
    elif node.status != "ok":
        parts.append(STATUS_LABELS[node.status].lower())
    return [" · ".join(parts)]


def node_title(node):
    parts = [node.name, node.type or "step"]
    if node.stats is not None:
        return " · ".join(parts + node_lines(node))
    parts.append(STATUS_LABELS.get(node.status, node.status))
    if node.visits > 1:
        failed = f", {node.failures} failed" if node.failures else ""
        parts.append(f"{node.visits} visits{failed}")
    if node.duration_ms is not None and node.reached:
        parts.append(duration(node.duration_ms) + (" in all" if node.visits > 1 else ""))
    if node.tokens:
        parts.append(f"{node.tokens:,} tokens")
    return " · ".join(parts)


def node_text(node, kind, w, h):
    """The marker and the lines of text, placed to stay inside the node's outline; and those lines as
    shown (clipped), which a link's accessible name must start with."""
    lines = node_lines(node)
    status = node.status if node.reached else None
    inner_w, inner_h = (w - STACK, h - STACK) if kind == "stack" else (w, h)
    # The block of text is centred: from the top of the name to the foot of the last line.
    name_y = inner_h / 2 - 4.5 - 7.5 * (len(lines) - 1)
    if kind in ("diamond", "hexagon"):
        parts = [marker(status, w / 2, name_y - 21)]  # pointed shapes: the marker on top, text centred
        x, anchor = w / 2, ' text-anchor="middle"'
    else:
        parts = [marker(status, 18, name_y - 4)]
        x, anchor = 34, ""
    rows = [(node.name, "name", NAME_SIZE, name_y)]
    shown = []
    rows += [(line, "meta", META_SIZE, name_y + 16 + i * 15) for i, line in enumerate(lines)]
    for text, css, size, y in rows:
        room = (w - 2 * inset_at(kind, w, h, y, size) - 14) if anchor else (inner_w - x - 14)
        bold = css == "name"
        if not bold and anchor and text_width(text, size) > room and " · " in text:
            text = text.split(" · ", 1)[1]  # the shape already says condition or switch
        shown.append(clip(text, room, size, bold))
        # The trailing space (not drawn) keeps the lines apart in the text that assistive tools read.
        parts.append(f'<text class="{css}" x="{x:g}" y="{y:g}"{anchor}>{escape(shown[-1])} </text>')
    return "".join(parts), " ".join(shown)


def render_node(node, box, link, selected):
    w, h = box.width, box.height
    kind = shape_kind(node.type)
    classes = ["node", status_class(node.status), f"t-{kind}"]
    if selected:
        classes.append("selected")
    title = escape(node_title(node))
    text, shown = node_text(node, kind, w, h)
    parts = [f"<title>{title}</title>", shape(node.type, w, h), text]
    if node.visits > 1:
        label = f"×{node.visits:,}"
        shown += f" {label}"
        pill = len(label) * 6.5 + 10
        parts.append(
            f'<g class="visits" transform="translate({w - pill / 2 - 2:g} -2)">'
            f'<rect x="{-pill / 2:g}" y="-9" width="{pill:g}" height="18" rx="9"/>'
            f'<text y="4" text-anchor="middle">{escape(label)}</text></g>'
        )
    body = "".join(parts)
    transform = f'transform="translate({box.x:g} {box.y:g})"'
    if link:
        # Speech users say what they see: the name starts with the node's visible text, then the rest.
        label = escape(f"{shown}; {node_title(node)}")
        if "push" not in link:  # a page of its own (the runs behind a node across runs), not the panel
            return (
                f'<a class="{" ".join(classes)}" {transform} data-node="{escape(node.key)}" '
                f'href="{escape(link["href"])}" aria-label="{label}">{body}</a>'
            )
        return (
            f'<a class="{" ".join(classes)}" {transform} data-node="{escape(node.key)}" '
            f'href="{escape(link["href"])}" hx-get="{escape(link["href"])}" hx-target="#task-page" '
            f'hx-swap="outerHTML" hx-push-url="{escape(link["push"])}" aria-label="{label}">{body}</a>'
        )
    return f'<g class="{" ".join(classes)}" {transform} data-node="{escape(node.key)}">{body}</g>'


def path_data(route):
    points = route.points
    if route.self_loop:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
        return f"M{x0:g} {y0:g}C{x1:g} {y1:g} {x2:g} {y2:g} {x3:g} {y3:g}"
    d = [f"M{points[0][0]:g} {points[0][1]:g}"]
    for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
        if ax == bx:
            d.append(f"L{bx:g} {by:g}")
        else:
            mid = (ay + by) / 2
            d.append(f"C{ax:g} {mid:g} {bx:g} {mid:g} {bx:g} {by:g}")
    return "".join(d)


def midpoint(route):
    points = route.points
    if route.self_loop:
        return points[1][0] + 4, (points[1][1] + points[2][1]) / 2
    middle = len(points) // 2
    (ax, ay), (bx, by) = points[middle - 1], points[middle]
    return (ax + bx) / 2, (ay + by) / 2


def render_edge(edge, route, names, unit):
    """The edge's path, and its label ("" for none), which `render` draws over the nodes."""
    kind = "back" if route.back else ("taken" if edge.taken else "untaken")
    width = 1.5 if not edge.taken else min(1.75 + 0.6 * max(edge.count - 1, 0) ** 0.5, 5)
    title = f"{names[edge.source]} → {names[edge.target]}"
    if edge.label:
        title += f" ({edge.label})"
    if edge.taken:
        title += f": taken {edge.count:,} {unit}{'s' if edge.count != 1 else ''}"
    else:
        title += ": not taken"
    path = (
        f'<path class="edge {kind}" d="{path_data(route)}" stroke-width="{width:.2f}" '
        f'marker-end="url(#dag-arrow-{kind})"><title>{escape(title)}</title></path>'
    )
    words = [w for w in (edge.label, f"×{edge.count:,}" if edge.count > 1 else "") if w]
    if not words:
        return path, ""
    x, y = midpoint(route)
    label = f'<text class="edge-label {kind}" x="{x + 6:g}" y="{y + 4:g}">{escape(" ".join(words))}</text>'
    return path, label


ARROWS = "".join(
    f'<marker id="dag-arrow-{kind}" class="arrow {kind}" viewBox="0 0 10 10" refX="9.5" refY="5" '
    f'markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
    f'<path d="M0 0 10 5 0 10z"/></marker>'
    for kind in ("taken", "untaken", "back")
)


def render(graph, placed, *, link=None, selected=None, label="Workflow graph"):
    """The graph as one <svg>. `link(node)` gives {"href", "push"} for a node that opens the side
    panel, {"href"} for one that opens another page, or None."""
    names = {key: node.name for key, node in graph.nodes.items()}
    edges = {(e.source, e.target): e for e in graph.edges}
    out = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {placed.width:g} {placed.height:g}" '
        f'width="{placed.width:g}" height="{placed.height:g}" role="group" aria-label="{escape(label)}" '
        f'data-dag-svg><defs>{ARROWS}</defs><g class="edges">'
    ]
    # Edges not taken first, so the path the run took is drawn over them.
    routes = sorted(placed.routes, key=lambda r: edges[(r.source, r.target)].taken)
    unit = "run" if graph.across_runs else "time"
    drawn = [render_edge(edges[(r.source, r.target)], r, names, unit) for r in routes]
    out.extend(path for path, _ in drawn)
    out.append('</g><g class="nodes">')
    for key, node in graph.nodes.items():
        out.append(render_node(node, placed.boxes[key], link(node) if link else None, key == selected))
    # Edge labels last, so that no node is drawn over one.
    out.append('</g><g class="edge-labels">')
    out.extend(label for _, label in drawn)
    out.append("</g></svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above went through escape()


def legend_marker(status):
    """A status marker on its own, for the legend."""
    return mark_safe(  # noqa: S308 - constant markup
        f'<svg class="dag legend-icon" viewBox="-10 -10 20 20" width="18" height="18" aria-hidden="true">'
        f'<g class="node {status_class(status)}">{marker(status, 0, 0)}</g></svg>'
    )


def legend_shape(type_):
    """A node shape on its own, for the legend."""
    return mark_safe(  # noqa: S308 - constant markup
        f'<svg class="dag legend-icon" viewBox="-2 -5 52 32" width="38" height="24" aria-hidden="true">'
        f'<g class="node">{shape(type_, 40, 22)}</g></svg>'
    )
