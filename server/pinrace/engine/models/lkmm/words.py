"""The shared vocabulary of lkmm explanations: steps and events as data, and the rule ordering two steps."""

from __future__ import annotations

from .execs import Execution, write_id

__all__ = ["waiting", "unit_info", "event_info", "where", "order_rule", "fences_between", "unit_by_id", "origin",
           "short_name"]

WEAK_FENCES = {
    "wmb": "`smp_wmb()` orders stores only",
    "rmb": "`smp_rmb()` orders loads only",
    "before-atomic": "`smp_mb__before_atomic()` orders only around the atomic RMW right after it",
    "after-atomic": "`smp_mb__after_atomic()` orders only around the atomic RMW right before it",
    "barrier": "`barrier()` restrains only the compiler",
    "rcu-lock": "`rcu_read_lock()` orders nothing by itself",
    "rcu-unlock": "`rcu_read_unlock()` orders nothing by itself",
    "after-spinlock": "`smp_mb__after_spinlock()` orders only after a spin_lock()",
    "after-unlock-lock": "`smp_mb__after_unlock_lock()` orders only after an unlock+lock pair",
}


# ---- events ------------------------------------------------------------------------------

def origin(m, key: tuple):
    return m.program.threads[key[0]].code[key[1]].origin


def short_name(o) -> str:
    return f"{o.primitive}()" if o.primitive not in ("plain", "local") else o.text


def unit_info(m, e: Execution, key: tuple) -> dict:
    """A step as explanations show it: CPU, op, line, text, kind, location, value, short label."""
    u = e.units[key]
    o = origin(m, key)
    return {"cpu": key[0], "op": key[1], "id": write_id(key), "kind": u.kind, "loc": u.loc,
            "value": u.wvalue if u.kind == "W" else u.value, "line": o.line, "text": o.text,
            "call": o.call, "label": f"{'W' if u.kind == 'W' else 'R' if u.kind == 'R' else 'RMW'} {u.loc}"}


def event_info(m, e: Execution, ev: int) -> dict:
    """An event (possibly an initial write or a fence) as explanations show it."""
    k = e.unit_of_event(ev)
    if k is not None:
        d = unit_info(m, e, k)
        kind = e.st.events[ev].kind
        d["label"] = f"{kind} {d['loc']}"
        return d
    x = e.st.events[ev]
    if "IW" in x.tags:
        return {"cpu": None, "op": None, "id": "init", "kind": "W", "loc": x.loc, "value": x.value, "line": None,
                "text": f"initial {x.loc}={x.value}", "call": None, "label": f"W {x.loc} (init)"}
    o = x.origin
    return {"cpu": x.tid, "op": x.pc, "id": None, "kind": x.kind, "loc": x.loc, "value": None,
            "line": getattr(o, "line", None), "text": getattr(o, "text", ""), "call": getattr(o, "call", None),
            "label": f"F {getattr(o, 'primitive', '')}"}


def where(d: dict) -> str:
    if d.get("cpu") is None:
        return "the initial value"
    return f"`{d['text']}` (CPU{d['cpu']}, line {d['line']})"


def kind_word(kind: str, later: bool) -> str:
    if kind == "R":
        return "load"
    if kind == "W":
        return "store"
    return "load" if later else "store"  # an RMW passes as its read, is passed as its write


def fences_between(e: Execution, a: tuple, b: tuple) -> list:
    """Fence events strictly between steps a and b of one thread, in program order."""
    t = a[0]
    base = e.st.offsets[t]
    ua, ub = e.units[a], e.units[b]
    lo = max(x for x in (ua.read, ua.write) if x is not None) - base
    hi = min(x for x in (ub.read, ub.write) if x is not None) - base
    return [x for x in e.paths[t].events[lo + 1:hi] if x.kind == "F"]


def unit_by_id(e: Execution, loc: str, wid: str) -> tuple | None:
    if wid == "init":
        return None
    for k, u in e.units.items():
        if u.write is not None and u.loc == loc and write_id(k) == wid:
            return k
    return None


def order_rule(m, e: Execution, a: tuple, b: tuple, rels: dict | None = None) -> dict:
    """The rule that orders step a before step b in execution order (rf or a part of ppo)."""
    ua, ub = e.units[a], e.units[b]
    if ub.read is not None and ub.src == write_id(a):
        return {"rel": "rf", "by": None, "text": f"it reads {ub.loc}={ub.value} from that store"}
    if a[0] != b[0]:
        return {"rel": "xo", "by": None, "text": "execution order"}
    if a[1] == b[1]:
        return {"rel": "po", "by": None, "text": "an earlier instance of the same operation runs first"}
    ea = e.st.events[ua.write if ua.write is not None else ua.read]
    eb = e.st.events[ub.read if ub.read is not None else ub.write]
    oa, ob = origin(m, a), origin(m, b)
    for f in fences_between(e, a, b):
        tag = next(iter(f.tags))
        fo = f.origin
        by = {"line": fo.line, "text": fo.text}
        if tag == "MB":
            return {"rel": "mb", "by": by, "text": f"`{fo.text}` at line {fo.line} orders these"}
        if tag == "sync-rcu":
            return {"rel": "gp", "by": by, "text": f"`{fo.text}` at line {fo.line} orders these"}
        if tag == "wmb" and ua.write is not None and ub.kind == "W":
            return {"rel": "wmb", "by": by, "text": f"`{fo.text}` at line {fo.line} orders these stores"}
        if tag == "rmb" and ua.read is not None and ub.read is not None:
            return {"rel": "rmb", "by": by, "text": f"`{fo.text}` at line {fo.line} orders these loads"}
        if tag in ("before-atomic", "after-atomic"):
            return {"rel": "mb", "by": by, "text": f"`{fo.text}` at line {fo.line} makes the atomic fully ordered"}
    if "MB" in ea.tags or "MB" in eb.tags:
        o = oa if "MB" in ea.tags else ob
        return {"rel": "mb", "by": {"line": o.line, "text": o.text},
                "text": f"`{short_name(o)}` at line {o.line} returns a value, so it is fully ordered"}
    if "ACQUIRE" in ea.tags or "LKR" in ea.tags:
        return {"rel": "acquire", "by": {"line": oa.line, "text": oa.text},
                "text": f"`{short_name(oa)}` at line {oa.line} is an acquire: later accesses stay after it"}
    if "RELEASE" in eb.tags or "UL" in eb.tags:
        return {"rel": "release", "by": {"line": ob.line, "text": ob.text},
                "text": f"`{short_name(ob)}` at line {ob.line} is a release: earlier accesses stay before it"}
    rels = rels if rels is not None else e.relations()
    ra = ua.read
    tb = ub.write if ub.write is not None else ub.read
    for dep in ("addr", "data", "ctrl"):
        if ra is not None and (rels[dep][ra] >> tb) & 1:
            return {"rel": dep, "by": {"line": oa.line, "text": oa.text},
                    "text": f"a {'control' if dep == 'ctrl' else dep + 'ess' if dep == 'addr' else dep} dependency "
                            f"on the load at line {oa.line}"}
    if ua.loc == ub.loc and ub.write is not None:
        return {"rel": "po-loc", "by": None, "text": f"both access {ua.loc}: coherence keeps a later store after them"}
    return {"rel": "ppo", "by": None, "text": "preserved program order"}


def waiting(m, state, cpu: int) -> str:
    """Why CPU `cpu` has no step now: its next step must follow one that has not run."""
    e = m.rep(state)
    first = next((k for k in e.threads[cpu] if k not in state.ran), None)
    if first is None:
        return "finished"
    miss = sorted(p for p in e.units[first].direct if p not in state.ran)
    if not miss:
        return "waits for an earlier step"
    p = miss[0]
    return (f"`{origin(m, first).text}` waits: it must run after {where(unit_info(m, e, p))}, "
            f"which has not run yet ({order_rule(m, e, p, first)['rel']})")
