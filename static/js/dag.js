// Pan and zoom for the server-rendered graphs, and the selected node or bar.
// The SVG comes laid out from the server; this only scales it and scrolls its frame.
(() => {
  const STEP = 1.25;
  const MIN_SCALE = 0.1;
  const MAX_SCALE = 2.5;
  const READABLE = 0.6; // the first view fits the width, but on a phone never shrinks text below this
  const WIDE_FRAME = 900; // ... while a desktop frame shows the whole width down to this scale
  const READABLE_WIDE = 0.4;
  const WHOLE = 0.8; // ... and shows the whole graph when that keeps text at least this large
  // Where the operator left each graph, so that a live refresh that redraws it keeps the view.
  const views = new Map();

  function setUp(frame) {
    const svg = frame.querySelector("svg.dag");
    if (!svg || frame.dataset.ready) return;
    frame.dataset.ready = "1";
    const [, , width, height] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
    let scale = 1;

    function apply(next, anchorX, anchorY) {
      next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, next));
      // Keep the point under the anchor (the pointer, or the middle of the view) in place.
      const ax = anchorX ?? frame.clientWidth / 2;
      const ay = anchorY ?? frame.clientHeight / 2;
      const x = (frame.scrollLeft + ax) / scale;
      const y = (frame.scrollTop + ay) / scale;
      scale = next;
      svg.setAttribute("width", Math.round(width * scale));
      svg.setAttribute("height", Math.round(height * scale));
      frame.scrollLeft = x * scale - ax;
      frame.scrollTop = y * scale - ay;
    }

    function fitWidth() {
      return (frame.clientWidth - 2) / width;
    }

    function fitAll() {
      return Math.min(fitWidth(), (frame.clientHeight - 2) / height, 1);
    }

    // The first view fits the width (or the whole graph when that stays readable), and follows
    // the frame's width as the window changes, until the operator zooms.
    let zoomed = false;
    function firstView() {
      let first = Math.min(1, fitWidth());
      if (height * first > frame.clientHeight && fitAll() >= WHOLE) first = fitAll();
      // A wide graph cut off at the right hides whole branches: on a desktop it is fitted to the
      // width (zoom in and pan to read), on a phone it stays readable and pans.
      apply(Math.max(first, frame.clientWidth >= WIDE_FRAME ? READABLE_WIDE : READABLE), 0, 0);
      frame.scrollLeft = 0;
      frame.scrollTop = 0;
    }
    frame.classList.add("zoomable");
    const key = frame.dataset.dag;
    const kept = views.get(key);
    if (kept) {
      zoomed = kept.zoomed;
      apply(kept.scale, 0, 0);
      frame.scrollLeft = kept.left;
      frame.scrollTop = kept.top;
    } else {
      firstView();
    }
    const remember = () => views.set(key, { scale, zoomed, left: frame.scrollLeft, top: frame.scrollTop });
    frame.addEventListener("scroll", remember, { passive: true });
    let lastWidth = frame.clientWidth;
    new ResizeObserver(() => {
      if (zoomed || frame.clientWidth === lastWidth) return;
      lastWidth = frame.clientWidth;
      firstView();
    }).observe(frame);
    function zoom(next, anchorX, anchorY) {
      zoomed = true;
      apply(next, anchorX, anchorY);
      remember();
    }

    const controls = frame.closest(".dag-graph")?.querySelector("[data-dag-zoom]");
    if (controls) {
      controls.hidden = false;
      controls.addEventListener("click", (event) => {
        const action = event.target.closest("[data-zoom]")?.dataset.zoom;
        if (action === "in") zoom(scale * STEP);
        if (action === "out") zoom(scale / STEP);
        if (action === "fit") zoom(fitAll(), 0, 0);
      });
    }

    frame.addEventListener("wheel", (event) => {
      if (!event.ctrlKey && !event.metaKey) return; // a plain wheel scrolls, as everywhere else
      event.preventDefault();
      const box = frame.getBoundingClientRect();
      zoom(scale * (event.deltaY < 0 ? STEP : 1 / STEP), event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });

    frame.addEventListener("keydown", (event) => {
      if (event.target !== frame) return;
      if (event.key === "+" || event.key === "=") zoom(scale * STEP);
      else if (event.key === "-") zoom(scale / STEP);
      else if (event.key === "0") zoom(fitAll(), 0, 0);
      else return;
      event.preventDefault();
    });

    // Drag to pan; a drag that moved does not count as a click on the node under it.
    let drag = null;
    frame.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || event.pointerType === "touch") return;
      drag = { x: event.clientX, y: event.clientY, left: frame.scrollLeft, top: frame.scrollTop, moved: false };
    });
    frame.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 5) return;
      if (!drag.moved) {
        drag.moved = true;
        frame.classList.add("panning");
        frame.setPointerCapture(event.pointerId);
      }
      frame.scrollLeft = drag.left - dx;
      frame.scrollTop = drag.top - dy;
    });
    const stop = () => {
      if (drag?.moved) {
        frame.classList.remove("panning");
        frame.addEventListener("click", (event) => { event.preventDefault(); event.stopPropagation(); },
          { capture: true, once: true });
      }
      drag = null;
    };
    frame.addEventListener("pointerup", stop);
    frame.addEventListener("pointercancel", stop);

    const selected = svg.querySelector(".node.selected");
    if (selected && !kept) {
      const box = selected.getBBox();
      const matrix = selected.transform.baseVal.consolidate()?.matrix;
      const x = ((matrix?.e ?? 0) + box.width / 2) * scale;
      const y = ((matrix?.f ?? 0) + box.height / 2) * scale;
      frame.scrollLeft = x - frame.clientWidth / 2;
      frame.scrollTop = y - frame.clientHeight / 2;
    }
  }

  // The clicked node or bar stays marked while its task is in the panel.
  document.addEventListener("click", (event) => {
    const item = event.target.closest("svg.dag a.node, .tl-link");
    if (!item) return;
    const scope = item.closest("svg.dag, .timeline");
    scope.querySelectorAll(".selected").forEach((other) => other.classList.remove("selected"));
    item.classList.add("selected");
  });

  // Back and forward: the panel and the marked node or bar follow the URL's task. HTMX keeps the
  // panel through its history restore (hx-preserve), and took its snapshot after the click had marked
  // the next node: without this, Back shows the task it left, with that node marked.
  document.addEventListener("htmx:historyRestore", () => {
    const panel = document.getElementById("task-panel");
    if (!panel) return;
    const step = new URLSearchParams(window.location.search).get("task");
    document.querySelectorAll("svg.dag a.node[hx-push-url], .tl-link[hx-push-url]").forEach((item) => {
      const pushed = new URL(item.getAttribute("hx-push-url"), window.location.href);
      item.classList.toggle("selected", Boolean(step) && pushed.searchParams.get("task") === step);
    });
    const page = panel.querySelector("#task-page");
    if (!page || (page.dataset.stepId || null) === step) return;
    if (step) {
      htmx.ajax("GET", `${panel.dataset.taskBase}${encodeURIComponent(step)}/`, { target: "#task-page", swap: "outerHTML" });
      return;
    }
    const empty = document.createElement("div");
    empty.id = "task-page";
    const hint = empty.appendChild(document.createElement("p"));
    hint.className = "empty";
    hint.textContent = panel.dataset.hint;
    page.replaceWith(empty);
  });

  // A run's live refresh asks for what the address bar shows now: a tab pushes its own state there
  // (a graph mode, a selected task) after the page was drawn. Pages restart from the first.
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt.id !== "run-live") return;
    const url = new URL(window.location.href);
    if (url.pathname !== new URL(event.detail.path, window.location.href).pathname) return;
    ["after", "before", "full"].forEach((name) => url.searchParams.delete(name));
    event.detail.path = url.pathname + url.search;
  });

  // On a narrow screen the panel sits under the graph: bring it into view when it fills.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (!event.detail.requestConfig?.elt?.closest?.("svg.dag a.node, .tl-link")) return;
    const panel = document.getElementById("task-panel");
    if (panel && panel.getBoundingClientRect().top > window.innerHeight * 0.6) {
      panel.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  });

  htmx.onLoad((root) => {
    const frames = root.matches?.("[data-dag]") ? [root] : root.querySelectorAll?.("[data-dag]") ?? [];
    frames.forEach(setUp);
  });
})();
