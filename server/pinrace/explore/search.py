"""Exhaustive breadth-first search over an operational model's states (sc, tso).

States are deduplicated; the parent map gives, for each distinct final state, one of
the shortest schedules that reach it, which replays step by step through `step`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from ..engine.condition import holds
from ..engine.machine import Machine, access, conflicts_with_future, futures, independent
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
            progress: Callable[[Progress], None] | None = None, reduce: bool = True) -> Result:
    """All final states of `machine`'s program, with one schedule each.

    With `reduce`, sleep sets skip interleavings that only reorder independent
    transitions (Godefroid's stateful sleep sets: a state revisited with a smaller sleep
    set explores just the transitions it slept through before), which preserves every
    reachable final state.  Without it, every interleaving is tried: the reference the
    tests compare against.
    """
    budget = budget or Budget()
    prog = machine.program
    t0 = time.monotonic()
    init = machine.initial()
    empty: frozenset = frozenset()
    fut = futures(machine) if reduce else None
    parents: dict = {init: None}
    slept: dict = {init: empty}  # the sleep set each state was explored with
    queue: deque = deque([(init, empty, None)])
    finals: dict = {}
    stuck: dict = {}
    incomplete = None
    bad = 0
    n = 0
    last_report = t0
    while queue:
        n += 1
        if n % 256 == 0:
            incomplete = budget.exceeded(len(parents))
            if incomplete:
                break
            now = time.monotonic()
            if progress and now - last_report >= 0.25:
                last_report = now
                progress(Progress(len(parents), len(finals), bad, now - t0))
        if len(parents) > budget.max_states:
            incomplete = "states"
            break
        s, sleep, only = queue.popleft()
        moves = machine.enabled(s)
        if not moves:
            if only is not None:
                continue
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
        todo = [t for t in moves if t not in sleep] if only is None else [t for t in moves if t in only]
        if reduce:
            acc = {t: access(machine, s, t) for t in moves}
            if only is None and len(todo) > 1:
                lone = _persistent(machine, s, todo, acc, fut)
                if lone is not None:
                    todo = [lone]
        done: list = []
        for t in todo:
            s2 = machine.step(s, t)
            if reduce:
                z2 = frozenset(u for u in (*sleep, *done) if u.cpu != t.cpu and u in acc
                               and independent(acc[u], acc[t]))
            else:
                z2 = empty
            done.append(t)
            old = slept.get(s2)
            if old is None:
                parents[s2] = (s, t)
                slept[s2] = z2
                queue.append((s2, z2, None))
            elif not old <= z2:
                # reached again with fewer transitions asleep: run those it skipped before
                slept[s2] = old & z2
                queue.append((s2, old & z2, old - z2))
    return Result(
        model=machine.name,
        name=prog.name,
        finals=sorted(finals.values(), key=lambda f: _sort_key(f.values)),
        stuck=sorted(stuck.values(), key=lambda f: (f.status, _sort_key(f.values))),
        states=len(parents),
        elapsed=time.monotonic() - t0,
        incomplete=incomplete,
        quantifier=prog.condition.quantifier if prog.condition else "exists",
    )


def _persistent(machine: Machine, s: State, todo: list, acc: dict, fut) -> Transition | None:
    """A transition that no other CPU can ever interfere with from here: exploring it alone
    loses no final state (a persistent set of size one; the state graph is acyclic)."""
    for t in todo:
        clash = False
        for j, c in enumerate(s.cpus):
            if j == t.cpu:
                continue
            other = fut[j][c.pc] if c.status == "running" else frozenset()
            if s.buffers and s.buffers[j]:
                other = other | {("w", loc) for loc, _ in s.buffers[j]} | {("buf", "$buffers")}
            if conflicts_with_future(acc[t], other):
                clash = True
                break
        if not clash:
            return t
    return None


def _sort_key(values: dict) -> tuple:
    return tuple((0, v, "") if isinstance(v, int) else (1, 0, v) for v in values.values())
