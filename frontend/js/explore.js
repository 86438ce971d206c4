// Exhaustive exploration: a progress line while the server's checker runs (under lkmm the
// candidate executions it has judged, and what it is doing before the first), then the
// distinct final outcomes and the counterexamples; loading one replays its schedule in the
// session.  Results computed under another model than the current one say so.
import { h, fill, collapsible, changedSince } from "./dom.js";

export function mountExplore(root, actions) {
  const panel = collapsible(root, { id: "explore", title: "Explore" });
  const head = h("div", { class: "row" });
  const prog = h("div", { class: "progress-wrap" });
  const out = h("div", { class: "explore-result" });
  fill(panel.body, head, prog, out);
  const changed = changedSince();
  return {
    render(st) {
      const x = st.explore;
      // redraw only what changed: a rebuilt result would take the focus away from its verdict
      if (!changed(st.scenario, st.model, x.running, x.progress, x.result)) return;
      fill(head,
        h("button", { type: "button", disabled: !st.scenario || x.running, dataset: { key: "explore" }, onclick: () => actions.explore() },
          `Explore all interleavings (${st.model})`),
        x.running ? h("button", { type: "button", dataset: { key: "cancel" }, onclick: actions.cancel }, "Cancel") : null);
      const p = x.progress;
      const max = x.budget ? x.budget.max_seconds : 10;
      fill(prog, x.running || p || x.result ? [
        h("label", { for: "explore-progress" }, x.running ? `Exploring under ${x.model}` : `Explored under ${x.model}`),
        h("progress", { id: "explore-progress", max: String(max), value: String(x.running ? Math.min(max, p ? p.elapsed : 0) : max) }),
        h("p", { class: "stats", "data-value": "explore-stats" }, stats(x, max))] : null);
      fill(out, x.result ? result(x, st, actions) : null);
    },
  };
}

function stats(x, max) {
  const r = x.result;
  const s = r && r.statistics;
  if (s) {
    const unit = x.model === "lkmm" ? "candidate executions judged" : "states explored";
    return `${s.explored} ${unit}, ${s.final_states} final states, ${s.stuck_states} stuck, ${Number(s.elapsed_s).toFixed(2)} s`;
  }
  const p = x.progress;
  if (!p) return "starting…";
  const t = `${Number(p.elapsed).toFixed(1)} s of at most ${max} s`;
  if (p.phase === "paths") return `Enumerating each CPU's paths and the values its reads may take… (${t})`;
  if (p.phase === "counterexamples") return `${p.states} candidate executions judged; replaying the counterexamples to draw them… (${t})`;
  const unit = p.unit || "states";
  return `${p.states} ${unit}${p.unit ? " judged" : ""}, ${p.outcomes} outcomes, ${p.bad} bad so far (${t})`;
}

function result(x, st, actions) {
  const r = x.result;
  const values = (v) => Object.entries(v).map(([k, val]) => `${k}=${val}`).join(", ") || "(no observed values)";
  const cex = r.counterexamples || [];
  const stale = x.model !== st.model;
  return [
    stale ? h("p", { class: "stale", "data-value": "explore-stale" }, h("strong", {}, `These results are for ${x.model}; `),
      `the model is now ${st.model}. Loading one switches back to ${x.model}; explore again for ${st.model}.`) : null,
    h("p", { class: "explore-verdict", id: "explore-verdict", tabindex: "-1", "data-value": "explore-verdict", dataset: { key: "explore-verdict" } },
      h("strong", {}, `${x.model}: `), `${r.observation} — verdict ${r.verdict}`,
      r.incomplete ? ` (incomplete: ${r.incomplete})` : "", ` — ${r.positive} satisfying, ${r.negative} not`),
    h("h3", {}, "Counterexamples"),
    cex.length ? h("ol", { class: "cex-list" }, cex.map((c, i) => h("li", {},
      h("p", {}, values(c.values)),
      h("button", { type: "button", dataset: { key: `cex-${i}` }, "aria-label": `Load counterexample ${i + 1}`,
        onclick: () => actions.loadResult(c.schedule, x.model) }, `Load counterexample ${i + 1}`),
      c.diagram ? h("details", { class: "diagram-box", ontoggle: (e) => fitDiagram(e.currentTarget.querySelector("pre")) },
        h("summary", {}, "Its diagram, as text (the thread's style)"),
        h("pre", { class: "diagram", tabindex: "0", "aria-label": `Counterexample ${i + 1} as a diagram` }, c.diagram)) : null))) :
      h("p", {}, r.incomplete ? "None found before the search stopped." : "None: the bad outcome was not reached."),
    h("h3", {}, "Distinct final outcomes"),
    h("ul", { class: "outcomes" }, (r.states || []).map((s, i) => h("li", { class: s.satisfies ? "satisfies" : "" },
      h("span", {}, `${values(s.values)} — ${s.satisfies ? "satisfies the condition" : "does not satisfy the condition"}`),
      " ",
      h("button", { type: "button", dataset: { key: `outcome-${i}` }, "aria-label": `Load outcome ${i + 1}: ${values(s.values)}`,
        onclick: () => actions.loadResult(s.schedule, x.model) }, "Load")))),
  ];
}

/** Size a diagram's font so its longest line fits the panel (no CPU column cut off), down to
 * 7.5 px; below that the box scrolls sideways rather than the text becoming unreadable. */
function fitDiagram(pre) {
  if (!pre || !pre.clientWidth) return;
  // CSSOM, not a style attribute: allowed by a strict CSP
  for (let px = 12; px >= 7.5; px -= 0.25) {
    pre.style.fontSize = `${px}px`;
    if (pre.scrollWidth <= pre.clientWidth) return;
  }
}
