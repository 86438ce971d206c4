"""Stepwise lkmm: navigation among the executions linux-kernel.cat allows, one operation at a time.

There is no second model here.  The checker enumerates every allowed execution (check(visit=)),
execs.py cuts each into steps with an execution order xo (ppo ∪ rf, closed), and a state is the
set of steps run so far with their choices:

* a read's choice `rf=W` names the write it takes its value from (`init`, or `1.2`: CPU1's op 2);
* a write's choice `co=W` places it right after W in coherence order among the writes run so far
  (so a write may go *before* one that ran earlier: 2+2W);
* an RMW or spin_lock is one step whose choice is its read's `rf=W` (atomicity puts its write
  right after W).

A state keeps the set of allowed executions it is compatible with (a bitmask).  `enabled` offers
exactly the steps some compatible execution can take next (all its xo-predecessors have run), so
every step keeps at least one allowed execution possible: no dead ends, and every complete run
is an allowed execution.  Running a step ahead of program order is allowed exactly when nothing in
ppo orders it after the steps it passes.  Explanations live in explain.py, refusals in refuse.py,
the vocabulary both share in words.py.
"""

from __future__ import annotations

from typing import NamedTuple

from ....errors import ScheduleError
from ....explore.budget import Budget
from ....limits import LIMITS
from ...machine import _ThreadCode
from ...state import DONE, RUNNING, CpuState, Transition
from . import explain
from .execs import Execution, collect, linearize, write_id

__all__ = ["LKMM", "LkmmState", "Refusal"]

# the enumeration behind an interactive session: an exploration's default budget, so
# PINRACE_DEFAULT_STATES and PINRACE_DEFAULT_SECONDS bound it too
_STEP_BUDGET = dict(max_states=LIMITS.default_states, max_seconds=LIMITS.default_seconds)


class Refusal(ScheduleError):
    """A step the model does not allow here, with the rule, the edges and the cycle (`why`)."""

    def __init__(self, reason: str, step: int | None, rule: str, why: dict):
        super().__init__(reason, step, rule)
        self.why = why

    def to_dict(self) -> dict:
        return {**super().to_dict(), "why": self.why}


class LkmmState(NamedTuple):
    cpus: tuple  # CpuState per CPU: pc of its first unrun op, registers so far, status
    mem: tuple  # per location: the value of the coherence-last write run so far
    buffers: tuple = ()
    ran: frozenset = frozenset()  # unit keys (cpu, op, instance) run so far
    co: tuple = ()  # per location: ids of the writes run so far, in coherence order, "init" first
    compat: int = 0  # bitmask over LKMM.executions: those this state is a prefix of


class LKMM:
    """The lkmm model bound to a program: `check` for verdicts, and the stepping protocol."""

    name = "lkmm"
    buffered_stores = False
    reorders = True  # a CPU's operations may run out of program order (session moves allow it)

    def __init__(self, program, budget: Budget | None = None):
        self.program = program
        self._budget = budget
        self._ready = False
        self._cache: dict = {}

    # ---- setup ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Enumerate the allowed executions (once); raises Unsupported like the checker does."""
        if self._ready:
            return
        budget = self._budget or Budget(**_STEP_BUDGET)
        self.executions, self.result, self.stats = collect(self.program, budget)
        self.incomplete = self.result.incomplete or ("executions" if self.stats["truncated"] else None)
        locs = set(self.program.init_memory) | set(self.program.lock_locations)
        for e in self.executions:
            locs |= set(e.co_ids)
        self.locations = sorted(locs)
        self.loc_index = {n: i for i, n in enumerate(self.locations)}
        self.threads = [_ThreadCode(self, t, {r: v for (ti, r), v in self.program.init_regs.items()
                                              if ti == t.index}) for t in self.program.threads]
        self.all_mask = (1 << len(self.executions)) - 1
        self._ready = True

    def compatible(self, mask: int):
        """The executions in a compat bitmask, lowest index first."""
        es = self.executions
        while mask:
            low = mask & -mask
            yield es[low.bit_length() - 1]
            mask ^= low

    def rep(self, state: LkmmState) -> Execution | None:
        """The first execution still possible: what the view shows for the parts all agree on."""
        m = state.compat
        return self.executions[(m & -m).bit_length() - 1] if m else None

    # ---- protocol ---------------------------------------------------------------------
    def initial(self) -> LkmmState:
        self.prepare()
        co = tuple((loc, ("init",)) for loc in self.locations)
        return self._derive(frozenset(), co, self.all_mask)

    def options(self, state: LkmmState) -> dict:
        """{(unit key, choice): compat mask after taking it}: every step some execution allows."""
        hit = self._cache.get(state)
        if hit is not None:
            return hit
        ran, co = state.ran, dict(state.co)
        out: dict = {}
        rank: dict = {}
        for e in self.compatible(state.compat):
            for k, u in e.units.items():
                if k in ran or not u.preds <= ran:
                    continue
                c = self.choice_of(e, u, co)
                kc = (k, c)
                out[kc] = out.get(kc, 0) | (1 << e.index)
                if kc not in rank:
                    # CPU, program order, then the least surprising choice first: the newest
                    # value, the last place in coherence order
                    ids = co.get(u.loc, ("init",))
                    w = c.split("=", 1)[1]
                    rank[kc] = (k[0], u.po, k[2], -(ids.index(w) if w in ids else -1))
        out = {kc: out[kc] for kc in sorted(out, key=rank.__getitem__)}
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[state] = out
        return out

    @staticmethod
    def choice_of(e: Execution, u, co: dict) -> str:
        if u.read is not None:
            return f"rf={u.src}"
        ids = e.co_ids[u.loc]
        run = set(co.get(u.loc, ("init",)))
        me = ids.index(write_id(u.key))
        return "co=" + next(i for i in reversed(ids[:me]) if i in run)

    def enabled(self, state: LkmmState) -> list[Transition]:
        return [Transition(k[0], k[1], (c,)) for k, c in self.options(state)]

    def unit_key(self, state: LkmmState, cpu: int, op: int) -> tuple:
        """The first unrun instance of op `op` on CPU `cpu`."""
        n = sum(1 for k in state.ran if k[0] == cpu and k[1] == op)
        return (cpu, op, n)

    def resolve(self, state: LkmmState, step: Transition | int, index: int) -> Transition:
        """A bare CPU number, a token without a choice (its least surprising choice), or a full
        transition; anything else is refused with the rule that forbids it (explain.refusal)."""
        moves = self.enabled(state)
        if isinstance(step, int):
            if not 0 <= step < len(state.cpus):
                raise ScheduleError(f"there is no CPU{step}", index, "no-such-cpu")
            ops = [t for t in moves if t.cpu == step]
            if ops:
                return ops[0]
            raise explain.refusal(self, state, Transition(step, None, ()), index)
        if not 0 <= step.cpu < len(state.cpus):
            raise ScheduleError(f"there is no CPU{step.cpu}", index, "no-such-cpu")
        if step in moves:
            return step
        if step.op is not None and not step.choice:
            same = [t for t in moves if t.cpu == step.cpu and t.op == step.op]
            if same:
                return same[0]
        raise explain.refusal(self, state, step, index)

    def step(self, state: LkmmState, t: Transition) -> LkmmState:
        if t.op is None or len(t.choice) != 1:
            raise explain.refusal(self, state, t, None)
        key = self.unit_key(state, t.cpu, t.op)
        mask = self.options(state).get((key, t.choice[0]))
        if not mask:
            raise explain.refusal(self, state, t, None)
        e = self.executions[(mask & -mask).bit_length() - 1]
        u = e.units[key]
        co = dict(state.co)
        if u.write is not None:
            ids = list(co[u.loc])
            pred = u.src if u.read is not None else t.choice[0].split("=", 1)[1]
            ids.insert(ids.index(pred) + 1, write_id(key))
            co[u.loc] = tuple(ids)
        return self._derive(state.ran | {key}, tuple(sorted(co.items())), mask)

    def choice_text(self, state: LkmmState, t: Transition) -> str:
        """What an enabled transition's choice means, e.g. "reads y=0 (the initial value)"."""
        key = self.unit_key(state, t.cpu, t.op)
        mask = self.options(state).get((key, t.choice[0] if t.choice else None))
        if not mask:
            return ""
        e = self.executions[(mask & -mask).bit_length() - 1]
        return explain.choice_text(self, state, e, key, str(t.choice[0]))

    def transition_reason(self, state: LkmmState, t: Transition) -> dict:
        """The rule an enabled transition would be allowed by (explain.reason of its result)."""
        return explain.reason(self, self.step(state, t), t)

    # ---- derived views ----------------------------------------------------------------
    def _derive(self, ran: frozenset, co: tuple, compat: int) -> LkmmState:
        co = tuple(sorted(co))
        st0 = LkmmState((), (), (), ran, co, compat)
        e = self.rep(st0)
        cpus = []
        for t, th in enumerate(self.program.threads):
            tc = self.threads[t]
            if e is None:
                cpus.append(CpuState(0, tc.init, (), 0, (), RUNNING))
                continue
            keys = e.threads[t]
            first = next((k for k in keys if k not in ran), None)
            path = e.paths[t]
            if first is None:
                regs = dict(zip(tc.reg_names, tc.init, strict=True))
                regs.update({k: v for k, v in path.regs.items() if k in tc.slots})
                cpus.append(CpuState(len(th.code), tuple(regs[n] for n in tc.reg_names), (), 0, (), DONE))
                continue
            u = e.units[first]
            j = (u.read if u.read is not None else u.write) - e.st.offsets[t]
            regs = dict(zip(tc.reg_names, tc.init, strict=True))
            regs.update({k: v for k, v in path.before[j].items() if k in tc.slots})
            for k in keys[u.po + 1:]:  # steps run ahead of program order: their results are in
                if k in ran:
                    dst = getattr(th.code[k[1]], "dst", None)
                    if dst in tc.slots and e.units[k].ret is not None:
                        regs[dst] = e.units[k].ret
            cpus.append(CpuState(first[1], tuple(regs[n] for n in tc.reg_names), (), 0, (), RUNNING))
        mem = []
        seq = dict(co)
        for loc in self.locations:
            last = seq.get(loc, ("init",))[-1]
            mem.append(self._write_value(e, loc, last))
        return LkmmState(tuple(cpus), tuple(mem), (), ran, co, compat)

    def _write_value(self, e: Execution | None, loc: str, wid: str):
        if wid == "init" or e is None:
            return self.program.init_memory.get(loc, 0)
        for k, u in e.units.items():
            if u.write is not None and u.loc == loc and write_id(k) == wid:
                return u.wvalue
        return None

    def status(self, state: LkmmState) -> str:
        if not state.compat:
            return "deadlock"
        if all(c.status == DONE for c in state.cpus):
            return DONE
        return RUNNING if self.options(state) else "deadlock"

    def blocked_reason(self, state: LkmmState, cpu: int) -> str | None:
        if not 0 <= cpu < len(state.cpus) or state.cpus[cpu].status == DONE:
            return None
        if not state.compat:
            return "no execution of this test is allowed (the filter, a wait or the loop bound excludes all)"
        if any(k[0] == cpu for k, _ in self.options(state)):
            return None
        return explain.waiting(self, state, cpu)

    def registers(self, state: LkmmState, cpu: int, hidden: bool = False) -> dict:
        tc = self.threads[cpu]
        names = tc.reg_names if hidden else tc.thread.registers
        return {n: state.cpus[cpu].regs[tc.slots[n]] for n in names}

    def memory(self, state: LkmmState) -> dict:
        return dict(zip(self.locations, state.mem, strict=True))

    def final_memory(self, state: LkmmState) -> dict:
        return self.memory(state)

    def extra_view(self, state: LkmmState, last: Transition | None = None) -> dict:
        """What describe() adds under lkmm: per-CPU readable values, coherence so far, the reason."""
        out = {"lkmm": explain.memory_view(self, state)}
        if last is not None:
            out["reason"] = explain.reason(self, state, last)
        return out

    # ---- schedules --------------------------------------------------------------------
    def schedule_for(self, values: dict) -> list[Transition]:
        """A schedule reaching an allowed final state with these observed values (or [])."""
        self.prepare()
        for e in self.executions:
            if e.values == values:
                return linearize(e)
        return []

