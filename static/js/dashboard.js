// Dashboard behaviours: form fields that only apply to some choices, and drag-and-drop reordering.

// Fields marked data-when="name=value1 value2" show only while the form's control `name` has one
// of the values (the card form's kind/source/aggregation, the toolbar's custom range); several
// conditions separated by ";" must all hold. With data-disable-hidden, hidden inputs are also left
// out of the request.
function applyWhen(form) {
  for (const element of form.querySelectorAll("[data-when]")) {
    const conditions = element.dataset.when.split(";").map((condition) => condition.split("="));
    if (conditions.some(([name]) => !form.elements[name])) continue;
    element.hidden = !conditions.every(([name, values]) =>
      values.split(" ").includes(form.elements[name].value),
    );
    if ("disableHidden" in element.dataset) {
      for (const input of element.querySelectorAll("input, select")) input.disabled = element.hidden;
    }
  }
}

// The toolbar's URL carries only what is set: no "refresh=" for "off".
document.addEventListener("htmx:configRequest", (event) => {
  if (!event.detail.elt.matches || !event.detail.elt.matches(".metrics-toolbar")) return;
  for (const [name, value] of Object.entries(event.detail.parameters)) {
    if (value === "") delete event.detail.parameters[name];
  }
});

htmx.onLoad((root) => {
  const forms = root.tagName === "FORM" ? [root] : Array.from(root.querySelectorAll("form"));
  forms.filter((form) => form.querySelector("[data-when]")).forEach(applyWhen);
});
document.addEventListener("change", (event) => {
  const form = event.target.form;
  if (form && form.querySelector("[data-when]")) applyWhen(form);
});

// Reordering: drag a card by its handle; the new order is posted to the grid's data-sortable URL.
// The "Move up / Move down" buttons of each card do the same without a mouse.
let dragged = null;

document.addEventListener("dragstart", (event) => {
  const handle = event.target.closest && event.target.closest(".drag-handle");
  if (!handle) return;
  dragged = handle.closest(".metric-card");
  dragged.classList.add("dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", dragged.dataset.card);
  event.dataTransfer.setDragImage(dragged, 24, 24);
});

document.addEventListener("dragover", (event) => {
  if (!dragged) return;
  const target = event.target.closest && event.target.closest("[data-sortable] > .metric-card");
  if (!target || target === dragged || target.parentElement !== dragged.parentElement) return;
  event.preventDefault();
  const box = target.getBoundingClientRect();
  const after = event.clientY > box.bottom - box.height / 3 || (event.clientX > box.left + box.width / 2 && event.clientY > box.top);
  target.parentElement.insertBefore(dragged, after ? target.nextSibling : target);
});

document.addEventListener("drop", (event) => {
  if (dragged) event.preventDefault();
});

document.addEventListener("dragend", () => {
  if (!dragged) return;
  const grid = dragged.parentElement;
  dragged.classList.remove("dragging");
  dragged = null;
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  const body = new URLSearchParams();
  for (const card of grid.querySelectorAll(":scope > .metric-card")) body.append("card", card.dataset.card);
  fetch(grid.dataset.sortable, { method: "POST", headers, body, credentials: "same-origin" });
});
