"""herd7's loop: join thread paths, enumerate rf and co per location, keep executions the model allows."""

from __future__ import annotations

import time
from itertools import product

from ....errors import Unsupported
from ....explore.budget import Budget, OutOfBudget, Progress
from ....explore.outcome import FinalState, Result
from ...condition import holds
from .cat import judge
from .events import Structure
from .paths import LOCK_TAGS, value_domains
from .relations import acyclic, bits, plus
from .rfco import ChoiceCache

__all__ = ["check"]


def _sort_key(values: dict) -> tuple:
    return tuple((0, v, "") if isinstance(v, int) else (1, 0, v) for v in values.values())


def _locations(program, paths) -> dict:
    locs = dict(program.init_memory)
    for tp in paths:
        for p in tp:
            for e in p.events:
                if e.loc is not None and e.loc not in locs:
                    locs[e.loc] = 0
    return dict(sorted(locs.items()))


def _witness(st: Structure, rf: dict, orders: dict, wval: dict) -> dict:
    evs = []
    for i, e in enumerate(st.events):
        value = e.value
        if value is None and e.kind in "RW":  # an RMW resolved along co
            value = wval.get(i) if e.kind == "W" else wval.get(rf.get(i))
        evs.append({
            "id": i, "thread": e.tid, "kind": e.kind, "loc": e.loc, "value": value,
            "tags": sorted(e.tags), "text": getattr(e.origin, "text", None) if e.origin else None,
            "line": getattr(e.origin, "line", None) if e.origin else None,
        })
    return {"events": evs, "rf": sorted([w, r] for r, w in rf.items()),
            "co": {loc: list(o) for loc, o in orders.items()}}


def _schedule(program, st, rf, co, rfd, orders, wval, env) -> list:
    """The witness as a schedule the stepper (step.py) replays: its steps in execution order."""
    from .execs import linearize, make_execution

    e = make_execution(0, program, st, rf, co, rfd, orders, wval, env)
    return linearize(e) if e is not None else []


def _enumerate(program, budget, progress, paths, locations, tables, flags, t0, visit=None) -> tuple[int, str | None]:
    """Judge every candidate execution; fills `tables` (final state -> FinalState) and `flags`."""
    tally = [0]
    try:
        return _judge_all(program, budget, progress, paths, locations, tables, flags, t0, tally, visit)
    except OutOfBudget as e:
        return tally[0], e.reason


def _reads_and_writes(path) -> tuple[dict, dict]:
    """Per location, the values a path's reads return and its writes store (cached on the path)."""
    cached = path.rw
    if cached is None:
        reads: dict = {}
        writes: dict = {}
        for e in path.events:
            if e.loc is None or e.tags & LOCK_TAGS or e.kind not in "RW":
                continue
            (reads if e.kind == "R" else writes).setdefault(e.loc, set()).add(e.value)
        cached = path.rw = (reads, writes)
    return cached


def _values_available(combo, locations) -> bool:
    """Every value a read returns is the initial value or stored by some write of the combination.

    Paths guess read values from a location's whole value domain, so most combinations fail
    this before any event structure is built."""
    written: dict = {}
    for p in combo:
        for loc, vs in _reads_and_writes(p)[1].items():
            written.setdefault(loc, set()).update(vs)
    for p in combo:
        for loc, vs in _reads_and_writes(p)[0].items():
            w = written.get(loc, ())
            if None in w:
                continue  # an RMW's value is resolved only along co: anything may be written
            for v in vs:
                if v is not None and v != locations.get(loc, 0) and v not in w:
                    return False
    return True


def _self_justified(st: Structure, rfd: dict) -> str | None:
    """Whether some read's value depends on itself, through rf and data (a write computed from
    reads).  herd7 solves each candidate's values as equations: a cycle with arithmetic on it
    cannot be solved, even where the arithmetic would cancel (`(r0 & 0) + 1`), and herd7 drops
    the candidate ("drop"); a cycle of plain copies leaves the value free, and herd7 keeps the
    candidate with a symbolic value ("symbolic").  None when no value depends on itself."""
    data = st.data0
    rows = [0] * st.n
    for r, w in rfd.items():
        if w not in st.iw_set and data_sources(st)[w]:
            rows[w] |= 1 << r
    for r, x in enumerate(data):
        if x:
            rows[r] |= x
    if acyclic(rows):
        return None
    reach = plus(rows)
    for r, x in enumerate(data):
        for w in bits(x):
            if st.copy0[w] != r and (reach[w] >> r) & 1:
                return "drop"
    return "symbolic"


def data_sources(st: Structure) -> list[int]:
    """Per write, the reads its value is computed from (data, inverted); cached on the structure."""
    inv_data = st.__dict__.get("_data_sources")
    if inv_data is None:
        inv_data = [0] * st.n
        for r, x in enumerate(st.data0):
            for w in bits(x):
                inv_data[w] |= 1 << r
        st._data_sources = inv_data
        st.has_data = any(st.data0)
    return inv_data


def _judge_all(program, budget, progress, paths, locations, tables, flags, t0, tally,
               visit=None) -> tuple[int, str | None]:
    states = 0
    incomplete = None
    cond = program.condition
    last_report = t0
    choices = ChoiceCache()
    for ncombo, combo in enumerate(product(*paths)):
        tally[0] = states
        if incomplete:
            break
        if ncombo % 8 == 7:
            incomplete = budget.exceeded(states)
            if incomplete:
                break
        if not _values_available(combo, locations) or choices.dead(combo, locations):
            continue
        st = Structure(combo, locations)
        if st.rejected:
            continue
        data_sources(st)
        per_loc = []
        dead = False
        for loc in locations:
            ch = choices.get(st, loc, budget)
            if not ch:
                dead = True
                break
            per_loc.append((loc, ch))
        if dead:
            continue
        poisoned = next((p.error for p in combo if p.error is not None), None)
        regs = {}
        for t, p in enumerate(combo):
            for name in program.threads[t].registers:
                regs[f"{t}:{name}"] = p.regs.get(name, 0)
            for name, v in p.regs.items():
                regs.setdefault(f"{t}:{name}", v)
        for pick in product(*(ch for _, ch in per_loc)):
            states += 1
            if states > budget.max_states or states % 256 == 0:
                incomplete = budget.exceeded(states)
                if incomplete:
                    break
                if progress and time.monotonic() - last_report > 0.5:
                    last_report = time.monotonic()
                    progress(Progress(states, len(tables), sum(f.satisfies for f in tables.values()),
                                      last_report - t0))
            n = st.n
            rf = [0] * n
            co = [0] * n
            rfd: dict = {}
            orders = {}
            wval: dict = {}
            env = dict(regs)
            for (loc, _), (lrf, order, lval) in zip(per_loc, pick, strict=True):
                for r, w in lrf.items():
                    rf[w] |= 1 << r
                rfd.update(lrf)
                later = 0
                for w in reversed(order):
                    co[w] |= later
                    later |= 1 << w
                orders[loc] = order
                wval.update(lval)
                env[loc] = lval.get(order[-1], st.events[order[-1]].value)
            cyclic = _self_justified(st, rfd) if st.has_data else None
            if cyclic == "drop":
                continue
            failed, fl = judge(st, rf, co)
            if failed:
                continue
            if poisoned is not None:
                raise poisoned
            if program.filter is not None and not holds(program.filter, env):
                continue
            if cyclic == "symbolic":
                raise Unsupported("lkmm: an allowed execution where a value only copies itself around a cycle "
                                  "(out of thin air): herd7 shows it as a symbolic value, which pinrace does "
                                  "not model", 0, 0, None)
            flags.update(fl)
            flags.update(st.static_flags)
            if st.SrcuLock | st.SrcuUnlock:
                flags.update(st.srcu_flags(rf, wval))
            if visit is not None:  # the stepper collects every allowed execution, not one per state
                visit(st, rf, co, rfd, orders, wval, env)
            values = {c.key(): env.get(c.key(), 0) for c in program.observed}
            key = tuple(values.items())
            f = tables.get(key)
            if f is None:
                sat = holds(cond.prop, env) if cond is not None else False
                tables[key] = FinalState(values, "done", _schedule(program, st, rf, co, rfd, orders, wval, env), 1,
                                         sat, _witness(st, rfd, orders, wval))
            else:
                f.executions += 1
    return states, incomplete


def check(program, budget: Budget | None = None, progress=None, *, symbolic_rmw: bool = True,
          visit=None) -> Result:
    """Every final state of the executions linux-kernel.cat allows, with herd7's verdict.

    symbolic_rmw=False enumerates every old value of every RMW, as the first version did: exact
    but exponential; tests use it as the reference for the symbolic default.
    visit(st, rf, co, rfd, orders, wval, env), when given, is called for every allowed execution
    (after the filter): the stepper (step.py) navigates exactly these."""
    t0 = time.monotonic()
    budget = budget or Budget()
    tables: dict = {}
    flags: set = set()
    states = 0
    incomplete = None
    cut = 0
    cond = program.condition
    try:
        _domains, paths, cut = value_domains(program, budget, symbolic_rmw)
        locations = _locations(program, paths)
        states, incomplete = _enumerate(program, budget, progress, paths, locations, tables, flags, t0, visit)
    except OutOfBudget as e:
        # the path or rf/co enumeration ran out: what was judged so far stands, marked incomplete
        incomplete = e.reason
    if cut:
        flags.add("loop-bound")
    finals = sorted(tables.values(), key=lambda f: _sort_key(f.values))
    if progress:
        progress(Progress(states, len(finals), sum(f.satisfies for f in finals), time.monotonic() - t0))
    return Result(
        model="lkmm",
        name=program.name,
        finals=finals,
        stuck=[],
        states=states,
        elapsed=time.monotonic() - t0,
        incomplete=incomplete,
        quantifier=cond.quantifier if cond else "exists",
        flags=sorted(flags),
    )
