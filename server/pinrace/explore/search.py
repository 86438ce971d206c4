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
from .symmetry import canonical, classes, permute_schedule, variants

__all__ = ["explore", "observe", "schedule_to"]


def observe(machine: Machine, state: State) -> dict:
    """The values of a state's watched locations (shown, then filter-only), keyed as conditions name them."""
    out = {}
    mem = None
    for loc in machine.program.watched:
        if loc.thread is not None:
            tc = machine.threads[loc.thread]
            out[loc.key()] = state.cpus[loc.thread].regs[tc.slots[loc.name]]
        else:
            if mem is None:
                mem = machine.final_memory(state)
            out[loc.key()] = mem[loc.name]
    return out


def schedule_to(parents: dict, state: State) -> list[Transition]:
    """The transitions from the initial state to `state` along the parent map."""
    path = []
    while True:
        p = parents[state]
        if p is None:
            break
        state, t = p[0], p[1]
        path.append(t)
    path.reverse()
    return path


def _real_schedule(parents: dict, state: State, perm0: list[int]) -> list[Transition]:
    """Under symmetry the parent map links canonical states; undo each step's renaming."""
    links = []
    while True:
        p = parents[state]
        if p is None:
            break
        state, t, perm = p
        links.append((t, perm))
    links.reverse()
    n = len(perm0)
    real_of = [0] * n  # canonical index -> index in the real run
    for real, canon in enumerate(perm0):
        real_of[canon] = real
    out = []
    for t, perm in links:
        out.append(Transition(real_of[t.cpu], t.op, t.choice))
        nxt = [0] * n
        for i in range(n):
            nxt[perm[i]] = real_of[i]
        real_of = nxt
    return out


def explore(machine: Machine, budget: Budget | None = None,
            progress: Callable[[Progress], None] | None = None, reduce: bool = True) -> Result:
    """All final states of `machine`'s program, with one schedule each.

    With `reduce`: persistent sets explore only transitions no other CPU can interfere
    with; sleep sets skip reorderings of independent transitions (Godefroid's stateful
    sleep sets: a state revisited with a smaller sleep set explores just what it slept
    through before); CPUs with identical code are interchangeable (symmetry), and the
    final states are closed under those permutations at the end.  Every reachable final
    state is kept.  Without `reduce`, every interleaving is tried: the reference the
    tests compare against.
    """
    budget = budget or Budget()
    prog = machine.program
    t0 = time.monotonic()
    groups = classes(machine) if reduce else []
    init = machine.initial()
    perm0 = list(range(len(init.cpus)))
    if groups:
        init, perm0 = canonical(init, groups)
    use_sleep = reduce and not groups  # sleep sets name CPUs, which symmetry renames
    empty: frozenset = frozenset()
    fut = futures(machine) if reduce else None
    parents: dict = {init: None}
    slept: dict = {init: empty}  # the sleep set each state was explored with
    queue: deque = deque([(init, empty, None, 0)])
    max_depth = budget.max_steps_per_cpu * max(len(init.cpus), 1)
    terminals: list = []
    incomplete = None
    n = 0
    last_report = t0
    while queue:
        n += 1
        if n % 256 == 1:  # from the first state on, so a cancelled or spent budget stops at once
            incomplete = budget.exceeded(len(parents))
            if incomplete:
                break
            now = time.monotonic()
            if progress and now - last_report >= 0.25:
                last_report = now
                progress(Progress(len(parents), len(terminals), 0, now - t0))
        if len(parents) > budget.max_states:
            incomplete = "states"
            break
        s, sleep, only, depth = queue.popleft()
        if depth > max_depth:
            incomplete = "steps"
            break
        moves = machine.enabled(s)
        if not moves:
            if only is None:
                terminals.append(s)
            continue
        todo = [t for t in moves if t not in sleep] if only is None else [t for t in moves if t in only]
        if reduce:
            acc = {t: access(machine, s, t) for t in moves}
            if only is None and len(todo) > 1:
                pset = _persistent(machine, s, moves, acc, fut)
                if pset is not None:
                    todo = [t for t in todo if t in pset]
        done: list = []
        for t in todo:
            s2 = machine.step(s, t)
            perm = None
            if groups:
                s2, perm = canonical(s2, groups)
            if use_sleep:
                z2 = frozenset(u for u in (*sleep, *done) if u.cpu != t.cpu and independent(acc[u], acc[t]))
            else:
                z2 = empty
            done.append(t)
            old = slept.get(s2)
            if old is None:
                parents[s2] = (s, t, perm)
                slept[s2] = z2
                queue.append((s2, z2, None, depth + 1))
            elif not old <= z2:
                # reached again with fewer transitions asleep: run those it skipped before
                slept[s2] = old & z2
                queue.append((s2, old & z2, old - z2, depth + 1))
    finals, stuck, cut = _collect(machine, parents, terminals, groups, perm0, budget)
    incomplete = incomplete or cut
    if progress:
        progress(Progress(len(parents), len(finals), sum(f.satisfies for f in finals), time.monotonic() - t0))
    return Result(
        model=machine.name,
        name=prog.name,
        finals=sorted(finals, key=lambda f: _sort_key(f.values)),
        stuck=sorted(stuck, key=lambda f: (f.status, _sort_key(f.values))),
        states=len(parents),
        elapsed=time.monotonic() - t0,
        incomplete=incomplete,
        quantifier=prog.condition.quantifier if prog.condition else "exists",
    )


def _collect(machine: Machine, parents: dict, terminals: list, groups: list, perm0: list[int], budget: Budget):
    """Final states (done) and stuck ends, each distinct observation once with a schedule, and the
    budget that cut the enumeration short (None): under symmetry each end stands for the final
    states of its permutations, as many as there are distinct observations."""
    prog = machine.program
    tables: dict = {}
    produced = len(parents)

    def add(values: dict, status: str, schedule) -> str | None:
        nonlocal produced
        produced += 1
        # under symmetry the answer itself may be large: it is bounded like the search
        cut = budget.exceeded(produced) if produced % 256 == 0 else None
        if status == DONE and prog.filter is not None and not holds(prog.filter, values):
            return cut
        if prog.filter_locs:  # the filter has had them: a final state shows herd7's locations only
            values = {loc.key(): values[loc.key()] for loc in prog.observed}
        key = (tuple(values.items()), status)
        if key in tables:
            tables[key].executions += 1
        else:
            sat = holds(prog.condition.prop, values) if prog.condition else False
            tables[key] = FinalState(values, status, schedule(), 1, sat)
        return cut

    cut = None
    for s in terminals:
        if not groups:
            cut = add(observe(machine, s), machine.status(s), lambda s=s: schedule_to(parents, s))
        else:
            sched = _real_schedule(parents, s, perm0)
            # the canonical end is a permutation of the real one: rebuild it by replay
            real = machine.initial()
            for t in sched:
                real = machine.step(real, t)
            status = machine.status(real)  # done/deadlock/... does not depend on CPU names
            base = observe(machine, real)
            for regs, sigma in variants(machine, real, groups):
                values = {k: regs.get(k, v) for k, v in base.items()}
                cut = add(values, status, lambda sigma=sigma, sched=sched: permute_schedule(sched, sigma))
                if cut:
                    break
        if cut:
            break
    finals = [f for f in tables.values() if f.status == DONE]
    stuck = [f for f in tables.values() if f.status != DONE]
    return finals, stuck, cut


def _persistent(machine: Machine, s: State, moves: list, acc: dict, fut) -> list | None:
    """The smallest persistent set found by closing over conflicts with CPUs' futures.

    Agents are CPUs (their next operation) and, under tso, store buffers (their next
    flush).  Starting from one agent, add every agent whose *future* may conflict with
    the next transition of an agent already in the set; then no sequence of moves by
    agents outside the set can interfere with the set's transitions, so exploring just
    them loses no final state (the state graph is acyclic, so no cycle proviso is
    needed).  A set that needs a blocked CPU is not used.
    """
    nxt: dict = {}
    for t in moves:
        nxt[(t.cpu, t.op is None)] = t
    futs: dict = {}
    for j, c in enumerate(s.cpus):
        f = fut[j][c.pc] if c.status == "running" else frozenset()
        futs[(j, False)] = f
        if machine.buffered_stores:
            # a store buffer will write what it holds now and whatever the CPU stores later
            held = {("w", loc) for loc, _ in s.buffers[j]}
            futs[(j, True)] = frozenset(held | {x for x in f if x[0] == "w"} | {("buf", "$buffers")})
    agents = list(futs)
    best = None
    for start in nxt:
        members = {start}
        frontier = [start]
        ok = True
        while frontier and ok:
            a = frontier.pop()
            ta = nxt.get(a)
            if ta is None:
                if a[1] and (a[0], False) in nxt:
                    # an empty buffer acts only after its CPU stores: keep that CPU in the set
                    if (a[0], False) not in members:
                        members.add((a[0], False))
                        frontier.append((a[0], False))
                    continue
                ok = False  # a blocked CPU: the set would need what enables it
                break
            for b in agents:
                if b not in members and conflicts_with_future(acc[ta], futs[b]):
                    members.add(b)
                    frontier.append(b)
        if ok and (best is None or len(members) < len(best)):
            best = members
            if len(best) == 1:
                break
    chosen = [nxt[a] for a in best if a in nxt] if best is not None else []
    if not chosen or len(chosen) >= len(nxt):
        return None
    return chosen


def _sort_key(values: dict) -> tuple:
    return tuple((0, v, "") if isinstance(v, int) else (1, 0, v) for v in values.values())
