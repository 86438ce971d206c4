// The timeline: one column per CPU, one row per executed operation (the thread's
// CPU0 | CPU1 | CPU2 style), and down its right edge the page after each step (the server's
// `track`: _refcount as pins × bias + refs, PG_locked, PG_writeback, what page_pinned() and
// the flag tests returned, each change since the step before marked).  Drag an operation to
// another row, or select it and move it up or down with the keyboard; the server re-validates
// every move.  Under lkmm it also draws the execution graph, in its own panel beside it.
import { h, fill, changedSince, codeText, collapsible } from "./dom.js";
import { choiceOf } from "./controls.js";
import { drawGraph } from "./graph.js";

export function mountTimeline(root, actions, graphPanel) {
  const wrap = h("div", { class: "timeline-wrap" });
  const graph = h("div", { class: "graph-wrap", id: "execution-graph" });
  const tools = h("div", { class: "timeline-tools row", role: "group", "aria-label": "Move the selected operation" });
  fill(root, h("h2", { id: "timeline-h" }, "Timeline"),
    h("p", { class: "hint", id: "timeline-hint" }, "Drag an operation to another row to change the interleaving, or select it and use Move up / Move down (Alt+Up / Alt+Down)."),
    wrap, tools);
  // the execution graph has a panel of its own beside the timeline (after the page state on a phone)
  const gp = collapsible(graphPanel, { id: "graph", title: "Execution graph (lkmm)" });
  fill(gp.body, graph);
  let last = null;
  const changed = changedSince();
  const drag = { from: null, x: 0, y: 0, active: false, over: null, suppressClick: false };

  function rowAt(x, y) {
    const el = document.elementFromPoint(x, y);
    const tr = el && el.closest("tr[data-row]");
    return tr && wrap.contains(tr) ? Number(tr.dataset.row) : null;
  }
  function mark(row) {
    for (const tr of wrap.querySelectorAll("tr.drop-target")) tr.classList.remove("drop-target");
    if (row !== null) wrap.querySelector(`tr[data-row="${row}"]`)?.classList.add("drop-target");
  }
  wrap.addEventListener("pointerdown", (e) => {
    const op = e.target.closest("button.op");
    if (!op || e.button !== 0) return;
    Object.assign(drag, { from: Number(op.dataset.index), x: e.clientX, y: e.clientY, active: false, over: null });
  });
  window.addEventListener("pointermove", (e) => {
    if (drag.from === null) return;
    if (!drag.active && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 6) return;
    drag.active = true;
    wrap.classList.add("dragging");
    drag.over = rowAt(e.clientX, e.clientY);
    mark(drag.over);
  });
  window.addEventListener("pointerup", (e) => {
    if (drag.from === null) return;
    const { from, active } = drag;
    const to = active ? rowAt(e.clientX, e.clientY) : null;
    drag.from = null;
    wrap.classList.remove("dragging");
    mark(null);
    if (!active) return;
    drag.suppressClick = true;  // the click that ends a drag is not a selection
    setTimeout(() => { drag.suppressClick = false; }, 0);
    if (to !== null && to !== from) actions.move(from, to);
  });
  wrap.addEventListener("keydown", (e) => {
    const op = e.target.closest("button.op");
    if (!op || !e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    e.preventDefault();
    actions.select(Number(op.dataset.index));
    actions.moveSelected(e.key === "ArrowUp" ? -1 : 1);
  });

  return {
    render(st) {
      if (!changed(st.current, st.scenario, st.selected, st.stepping, st.refusal)) return;
      const cur = st.current;
      const sc = st.scenario;
      const refusedGraph = st.refusal && st.refusal.error && st.refusal.error.why && st.refusal.error.why.graph;
      const g = refusedGraph || (cur && st.stepping ? cur.graph : null);
      fill(graph, g ? drawGraph(g, { refused: Boolean(refusedGraph) }) : null);
      graphPanel.hidden = !g;
      if (refusedGraph) gp.open();  // a refusal's cycle is never folded away
      if (!sc || !cur || !st.stepping) { fill(wrap, h("p", {}, sc ? "No run to show under this model." : "No scenario loaded.")); fill(tools); return; }
      last = cur;
      const cpus = sc.cpus;
      const seen = new Map();
      const head = h("tr", {}, h("th", { scope: "col", class: "idx" }, "Step"),
        cpus.map((c) => h("th", { scope: "col", class: `cpu-${c.cpu % 4}` }, `CPU${c.cpu}`, c.name && c.name !== `P${c.cpu}` ? ` (${c.name})` : "")),
        h("th", { scope: "col", class: "track-h" }, "Page after the step"));
      const rows = cur.timeline.map((t) => {
        const n = (seen.get(t.token) || 0) + 1;
        seen.set(t.token, n);
        const isSel = st.selected === t.index;
        const current = t.index === cur.position - 1;
        const notes = entryNotes(t);
        return h("tr", { dataset: { row: String(t.index) }, class: [t.applied ? "applied" : "pending", current ? "current" : "", notes.reordered ? "reordered" : ""].join(" ").trim() },
          h("th", { scope: "row", class: "idx" },
            h("button", { type: "button", class: "linklike", dataset: { key: `jump-${t.index}` }, "aria-label": `Jump to after step ${t.index + 1}`, onclick: () => actions.jump(t.index + 1) }, String(t.index + 1)),
            current ? h("span", { class: "here" }, " ◀ now") : null,
            t.applied ? null : h("span", { class: "pending-note" }, " (not applied)")),
          cpus.map((c) => h("td", { class: `cpu-${c.cpu % 4}${c.cpu !== t.cpu ? " empty" : ""}` }, c.cpu !== t.cpu ? null :
            h("button", {
              type: "button", class: "op", "aria-pressed": String(isSel), dataset: { index: String(t.index), key: `op-${t.token}-${n}`, token: t.token },
              "aria-label": `Step ${t.index + 1}, CPU${t.cpu}: ${t.label}${choiceOf(t.token) ? ` [${choiceOf(t.token)}]` : ""}${notes.text ? `. ${notes.text}` : ""}`,
              "aria-describedby": "timeline-hint",
              onclick: () => { if (!drag.suppressClick) actions.select(isSel ? null : t.index); },
            }, h("span", { class: "cpu-tag op-cpu" }, `CPU${t.cpu} `), h("span", { class: "op-label" }, codeText(t.label)),
              choiceOf(t.token) ? h("span", { class: "choice" }, ` [${choiceOf(t.token)}]`) : null,
              notes.reordered ? h("span", { class: "op-rule" }, `⚠ ${notes.rule}`) : null,
              notes.text ? h("span", { class: "op-note" }, notes.text) : null))),
          h("td", { class: "track", dataset: { track: String(t.index) } }, track(t.track, sc)));
      });
      fill(wrap, h("table", { class: "timeline", "aria-labelledby": "timeline-h" },
        h("thead", {}, head), h("tbody", {}, rows.length ? rows :
          h("tr", {}, h("td", { colspan: String(cpus.length + 2) }, "No steps yet: step a CPU, load a counterexample or paste a diagram.")))));
      const sel = st.selected !== null ? cur.timeline[st.selected] : null;
      fill(tools,
        h("span", { class: "selected", "data-value": "selected" }, sel ? `Selected: step ${sel.index + 1}, CPU${sel.cpu}: ${sel.label}` : "No operation selected"),
        h("button", { type: "button", disabled: !sel || sel.index === 0, dataset: { key: "move-up" }, onclick: () => actions.moveSelected(-1) }, "Move up"),
        h("button", { type: "button", disabled: !sel || sel.index >= cur.length - 1, dataset: { key: "move-down" }, onclick: () => actions.moveSelected(1) }, "Move down"));
    },
    get last() { return last; },
  };
}

/** The page after a step, as the server's `track` says it; on phones only what changed and
 * what calls returned stay visible (CSS hides the rest). */
function track(tk, sc) {
  if (!tk) return null;
  const items = [];
  const many = tk.pages.length > 1;
  const mark = (on) => (on ? h("span", { class: "chg" }, " changed") : null);
  for (const p of tk.pages) {
    const pre = many ? `${p.name}.` : "";
    const ch = new Set(p.changed);
    items.push(h("span", { class: `tk${ch.has("refcount") ? " changed" : ""}`, dataset: { tk: `${p.name}-refcount` } },
      h("span", { class: "tk-k" }, `${pre}_refcount `), `${p.refcount} = ${p.split}`, p.false_positive_zone ? " (false-positive zone)" : "", mark(ch.has("refcount"))));
    for (const f of p.flags) {
      items.push(h("span", { class: `tk${f.changed ? " changed" : ""}`, dataset: { tk: `${p.name}-${f.name}` } },
        h("span", { class: "tk-k" }, `${pre}${f.name} `), f.set ? "on" : "off", mark(f.changed)));
    }
    if (ch.has("mapcount_raw")) items.push(h("span", { class: "tk changed" }, h("span", { class: "tk-k" }, `${pre}page_mapcount `), String(p.mapcount), mark(true)));
    if (ch.has("pincount")) items.push(h("span", { class: "tk changed" }, h("span", { class: "tk-k" }, `${pre}_pincount `), String(p.pincount), mark(true)));
  }
  for (const r of tk.returns) {
    items.push(h("span", { class: "tk ret", dataset: { tk: `returned-${r.call}` } }, h("span", { class: "tk-k" }, codeText(r.call)), " returned ", h("strong", {}, String(r.value))));
  }
  if (!tk.returns.length && tk.value !== null && tk.value !== undefined) {
    items.push(h("span", { class: "tk ret", dataset: { tk: "got" } }, h("span", { class: "tk-k" }, "got "), h("strong", {}, String(tk.value))));
  }
  for (const m of tk.memory) items.push(h("span", { class: "tk changed" }, h("span", { class: "tk-k" }, `${m.location} `), `${m.before} → ${m.value}`, mark(true)));
  const anyChange = tk.returns.length || tk.memory.length || tk.pages.some((p) => p.changed.length);
  if (!anyChange) items.push(h("span", { class: "tk-none" }, sc.cpus.length && tk.pages.length ? "page unchanged" : "no change"));
  return items;
}

/** What the server says about an entry beyond its label: under lkmm, `reason` names a step that
 * ran ahead of program order, read an older value or went earlier in coherence. */
function entryNotes(t) {
  const r = t.reason;
  if (!r || !r.rule || r.rule === "program-order") return { text: "", reordered: false };
  return { text: r.text || r.rule, reordered: true, rule: r.rule };
}
