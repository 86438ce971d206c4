"""The allowed executions the stepper navigates: the checker's, cut into steps with an execution order.

A step (a *unit*) is one dynamic instance of one instruction: a load (R), a store (W), or an
RMW / spin_lock (R and W together, atomic).  Fences are not steps: they only order others.
Each allowed execution E gets an execution order `xo` over its units, the transitive closure of

    ppo  (linux-kernel.cat's preserved program order: fences, dependencies, acquire/release, ...)
  ∪ rf   (a read runs after the write it reads from, so a schedule can name that write)
  ∪ the order of the instances of one instruction (op `0:3` is always its first unrun instance)

For marked accesses ppo ∪ rfe lies inside hb, which the happens-before axiom keeps acyclic, so
a schedule (a linearization of xo) exists; when plain accesses make xo cyclic anyway, the
execution falls back to rf and instance order alone (`Execution.relaxed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ....explore.budget import Budget
from ....explore.outcome import Result
from ...state import Transition
from .cat import judge
from .relations import bits

__all__ = ["Unit", "Execution", "collect", "make_execution", "linearize", "write_id", "MAX_EXECUTIONS"]

MAX_EXECUTIONS = 50_000  # allowed executions kept for stepping; beyond this the stepper says incomplete


def write_id(key: tuple) -> str:
    """The name of a unit in choices: `1.2` (CPU1's op 2), `1.2.1` for op 2's second instance."""
    tid, pc, inst = key
    return f"{tid}.{pc}" if inst == 0 else f"{tid}.{pc}.{inst}"


@dataclass(slots=True)
class Unit:
    key: tuple  # (cpu, op, instance)
    kind: str  # "R", "W" or "RMW" (a read and a write, atomically: atomics that write, spin_lock)
    loc: str
    read: int | None  # event index of its read, in the execution's Structure
    write: int | None
    value: object  # the value read (R, RMW) or written (W)
    wvalue: object  # the value written (W, RMW)
    src: str | None  # reads: the id of the write read from ("init" for the initial value)
    ret: object  # what went into the destination register
    po: int  # position among the thread's units
    preds: frozenset = frozenset()  # units that must run first (xo, transitively)
    direct: frozenset = frozenset()  # the same, one xo step only (for refusals)


@dataclass
class Execution:
    index: int
    st: object  # events.Structure
    rf: list  # relation rows, as judge() takes them
    co: list
    units: dict  # key -> Unit
    threads: list  # per CPU: unit keys in program order
    co_ids: dict  # loc -> write ids in coherence order, "init" first
    wid: dict  # write event index -> id
    env: dict  # final registers and memory
    values: dict  # observed values
    satisfies: bool
    relaxed: bool = False  # xo fell back to rf and instance order (see the module docstring)
    paths: tuple = field(default=(), repr=False)

    def unit_of_event(self, ev: int) -> tuple | None:
        for k, u in self.units.items():
            if ev in (u.read, u.write):
                return k
        return None

    def relations(self) -> dict:
        """linux-kernel.cat's relations for this execution (recomputed: they are big to keep)."""
        keep: dict = {}
        judge(self.st, self.rf, self.co, keep)
        return keep


def _units(st, wval: dict, rfd: dict) -> tuple[dict, list, dict]:
    """Cut each thread's events into steps; name every write."""
    units: dict = {}
    threads: list = []
    wid: dict = {}
    for i in st.iw.values():
        wid[i] = "init"
    for t, p in enumerate(st.combo):
        base = st.offsets[t]
        inst: dict = {}
        keys: list = []
        pairs = {a: b for a, b in p.rmw}
        skip = set(pairs.values())
        for j, e in enumerate(p.events):
            if j in skip or e.kind not in "RW":
                continue  # fences and synchronize_srcu() order others; an RMW's write joins its read
            k = inst.get(e.pc, 0)
            inst[e.pc] = k + 1
            key = (t, e.pc, k)
            r = w = None
            if e.kind == "R":
                r = base + j
                if j in pairs:
                    w = base + pairs[j]
            else:
                w = base + j
            kind = "RMW" if r is not None and w is not None else ("R" if r is not None else "W")
            if w is not None:
                wid[w] = write_id(key)
            wv = wval.get(w, st.events[w].value) if w is not None else None
            units[key] = Unit(key, kind, e.loc, r, w, None, wv, None, e.ret, len(keys))
            keys.append(key)
        threads.append(keys)
    for u in units.values():
        if u.read is not None:
            s = rfd.get(u.read)
            u.src = wid.get(s, "init") if s is not None else "init"
            u.value = wval.get(s, st.events[s].value) if s is not None else None
        else:
            u.value = u.wvalue
    return units, threads, wid


def _order(st, units: dict, threads: list, rels: dict, relaxed: bool) -> dict | None:
    """xo over units as {key: (direct preds, all preds)}, or None when it has a cycle."""
    n = st.n
    base = [0] * n
    if not relaxed:
        for i, x in enumerate(rels["ppo"]):
            base[i] |= x
    for i, x in enumerate(rels["rf"]):
        base[i] |= x
    owner: dict = {}
    for k, u in units.items():
        for e in (u.read, u.write):
            if e is not None:
                owner[e] = k
    direct: dict = {k: set() for k in units}
    for i in range(n):
        a = owner.get(i)
        if a is None:
            continue
        for j in bits(base[i]):
            b = owner.get(j)
            if b is not None and b != a:
                direct[b].add(a)
    # ppo already relates the accesses on both sides of a fence directly (fencerel), so edges
    # between steps suffice.  Instances of one instruction run in program order: `0:3` names the
    # first unrun one.
    for keys in threads:
        last: dict = {}
        for k in keys:
            prev = last.get(k[1])
            if prev is not None:
                direct[k].add(prev)
            last[k[1]] = k
    # transitive closure in topological order (Kahn); a leftover means a cycle
    indeg = {k: len(v) for k, v in direct.items()}
    succ: dict = {k: [] for k in units}
    for b, ps in direct.items():
        for a in ps:
            succ[a].append(b)
    ready = [k for k, d in indeg.items() if d == 0]
    allp: dict = {}
    seen = 0
    while ready:
        k = ready.pop()
        seen += 1
        s = set(direct[k])
        for a in direct[k]:
            s |= allp[a]
        allp[k] = frozenset(s)
        for b in succ[k]:
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
    if seen != len(units):
        return None
    return {k: (frozenset(direct[k]), allp[k]) for k in units}


def make_execution(index: int, program, st, rf, co, rfd, orders, wval, env) -> Execution | None:
    units, threads, wid = _units(st, wval, rfd)
    rels: dict = {}
    judge(st, rf, co, rels)
    relaxed = False
    xo = _order(st, units, threads, rels, False)
    if xo is None:
        relaxed = True
        xo = _order(st, units, threads, rels, True)
        if xo is None:
            return None
    for k, (d, a) in xo.items():
        units[k].direct, units[k].preds = d, a
    co_ids = {loc: tuple(wid.get(w, "init") for w in order) for loc, order in orders.items()}
    from ...condition import holds

    values = {c.key(): env.get(c.key(), 0) for c in program.observed}
    cond = program.condition
    sat = bool(holds(cond.prop, env)) if cond is not None else False
    return Execution(index, st, rf, co, units, threads, co_ids, wid, env, values, sat, relaxed, st.combo)


def collect(program, budget: Budget | None = None,
            limit: int = MAX_EXECUTIONS) -> tuple[list[Execution], Result, dict]:
    """Every execution linux-kernel.cat allows (up to `limit`), the checker's Result, and statistics.

    The executions come from the checker's own enumeration (check(visit=...)): one semantics.
    """
    from .check import check

    out: list[Execution] = []
    stats = {"allowed": 0, "relaxed": 0, "unsteppable": 0, "truncated": False}

    def visit(st, rf, co, rfd, orders, wval, env) -> None:
        stats["allowed"] += 1
        if len(out) >= limit:
            stats["truncated"] = True
            return
        e = make_execution(len(out), program, st, list(rf), list(co), dict(rfd), dict(orders), dict(wval), dict(env))
        if e is None:
            stats["unsteppable"] += 1
            return
        stats["relaxed"] += e.relaxed
        out.append(e)

    result = check(program, budget, visit=visit)
    return out, result, stats


def _topo(e: Execution, newest: bool) -> list[tuple] | None:
    """A linearization of xo, lowest (CPU, program order) first; with `newest`, also co and fr,
    so every read takes the newest value run so far and every write goes last in co: then all
    that is surprising about the execution shows as reorderings.  None when that is cyclic."""
    preds = {k: set(u.direct) for k, u in e.units.items()}
    if newest:
        owner = {wid: k for k, u in e.units.items() if u.write is not None for wid in [write_id(k)]}
        for loc, ids in e.co_ids.items():
            chain = [owner[i] for i in ids if i in owner]
            for a, b in zip(chain, chain[1:], strict=False):
                preds[b].add(a)
            for k, u in e.units.items():
                if u.loc != loc or u.read is None:
                    continue
                pos = ids.index(u.src) if u.src in ids else 0
                nxt = next((owner[i] for i in ids[pos + 1:] if i in owner), None)
                if nxt is not None and nxt != k:
                    preds[nxt].add(k)  # fr: the read runs before the write that overwrites its value
    done: set = set()
    out: list[tuple] = []
    left = sorted(e.units, key=lambda k: (k[0], e.units[k].po))
    while left:
        k = next((k for k in left if preds[k] <= done), None)
        if k is None:
            return None
        left.remove(k)
        done.add(k)
        out.append(k)
    return out


def linearize(e: Execution) -> list[Transition]:
    """A schedule that runs execution `e` step by step, each step with its choice (rf= / co=)."""
    order = _topo(e, True) or _topo(e, False) or []
    ran: set = {"init"}
    out: list[Transition] = []
    for k in order:
        u = e.units[k]
        if u.read is not None:
            choice = f"rf={u.src}"
        else:
            ids = e.co_ids[u.loc]
            me = ids.index(write_id(k))
            choice = "co=" + next(i for i in reversed(ids[:me]) if i in ran)
        if u.write is not None:
            ran.add(write_id(k))
        out.append(Transition(k[0], k[1], (choice,)))
    return out
