// Review pages: keyboard work through the queue, status keys, and the corrected-output editor.
(() => {
  const STATUS_KEYS = { i: "in_review", r: "resolved", d: "dismissed", u: "open" };

  // Keys typed into a field, with a modifier, or Enter on a focused link or button are not ours.
  const typing = (event) =>
    event.target.closest("input, textarea, select, [contenteditable]") ||
    event.altKey || event.ctrlKey || event.metaKey ||
    (event.key === "Enter" && event.target.closest("a, button"));

  // --- The queue: j/k select, o/Enter open, status keys act on the selected row.
  const rows = () => Array.from(document.querySelectorAll("[data-review-queue] [data-review-row]"));
  const selected = () => document.querySelector("[data-review-row].is-selected");

  // Selecting on load must not scroll: the page opens at its top.
  function select(row, { scroll = true } = {}) {
    if (!row) return;
    selected()?.classList.remove("is-selected");
    row.classList.add("is-selected");
    row.setAttribute("aria-selected", "true");
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }

  function step(delta) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(selected());
    if (at === -1) return select(all[0]);
    const next = all[at + delta];
    if (next) return select(next);
    if (delta > 0) document.querySelector("[data-next-page]")?.click();
  }

  // The row comes back replaced; htmx.onLoad below selects the new one.
  function setStatus(row, status) {
    if (!row?.dataset.statusUrl) return;
    htmx.ajax("POST", row.dataset.statusUrl, {
      source: row, target: row, swap: "outerHTML", values: { status },
    });
  }

  function onQueueKey(event) {
    const key = event.key;
    if (key === "/") {
      event.preventDefault();
      document.querySelector("[data-search]")?.focus();
    } else if (key === "j") step(1);
    else if (key === "k") step(-1);
    else if ((key === "o" || key === "Enter") && selected()) window.location = selected().dataset.href;
    else if (STATUS_KEYS[key] && selected()) setStatus(selected(), STATUS_KEYS[key]);
  }

  // --- A review's page: the status buttons carry their key.
  function onDetailKey(event) {
    const button = document.querySelector(`[data-hotkey="${CSS.escape(event.key)}"]`);
    if (button) button.click();
  }

  document.addEventListener("keydown", (event) => {
    if (typing(event)) return;
    if (document.querySelector("[data-review-queue], [data-review-filters]")) onQueueKey(event);
    else onDetailKey(event);
  });

  document.addEventListener("click", (event) => {
    const row = event.target.closest("[data-review-row]");
    if (row && !event.target.closest("a, button")) select(row);
  });

  // A refused move comes back as the row with its error (422): show it rather than drop it.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.xhr.status === 422 && event.detail.target.matches("[data-review-row]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // --- Filing and editing: the original beside the corrected output.
  function readJSON(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function showOriginal(form, eventId) {
    const box = form.querySelector("[data-original]");
    if (!box) return;
    const originals = readJSON("review-originals") || {};
    const text = originals[eventId] ?? readJSON("review-default-original") ?? "";
    box.textContent = text || "The run has no reply to show.";
    document.querySelectorAll("[data-turn]").forEach((turn) => {
      turn.classList.toggle("is-target", Boolean(eventId) && turn.dataset.turn === eventId);
    });
  }

  function setUpForm(form) {
    const target = form.querySelector("select[name=target]");
    target?.addEventListener("change", () => showOriginal(form, target.value));
    form.querySelector("[data-copy-original]")?.addEventListener("click", () => {
      const area = form.querySelector("textarea[name=corrected_output]");
      const box = form.querySelector("[data-original]");
      if (area && box) { area.value = box.textContent.trim(); area.focus(); }
    });
    const action = form.querySelector("select[name=action]");
    const other = form.querySelector("input[name=action_other]")?.closest(".field");
    if (action && other) {
      const sync = () => { other.hidden = action.value !== "other"; };
      action.addEventListener("change", sync);
      sync();
    }
  }

  // "Review this reply" on a bubble picks the reply in the form on the same page.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-pick-reply]");
    const form = document.getElementById("review-form");
    const target = form?.querySelector("select[name=target]");
    if (!link || !target) return;
    event.preventDefault();
    target.value = link.dataset.pickReply;
    showOriginal(form, target.value);
    history.replaceState(null, "", link.href);
    form.scrollIntoView({ behavior: "smooth", block: "start" });
    form.querySelector("textarea[name=comment]")?.focus({ preventScroll: true });
  });

  htmx.onLoad((root) => {
    root.querySelectorAll?.("#review-form, #edit form").forEach(setUpForm);
    if (root.matches?.("#review-form, #edit form")) setUpForm(root);
    if (root.matches?.("[data-review-row]") && !selected()) return select(root, { scroll: false });
    const first = rows()[0];
    if (first && !selected() && root.querySelector?.("[data-review-queue]")) select(first, { scroll: false });
  });
})();
