// The LKMM execution so far as an SVG graph (the state's `graph`, or a refusal's `why.graph`):
// events in columns by CPU, initial writes above them, and the server's edges: po, rf, co,
// fr and the ppo/fence edges named by their rule; a refusal's cycle drawn highlighted with its
// axiom.  The layout is ours; every node, edge and name is the server's.  The svg has
// role="img", an accessible name starting "Execution graph" and the edge list as its text
// alternative.
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 136;     // node width
const NH = 40;     // node height
const GX = 46;     // gap between columns
const GY = 30;     // gap between rows
const TOP = 8;
const IW = 128;    // an initial write's box
const IH = 34;
const LEFT = 36;   // room for the arcs drawn left of the first column
let uid = 0;

function el(tag, attrs = {}, text = null, parent = null) {
  const x = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) x.setAttribute(k, String(v));
  if (text !== null) x.textContent = text;
  if (parent) parent.append(x);
  return x;
}

/** Where each node goes: a column per CPU, and above them the initial writes, each placed over
 * the events that read it or follow it (so few edges cross a box). */
function layout(g) {
  const ncol = Math.max(1, g.cpus.length);
  const width = LEFT + ncol * (W + GX) - GX + 56;
  const inits = g.nodes.filter((n) => n.cpu === null || n.cpu === undefined);
  const perRow = Math.max(1, Math.floor((width - 40 + 10) / (IW + 10)));
  const bandRows = inits.length ? Math.ceil(inits.length / perRow) : 0;
  const head = TOP + (bandRows ? 16 + bandRows * (IH + 12) + 34 : 0);
  const pos = new Map();
  let rows = 0;
  for (const n of g.nodes) {
    if (n.cpu === null || n.cpu === undefined) continue;
    rows = Math.max(rows, n.row + 1);
    pos.set(n.id, { x: LEFT + n.cpu * (W + GX), y: head + 24 + n.row * (NH + GY), w: W, h: NH, n });
  }
  // each initial write goes above the mean of the events it is connected to, then the row is
  // pushed apart so no two boxes overlap
  const want = (n) => {
    const xs = g.edges.filter((e) => e.from === n.id && pos.has(e.to)).map((e) => pos.get(e.to).x);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length + (W - IW) / 2 : 20;
  };
  const sorted = inits.map((n) => ({ n, x: want(n) })).sort((a, b) => a.x - b.x);
  for (let r = 0; r < bandRows; r++) {
    const row = sorted.slice(r * perRow, (r + 1) * perRow);
    let left = 20;
    for (const it of row) { it.x = Math.max(left, Math.min(it.x, width - 20 - IW)); left = it.x + IW + 10; }
    let right = width - 20;
    for (const it of [...row].reverse()) { it.x = Math.min(it.x, right - IW); right = it.x - 10; }
    for (const it of row) pos.set(it.n.id, { x: it.x, y: TOP + 16 + r * (IH + 12), w: IW, h: IH, n: it.n });
  }
  return { pos, width, height: head + 24 + rows * (NH + GY) + 10, head, bandRows };
}

/** An edge's path between two boxes: a straight drop down a column for po, an arc beside the
 * column for other edges within one CPU, a gentle curve between columns. */
function edgePath(a, b, e, k) {
  const ax = a.x + a.w / 2, ay = a.y + a.h / 2, bx = b.x + b.w / 2, by = b.y + b.h / 2;
  const sameCol = a.n.cpu !== null && a.n.cpu !== undefined && a.n.cpu === b.n.cpu;
  if (sameCol) {
    const down = b.y > a.y;
    if (e.kind === "po" && down) {
      const x = a.x + a.w / 2 - 22;
      return { d: `M${x},${a.y + a.h} L${x},${b.y}`, lx: x - 12, ly: (a.y + a.h + b.y) / 2 + 4 };
    }
    // ppo on the right of the column, everything else (rf, co, fr, a cycle's way back) on the left
    const right = e.kind === "ppo" && down;
    const side = right ? a.x + a.w : a.x;
    const bulge = (right ? 1 : -1) * (18 + 8 * Math.min(6, Math.abs(b.n.row - a.n.row)) + 6 * k);
    const y1 = ay + (down ? 6 : -6), y2 = by + (down ? -6 : 6);
    return { d: `M${side},${y1} C${side + bulge},${y1} ${side + bulge},${y2} ${side},${y2}`,
      lx: side + bulge * 0.8, ly: (y1 + y2) / 2 + 4 };
  }
  // between columns (or from an initial write): leave from the side or bottom facing the target
  let sx, sy, tx, ty;
  const below = a.y + a.h <= b.y - 4;
  if (below && Math.abs(ax - bx) < (a.w + b.w) / 2) { sx = ax + 8 * k; sy = a.y + a.h; tx = bx + 8 * k; ty = b.y; }
  else if (below) { sx = ax + (bx > ax ? a.w / 4 : -a.w / 4); sy = a.y + a.h; tx = bx > ax ? b.x + 12 : b.x + b.w - 12; ty = b.y; }
  else if (bx > ax) { sx = a.x + a.w; sy = ay; tx = b.x; ty = by; }
  else { sx = a.x; sy = ay; tx = b.x + b.w; ty = by; }
  const mx = (sx + tx) / 2, my = (sy + ty) / 2;
  const len = Math.hypot(tx - sx, ty - sy) || 1;
  const off = 10 + 12 * k;
  const cx = mx + ((ty - sy) / len) * off, cy = my - ((tx - sx) / len) * off;
  // the label sits at a point of the curve that depends on the relation, so the labels of
  // edges that cross in the middle do not land on one another
  const t = { rf: 0.72, fr: 0.3, co: 0.6, ppo: 0.5, cycle: 0.5 }[e.cycle ? "cycle" : e.kind] ?? 0.5;
  const q = (u, v, w) => (1 - t) * (1 - t) * u + 2 * (1 - t) * t * v + t * t * w;
  return { d: `M${sx},${sy} Q${cx},${cy} ${tx},${ty}`, lx: q(sx, cx, tx), ly: q(sy, cy, ty) - 3 };
}

const where = (n) => (n.cpu === null || n.cpu === undefined ? `initial value ${n.label}` :
  `CPU${n.cpu}${n.line ? ` line ${n.line}` : ""} ${n.label}${n.ghost ? " (not run yet)" : ""}`);

/** The graph as a figure: the svg (role img) and its edges as a list (the text alternative). */
export function drawGraph(g, { refused = false } = {}) {
  const id = `xg${++uid}`;
  const { pos, width, height, head, bandRows } = layout(g);
  const nodes = new Map(g.nodes.map((n) => [n.id, n]));
  const edges = g.edges.filter((e) => pos.has(e.from) && pos.has(e.to));
  const rels = [...new Set(edges.map((e) => e.rel))];
  const ran = g.nodes.filter((n) => !n.ghost && n.cpu !== null && n.cpu !== undefined).length;
  const plural = (k, w) => `${k} ${w}${k === 1 ? "" : "s"}`;
  const name = `Execution graph${refused ? " with the refused step's cycle" : ""}: ${plural(ran, "event")} run, `
    + `${plural(edges.length, "edge")} (${rels.join(", ") || "none yet"})${g.axiom ? `; the cycle breaks the ${g.axiom} axiom` : ""}`;
  const svg = el("svg", { viewBox: `0 0 ${width} ${Math.max(height, 60)}`, role: "img", class: "xgraph",
    "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-edges`, width: "100%" });
  svg.style.minWidth = `${Math.round(width * 0.8)}px`;  // never smaller than that: the panel scrolls instead
  el("title", { id: `${id}-title` }, name, svg);
  const defs = el("defs", {}, null, svg);
  for (const k of ["po", "rf", "co", "fr", "ppo", "cycle"]) {
    const m = el("marker", { id: `${id}-arr-${k}`, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7",
      orient: "auto-start-reverse" }, null, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow a-${k}` }, null, m);
  }
  if (bandRows) el("text", { x: 20, y: TOP + 10, class: "col-head" }, "initial values", svg);
  g.cpus.forEach((c, i) => el("text", { x: LEFT + i * (W + GX) + 4, y: head + 16, class: "col-head" }, c, svg));
  // edges first, so the boxes sit on top of their ends
  const seen = new Map();
  const layer = el("g", { class: "edges" }, null, svg);
  const labels = el("g", { class: "edge-labels" }, null, svg);
  for (const e of edges) {
    const pair = `${e.from}|${e.to}`;
    const k = seen.get(pair) || 0;
    seen.set(pair, k + 1);
    const p = edgePath(pos.get(e.from), pos.get(e.to), e, k);
    const kind = e.cycle ? "cycle" : (["po", "rf", "co", "fr"].includes(e.kind) ? e.kind : "ppo");
    el("path", { d: p.d, class: `edge e-${kind}${e.cycle ? " in-cycle" : ""}`, "marker-end": `url(#${id}-arr-${kind})` }, null, layer);
    el("text", { x: p.lx, y: p.ly, class: `edge-label l-${kind}`, "text-anchor": "middle" }, e.rel, labels);
  }
  for (const [nid, p] of pos) {
    const n = nodes.get(nid);
    const gEl = el("g", { class: `node k-${(n.kind || "F").toLowerCase()}${n.ghost ? " ghost" : ""}${n.in_cycle ? " in-cycle" : ""}` }, null, svg);
    el("title", {}, where(n) + (n.text ? `: ${n.text}` : ""), gEl);
    el("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: 5 }, null, gEl);
    el("text", { x: p.x + 5, y: p.y + 15, class: "n1" }, clip(n.what || n.label, Math.floor((p.w - 8) / 6.6)), gEl);
    el("text", { x: p.x + 5, y: p.y + p.h - 6, class: "n2" }, clip(`${n.value || ""}${n.line ? `  line ${n.line}` : ""}`, Math.floor((p.w - 8) / 6.6)), gEl);
  }
  const list = h("ul", { id: `${id}-edges`, class: "edge-list" }, edges.map((e) => h("li", { class: e.cycle ? "in-cycle" : null },
    `${where(nodes.get(e.from))} —${e.rel}→ ${where(nodes.get(e.to))}${e.cycle ? " (in the cycle)" : ""}${e.text ? ` — ${e.text}` : ""}`)));
  return h("figure", { class: `xgraph-fig${refused ? " refused" : ""}` },
    h("figcaption", {}, refused
      ? h("strong", {}, `The refused step would close the cycle drawn in red${g.axiom ? ` (axiom ${g.axiom})` : ""}`)
      : "The events run so far, by CPU; edges po, rf, co, fr and the ppo/fence rules that order them."),
    svg,
    h("details", { class: "edge-details" }, h("summary", {}, `The ${plural(edges.length, "edge")} as text`), list));
}

const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
