"""x86-TSO as Linux maps its primitives onto x86: FIFO store buffers, forwarding, drains."""

from __future__ import annotations

from ...errors import SourceError
from ..ir import Fence, Lock, Rmw, SyncSrcu, TryLock
from ..machine import Machine
from ..state import State, Transition

__all__ = ["TSO"]

# x86 full barriers: every locked instruction (all atomic RMWs, even a failing cmpxchg,
# and spin_lock), mfence for smp_mb(), and the grace-period primitives.
_DRAINING_FENCES = {"MB", "sync-rcu"}


class TSO(Machine):
    """Each CPU's stores wait in its store buffer until a flush, a transition of its own."""

    name = "tso"
    buffered_stores = True

    def is_local(self, ins) -> bool:
        if isinstance(ins, Fence) and ins.tag in _DRAINING_FENCES:
            return False
        return super().is_local(ins)

    def must_drain(self, ins) -> bool:
        return isinstance(ins, (Rmw, Lock, TryLock, SyncSrcu)) or (
            isinstance(ins, Fence) and ins.tag in _DRAINING_FENCES)

    def _can_run(self, state, i, c) -> bool:
        ins = self.program.threads[i].code[c.pc]
        if (isinstance(ins, Fence) and ins.tag == "sync-rcu") or isinstance(ins, SyncSrcu):
            # a grace period waits for every CPU to pass a quiescent state, which on x86
            # is a serializing event: every CPU's store buffer has drained by its end
            if any(state.buffers):
                return False
        return super()._can_run(state, i, c)

    def read(self, state: State, cpu: int, loc: int):
        # store-to-load forwarding: a CPU sees its own newest buffered store first
        for bloc, v in reversed(state.buffers[cpu]):
            if bloc == loc:
                return v
        return state.mem[loc]

    def write(self, state: State, cpu: int, loc: int, value, mem: list, bufs: list,
              buffered: bool = False) -> None:
        # plain stores (WRITE_ONCE, smp_store_release, atomic_set, spin_unlock) are queued;
        # locked instructions write memory directly, their buffer already drained
        if buffered:
            bufs[cpu] = bufs[cpu] + ((loc, value),)
        else:
            mem[loc] = value

    def extra_moves(self, state: State) -> list[Transition]:
        return [Transition(i, None, ("flush",)) for i, b in enumerate(state.buffers) if b]

    def extra_step(self, state: State, t: Transition) -> State:
        if t.choice != ("flush",) or not (0 <= t.cpu < len(state.buffers)) or not state.buffers[t.cpu]:
            raise SourceError(f"CPU{t.cpu} has no buffered store to flush")
        (loc, v), rest = state.buffers[t.cpu][0], state.buffers[t.cpu][1:]
        mem = state.mem[:loc] + (v,) + state.mem[loc + 1:]
        bufs = state.buffers[: t.cpu] + (rest,) + state.buffers[t.cpu + 1:]
        return State(state.cpus, mem, bufs)

    def quiescent(self, state: State) -> bool:
        return not any(state.buffers)

    def buffers(self, state: State) -> list[list[tuple[str, object]]]:
        return [[(self.locations[loc], v) for loc, v in b] for b in state.buffers]
