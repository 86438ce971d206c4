"""Symmetry reduction: CPUs running identical code are interchangeable.

A state and any permutation of its identical CPUs (with their store buffers) reach
the same final states up to that permutation, so the search keeps one canonical
representative (`canonical`: each group's CPUs sorted by their state).  With k identical
pinners this divides the state space by up to k!.

At the end the final states are closed under the permutations (`variants`), and that
too works on canonical forms, never on the k! permutations themselves: a group's CPUs
are told apart only by what the condition observes of them, so the distinct final states
are the distinct ways of placing those observations on the group's CPUs.  Twelve CPUs
that all read 0 end in one final state, found in one step, not 12! = 479,001,600.  When
the observations really differ, there are as many final states as placements (that is
the answer's size), and the caller's budget bounds the enumeration.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields

from ..engine.machine import Machine
from ..engine.state import State, Transition

__all__ = ["classes", "canonical", "permute_state", "permute_schedule", "variants"]


def _shape(ins) -> tuple:
    return (type(ins),) + tuple(getattr(ins, f.name) for f in fields(ins) if f.name != "origin")


def classes(machine: Machine) -> list[list[int]]:
    """Groups (size ≥ 2) of CPUs with identical code and identical initial registers."""
    groups: dict = {}
    for i, th in enumerate(machine.program.threads):
        init = machine.threads[i].init
        key = (tuple(_shape(x) for x in th.code), tuple(machine.threads[i].reg_names), init)
        groups.setdefault(key, []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def canonical(state: State, groups: list[list[int]]) -> tuple[State, list[int]]:
    """The representative of `state`, and perm with perm[old index] = new index."""
    n = len(state.cpus)
    perm = list(range(n))
    cpus = list(state.cpus)
    bufs = list(state.buffers) if state.buffers else None
    changed = False
    for g in groups:
        keyed = sorted(g, key=lambda i: (state.cpus[i], state.buffers[i] if bufs is not None else ()))
        for slot, old in zip(g, keyed, strict=True):
            if slot != old:
                changed = True
            perm[old] = slot
            cpus[slot] = state.cpus[old]
            if bufs is not None:
                bufs[slot] = state.buffers[old]
    if not changed:
        return state, perm
    return State(tuple(cpus), state.mem, tuple(bufs) if bufs is not None else state.buffers), perm


def permute_state(state: State, sigma: list[int]) -> State:
    """The state in which CPU sigma[i] is what CPU i was."""
    n = len(state.cpus)
    cpus = [None] * n
    bufs = [()] * n
    for i in range(n):
        cpus[sigma[i]] = state.cpus[i]
        if state.buffers:
            bufs[sigma[i]] = state.buffers[i]
    return State(tuple(cpus), state.mem, tuple(bufs) if state.buffers else state.buffers)


def permute_schedule(steps: list[Transition], sigma: list[int]) -> list[Transition]:
    return [Transition(sigma[t.cpu], t.op, t.choice) for t in steps]


def _placements(slots: list[int], names: dict[int, tuple], union: tuple,
                sig: dict[int, tuple]) -> Iterator[dict[int, int]]:
    """The distinct ways to put a group's CPUs on its `slots` as the observations see them:
    {slot: real CPU}.  `names[t]` are the registers observed on slot t, `sig[c]` CPU c's values of
    `union` (all of them).  At each observed slot the choices are the distinct signatures as the
    slots still to fill see them (names observed only earlier no longer matter), so CPUs alike
    there are never swapped for one another; slots that observe nothing take what is left."""
    # slots observing names few slots observe go first: those names stop mattering early
    count = {x: sum(x in names[t] for t in slots) for x in union}
    observed = sorted((t for t in slots if names[t]), key=lambda t: (min(count[x] for x in names[t]), t))
    idle = [t for t in slots if not names[t]]
    later = [set().union(*(names[t] for t in observed[k:])) for k in range(len(observed))]
    keep = [tuple(i for i, x in enumerate(union) if x in later[k]) for k in range(len(observed))]
    pools: dict[tuple, list[int]] = {}
    for c in sorted(sig, reverse=True):  # popped from the end: lowest CPU first
        pools.setdefault(sig[c], []).append(c)
    chosen: dict[int, int] = {}

    def place(k: int) -> Iterator[dict[int, int]]:
        if k == len(observed):
            rest = sorted(c for p in pools.values() for c in p)
            yield {**chosen, **dict(zip(idle, rest, strict=True))}
            return
        t = observed[k]
        tried: set = set()
        for s, p in pools.items():
            view = tuple(s[i] for i in keep[k])
            if not p or view in tried:
                continue
            tried.add(view)
            c = p.pop()
            chosen[t] = c
            yield from place(k + 1)
            del chosen[t]
            p.append(c)

    yield from place(0)


def variants(machine: Machine, real: State, groups: list[list[int]]) -> Iterator[tuple[dict, list[int]]]:
    """The distinct observed register values of `real` (a reachable end) under the permutations
    of `groups`, each with a sigma (sigma[real CPU] = its CPU in the variant): the variant is
    reached by the real end's schedule with CPU c renamed sigma[c].  Memory values are the same
    in every variant and not included.  Enumerated over placements of distinct observations
    (`_placements`), never over permutations of CPUs."""
    observed = [loc for loc in machine.program.watched if loc.thread is not None]  # filter-only too
    n = len(real.cpus)

    def reg(cpu: int, name: str):
        return real.cpus[cpu].regs[machine.threads[cpu].slots[name]]

    per_group = []
    for g in groups:
        names = {t: tuple(sorted({loc.name for loc in observed if loc.thread == t})) for t in g}
        union = tuple(sorted({x for t in g for x in names[t]}))
        per_group.append((sorted(g), names, union, {c: tuple(reg(c, x) for x in union) for c in g}))

    def combine(i: int, sigma: list[int]) -> Iterator[list[int]]:
        if i == len(per_group):
            yield sigma
            return
        for placed in _placements(*per_group[i]):
            s2 = list(sigma)
            for slot, c in placed.items():
                s2[c] = slot
            yield from combine(i + 1, s2)

    seen: set = set()
    for sigma in combine(0, list(range(n))):
        where = {slot: c for c, slot in enumerate(sigma)}
        values = {loc.key(): reg(where[loc.thread], loc.name) for loc in observed}
        key = tuple(values.items())
        if key not in seen:
            seen.add(key)
            yield values, sigma
