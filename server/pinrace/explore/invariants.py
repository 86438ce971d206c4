"""State invariants: propositions that must hold in every reachable state (sc and tso).

A scenario states them after its condition, one per line:

    invariant no_dma_under_writeback (~(1:wb_unpinned=1 /\\ 0:in_dma=1))

Locations are read as in the condition: `T:reg` is CPU T's register now, a memory
location is its value in memory (under tso, without stores still in a buffer).  Every
struct page also carries a built-in invariant, `PAGE.refcount-nonnegative`: `_refcount`
never drops below zero (a pin count that overflows its bits wraps the count negative).

A plain final-register check can be satisfied by a harmless sequential run once a
protocol retries; an invariant names the bad *moment*, so the explorer checks it in
every state, with a full (unreduced) search: partial-order reduction keeps every final
state, not every intermediate one.
"""

from __future__ import annotations

import time
from collections import deque

from ..engine.condition import holds, render_prop
from ..engine.ir import Program
from ..engine.machine import Machine
from ..engine.state import State
from ..errors import ConditionError
from ..lang.ast import Prop, prop_locations
from .budget import Budget
from .outcome import FinalState, Result

__all__ = ["parse_invariants", "builtin_invariants", "check_invariants", "check_with_invariants", "INVARIANT_MODELS"]

INVARIANT_MODELS = ("sc", "tso")
_NONNEG = "refcount-nonnegative"


def parse_invariants(source: str, program: Program) -> list[tuple[str, Prop]]:
    """The `invariant NAME (prop)` items of `source`, checked against `program`'s names."""
    from lark import Tree

    from ..lang.parser import _Builder, _lark

    tree = _lark().parse(source, start="start")
    section = tree.children[-1]
    out: list[tuple[str, Prop]] = []
    for part in section.children:
        if not isinstance(part, Tree) or part.data != "invariant":
            continue
        name_tok, body = part.children
        name = str(name_tok)
        if any(n == name for n, _ in out):
            raise ConditionError(f"invariant '{name}' is stated twice", name_tok.line, name_tok.column, source)
        prop = _Builder(source).prop(body)
        for loc in prop_locations(prop):
            if loc.thread is not None:
                if loc.thread >= len(program.threads):
                    raise ConditionError(f"invariant {name}: there is no thread P{loc.thread}",
                                         name_tok.line, name_tok.column, source)
                if loc.name not in program.threads[loc.thread].registers:
                    raise ConditionError(f"invariant {name}: P{loc.thread} has no register '{loc.name}'",
                                         name_tok.line, name_tok.column, source)
            elif loc.name not in program.init_memory:
                raise ConditionError(f"invariant {name}: '{loc.name}' is not a shared location of this test",
                                     name_tok.line, name_tok.column, source)
        out.append((name, prop))
    return out


def builtin_invariants(program: Program) -> list[str]:
    """Names of the built-in invariants that apply: one per struct page."""
    return [f"{s}.{_NONNEG}" for s in program.meta.get("structs", [])]



def _env(machine: Machine, state: State) -> dict:
    env = dict(machine.memory(state))
    for i in range(len(state.cpus)):
        for r, v in machine.registers(state, i).items():
            env[f"{i}:{r}"] = v
    return env


def _violated(machine: Machine, state: State, props: list, pages: list[str]) -> list[str]:
    env = _env(machine, state)
    bad = [name for name, p in props if not holds(p, env)]
    for s in pages:
        v = env.get(f"{s}._refcount")
        if isinstance(v, int) and v < 0:
            bad.append(f"{s}.{_NONNEG}")
    return bad


def check_invariants(machine: Machine, budget: Budget | None = None) -> tuple[list[FinalState], str | None]:
    """Every invariant violated in some reachable state, each with a shortest schedule to it.

    Returns (violations, incomplete): `incomplete` names the budget that cut the search.
    """
    budget = budget or Budget()
    prog = machine.program
    props = list(prog.invariants)
    pages = list(prog.meta.get("structs", []))
    if not props and not pages:
        return [], None
    init = machine.initial()
    parents: dict = {init: None}
    queue: deque = deque([init])
    found: dict[str, State] = {}
    want = len(props) + len(pages)
    incomplete = None
    n = 0
    while queue and len(found) < want:
        n += 1
        if n % 256 == 0:
            incomplete = budget.exceeded(len(parents))
            if incomplete:
                break
        s = queue.popleft()
        for name in _violated(machine, s, props, pages):
            found.setdefault(name, s)
        for t in machine.enabled(s):
            s2 = machine.step(s, t)
            if s2 not in parents:
                parents[s2] = (s, t)
                queue.append(s2)
    texts = {name: render_prop(p) for name, p in props}
    out = []
    for name, s in found.items():
        sched = []
        cur = s
        while parents[cur] is not None:
            cur, t = parents[cur]
            sched.append(t)
        sched.reverse()
        values = {k: v for k, v in _env(machine, s).items()}
        text = texts.get(name, "_refcount >= 0")
        out.append(FinalState(values, f"invariant {name}", sched, 1, True,
                              {"invariant": name, "text": text, "status": machine.status(s)}))
    out.sort(key=lambda f: (len(f.schedule), f.detail["invariant"]))
    return out, incomplete


def check_with_invariants(program: Program, model: str, budget: Budget | None = None, progress=None) -> Result:
    """`explore.run.check`, plus the invariants checked in every state under sc and tso.

    Violations land in `Result.invariant_violations`; a cut invariant search marks the
    result incomplete ("invariants: <budget>").
    """
    from ..engine.models import make_model
    from .run import check

    t0 = time.monotonic()
    res = check(program, model, budget, progress)
    if model in INVARIANT_MODELS:
        viol, cut = check_invariants(make_model(model, program), budget)
        res.invariant_violations = viol
        if cut and not res.incomplete:
            res.incomplete = f"invariants: {cut}"
        res.elapsed = time.monotonic() - t0
    return res
