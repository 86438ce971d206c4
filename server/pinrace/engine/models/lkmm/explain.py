"""Words for lkmm steps: why a step may run now, why another may not, and what each CPU can read.

Everything here is data (rule, events with lines, relation edges, text) computed from the
allowed executions and linux-kernel.cat's relations, so the CLI, the API and the browser show
the same sentences.  Rules a step can carry: `program-order` (nothing surprising),
`store→load` / `load→load` / `load→store` / `store→store` reordering (it passes unrun earlier
steps of its CPU that nothing orders before it), `older-value` (a read takes a write that a
newer one has already overwritten in coherence order), `co-earlier` (a write placed before one
that already ran).  A refusal (refuse.py) names the axiom (`happens-before`, `coherence`, `propagation`,
...), the ordering rule (`mb`, `wmb`, `acquire`, `addr`, `rf`, ...) and the cycle it would close.
"""

from __future__ import annotations

from ...state import Transition
from .execs import Execution, write_id
from .refuse import refusal
from .words import (
    WEAK_FENCES,
    fences_between,
    kind_word,
    origin,
    short_name,
    unit_by_id,
    unit_info,
    waiting,
    where,
)

__all__ = ["reason", "refusal", "waiting", "memory_view", "unit_info", "choice_text"]


# ---- why a step may run ------------------------------------------------------------------

def _unordered(m, e: Execution, v: tuple, u: tuple) -> dict:
    """Step u runs before the po-earlier step v: say what does not order them."""
    uv, uu = e.units[v], e.units[u]
    kv, ku = kind_word(uv.kind, False), kind_word(uu.kind, True)
    ov, ou = origin(m, v), origin(m, u)
    notes = []
    ev_v = e.st.events[uv.read if uv.read is not None else uv.write]
    ev_u = e.st.events[uu.read if uu.read is not None else uu.write]
    if "NORETURN" in ev_v.tags:
        notes.append(f"`{short_name(ov)}` returns no value, so it is unordered")
    for f in fences_between(e, v, u):
        tag = next(iter(f.tags))
        if tag in WEAK_FENCES:
            notes.append(WEAK_FENCES[tag])
    if "RELEASE" in ev_v.tags:
        notes.append(f"`{short_name(ov)}` orders the accesses before it, not those after")
    if "ACQUIRE" in ev_u.tags:
        notes.append(f"`{short_name(ou)}` orders the accesses after it, not those before")
    if not notes:
        notes.append("no barrier, dependency or acquire/release lies between them")
    rule = f"{kv}→{ku}"
    text = (f"{rule} reordering: nothing orders `{short_name(ov)}` (line {ov.line}) before this {ku}; "
            + "; ".join(notes))
    return {"rule": rule, "text": text, "events": [unit_info(m, e, v), unit_info(m, e, u)],
            "edges": [{"from": write_id(v), "to": write_id(u), "rel": "po", "ordered": False}]}


def reason(m, state, t: Transition) -> dict:
    """Why step `t`, which led to `state`, was allowed: one or more rules with their words."""
    key = (t.cpu, t.op, sum(1 for k in state.ran if k[0] == t.cpu and k[1] == t.op) - 1)
    e = m.rep(state)
    if e is None or key not in e.units:
        return {"rule": "program-order", "rules": ["program-order"], "reasons": [], "text": ""}
    u = e.units[key]
    before = state.ran - {key}
    seqs = dict(state.co)
    ids = [i for i in seqs.get(u.loc, ("init",)) if i != write_id(key)]
    out: list[dict] = []
    for v in e.threads[t.cpu]:
        if e.units[v].po < u.po and v not in before:
            out.append(_unordered(m, e, v, key))
    me = unit_info(m, e, key)
    if u.read is not None and u.src in ids:
        newer = ids[ids.index(u.src) + 1:]
        if newer:
            w = unit_by_id(e, u.loc, newer[-1])
            src = unit_by_id(e, u.loc, u.src)
            wd = unit_info(m, e, w) if w else None
            sd = unit_info(m, e, src) if src else {"cpu": None}
            text = (f"older value: this load reads {u.loc}={u.value} from {where(sd)} although "
                    f"{where(wd) if wd else newer[-1]} has already run and overwrites it in coherence order; "
                    "nothing has yet made that store visible to this CPU")
            out.append({"rule": "older-value", "text": text, "events": [me] + ([wd] if wd else []),
                        "edges": [{"from": u.src, "to": me["id"], "rel": "rf"},
                                  {"from": me["id"], "to": newer[0], "rel": "fr"}]})
    if u.kind == "W":
        pred = t.choice[0].split("=", 1)[1] if t.choice else ids[-1]
        if pred in ids and pred != ids[-1]:
            after = ids[ids.index(pred) + 1:]
            ws = [unit_by_id(e, u.loc, i) for i in after]
            names = ", ".join(where(unit_info(m, e, w)) for w in ws if w)
            text = (f"earlier in coherence: this store of {u.loc}={u.wvalue} takes its place before {names}, "
                    "which already ran: coherence orders stores to one location, not the time they ran")
            out.append({"rule": "co-earlier", "text": text, "events": [me],
                        "edges": [{"from": me["id"], "to": after[0], "rel": "co"}]})
    if not out:
        what = ""
        if u.read is not None:
            sd = unit_info(m, e, s) if (s := unit_by_id(e, u.loc, u.src)) else {"cpu": None}
            what = f": reads {u.loc}={u.value} from {where(sd)}, the newest store it can see"
            if u.kind == "RMW":
                what = (f": reads {u.loc}={u.value} from {where(sd)}, the newest store it can see, "
                        f"and stores {u.wvalue} right after it")
        elif u.kind == "W":
            what = f": {u.loc}={u.wvalue} is now the newest store in coherence order"
        out.append({"rule": "program-order", "text": "in program order" + what, "events": [me], "edges": []})
    return {"rule": out[0]["rule"], "rules": [r["rule"] for r in out], "reasons": out,
            "text": "; ".join(r["text"] for r in out)}


def choice_text(m, state, e: Execution, key: tuple, choice: str) -> str:
    """A transition's choice in words: which store a read takes, where a store goes in co."""
    u = e.units[key]
    wid = choice.split("=", 1)[1]
    ids = dict(state.co).get(u.loc, ("init",))
    src = unit_by_id(e, u.loc, wid)
    whence = where(unit_info(m, e, src)) if src else "the initial value"
    if choice.startswith("rf="):
        newest = " (the newest)" if ids and ids[-1] == wid else " (an older value)"
        what = f"reads {u.loc}={u.value} from {whence}{newest if u.kind == 'R' else ''}"
        return what + (f", stores {u.wvalue}" if u.kind == "RMW" else "")
    last = " (last so far)" if ids and ids[-1] == wid else " (before stores that already ran)"
    return f"stores {u.loc}={u.wvalue} right after {whence} in coherence order{last}"


# ---- what a CPU may read -------------------------------------------------------------------

def memory_view(m, state) -> dict:
    """Per CPU and location, the stores that CPU can still read (in some allowed execution from
    here), with whether each has run; and each location's coherence order so far."""
    seqs = dict(state.co)
    can: list[dict] = [{} for _ in state.cpus]
    values: dict = {}
    for e in m.compatible(state.compat):
        for k, u in e.units.items():
            if u.write is not None:
                values[(u.loc, write_id(k))] = u.wvalue
            if k in state.ran or u.read is None:
                continue
            can[k[0]].setdefault(u.loc, {})[u.src] = u.value
    cpus = []
    for i, locs in enumerate(can):
        view = {}
        for loc in sorted(locs):
            order = seqs.get(loc, ("init",))
            ws = sorted(locs[loc].items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order)))
            view[loc] = [{"write": w, "value": v, "ran": w in order} for w, v in ws]
        cpus.append({"cpu": i, "can_read": view})
    coherence = {loc: [{"write": w, "value": (m.program.init_memory.get(loc, 0) if w == "init"
                                                else values.get((loc, w)))} for w in ids]
                 for loc, ids in seqs.items()}
    return {"cpus": cpus, "coherence": coherence, "executions": bin(state.compat).count("1"),
            "allowed": len(m.executions), "incomplete": m.incomplete}



