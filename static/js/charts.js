// Draws every [data-chart] element with plotly.js. The figure (built in metrics/charts.py) is the JSON
// of the <script type="application/json"> whose id the attribute names, kept inside the <template>
// that follows the chart (htmx removes bare <script> elements from fragments). Runs for the first page
// and for every fragment htmx swaps in (a card loading or refreshing, the card form's preview).
// Text, axis, grid and hover colours come from the page's CSS variables, and follow the theme when it
// changes (the Theme button or the system's setting) without a reload.
(function () {
  const config = { displayModeBar: false, responsive: true };
  const figures = new WeakMap(); // chart node -> the figure as the server sent it
  const drawn = new Set();

  // The CSS variables hold light-dark() pairs: a probe's computed colour resolves them for the theme
  // in force now.
  function themeColours() {
    const probe = document.createElement("span");
    probe.hidden = true;
    document.body.append(probe);
    const read = (name) => {
      probe.style.color = `var(${name})`;
      return getComputedStyle(probe).color;
    };
    const colours = {
      text: read("--text"), muted: read("--muted"), line: read("--border"),
      grid: read("--surface-2"), surface: read("--surface"),
    };
    probe.remove();
    return colours;
  }

  function themed(figure, colours) {
    const layout = structuredClone(figure.layout);
    layout.font = { ...layout.font, color: colours.muted };
    layout.hoverlabel = {
      ...layout.hoverlabel, bgcolor: colours.surface, bordercolor: colours.line,
      font: { ...layout.hoverlabel?.font, color: colours.text },
    };
    for (const key of Object.keys(layout)) {
      if (!/^[xy]axis\d*$/.test(key)) continue;
      layout[key] = { ...layout[key], linecolor: colours.line, gridcolor: colours.grid, zerolinecolor: colours.line };
    }
    // Pie slices are parted by a line of the card's own background.
    const data = figure.data.map((trace) => trace.type === "pie"
      ? { ...trace, marker: { ...trace.marker, line: { ...trace.marker?.line, color: colours.surface } } }
      : trace);
    layout.dragmode = false; // no zooming by accident on a dashboard; hover still works
    return { data, layout };
  }

  function plot(node, colours) {
    const { data, layout } = themed(figures.get(node), colours);
    window.Plotly.react(node, data, layout, config);
  }

  function redrawAll() {
    if (!window.Plotly || !drawn.size) return;
    const colours = themeColours();
    for (const node of drawn) {
      if (node.isConnected) plot(node, colours); else drawn.delete(node);
    }
  }
  new MutationObserver(redrawAll).observe(document.documentElement, { attributeFilter: ["data-theme"] });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawAll);
  // Cards change size without the window doing so (grid reflow, a card made wider): follow them.
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) {
      if (entry.target.isConnected && entry.target.data) window.Plotly.Plots.resize(entry.target);
    }
  });

  function charts(root) {
    const found = root.matches && root.matches("[data-chart]") ? [root] : [];
    return found.concat(Array.from(root.querySelectorAll ? root.querySelectorAll("[data-chart]") : []));
  }

  function draw(root) {
    if (!window.Plotly) return;
    let colours = null;
    for (const node of charts(root)) {
      const holder = node.nextElementSibling;
      const source = holder && holder.content && holder.content.getElementById(node.dataset.chart);
      if (!source) continue;
      figures.set(node, JSON.parse(source.textContent));
      plot(node, colours ||= themeColours());
      drawn.add(node);
      resized.observe(node);
      drillThrough(node, figures.get(node));
    }
  }

  // Drill-through: a bar, point or slice whose trace carries customdata opens that URL, the list of the
  // rows behind it, as metrics/drill.py wrote it (no URL is built here). The links under the chart are
  // the same URLs for the keyboard.
  function drillThrough(node, figure) {
    if (node.dataset.drillReady || !figure.data.some((trace) => trace.customdata)) return;
    node.dataset.drillReady = "1";
    node.on("plotly_click", (event) => {
      const point = event && event.points && event.points[0];
      const url = point && point.customdata;
      if (typeof url === "string" && url.startsWith("/")) window.location.assign(url);
    });
  }

  htmx.onLoad(draw);

  // Release plotly's listeners before htmx replaces a card or the grid.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!window.Plotly || !event.detail.target) return;
    for (const node of charts(event.detail.target)) {
      resized.unobserve(node);
      drawn.delete(node);
      window.Plotly.purge(node);
    }
  });
})();
