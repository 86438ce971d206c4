"""The LKMM execution so far as a graph, for the browser to draw (docs/websocket.md, `graph`).

Nodes are the steps run so far (loads, stores, RMWs) in columns by CPU, plus the initial
writes they read from or follow in coherence; edges are po (program order between the steps
run), rf (the store a read took its value from), co (coherence order so far), fr (a read
before the store that overwrites the value it read) and the ppo edges that order two steps of
one CPU, named by the rule that orders them (`mb`, `wmb`, `acquire`, `addr`, ...; words.order_rule).
A refused step adds the cycle it would close (`cycle: true` on its edges, the refused step as a
`ghost` node) and the axiom's name.

Everything comes from the stepper's own data: the state's steps, choices and coherence order,
and linux-kernel.cat's relations of an allowed execution the run is a prefix of (the one the
view already shows, LKMM.rep).  The browser only lays it out.
"""

from __future__ import annotations

import weakref

__all__ = ["execution_graph", "graph_with_cycle"]

_rels_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _relations(machine, e) -> dict:
    per = _rels_cache.setdefault(machine, {})
    r = per.get(e.index)
    if r is None:
        if len(per) > 256:
            per.clear()
        r = per[e.index] = e.relations()
    return r


def _value_text(u) -> str:
    if u.kind == "R":
        return f"={u.value}"
    if u.kind == "W":
        return f"={u.wvalue}"
    return f"{u.value}→{u.wvalue}"


def _node_label(u) -> str:
    return f"{u.kind} {u.loc}{_value_text(u) if u.kind != 'RMW' else ': ' + _value_text(u)}"


def _init_id(loc: str) -> str:
    return f"init:{loc}"


def execution_graph(machine, state) -> dict | None:
    """{nodes, edges, cpus} for an lkmm state; None under a model that does not reorder."""
    if not getattr(machine, "reorders", False) or not hasattr(machine, "rep"):
        return None
    from ..engine.models.lkmm.execs import write_id
    from ..engine.models.lkmm.words import order_rule, origin

    cpus = [f"CPU{i}" for i in range(len(machine.program.threads))]
    e = machine.rep(state)
    if e is None:
        return {"cpus": cpus, "nodes": [], "edges": [], "execution": None}
    ran = [k for k in sorted(state.ran, key=lambda k: (k[0], e.units[k].po) if k in e.units else k)
           if k in e.units]
    ids = {k: write_id(k) for k in ran}
    nodes: list[dict] = []
    for k in ran:
        u = e.units[k]
        o = origin(machine, k)
        nodes.append({"id": ids[k], "cpu": k[0], "op": k[1], "instance": k[2], "kind": u.kind, "loc": u.loc,
                      "label": _node_label(u), "what": f"{u.kind} {u.loc}", "value": _value_text(u),
                      "line": o.line, "text": o.text})
    edges: list[dict] = []
    inits: dict[str, dict] = {}

    def init(loc: str) -> str:
        if loc not in inits:
            v = machine.program.init_memory.get(loc, 0)
            inits[loc] = {"id": _init_id(loc), "cpu": None, "op": None, "instance": 0, "kind": "W", "loc": loc,
                          "label": f"W {loc}={v}", "what": f"W {loc}", "value": f"={v}", "line": None,
                          "text": f"initial {loc}={v}"}
        return inits[loc]["id"]

    def node_of(wid: str, loc: str) -> str | None:
        if wid == "init":
            return init(loc)
        return wid if any(n["id"] == wid for n in nodes) else None

    # po: each step to the next one run on its CPU
    by_cpu: dict[int, list] = {}
    for k in ran:
        by_cpu.setdefault(k[0], []).append(k)
    for ks in by_cpu.values():
        for a, b in zip(ks, ks[1:], strict=False):
            edges.append({"from": ids[a], "to": ids[b], "rel": "po", "kind": "po"})
    # rf and fr
    co = dict(state.co)
    for k in ran:
        u = e.units[k]
        if u.read is None:
            continue
        src = node_of(u.src, u.loc)
        if src is not None:
            edges.append({"from": src, "to": ids[k], "rel": "rf", "kind": "rf"})
        order = list(co.get(u.loc, ("init",)))
        if u.src in order:
            later = [w for w in order[order.index(u.src) + 1:] if w != ids[k]]
            if later and node_of(later[0], u.loc) is not None:
                edges.append({"from": ids[k], "to": later[0], "rel": "fr", "kind": "fr"})
    # co: consecutive stores run to one location (from the initial value when a store follows it)
    for loc, order in sorted(co.items()):
        ws = [w for w in order if w == "init" or node_of(w, loc) is not None]
        if len(ws) < 2:
            continue
        for a, b in zip(ws, ws[1:], strict=False):
            edges.append({"from": node_of(a, loc), "to": node_of(b, loc), "rel": "co", "kind": "co"})
    # ppo: the rule ordering two steps of one CPU, transitively reduced among the steps run
    rels = _relations(machine, e)
    ppo = rels["ppo"]

    def events(u):
        return [x for x in (u.read, u.write) if x is not None]

    for ks in by_cpu.values():
        ordered = {(a, b) for i, a in enumerate(ks) for b in ks[i + 1:]
                   if any((ppo[x] >> y) & 1 for x in events(e.units[a]) for y in events(e.units[b]))}
        for a, b in sorted(ordered, key=lambda p: (e.units[p[0]].po, e.units[p[1]].po)):
            if any((a, c) in ordered and (c, b) in ordered for c in ks):
                continue  # implied through a step in between
            r = order_rule(machine, e, a, b, rels)
            edges.append({"from": ids[a], "to": ids[b], "rel": r["rel"], "kind": "ppo",
                          "by": r.get("by"), "text": r["text"]})
    all_nodes = list(inits.values()) + nodes
    return {"cpus": cpus, "nodes": _rows(all_nodes), "edges": edges, "execution": e.index}


def _rows(nodes: list[dict]) -> list[dict]:
    """Each node's row in its column: program order (op, instance) within a CPU; initial writes first."""
    cols: dict = {}
    for n in nodes:
        cols.setdefault(n["cpu"], []).append(n)
    for col in cols.values():
        col.sort(key=lambda n: (n["op"] if n["op"] is not None else -1, n["instance"], n["loc"] or ""))
        for i, n in enumerate(col):
            n["row"] = i
    return nodes


def graph_with_cycle(machine, state, why: dict) -> dict | None:
    """The graph of `state` with the cycle a refused step would close (why.cycle) drawn on it:
    its edges marked `cycle`, events not run yet added as `ghost` nodes, and the axiom named."""
    g = execution_graph(machine, state)
    if g is None:
        return None
    cycle = why.get("cycle") or []
    have = {n["id"]: n for n in g["nodes"]}

    def node(ev: dict) -> str:
        if ev.get("id") == "init" or (ev.get("cpu") is None and ev.get("loc")):
            nid = _init_id(ev.get("loc") or "?")
        elif ev.get("id"):
            nid = ev["id"]
        else:  # a fence: not a step, drawn where it sits in program order
            nid = f"fence:{ev.get('cpu')}.{ev.get('op')}"
        if nid not in have:
            label = ev.get("label") or nid
            n = {"id": nid, "cpu": ev.get("cpu"), "op": ev.get("op"), "instance": 0, "kind": ev.get("kind"),
                 "loc": ev.get("loc"), "label": label, "what": label,
                 "value": f"={ev['value']}" if ev.get("value") is not None else "", "line": ev.get("line"),
                 "text": ev.get("text") or "", "ghost": True}
            have[nid] = n
            g["nodes"].append(n)
        else:
            have[nid]["in_cycle"] = True
        return nid

    for c in cycle:
        if not isinstance(c, dict) or "from" not in c:
            continue
        a, b, rel = node(c["from"]), node(c["to"]), c.get("rel", "")
        hit = next((x for x in g["edges"] if x["from"] == a and x["to"] == b and x["rel"] == rel), None)
        if hit is not None:
            hit["cycle"] = True
        else:
            g["edges"].append({"from": a, "to": b, "rel": rel, "kind": "cycle", "cycle": True})
    g["nodes"] = _rows(g["nodes"])
    g["axiom"] = why.get("axiom")
    g["cycle_text"] = why.get("text")
    return g
