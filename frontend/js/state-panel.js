// State panel: every value of the current state as labelled text (pages, registers, memory,
// store buffers), marking what changed in the step that led here (the server's `changed`:
// always against the previous step of the run, wherever the user jumped from).
import { h, fill, pair, changedSince, collapsible } from "./dom.js";

const UNWRITTEN = "—";

export function mountStatePanel(root) {
  const panel = collapsible(root, { id: "state", title: "Page state" });
  const body = h("div", { class: "state-body" });
  const changed = changedSince();
  fill(panel.body, body);
  return {
    render(st) {
      if (!changed(st.current, st.scenario, st.stepping)) return;
      const cur = st.current;
      if (!cur || !st.stepping) { fill(body, h("p", {}, st.scenario ? "No state to show under this model." : "No scenario loaded.")); return; }
      const v = cur.view;
      const ch = new Set(cur.changed || []);
      const calls = registerCalls(st.scenario);
      const unwrittenObs = new Set(cur.verdict.unwritten || []);
      fill(body,
        h("p", { class: "muted" }, cur.position ? `After step ${cur.position}; marked: what step ${cur.position} changed.` : "The initial state."),
        v.pages.map((p) => page(p, ch)),
        h("section", { class: "regs", "aria-label": "Registers" }, h("h3", {}, "Registers"),
          v.cpus.map((c) => {
            const regs = Object.entries(c.registers);
            const unwritten = new Set(c.unwritten || []);
            return h("div", { class: `cpu-regs cpu-${c.cpu % 4}` }, h("h4", {}, `CPU${c.cpu}`),
              regs.length ? h("dl", {}, regs.map(([r, val]) => pair(
                calls.get(`${c.cpu}:${r}`) ? `${r} (${calls.get(`${c.cpu}:${r}`)})` : r,
                unwritten.has(r) ? `${UNWRITTEN} (not written yet)` : val, ch.has(`${c.cpu}:${r}`), `${c.cpu}:${r}`))) :
                h("p", { class: "muted" }, "no registers"));
          })),
        Object.keys(v.memory).length ? h("section", { "aria-label": "Memory" }, h("h3", {}, "Memory"),
          h("dl", {}, Object.entries(v.memory).map(([k, val]) => pair(k, val, ch.has(k), `mem-${k}`)))) : null,
        v.buffers ? h("section", { "aria-label": "Store buffers" }, h("h3", {}, "Store buffers (tso)"),
          h("dl", {}, v.buffers.map((b, i) => pair(`CPU${i} store buffer`, b.length ? b.map((e) => `${e.location}=${e.value}`).join(", ") : "empty",
            ch.has(`buffer:${i}`), `buffer-${i}`)))) : null,
        readable(v),
        h("section", { "aria-label": "Observed values" }, h("h3", {}, "Observed values (the condition's)"),
          h("p", { class: "condition" }, h("span", { class: "label" }, "Condition: "), h("code", {}, cur.verdict.condition)),
          h("dl", {}, Object.entries(cur.verdict.values).map(([k, val]) => pair(k,
            unwrittenObs.has(k) ? `${UNWRITTEN} (not written yet)` : val, false, `obs-${k}`)))));
    },
  };
}

function page(p, ch) {
  const c = (k) => ch.has(`${p.name}.${k}`);
  return h("section", { class: "page", "aria-label": `struct page ${p.name}` },
    h("h3", {}, `struct page ${p.name}`),
    h("dl", {},
      pair("_refcount", p.refcount, c("_refcount"), `${p.name}-refcount`),
      pair("_refcount split", p.split, c("_refcount"), `${p.name}-split`),
      pair("in the bias check's false-positive zone", p.false_positive_zone ? "yes" : "no", c("_refcount"), `${p.name}-zone`),
      pair("_mapcount", `${p.mapcount_raw} (page_mapcount = ${p.mapcount})`, c("_mapcount"), `${p.name}-mapcount`),
      p.pincount ? pair("_pincount", p.pincount, c("_pincount"), `${p.name}-pincount`) : null),
    bar(p),
    h("h4", {}, "flags"),
    h("ul", { class: "flags", "aria-label": `${p.name} flags` }, p.flags.map((f) => {
      const changed = c(f.name);
      return h("li", { class: `${f.set ? "on" : "off"}${changed ? " changed" : ""}`, dataset: { value: `${p.name}-${f.name}` } },
        `${f.name}: ${f.set ? "on" : "off"}`, changed ? h("span", { class: "changed-mark" }, " (changed)") : null);
    })));
}

// A picture of the split, redundant with the text above it (hidden from screen readers).
function bar(p) {
  const total = Math.max(1, p.refcount);
  const pinPct = Math.max(0, Math.min(100, (100 * (p.refcount - p.references)) / total));
  const pins = h("span", { class: "refbar-pins" });
  pins.style.width = `${pinPct.toFixed(1)}%`;  // CSSOM, not a style attribute: allowed by a strict CSP
  return h("div", { class: `refbar${p.false_positive_zone ? " zone" : ""}`, "aria-hidden": "true" },
    pins, h("span", { class: "refbar-refs" }));
}

/** Under lkmm (view.lkmm): what each CPU can still read, coherence order so far, and how many
 * allowed executions the run is still a prefix of. */
function readable(v) {
  const l = v.lkmm;
  if (!l) return null;
  const src = (w) => (w.write === "init" ? "initial value" : `store ${w.write}`);
  return h("section", { "aria-label": "What each CPU can still read" }, h("h3", {}, "What each CPU can still read (lkmm)"),
    (l.cpus || []).map((c) => h("div", { class: `cpu-regs cpu-${c.cpu % 4}` }, h("h4", {}, `CPU${c.cpu}`),
      Object.keys(c.can_read || {}).length ? h("dl", {}, Object.entries(c.can_read).map(([loc, ws]) => pair(loc,
        ws.map((w) => `${w.value} (${src(w)}${w.ran ? "" : ", not run yet"})`).join(" or "), false, `can-read-${c.cpu}-${loc}`))) :
        h("p", { class: "muted" }, "nothing left to read"))),
    l.coherence ? [h("h4", {}, "Coherence order so far"), h("dl", {}, Object.entries(l.coherence).map(([loc, ws]) =>
      pair(loc, ws.map((w) => `${w.value} (${src(w)})`).join(" → "), false, `co-${loc}`)))] : null,
    l.allowed !== undefined ? h("p", { class: "muted", "data-value": "executions" },
      `This run is a prefix of ${l.executions} of the ${l.allowed} allowed executions${l.incomplete ? ` (incomplete: ${l.incomplete})` : ""}.`) : null);
}

/** "0:r0" → "r0 = page_pinned(page)": the call whose result a register holds, from the code. */
function registerCalls(sc) {
  const m = new Map();
  for (const c of sc ? sc.cpus : []) {
    for (const op of c.code) {
      const mm = /^\s*(\w+)\s*=\s*(\w+\(.*\))\s*$/.exec(op.call || "");
      if (mm && c.registers.includes(mm[1])) m.set(`${c.cpu}:${mm[1]}`, `${mm[1]} = ${mm[2]}`);
    }
  }
  return m;
}
