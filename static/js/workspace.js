// The run workspace (the Run page's Tasks tab): select a task in the tree by click or with the arrow
// keys, and the detail pane beside it follows: the Task page's region swapped in by HTMX, and ?task=
// pushed into the URL (each row's link, which opens the same without JavaScript). Up and down move between the rows shown; left folds, or goes to the parent;
// right unfolds, or goes to the first child. The tree is one tab stop (a roving tabindex).
(() => {
  const rowsShown = (table) => [...table.querySelectorAll("tr[data-task]")].filter((row) => !row.hidden);
  const linkOf = (row) => row.querySelector("a[data-select]");

  function mark(row) {
    const table = row.closest("table");
    table.querySelectorAll("tr.selected").forEach((other) => {
      other.classList.remove("selected");
      linkOf(other)?.removeAttribute("aria-current");
    });
    table.querySelectorAll("a[data-select]").forEach((link) => { link.tabIndex = -1; });
    row.classList.add("selected");
    const link = linkOf(row);
    link.setAttribute("aria-current", "true");
    link.tabIndex = 0;
  }

  // The pane's request goes through the table, whose hx-sync drops a slower answer for an older row.
  function load(row, { push = true } = {}) {
    const table = row.closest("table");
    const url = `${table.dataset.detailBase}${encodeURIComponent(row.dataset.step)}/`;
    htmx.ajax("GET", url, { source: table, target: "#task-page", swap: "outerHTML" });
    if (push) history.pushState({ workspaceTask: row.dataset.step }, "", linkOf(row).href);
  }

  function select(row) {
    if (row.hidden) row.dispatchEvent(new CustomEvent("tree:reveal", { bubbles: true }));
    mark(row);
    linkOf(row).focus();
    load(row);
  }

  function rowOfStep(table, step) {
    return table.querySelector(`tr[data-step="${CSS.escape(step)}"]`);
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-workspace-tree] a[data-select]");
    if (link) {
      if (event.button || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;  // a new tab
      event.preventDefault();
      select(link.closest("tr"));
      return;
    }
    // Parent and children links in the pane select within the tree when the row is on this page.
    const other = event.target.closest("#workspace-pane a[data-select-task]");
    const table = document.querySelector("[data-workspace-tree]");
    const row = other && table && rowOfStep(table, other.dataset.selectTask);
    if (row) { event.preventDefault(); select(row); }
  });

  document.addEventListener("keydown", (event) => {
    const link = event.target.closest?.("[data-workspace-tree] a[data-select]");
    if (!link || event.altKey || event.ctrlKey || event.metaKey) return;
    const row = link.closest("tr");
    const table = row.closest("table");
    const rows = rowsShown(table);
    const at = rows.indexOf(row);
    const twisty = row.querySelector("[data-fold]");
    const open = twisty?.getAttribute("aria-expanded") === "true";
    let next = null;
    if (event.key === "ArrowDown") next = rows[at + 1];
    else if (event.key === "ArrowUp") next = rows[at - 1];
    else if (event.key === "ArrowLeft") {
      if (open) twisty.click();
      else next = table.querySelector(`tr[data-task="${row.dataset.ancestors.split(" ").filter(Boolean).pop()}"]`);
    } else if (event.key === "ArrowRight") {
      if (twisty && !open) twisty.click();
      else if (twisty) next = rows[at + 1];
    } else return;
    event.preventDefault();
    if (next) select(next);
  });

  // After any swap (the pane, a live refresh of the run, more rows), the row of the task in the pane
  // is the selected one, and the tree's tab stop.
  htmx.onLoad(() => {
    const table = document.querySelector("[data-workspace-tree]");
    if (!table) return;
    const step = document.querySelector("#workspace-pane #task-page")?.dataset.stepId;
    const row = (step && rowOfStep(table, step)) || table.querySelector("tr[data-task]");
    if (!row) return;
    if (step) mark(row);
    else {
      table.querySelectorAll("a[data-select]").forEach((link) => { link.tabIndex = -1; });
      linkOf(row).tabIndex = 0;
    }
  });

  // Back and forward between tasks: the pane follows the URL. Entries HTMX pushed are its own to restore.
  window.addEventListener("popstate", (event) => {
    const table = document.querySelector("[data-workspace-tree]");
    if (event.state?.htmx || !(table || event.state?.workspaceTask)) return;
    const step = new URLSearchParams(window.location.search).get("task");
    const row = table && step && rowOfStep(table, step);
    if (!row) { window.location.reload(); return; }
    mark(row);
    load(row, { push: false });
  });

  // HTMX's own restores put the page back as it was, except the pane, which hx-preserve keeps through
  // swaps: load the task the restored URL names into it.
  document.addEventListener("htmx:historyRestore", () => {
    const table = document.querySelector("[data-workspace-tree]");
    const step = new URLSearchParams(window.location.search).get("task");
    const row = table && step && rowOfStep(table, step);
    const pane = document.querySelector("#workspace-pane #task-page");
    if (!row || !pane || pane.dataset.stepId === step) return;
    mark(row);
    load(row, { push: false });
  });

  // On a narrow screen the pane is below the tree: bring a task the reader picked into view.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id !== "task-page" && event.target.id !== "task-page") return;
    const pane = document.getElementById("workspace-pane");
    if (pane && window.matchMedia("(max-width: 1000px)").matches && !event.detail.requestConfig?.elt?.hasAttribute("data-live")) {
      pane.scrollIntoView({ block: "start" });
    }
  });
})();
