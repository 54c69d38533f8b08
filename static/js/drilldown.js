// Drill-down pages: fold the task tree, and keep what the operator opened across live refreshes.
// Live regions (data-live) are re-rendered by HTMX polling; open payloads, folded tasks and the
// scroll position belong to the operator, so they are remembered here and put back after each swap.
(() => {
  // Folds start as the server drew them (data-folded: deep levels of a long tree); the twisties the
  // operator used win over that from then on.
  const toggled = new Map();  // task id -> folded
  const opened = new Map();   // details[data-key] -> open, for the ones the operator toggled

  function isFolded(row) {
    const id = row.dataset.task;
    return toggled.has(id) ? toggled.get(id) : row.hasAttribute("data-folded");
  }

  function applyFolds(root) {
    const rows = root.querySelectorAll("[data-tree] tr[data-task]");
    const folded = new Set();
    rows.forEach((row) => { if (row.querySelector("[data-fold]") && isFolded(row)) folded.add(row.dataset.task); });
    rows.forEach((row) => {
      const ancestors = (row.dataset.ancestors || "").split(" ").filter(Boolean);
      row.hidden = ancestors.some((id) => folded.has(id));
      const twisty = row.querySelector("[data-fold]");
      if (twisty) twisty.setAttribute("aria-expanded", String(!folded.has(row.dataset.task)));
    });
  }

  // A row asked to be shown (the workspace selects a task inside a folded subtree): unfold its ancestors.
  document.addEventListener("tree:reveal", (event) => {
    const row = event.target;
    (row.dataset.ancestors || "").split(" ").filter(Boolean).forEach((id) => toggled.set(id, false));
    applyFolds(row.closest("table"));
  });

  function applyOpened(root) {
    root.querySelectorAll("details[data-key]").forEach((details) => {
      const key = details.dataset.key;
      if (opened.has(key)) details.open = opened.get(key);
    });
  }

  document.addEventListener("click", (event) => {
    const twisty = event.target.closest("[data-fold]");
    if (twisty) {
      const row = twisty.closest("tr");
      toggled.set(row.dataset.task, !isFolded(row));
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
    applyFolds(root.closest?.("[data-tree]") || root);
  });
})();
