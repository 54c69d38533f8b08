// The payload viewer (templates/traces/includes/json.html). Each [data-payload] gets its toolbar here,
// so that a page without JavaScript shows no dead buttons: its views (chat, pretty, raw), expand and
// collapse all, find (matches marked, Enter or the arrows for the next and previous), and copy.
// The bar keeps to one line however narrow its viewer (a chat bubble, a phone): the tools that do
// not fit go into a "⋯" menu at its end.
(() => {
  const MAX_HITS = 1000;
  const found = new WeakMap();  // viewer -> {hits: [mark], at: index}
  const tools = new WeakMap();  // toolbar -> its tools in order, each with the tier that moves it
  const measured = new WeakMap();  // viewer -> its width when its toolbar was last fitted

  function button(bar, label, action, attributes = {}) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = label;
    element.dataset.action = action;
    Object.entries(attributes).forEach(([name, value]) => element.setAttribute(name, value));
    bar.append(element);
    return element;
  }

  function addToolbar(viewer) {
    if (viewer.querySelector(":scope > .payload-tools")) return;
    const label = viewer.dataset.label;
    const bar = document.createElement("div");
    bar.className = "payload-tools";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", `${label} payload`);
    const views = viewer.querySelectorAll(":scope > [data-view]");
    const group = document.createElement("span");
    group.className = "payload-views";
    views.forEach((view) => button(group, view.dataset.viewLabel, "view", {
      "data-view-target": view.dataset.view, "aria-pressed": String(!view.hidden),
    }));
    bar.append(group);
    // A tool with a tier goes into the "More" menu when the bar does not fit on one line with it:
    // expand and collapse first, then previous, next and copy (Enter and Shift+Enter still step).
    if (viewer.querySelector("details")) {
      button(bar, "Expand all", "expand", { "data-tier": "1" });
      button(bar, "Collapse all", "collapse", { "data-tier": "1" });
    }
    // The count of matches shows inside the find box, so that it never takes room in the bar.
    const box = document.createElement("span");
    box.className = "find-box";
    const find = document.createElement("input");
    find.type = "search";
    find.placeholder = "Find";
    find.dataset.action = "find";
    find.setAttribute("aria-label", `Find in ${label}`);
    box.append(find);
    const count = document.createElement("span");
    count.className = "find-count muted";
    count.setAttribute("aria-live", "polite");
    box.append(count);
    bar.append(box);
    button(bar, "↑", "previous", {
      "aria-label": "Previous match", title: "Previous match (Shift+Enter)", "data-tier": "2", "data-menu-label": "Previous match",
    });
    button(bar, "↓", "next", {
      "aria-label": "Next match", title: "Next match (Enter)", "data-tier": "2", "data-menu-label": "Next match",
    });
    button(bar, "Copy", "copy", { "aria-label": `Copy ${label}`, title: "Copy the raw JSON", "data-tier": "2" });
    tools.set(bar, [...bar.children]);
    const more = document.createElement("details");
    more.className = "menu payload-more";
    more.hidden = true;
    const summary = more.appendChild(document.createElement("summary"));
    summary.textContent = "⋯";
    summary.title = "More tools";
    summary.setAttribute("aria-label", `More tools for ${label}`);
    more.appendChild(document.createElement("div")).className = "menu-items";
    bar.append(more);
    viewer.prepend(bar);
    resized.observe(viewer);
  }

  // Tools of tier 1 to `tier` in the menu, the others in the bar, in their order. Only the tools
  // that change place are moved: moving one takes its focus away.
  function arrange(bar, tier) {
    const more = bar.querySelector(":scope > .payload-more");
    const menu = more.querySelector(".menu-items");
    const all = tools.get(bar);
    all.forEach((tool, at) => {
      if (!tool.dataset.tier) return;
      const folded = Number(tool.dataset.tier) <= tier;
      if (tool.dataset.menuLabel) {
        tool.dataset.barLabel ??= tool.textContent;
        tool.textContent = folded ? tool.dataset.menuLabel : tool.dataset.barLabel;
      }
      if (folded && tool.parentElement !== menu) menu.append(tool);
      else if (!folded && tool.parentElement !== bar) {
        bar.insertBefore(tool, all.slice(at + 1).find((next) => next.parentElement === bar) ?? more);
      }
    });
    more.hidden = !menu.children.length;
    if (more.hidden) more.open = false;
  }

  // A bar on two lines is higher than its highest tool (it has no padding).
  function wrapped(bar) {
    const heights = [...bar.children].map((tool) => tool.offsetHeight);
    return bar.clientHeight > Math.max(...heights) + 1;
  }

  // Each bar at the first tier that keeps it on one line. Bars are fitted together, tier by tier, so
  // that a page of many payloads lays out three times, not three times per payload. A menu the
  // reader opened stays open if it still has tools: a refit comes whenever a bubble's width settles,
  // which may be just after the reader clicked.
  function fit(bars) {
    const open = bars.map((bar) => bar.querySelector(":scope > .payload-more")).filter((more) => more.open);
    bars.forEach((bar) => arrange(bar, 0));
    for (let tier = 1; tier <= 2; tier += 1) {
      bars = bars.filter(wrapped);
      bars.forEach((bar) => arrange(bar, tier));
    }
    open.forEach((more) => { if (!more.hidden) more.open = true; });
  }

  // Refit when a viewer's width changes (a window resized, a panel or Details opened), in the next
  // frame: a refit can change the width of a bubble that fits its content, which is measured then.
  const pending = new Set();
  const resized = new ResizeObserver((entries) => {
    entries.forEach(({ target }) => {
      if (!target.isConnected) { resized.unobserve(target); return; }
      const width = target.clientWidth;
      if (width && measured.get(target) !== width) pending.add(target);
    });
    if (pending.size) requestAnimationFrame(() => {
      const viewers = [...pending].filter((viewer) => viewer.isConnected);
      pending.clear();
      fit(viewers.map((viewer) => viewer.querySelector(":scope > .payload-tools")).filter(Boolean));
      viewers.forEach((viewer) => measured.set(viewer, viewer.clientWidth));
    });
  });

  const shownView = (viewer) => viewer.querySelector(":scope > [data-view]:not([hidden])");

  function clearHits(viewer) {
    viewer.querySelectorAll("mark.find-hit").forEach((mark) => {
      const parent = mark.parentNode;
      parent.replaceChild(document.createTextNode(mark.textContent), mark);
      parent.normalize();
    });
    found.delete(viewer);
  }

  function find(viewer) {
    clearHits(viewer);
    const query = viewer.querySelector("[data-action=find]").value.trim().toLowerCase();
    const count = viewer.querySelector(".find-count");
    if (!query) { count.textContent = ""; return; }
    const walker = document.createTreeWalker(shownView(viewer), NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    const hits = [];
    for (const node of nodes) {
      const text = node.nodeValue;
      const lower = text.toLowerCase();
      let from = 0;
      let at = lower.indexOf(query);
      if (at < 0) continue;
      const pieces = document.createDocumentFragment();
      while (at >= 0 && hits.length < MAX_HITS) {
        pieces.append(text.slice(from, at));
        const mark = document.createElement("mark");
        mark.className = "find-hit";
        mark.textContent = text.slice(at, at + query.length);
        pieces.append(mark);
        hits.push(mark);
        from = at + query.length;
        at = lower.indexOf(query, from);
      }
      pieces.append(text.slice(from));
      node.replaceWith(pieces);
      if (hits.length >= MAX_HITS) break;
    }
    found.set(viewer, { hits, at: 0 });
    show(viewer, 0);
  }

  function show(viewer, step) {
    const state = found.get(viewer);
    const count = viewer.querySelector(".find-count");
    if (!state || !state.hits.length) { count.textContent = state ? "No match" : ""; return; }
    state.hits[state.at]?.classList.remove("current");
    state.at = (state.at + step + state.hits.length) % state.hits.length;
    const hit = state.hits[state.at];
    hit.classList.add("current");
    // A match inside a folded object or list: unfold the way to it.
    for (let details = hit.closest("details"); details; details = details.parentElement.closest("details")) {
      details.open = true;
    }
    hit.scrollIntoView({ block: "nearest" });
    count.textContent = `${state.at + 1} of ${state.hits.length}${state.hits.length >= MAX_HITS ? "+" : ""}`;
  }

  // The raw JSON, whole: a cut payload is fetched as "show all" would, and read from the answer.
  async function rawText(viewer) {
    const url = viewer.dataset.fullUrl;
    if (!url) return viewer.querySelector("[data-copy-source]").textContent;
    const answer = await fetch(url, { headers: { "HX-Request": "true", "HX-Target": viewer.id } });
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    return page.querySelector("[data-copy-source]").textContent;
  }

  // The "More" menu closes after its action, on a click elsewhere, and on Escape.
  document.addEventListener("click", (event) => {
    document.querySelectorAll(".payload-more[open]").forEach((more) => {
      if (!more.contains(event.target) || event.target.closest(".menu-items [data-action]")) more.open = false;
    });
  });
  document.addEventListener("keydown", (event) => {
    const more = event.target.closest?.(".payload-more[open]");
    if (!more || event.key !== "Escape") return;
    more.open = false;
    more.querySelector("summary").focus();
  });

  document.addEventListener("click", (event) => {
    const control = event.target.closest(".payload-tools [data-action]");
    if (!control || control.tagName === "INPUT") return;
    const viewer = control.closest("[data-payload]");
    const action = control.dataset.action;
    if (action === "view") {
      clearHits(viewer);
      viewer.querySelectorAll(":scope > [data-view]").forEach((view) => {
        view.hidden = view.dataset.view !== control.dataset.viewTarget;
      });
      control.parentElement.querySelectorAll("[data-action=view]").forEach((other) => {
        other.setAttribute("aria-pressed", String(other === control));
      });
      find(viewer);
    } else if (action === "expand" || action === "collapse") {
      viewer.querySelectorAll(".json details").forEach((details) => { details.open = action === "expand"; });
    } else if (action === "next" || action === "previous") {
      show(viewer, action === "next" ? 1 : -1);
    } else if (action === "copy") {
      rawText(viewer).then((text) => navigator.clipboard?.writeText(text)).then(() => {
        control.textContent = "Copied";
        setTimeout(() => { control.textContent = "Copy"; }, 1200);
      });
    }
  });

  let typing = null;
  document.addEventListener("input", (event) => {
    const input = event.target.closest(".payload-tools [data-action=find]");
    if (!input) return;
    clearTimeout(typing);
    typing = setTimeout(() => find(input.closest("[data-payload]")), 150);
  });

  document.addEventListener("keydown", (event) => {
    const input = event.target.closest?.(".payload-tools [data-action=find]");
    if (!input || event.key !== "Enter") return;
    event.preventDefault();
    const viewer = input.closest("[data-payload]");
    if (!found.has(viewer)) find(viewer);
    else show(viewer, event.shiftKey ? -1 : 1);
  });

  htmx.onLoad((root) => {
    if (root.matches?.("[data-payload]")) addToolbar(root);
    root.querySelectorAll?.("[data-payload]").forEach(addToolbar);
  });
})();
