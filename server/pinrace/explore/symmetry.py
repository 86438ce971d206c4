"""Symmetry reduction: CPUs running identical code are interchangeable.

A state and any permutation of its identical CPUs (with their store buffers) reach
the same final states up to that permutation, so the search keeps one canonical
representative and, at the end, closes the final states under the permutations.
With k identical pinners this divides the state space by up to k!.
"""

from __future__ import annotations

from dataclasses import fields
from itertools import permutations, product

from ..engine.machine import Machine
from ..engine.state import State, Transition

__all__ = ["classes", "canonical", "permute_state", "all_permutations"]


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


def all_permutations(n: int, groups: list[list[int]]):
    """Every permutation of the CPUs that maps each group onto itself."""
    per_group = [list(permutations(g)) for g in groups]
    for combo in product(*per_group):
        sigma = list(range(n))
        for g, image in zip(groups, combo, strict=True):
            for src, dst in zip(g, image, strict=True):
                sigma[src] = dst
        yield sigma
