// Draws every [data-chart] element with plotly.js. The figure (built in metrics/charts.py) is the JSON
// of the <script type="application/json"> whose id the attribute names, kept inside the <template>
// that follows the chart (htmx removes bare <script> elements from fragments). Runs for the first page
// and for every fragment htmx swaps in (a card loading or refreshing, the card form's preview).
(function () {
  const config = { displayModeBar: false, responsive: true };
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
    for (const node of charts(root)) {
      const holder = node.nextElementSibling;
      const source = holder && holder.content && holder.content.getElementById(node.dataset.chart);
      if (!source) continue;
      const figure = JSON.parse(source.textContent);
      figure.layout.dragmode = false; // no zooming by accident on a dashboard; hover still works
      window.Plotly.react(node, figure.data, figure.layout, config);
      resized.observe(node);
    }
  }

  htmx.onLoad(draw);

  // Release plotly's listeners before htmx replaces a card or the grid.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!window.Plotly || !event.detail.target) return;
    for (const node of charts(event.detail.target)) {
      resized.unobserve(node);
      window.Plotly.purge(node);
    }
  });
})();
