"""herd7's loop: join thread paths, enumerate rf and co per location, keep executions the model allows."""

from __future__ import annotations

import time
from itertools import product

from ....explore.budget import Budget, OutOfBudget, Progress
from ....explore.outcome import FinalState, Result
from ...condition import holds
from .cat import judge
from .events import Structure
from .paths import value_domains
from .rfco import location_choices

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


def _witness(st: Structure, rf: dict, orders: dict) -> dict:
    evs = []
    for i, e in enumerate(st.events):
        evs.append({
            "id": i, "thread": e.tid, "kind": e.kind, "loc": e.loc, "value": e.value,
            "tags": sorted(e.tags), "text": getattr(e.origin, "text", None) if e.origin else None,
            "line": getattr(e.origin, "line", None) if e.origin else None,
        })
    return {"events": evs, "rf": sorted([w, r] for r, w in rf.items()),
            "co": {loc: list(o) for loc, o in orders.items()}}


def _enumerate(program, budget, progress, paths, locations, tables, flags, t0) -> tuple[int, str | None]:
    """Judge every candidate execution; fills `tables` (final state -> FinalState) and `flags`."""
    tally = [0]
    try:
        return _judge_all(program, budget, progress, paths, locations, tables, flags, t0, tally)
    except OutOfBudget as e:
        return tally[0], e.reason


def _judge_all(program, budget, progress, paths, locations, tables, flags, t0, tally) -> tuple[int, str | None]:
    states = 0
    incomplete = None
    cond = program.condition
    last_report = t0
    for ncombo, combo in enumerate(product(*paths)):
        tally[0] = states
        if incomplete:
            break
        if ncombo % 8 == 7:
            incomplete = budget.exceeded(states)
            if incomplete:
                break
        st = Structure(combo, locations)
        if st.rejected:
            continue
        per_loc = []
        dead = False
        for loc in locations:
            ch = location_choices(st, loc, budget)
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
            env = dict(regs)
            for (loc, _), (lrf, order) in zip(per_loc, pick, strict=False):
                for r, w in lrf.items():
                    rf[w] |= 1 << r
                rfd.update(lrf)
                later = 0
                for w in reversed(order):
                    co[w] |= later
                    later |= 1 << w
                orders[loc] = order
                env[loc] = st.events[order[-1]].value
            failed, fl = judge(st, rf, co)
            if failed:
                continue
            if poisoned is not None:
                raise poisoned
            if program.filter is not None and not holds(program.filter, env):
                continue
            flags.update(fl)
            values = {c.key(): env.get(c.key(), 0) for c in program.observed}
            key = tuple(values.items())
            f = tables.get(key)
            if f is None:
                sat = holds(cond.prop, env) if cond is not None else False
                tables[key] = FinalState(values, "done", [], 1, sat, _witness(st, rfd, orders))
            else:
                f.executions += 1
    return states, incomplete


def check(program, budget: Budget | None = None, progress=None) -> Result:
    """Every final state of the executions linux-kernel.cat allows, with herd7's verdict."""
    t0 = time.monotonic()
    budget = budget or Budget()
    tables: dict = {}
    flags: set = set()
    states = 0
    incomplete = None
    cut = 0
    cond = program.condition
    try:
        _domains, paths, cut = value_domains(program, budget)
        locations = _locations(program, paths)
        states, incomplete = _enumerate(program, budget, progress, paths, locations, tables, flags, t0)
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
