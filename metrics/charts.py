"""Plotly figures for line, bar and pie cards. The page hands them to static/js/charts.js as JSON."""

import html
import zlib

import plotly.graph_objects as go

from .display import COLOURS, OTHER_COLOUR
from .engine import CardResult
from .models import Aggregation, Bucket, Kind

# Series after the card's own colour, in an order that keeps neighbours apart.
PALETTE = ["#3b5bdb", "#0c8599", "#e67700", "#7048e8", "#2f9e44", "#e03131", "#495057", "#c2255c"]
THRESHOLD_COLOURS = {"warning": "#e67700", "alert": "#e03131"}
# Buckets are contiguous and complete (empty ones are zero), so the x axis lists them as labels: a date
# axis would invent ticks between two daily points and print "Nov 22" twice.
LABEL_FORMATS = {
    Bucket.HOUR: "%b %-d %H:%M",
    Bucket.DAY: "%b %-d",
    Bucket.WEEK: "Week of %b %-d",
    Bucket.MONTH: "%b %Y",
}
# Parts that add up to a whole stack; averages and percentiles stand side by side.
STACKED = {Aggregation.COUNT, Aggregation.SUM, Aggregation.DISTINCT_COUNT}


# A breakdown by status reads at a glance when statuses keep the colours they have everywhere else.
STATUS_COLOURS = {
    "completed": "#2f9e44",
    "ok": "#2f9e44",
    "approved": "#2f9e44",
    "failed": "#e03131",
    "error": "#e03131",
    "rejected": "#e03131",
    "running": "#3b5bdb",
    "paused": "#e67700",
    "waiting": "#e67700",
    "skipped": "#868e96",
}


def colours(card, series):
    first = COLOURS.get(card.colour, PALETTE[0])
    ordered = [first, *[colour for colour in PALETTE if colour != first]]
    by_status = card.breakdown == "status" and all(
        item.other or item.label in STATUS_COLOURS for item in series
    )
    if by_status:
        return [OTHER_COLOUR if item.other else STATUS_COLOURS[item.label] for item in series]
    if not card.breakdown:
        return [
            OTHER_COLOUR if item.other else ordered[index % len(ordered)] for index, item in enumerate(series)
        ]
    return [
        OTHER_COLOUR if item.other else colour for item, colour in zip(series, by_label(series), strict=True)
    ]


def by_label(series):
    """A breakdown value keeps its colour from card to card (gpt-4o in Tokens is gpt-4o in Cost): each
    label starts from a colour of its own, and labels taken in name order move on past the ones taken."""
    taken, chosen = set(), {}
    for label in sorted({item.label for item in series if not item.other}):
        start = zlib.crc32(label.encode()) % len(PALETTE)
        free = [PALETTE[(start + step) % len(PALETTE)] for step in range(len(PALETTE))]
        chosen[label] = next((colour for colour in free if colour not in taken), free[0])
        taken.add(chosen[label])
    return [chosen.get(item.label) for item in series]


def text(label):
    # plotly.js reads a subset of HTML in labels (<b>, <br>, <a>): data must show as the text it is.
    return html.escape(label, quote=False)


def value_format(result: CardResult):
    if result.is_percentage:
        return {"ticksuffix": " %", "hover": "%{y:.1f} %"}
    if result.unit == "usd":
        return {"tickprefix": "$", "hover": "$%{y:,.4f}"}
    if result.unit == "ms":
        return {"ticksuffix": " ms", "hover": "%{y:,.0f} ms"}
    return {"hover": "%{y:,.4~f}"}


def base_layout(showlegend):
    # Every figure starts from an empty template: plotly's default one would add ~10 kB to each card.
    # The colours here are the light theme's; static/js/charts.js recolours text, axes, grid and hover
    # labels from the page's CSS variables, for the theme in force.
    return {
        "margin": {"l": 48, "r": 12, "t": 8, "b": 8},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {
            "family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
            "size": 12,
            "color": "#5f6b7a",
        },
        "showlegend": showlegend,
        # Above the plot: below it, rotated x labels on a narrow screen would run into it.
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "font": {"size": 11}},
        "hoverlabel": {"font": {"family": "system-ui, sans-serif"}},
    }


def drill_urls(links, index):
    """The drill-through URLs of series `index` (metrics.drill), one per point, for the figure's
    customdata: static/js/charts.js opens the one of a clicked point. None when the card has none."""
    if not links or not links.points or not any(links.points[index]):
        return None
    return links.points[index]


def time_series(card, result: CardResult, links=None):
    x = [moment.strftime(LABEL_FORMATS[result.bucket]) for moment in result.buckets]
    fmt = value_format(result)
    traces = []
    for index, (item, colour) in enumerate(zip(result.series, colours(card, result.series), strict=True)):
        template = f"%{{fullData.name}}: {fmt['hover']}<extra></extra>"
        drill = {"customdata": urls} if (urls := drill_urls(links, index)) else {}
        if card.kind == Kind.LINE:
            traces.append(
                go.Scatter(
                    x=x,
                    y=item.values,
                    name=text(item.label),
                    mode="lines+markers" if len(x) <= 45 else "lines",
                    line={"color": colour, "width": 2, "shape": "linear"},
                    marker={"size": 5},
                    connectgaps=False,
                    hovertemplate=template,
                    **drill,
                )
            )
        else:
            traces.append(
                go.Bar(
                    x=x,
                    y=item.values,
                    name=text(item.label),
                    marker={"color": colour},
                    hovertemplate=template,
                    **drill,
                )
            )
    figure = go.Figure(data=traces, layout={"template": go.layout.Template()})
    layout = base_layout(showlegend=len(result.series) > 1)
    layout.update(
        # One series: the bucket's box. Several: the point under the pointer, so that a click opens
        # that series' rows (a unified hover hands a click every series of the bucket).
        hovermode="x unified" if len(result.series) == 1 else "closest",
        barmode="stack" if card.aggregation in STACKED and card.kind != Kind.RATE else "group",
        bargap=0.25,
        xaxis={
            "type": "category",
            "showgrid": False,
            "linecolor": "#e2e5ea",
            "automargin": True,
        },
        yaxis={
            "rangemode": "tozero",
            "gridcolor": "#eef0f3",
            "zeroline": False,
            "automargin": True,
            "tickprefix": fmt.get("tickprefix", ""),
            "ticksuffix": fmt.get("ticksuffix", ""),
        },
        shapes=threshold_lines(card),
    )
    figure.update_layout(layout)
    return figure.to_plotly_json()


def threshold_lines(card):
    lines = []
    for state, limit in (("warning", card.warning_threshold), ("alert", card.alert_threshold)):
        if limit is not None:
            lines.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": limit,
                    "y1": limit,
                    "line": {"color": THRESHOLD_COLOURS[state], "width": 1, "dash": "dash"},
                }
            )
    return lines


def pie(card, result: CardResult, links=None):
    labels = [text(item.label) for item in result.series]
    values = [item.values[0] or 0 for item in result.series]
    urls = [point[0] for point in links.points] if links and links.points else []
    drill = {"customdata": urls} if any(urls) else {}
    figure = go.Figure(
        data=[
            go.Pie(
                labels=labels,
                values=values,
                hole=0.55,
                sort=False,
                direction="clockwise",
                marker={"colors": colours(card, result.series), "line": {"color": "#ffffff", "width": 2}},
                textinfo="percent",
                textposition="inside",
                insidetextorientation="horizontal",
                hovertemplate="%{label}: %{value:,.4~f} (%{percent})<extra></extra>",
                **drill,
            )
        ],
        layout={"template": go.layout.Template()},
    )
    layout = base_layout(showlegend=True)
    layout["legend"] = {"orientation": "v", "x": 1.02, "y": 0.5, "yanchor": "middle", "font": {"size": 11}}
    layout["margin"] = {"l": 8, "r": 8, "t": 8, "b": 8}
    figure.update_layout(layout)
    return figure.to_plotly_json()


def figure_for(card, result: CardResult, links=None):
    """The plotly figure (a JSON-ready dict) of a chart card, or None for number and rate cards;
    `links` (metrics.drill) become each point's customdata."""
    if card.kind in (Kind.LINE, Kind.BAR):
        return time_series(card, result, links)
    if card.kind == Kind.PIE:
        return pie(card, result, links) if result.series else None
    return None
