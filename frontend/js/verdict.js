// Verdict banner, what the last step did, and refusals with the cycle they would close.
// Every sentence here is the server's: the scenario's bad-outcome words, the verdict's
// summary, the step's explanation, the refusal's message, rule and cycle.
import { h, fill, codeText } from "./dom.js";

export function mountVerdict(root) {
  const banner = h("div", { id: "banner", class: "banner", role: "status", "aria-live": "polite" });
  const expl = h("p", { id: "explanation", class: "explanation", "aria-live": "polite" });
  const refusal = h("div", { id: "refusal", class: "refusal", role: "alert" });
  fill(root, h("h2", { id: "verdict-h", class: "visually-hidden" }, "Verdict"), banner, expl, refusal);
  return {
    render(st) {
      const cur = st.current;
      const sc = st.scenario;
      if (!sc) {
        fill(banner, h("p", {}, "Pick a scenario (or a lesson) to start."));
        fill(expl); fill(refusal, refusalView(st.refusal)); return;
      }
      const v = cur && st.stepping ? cur.verdict : null;
      banner.className = `banner${v && v.bad ? " bad" : v && v.final ? " final" : ""}`;
      fill(banner,
        h("p", { class: "scenario-line" }, h("strong", {}, sc.name), ` under ${st.model}`, sc.description ? ` — ${sc.description}` : ""),
        v && v.bad ? h("p", { class: "bad-outcome", "data-value": "bad-outcome" }, h("strong", {}, "Bad outcome: "), sc.bad_outcome) : null,
        v ? h("p", { class: "summary", "data-value": "summary" }, v.summary) : null,
        st.notice && !st.stepping ? h("p", { class: "summary" }, st.notice) : null);
      fill(expl, cur && cur.explanation ? [h("span", { class: "label" }, "Last step: "), codeText(cur.explanation)] : "");
      fill(refusal, refusalView(st.refusal));
    },
  };
}

function refusalView(r) {
  if (!r) return null;
  const e = r.error || {};
  const title = r.request === "move" ? "Move refused" : r.request === "step" ? "Step refused" : r.request ? `${r.request} refused` : "Error";
  const why = e.why || {};
  return [
    h("p", {}, h("strong", {}, `${title}: `), codeText(e.message || e.code),
      e.rule ? h("span", { class: "rule" }, ` (rule: ${e.rule}${axiom(e) ? `, axiom ${axiom(e)}` : ""})`) : null),
    whyNot(why.cycle ? why : e),
    why.graph ? h("p", { class: "muted" }, "The execution graph beside the timeline draws this cycle, highlighted.") : null,
  ];
}

const axiom = (e) => e.axiom || (e.why && e.why.axiom) || "";

/** The cycle of events and relations the engine returns for a refusal (`why.cycle`: edges
 * {from, to, rel} between events {id, label, cpu, line, text}), edge by edge. */
function whyNot(w) {
  const edges = cycleEdges(w.cycle);
  if (!edges.length) return null;
  return h("figure", { class: "why-not" },
    h("figcaption", {}, `Why not: the move would close this cycle${w.axiom ? ` (axiom ${w.axiom})` : ""}`),
    h("ol", { class: "cycle", "aria-label": "The cycle, edge by edge" },
      edges.map((x) => h("li", {}, codeText(`${x.fromLong} —${x.rel}→ ${x.toLong}`)))));
}

function cycleEdges(cycle) {
  if (!Array.isArray(cycle) || !cycle.length) return [];
  const short = (x) => (typeof x === "string" ? x : x && (x.id ? `${x.id} ${x.label || ""}`.trim() : x.label || JSON.stringify(x)));
  const long = (x) => (x && typeof x === "object" && x.text ? `CPU${x.cpu} line ${x.line}: ${x.text} [${x.id}]` : short(x));
  if (cycle.every((x) => x && typeof x === "object" && "from" in x && "to" in x)) {
    return cycle.map((x) => ({ fromLong: long(x.from), toLong: long(x.to), rel: x.rel || x.relation || "" }));
  }
  return cycle.map((x, i) => {
    const y = cycle[(i + 1) % cycle.length];
    return { fromLong: long(x), toLong: long(y), rel: (x && (x.rel || x.relation)) || "" };
  });
}
