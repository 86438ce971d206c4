"""Why a step may not run: the ordering rule, the axiom of linux-kernel.cat and the cycle it would close."""

from __future__ import annotations

from ....errors import ScheduleError
from ...state import DONE, Transition
from .execs import Execution
from .relations import bits, seq
from .words import event_info, order_rule, unit_info, waiting, where

__all__ = ["refusal"]

def refusal(m, state, t: Transition, index: int | None) -> ScheduleError:
    """The error for a step that is not enabled: the rule, the edges and the cycle it would close."""
    from .step import Refusal

    cpu = t.cpu
    if t.op is None:
        if t.choice:
            return ScheduleError(f"{t.token()}: lkmm has no '{':'.join(map(str, t.choice))}' move "
                                 "(each store is a step of its own)", index, "not-enabled")
        if state.cpus[cpu].status == DONE:
            return ScheduleError(f"CPU{cpu} cannot run: CPU{cpu} has finished", index, "blocked")
        return ScheduleError(f"CPU{cpu} cannot run: {waiting(m, state, cpu)}", index, "blocked")
    key = m.unit_key(state, cpu, t.op)
    having = [e for e in m.compatible(state.compat) if key in e.units]
    code = m.program.threads[cpu].code
    if not having and 0 <= t.op < len(code) and type(code[t.op]).__name__ in ("Fence", "Local", "Branch", "Jump",
                                                                             "SyncSrcu"):
        return ScheduleError(f"{t.token()} is not a step: op {t.op} of CPU{cpu} is `{code[t.op].origin.text}`, "
                             "which only orders or computes (steps are loads, stores and RMWs)", index, "not-a-step")
    if not having:
        return ScheduleError(f"{t.token()} is not enabled: CPU{cpu} has no operation {t.op} left to run "
                             "(it ran already, or its path does not reach it)", index, "not-on-path")
    ready = [e for e in having if e.units[key].preds <= state.ran]
    if not ready:
        return _ordering_refusal(m, state, having[0], key, t, index, Refusal)
    return _choice_refusal(m, state, ready[0], key, t, index, Refusal)


def _ordering_refusal(m, state, e: Execution, key: tuple, t: Transition, index, Refusal):
    u = e.units[key]
    miss = [p for p in u.direct if p not in state.ran]
    same = sorted((p for p in miss if p[0] == key[0]), key=lambda p: -e.units[p].po)
    p = same[0] if same else sorted(miss)[0]
    rels = e.relations()
    edge = order_rule(m, e, p, key, rels)
    a, b = unit_info(m, e, p), unit_info(m, e, key)
    cycle = [{"from": a, "to": b, "rel": edge["rel"]}, {"from": b, "to": a, "rel": "xo"}]
    chain = f"{a['label']} →{edge['rel']}→ {b['label']} →xo→ {a['label']}"
    text = (f"{edge['text']}: {where(a)} must run before {where(b)}; running it first would close the "
            f"cycle {chain} (axiom happens-before: execution order extends ppo and rf)")
    why = {"axiom": "happens-before", "rule": edge["rel"], "by": edge["by"], "events": [a, b],
           "edges": [cycle[0]], "cycle": cycle, "text": text}
    return Refusal(f"{t.token()} is not enabled: {text}", index, edge["rel"], why)


def _choice_refusal(m, state, e: Execution, key: tuple, t: Transition, index, Refusal):
    u = e.units[key]
    offered = [c for (k, c) in m.options(state) if k == key]
    want = str(t.choice[0]) if t.choice else ""
    tag, _, wid = want.partition("=")
    me = unit_info(m, e, key)
    seqs = dict(state.co)
    ids = seqs.get(u.loc, ("init",))
    base = f"{t.token()} is not enabled (choices here: {', '.join(offered)})"
    if tag not in ("rf", "co") or (tag == "rf") != (u.read is not None):
        return ScheduleError(f"{base}: a {'read' if u.read is not None else 'store'} takes "
                             f"{'rf=WRITE' if u.read is not None else 'co=WRITE'}", index, "bad-choice")
    if wid not in ids:
        return ScheduleError(f"{base}: {wid} is not a store to {u.loc} that has run", index, "not-run")
    cand = _variant(e, u, tag, wid)
    if cand is None:
        text = f"no allowed execution continues with {want} here"
        return Refusal(f"{base}: {text}", index, "no-allowed-execution",
                       {"axiom": None, "rule": "no-allowed-execution", "events": [me], "edges": [], "cycle": [],
                        "text": text})
    rf, co = cand
    cyc = _coherence_cycle(e, rf, co)
    axiom = "coherence" if cyc else None
    if cyc is None:
        keep: dict = {}
        from .cat import judge

        axiom, _ = judge(e.st, rf, co, keep)
        rel = {"happens-before": keep.get("hb"), "propagation": keep.get("pb")}.get(axiom)
        cyc = _labelled_cycle(m, e, keep, axiom, rel) if rel is not None else []
    if axiom is None:
        text = f"no allowed execution continues with {want} here (its other steps would have to change)"
        return Refusal(f"{base}: {text}", index, "no-allowed-execution",
                       {"axiom": None, "rule": "no-allowed-execution", "events": [me], "edges": [], "cycle": [],
                        "text": text})
    chain = _chain(m, e, cyc)
    text = f"{want} would close the cycle {chain} (axiom {axiom})" if chain else f"axiom {axiom} forbids {want}"
    said = next((c["said"] for c in cyc if c.get("said")), None)
    if said:  # the ordering rule first, in the words of _edge: "`smp_mb()` at line 14 orders these"
        text = f"{said}: {text}"
    cycle = [{"from": event_info(m, e, c["a"]), "to": event_info(m, e, c["b"]), "rel": c["rel"]} for c in cyc]
    why = {"axiom": axiom, "rule": axiom, "events": [me], "edges": cycle, "cycle": cycle, "text": text}
    return Refusal(f"{base}: {text}", index, axiom, why)


def _variant(e: Execution, u, tag: str, wid: str):
    """E with u's read taking `wid` (same value) or u's store placed right after `wid`: (rf, co)."""
    st = e.st
    target = None
    for i, x in e.wid.items():
        if x == wid and st.events[i].loc == u.loc:
            target = i
    if target is None:
        return None
    rf, co = list(e.rf), list(e.co)
    if tag == "rf":
        src = next((w for w in range(st.n) if (rf[w] >> u.read) & 1), None)
        # judge() looks at relations, not values: reading another value keeps this candidate's
        # later events, which is exact unless a branch tests the value (then it explains the
        # events this path has)
        if src is None or u.write is not None:
            return None
        rf[src] &= ~(1 << u.read)
        rf[target] |= 1 << u.read
        return rf, co
    order = [w for w in sorted((w for w in range(st.n) if st.events[w].kind == "W" and st.events[w].loc == u.loc),
                               key=lambda w: -bin(co[w]).count("1"))]
    order.remove(u.write)
    order.insert(order.index(target) + 1, u.write)
    later = 0
    for w in reversed(order):
        co[w] = (co[w] & ~st.byloc.get(u.loc, 0)) | later
        later |= 1 << w
    return rf, co


def _value(e: Execution, w: int):
    k = e.unit_of_event(w)
    return e.units[k].wvalue if k is not None else e.st.events[w].value


def _coherence_cycle(e: Execution, rf: list, co: list) -> list | None:
    """A cycle of po-loc | rf | co | fr (linux-kernel.cat's coherence axiom), or None."""
    from .relations import inv

    st = e.st
    fr = seq(inv(rf), co)
    labelled = (("po-loc", st.po_loc), ("rf", rf), ("co", co), ("fr", fr))
    return _find_cycle(st.n, labelled)


def _find_cycle(n: int, labelled) -> list | None:
    """The shortest cycle in the union of labelled relations, as [{a, rel, b}, ...]."""
    succ = [[] for _ in range(n)]
    for name, r in labelled:
        for i, x in enumerate(r):
            for j in bits(x):
                succ[i].append((j, name))
    best = None
    for s in range(n):
        prev = {s: None}
        frontier = [s]
        found = False
        while frontier and not found:
            nxt = []
            for a in frontier:
                for b, name in succ[a]:
                    if b == a:
                        continue  # identity parts of relations (prop's [Marked]) are no cycle
                    if b == s:
                        path = [(a, name, b)]
                        x = a
                        while prev[x] is not None:
                            p, nm = prev[x]
                            path.append((p, nm, x))
                            x = p
                        path.reverse()
                        if best is None or len(path) < len(best):
                            best = path
                        found = True
                        break
                    if b not in prev:
                        prev[b] = (a, name)
                        nxt.append(b)
                if found:
                    break
            frontier = nxt
    return [{"a": a, "rel": r, "b": b} for a, r, b in best] if best else None


def _labelled_cycle(m, e: Execution, keep: dict, axiom: str, rel: list) -> list:
    """A cycle of hb or pb spelled out in base relations (ppo rules, rf, co, fr, fences)."""
    st = e.st
    ext = st.ext
    rfe, fr, co = keep["rfe"], keep["fr"], keep["co"]
    fre = [x & y for x, y in zip(fr, ext, strict=False)]
    coe = [x & y for x, y in zip(co, ext, strict=False)]
    if axiom == "happens-before":
        # hb = ppo | rfe | (prop & int) without identity: a prop edge is then spelled out below
        prop_int = [x & st.int_[i] & ~(1 << i) for i, x in enumerate(keep["prop"])]
        parts = (("rf", rfe), ("ppo", keep["ppo"]), ("prop", prop_int))
    else:
        parts = (("fr", fre), ("co", coe), ("rf", rfe), ("strong-fence", keep["strong_fence"]),
                 ("ppo", keep["ppo"]), ("cumul-fence", keep["cumul_fence"]))
    cyc = _find_cycle(st.n, parts) or _find_cycle(st.n, (("hb" if axiom == "happens-before" else "pb", rel),)) or []
    spelled = []
    for c in cyc:
        if c["rel"] == "prop":
            spelled += _spell_prop(st, keep, fre, coe, rfe, c["a"], c["b"]) or [c]
        else:
            spelled.append(c)
    out = []
    for c in spelled:
        a, b, r = c["a"], c["b"], c["rel"]
        said = None
        if r in ("ppo", "strong-fence", "cumul-fence"):
            ka, kb = e.unit_of_event(a), e.unit_of_event(b)
            if ka is not None and kb is not None and ka[0] == kb[0]:
                edge = order_rule(m, e, ka, kb, keep)
                r, said = edge["rel"], edge["text"]
        out.append({"a": a, "rel": r, "b": b, "said": said})
    return out


def _spell_prop(st, keep: dict, fre: list, coe: list, rfe: list, a: int, b: int) -> list | None:
    """prop = (overwrite & ext)? ; cumul-fence* ; rfe? from a to b, as base edges (BFS)."""
    cf = keep["cumul_fence"]
    start = [(a, 0, [])]
    seen = {(a, 0)}
    while start:
        nxt = []
        for x, phase, path in start:
            if x == b and path:
                return path
            moves = []
            if phase == 0:
                moves += [(y, 1, "fr") for y in bits(fre[x])] + [(y, 1, "co") for y in bits(coe[x])]
            if phase <= 1:
                moves += [(y, 1, "cumul-fence") for y in bits(cf[x])] + [(y, 2, "rf") for y in bits(rfe[x])]
            for y, ph, name in moves:
                if (y, ph) not in seen:
                    seen.add((y, ph))
                    nxt.append((y, ph, path + [{"a": x, "rel": name, "b": y}]))
        start = nxt
    return None


def _chain(m, e: Execution, cyc: list) -> str:
    if not cyc:
        return ""
    labels = [event_info(m, e, c["a"])["label"] for c in cyc]
    s = labels[0]
    for c, nxt in zip(cyc, labels[1:] + [labels[0]], strict=True):
        s += f" →{c['rel']}→ {nxt}"
    return s

