"""Exhaustive breadth-first search over an operational model's states (sc, tso).

States are deduplicated; the parent map gives, for each distinct final state, one of
the shortest schedules that reach it, which replays step by step through `step`.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

from ..engine.condition import holds
from ..engine.machine import Machine
from ..engine.state import DONE, State, Transition
from .budget import Budget, Progress
from .outcome import FinalState, Result

__all__ = ["explore", "observe", "schedule_to"]


def observe(machine: Machine, state: State) -> dict:
    """The observed values of a state, keyed as conditions name them."""
    out = {}
    mem = None
    for loc in machine.program.observed:
        if loc.thread is not None:
            tc = machine.threads[loc.thread]
            out[loc.key()] = state.cpus[loc.thread].regs[tc.slots[loc.name]]
        else:
            if mem is None:
                mem = machine.final_memory(state)
            out[loc.key()] = mem[loc.name]
    return out


def schedule_to(parents: dict, state: State) -> list[Transition]:
    path = []
    while True:
        p = parents[state]
        if p is None:
            break
        state, t = p
        path.append(t)
    path.reverse()
    return path


def explore(machine: Machine, budget: Budget | None = None,
            progress: Callable[[Progress], None] | None = None) -> Result:
    """All final states of `machine`'s program, with one shortest schedule each."""
    budget = budget or Budget()
    prog = machine.program
    t0 = time.monotonic()
    init = machine.initial()
    parents: dict = {init: None}
    queue = deque([init])
    finals: dict = {}
    stuck: dict = {}
    incomplete = None
    bad = 0
    n = 0
    while queue:
        n += 1
        if n % 1024 == 0:
            incomplete = budget.exceeded(len(parents))
            if incomplete:
                break
            if progress:
                progress(Progress(len(parents), len(finals), bad, time.monotonic() - t0))
        if len(parents) > budget.max_states:
            incomplete = "states"
            break
        s = queue.popleft()
        moves = machine.enabled(s)
        if not moves:
            status = machine.status(s)
            values = observe(machine, s)
            key = (tuple(values.items()), status)
            table = finals if status == DONE else stuck
            if key in table:
                table[key].executions += 1
                continue
            if status == DONE and prog.filter is not None and not holds(prog.filter, values):
                continue
            sat = holds(prog.condition.prop, values) if prog.condition else False
            bad += sat
            table[key] = FinalState(values, status, schedule_to(parents, s), 1, sat)
            continue
        for t in moves:
            s2 = machine.step(s, t)
            if s2 not in parents:
                parents[s2] = (s, t)
                queue.append(s2)
    result = Result(
        model=machine.name,
        name=prog.name,
        finals=sorted(finals.values(), key=lambda f: _sort_key(f.values)),
        stuck=sorted(stuck.values(), key=lambda f: (f.status, _sort_key(f.values))),
        states=len(parents),
        elapsed=time.monotonic() - t0,
        incomplete=incomplete,
        quantifier=prog.condition.quantifier if prog.condition else "exists",
    )
    return result


def _sort_key(values: dict) -> tuple:
    return tuple((0, v, "") if isinstance(v, int) else (1, 0, v) for v in values.values())
