// Live regions (data-live) poll the server and morph its answer into the page (the idiomorph htmx
// extension, static/vendor/): nodes that did not change stay the same nodes, so the reader's text
// selection, scroll position and focus survive a refresh. Deferred right after htmx and the extension,
// so the paused state is known before the first poll.
(() => {
  const root = document.documentElement;
  const KEY = "live-paused";
  let paused = false;
  try { paused = sessionStorage.getItem(KEY) === "1"; } catch (error) { /* storage blocked: not paused */ }
  root.classList.toggle("live-paused", paused);

  // Whether a <details> is open is the reader's business, not the server's: a refresh keeps it.
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = (name, node) =>
    !(name === "open" && node.tagName === "DETAILS");

  // Paused (per tab): the timers keep ticking but ask nothing; resuming picks up at the next tick.
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (paused && event.detail.elt?.hasAttribute?.("data-live")) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-live-toggle]")) return;
    paused = !paused;
    root.classList.toggle("live-paused", paused);
    try {
      if (paused) sessionStorage.setItem(KEY, "1"); else sessionStorage.removeItem(KEY);
    } catch (error) { /* kept for this page only */ }
  });
})();
