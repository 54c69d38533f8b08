// Drill-down pages: fold the task tree, and keep what the operator opened across live refreshes.
// Live regions (data-live) are re-rendered by HTMX polling; open payloads, folded tasks and the
// scroll position belong to the operator, so they are remembered here and put back after each swap.
(() => {
  const folded = new Set();   // task ids whose subtree is hidden
  const opened = new Map();   // details[data-key] -> open, for the ones the operator toggled

  function applyFolds(root) {
    root.querySelectorAll("[data-tree] tr[data-task]").forEach((row) => {
      const ancestors = (row.dataset.ancestors || "").split(" ").filter(Boolean);
      row.hidden = ancestors.some((id) => folded.has(id));
      const twisty = row.querySelector("[data-fold]");
      if (twisty) twisty.setAttribute("aria-expanded", String(!folded.has(row.dataset.task)));
    });
  }

  function applyOpened(root) {
    root.querySelectorAll("details[data-key]").forEach((details) => {
      const key = details.dataset.key;
      if (opened.has(key)) details.open = opened.get(key);
    });
  }

  document.addEventListener("click", (event) => {
    const twisty = event.target.closest("[data-fold]");
    if (twisty) {
      const id = twisty.closest("tr").dataset.task;
      if (folded.has(id)) folded.delete(id); else folded.add(id);
      applyFolds(twisty.closest("table"));
      return;
    }
    // Loading more rows would be undone by the next refresh of the whole region: from then on
    // refresh only the run header, or stop refreshing a region that has no header of its own.
    if (event.target.closest("[data-pauses-live]")) {
      const runLive = document.getElementById("run-live");
      if (runLive) runLive.setAttribute("hx-target", "#run-header");
      document.getElementById("turns-live")?.remove();
    }
  });

  // Only the operator's own clicks are remembered, not the folds a page starts with.
  document.addEventListener("click", (event) => {
    const summary = event.target.closest("details[data-key] > summary");
    if (!summary) return;
    const details = summary.parentElement;
    setTimeout(() => opened.set(details.dataset.key, details.open));
  });

  let scroll = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.requestConfig?.elt?.hasAttribute("data-live")) scroll = window.scrollY;
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (scroll !== null) { window.scrollTo(0, scroll); scroll = null; }
  });

  htmx.onLoad((root) => {
    applyOpened(root);
    if (folded.size) applyFolds(root.closest?.("[data-tree]") || root);
  });
})();
