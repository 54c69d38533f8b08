// Small behaviours shared by every page. No inline scripts: everything hangs off data attributes.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  navigator.clipboard?.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1200);
  });
});

// On phones the main nav scrolls sideways: bring the current section into view, scrolling the nav
// alone (scrollIntoView would scroll the page too).
(() => {
  const current = document.querySelector(".nav [aria-current]");
  const nav = current?.closest(".nav");
  if (nav && current.offsetLeft + current.offsetWidth > nav.clientWidth) {
    nav.scrollLeft = current.offsetLeft - nav.offsetLeft - 12;
  }
})();

// A table wider than its box scrolls sideways: keyboard users reach it too (tab to it, then arrows).
function focusableScrollers(root) {
  root.querySelectorAll?.(".table-wrap").forEach((wrap) => {
    if (wrap.scrollWidth > wrap.clientWidth) wrap.tabIndex = 0;
    else wrap.removeAttribute("tabindex");
  });
}
htmx.onLoad(focusableScrollers);
window.addEventListener("resize", () => focusableScrollers(document));

// Every swap the reader asked for (tabs, filters, pagers, actions) shows the loading bar at the top
// of the window and marks its target busy; the silent refreshes of live regions (data-live) do not.
(() => {
  let pending = 0;
  const asked = (event) => !event.detail.elt?.hasAttribute?.("data-live");
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (!asked(event)) return;
    pending += 1;
    document.documentElement.classList.add("is-loading");
    event.detail.target?.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    if (!asked(event)) return;
    pending = Math.max(0, pending - 1);
    if (!pending) document.documentElement.classList.remove("is-loading");
    event.detail.target?.removeAttribute("aria-busy");
  });
})();
