// Exhaustive exploration: a progress bar while the server's checker runs, then the distinct
// final outcomes and the counterexamples; loading one replays its schedule in the session.
import { h, fill } from "./dom.js";

export function mountExplore(root, actions) {
  const head = h("div", { class: "row" });
  const prog = h("div", { class: "progress-wrap" });
  const out = h("div", { class: "explore-result" });
  fill(root, h("h2", { id: "explore-h" }, "Explore"), head, prog, out);
  return {
    render(st) {
      const x = st.explore;
      fill(head,
        h("button", { type: "button", disabled: !st.scenario || x.running, dataset: { key: "explore" }, onclick: actions.explore },
          `Explore all interleavings (${st.model})`),
        x.running ? h("button", { type: "button", dataset: { key: "cancel" }, onclick: actions.cancel }, "Cancel") : null);
      const p = x.progress;
      const max = x.budget ? x.budget.max_seconds : 10;
      fill(prog, x.running || p || x.result ? [
        h("label", { for: "explore-progress" }, x.running ? "Exploring" : "Explored"),
        h("progress", { id: "explore-progress", max: String(max), value: String(x.running ? Math.min(max, p ? p.elapsed : 0) : max) }),
        h("p", { class: "stats", "data-value": "explore-stats" }, stats(x, max))] : null);
      fill(out, x.result ? result(x, st, actions) : null);
    },
  };
}

function stats(x, max) {
  const s = x.result && x.result.statistics;
  if (s) return `${s.explored} states explored, ${s.final_states} final states, ${s.stuck_states} stuck, ${Number(s.elapsed_s).toFixed(2)} s`;
  const p = x.progress;
  return p ? `${p.states} states, ${p.outcomes} outcomes, ${p.bad} bad so far, ${Number(p.elapsed).toFixed(1)} s of ${max} s` : "starting…";
}

function result(x, st, actions) {
  const r = x.result;
  const values = (v) => Object.entries(v).map(([k, val]) => `${k}=${val}`).join(", ");
  const cex = r.counterexamples || [];
  return [
    h("p", { class: "explore-verdict", "data-value": "explore-verdict" },
      h("strong", {}, `${x.model}: `), `${r.observation} — verdict ${r.verdict}`,
      r.incomplete ? ` (incomplete: ${r.incomplete})` : "", ` — ${r.positive} satisfying, ${r.negative} not`),
    h("h3", {}, "Counterexamples"),
    cex.length ? h("ol", { class: "cex-list" }, cex.map((c, i) => h("li", {},
      h("p", {}, values(c.values)),
      h("button", { type: "button", dataset: { key: `cex-${i}` }, "aria-label": `Load counterexample ${i + 1}`,
        onclick: () => actions.loadSchedule(c.schedule, x.model) }, `Load counterexample ${i + 1}`),
      c.diagram ? h("pre", { class: "diagram", tabindex: "0", "aria-label": `Counterexample ${i + 1} as a diagram` }, c.diagram) : null))) :
      h("p", {}, "None: the bad outcome was not reached."),
    h("h3", {}, "Distinct final outcomes"),
    h("ul", { class: "outcomes" }, (r.states || []).map((s, i) => h("li", { class: s.satisfies ? "satisfies" : "" },
      h("span", {}, `${values(s.values)} — ${s.satisfies ? "satisfies the condition" : "does not satisfy the condition"}`),
      " ",
      h("button", { type: "button", dataset: { key: `outcome-${i}` }, "aria-label": `Load outcome ${i + 1}: ${values(s.values)}`,
        onclick: () => actions.loadSchedule(s.schedule, x.model) }, "Load")))),
  ];
}
