// Verdict banner, what the last step did, and refusals with their why-not cycle.
// Every sentence here is the server's: the scenario's bad-outcome words, the verdict's
// summary, the step's explanation, the refusal's message, rule and cycle.
import { h, fill } from "./dom.js";

export function mountVerdict(root) {
  const banner = h("div", { id: "banner", class: "banner", role: "status", "aria-live": "polite" });
  const expl = h("p", { id: "explanation", class: "explanation", "aria-live": "polite" });
  const refusal = h("div", { id: "refusal", class: "refusal", role: "alert" });
  fill(root, h("h2", { id: "verdict-h", class: "visually-hidden" }, "Verdict"), banner, expl, refusal);
  return {
    render(st) {
      const cur = st.current;
      const sc = st.scenario;
      if (!sc) { fill(banner, h("p", {}, "Pick a scenario to start.")); fill(expl); fill(refusal, refusalView(st.refusal)); return; }
      const v = cur && st.stepping ? cur.verdict : null;
      banner.className = `banner${v && v.bad ? " bad" : v && v.final ? " final" : ""}`;
      fill(banner,
        h("p", { class: "scenario-line" }, h("strong", {}, sc.name), sc.description ? ` — ${sc.description}` : ""),
        v && v.bad ? h("p", { class: "bad-outcome", "data-value": "bad-outcome" }, h("strong", {}, "Bad outcome: "), sc.bad_outcome) : null,
        v ? h("p", { class: "summary", "data-value": "summary" }, v.summary) : null);
      fill(expl, cur && cur.explanation ? [h("span", { class: "label" }, "Last step: "), cur.explanation] : "");
      fill(refusal, refusalView(st.refusal));
    },
  };
}

function refusalView(r) {
  if (!r) return null;
  const e = r.error || {};
  const title = r.request === "move" ? "Move refused" : r.request ? `${r.request} refused` : "Error";
  return [
    h("p", {}, h("strong", {}, `${title}: `), e.message || e.code,
      e.rule ? h("span", { class: "rule" }, ` (rule: ${e.rule}${axiom(e) ? `, axiom ${axiom(e)}` : ""})`) : null),
    whyNot(e.why || e),
  ];
}

const axiom = (e) => e.axiom || (e.why && e.why.axiom) || "";

/** The cycle of events and relations the engine returns for a refusal (`why.cycle`: edges
 * {from, to, rel} between events {id, label, cpu, line, text}), as a list and a drawing. */
function whyNot(w) {
  const edges = cycleEdges(w.cycle);
  if (!edges.length) return null;
  return h("figure", { class: "why-not" },
    h("figcaption", {}, `Why not: the move would close this cycle${w.axiom ? ` (axiom ${w.axiom})` : ""}`),
    h("ol", { class: "cycle", "aria-label": "The cycle, edge by edge" },
      edges.map((x) => h("li", {}, `${x.fromLong} —${x.rel}→ ${x.toLong}`))),
    drawCycle(edges));
}

function cycleEdges(cycle) {
  if (!Array.isArray(cycle) || !cycle.length) return [];
  const short = (x) => (typeof x === "string" ? x : x && (x.id ? `${x.id} ${x.label || ""}`.trim() : x.label || JSON.stringify(x)));
  const long = (x) => (x && typeof x === "object" && x.text ? `CPU${x.cpu} line ${x.line}: ${x.text} [${x.id}]` : short(x));
  if (cycle.every((x) => x && typeof x === "object" && "from" in x && "to" in x)) {
    return cycle.map((x) => ({ from: short(x.from), to: short(x.to), fromLong: long(x.from), toLong: long(x.to), rel: x.rel || x.relation || "" }));
  }
  return cycle.map((x, i) => {
    const y = cycle[(i + 1) % cycle.length];
    return { from: short(x), to: short(y), fromLong: long(x), toLong: long(y), rel: (x && (x.rel || x.relation)) || "" };
  });
}

function drawCycle(edges) {
  const NS = "http://www.w3.org/2000/svg";
  const n = edges.length;
  const R = 80;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "-160 -120 320 240");
  svg.setAttribute("aria-hidden", "true");  // the list above says the same
  svg.setAttribute("class", "cycle-svg");
  const el = (tag, attrs, text, parent = svg) => {
    const x = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) x.setAttribute(k, v);
    if (text) x.textContent = text;
    parent.append(x);
    return x;
  };
  const defs = el("defs", {});
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, null, defs);
  el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }, null, marker);
  const pt = (i) => [R * Math.cos((2 * Math.PI * i) / n - Math.PI / 2), R * Math.sin((2 * Math.PI * i) / n - Math.PI / 2)];
  edges.forEach((e, i) => {
    const [x1, y1] = pt(i); const [x2, y2] = pt((i + 1) % n);
    const len = Math.hypot(x2 - x1, y2 - y1) || 1;
    const [ux, uy] = [(x2 - x1) / len, (y2 - y1) / len];
    // bend each edge to its left, so A→B and B→A of a two-event cycle are two distinct arcs
    const [cx, cy] = [(x1 + x2) / 2 + uy * 40, (y1 + y2) / 2 - ux * 40];
    const [sx, sy, ex, ey] = [x1 + ux * 14, y1 + uy * 14, x2 - ux * 14, y2 - uy * 14];
    el("path", { d: `M${sx},${sy} Q${cx},${cy} ${ex},${ey}`, class: "edge", "marker-end": "url(#arrow)" });
    el("text", { x: (x1 + x2) / 4 + cx / 2, y: (y1 + y2) / 4 + cy / 2, class: "rel" }, e.rel);
  });
  edges.forEach((e, i) => { const [x, y] = pt(i); el("text", { x, y, class: "event" }, e.from); });
  return svg;
}
