// Playback (traces/includes/playback.html): j / ArrowDown / ArrowRight step to the next event,
// k / ArrowUp / ArrowLeft to the previous one, by following the page's own Next and Previous links
// (which work without this script). Keys typed into a field, or with a modifier, are left alone.
(function () {
  "use strict";
  const KEYS = { j: "next", ArrowDown: "next", ArrowRight: "next", k: "previous", ArrowUp: "previous", ArrowLeft: "previous" };
  document.addEventListener("keydown", function (event) {
    const way = KEYS[event.key];
    if (!way || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea, [contenteditable], summary, details[open] pre")) return;
    const region = document.querySelector("[data-playback]");
    if (!region) return;
    const link = region.querySelector('[data-step="' + way + '"]');
    event.preventDefault();
    if (link) link.click();
  });
  // After a step, keep the selected event in view in the list, and the focus where the keys work.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "playback") return;
    const current = document.querySelector('#playback [aria-current="step"]');
    if (current) current.scrollIntoView({ block: "nearest" });
  });
})();
