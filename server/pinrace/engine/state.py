"""Immutable engine states and transitions: hashable values the explorer can deduplicate."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Transition", "CpuState", "State", "RUNNING", "DONE", "LOOP_BOUND"]

RUNNING, DONE, LOOP_BOUND = "running", "done", "loop-bound"


class Transition(NamedTuple):
    """One step of a schedule: CPU `cpu` runs operation `op` (its index in the CPU's code).

    `op` is None for a model's own moves (a store-buffer flush under tso).  `choice` holds
    the model's extra decision: ("flush",) under tso; under lkmm the write a read takes
    its value from or a write's place in coherence order.
    """

    cpu: int
    op: int | None
    choice: tuple = ()

    def token(self) -> str:
        """Compact text form used by the CLI and URLs: `0:3`, `1:flush`, `0:3:rf=1.2`, `1:0:co=init`."""
        if self.op is None:
            return f"{self.cpu}:" + ":".join(str(c) for c in self.choice)
        s = f"{self.cpu}:{self.op}"
        if self.choice:
            s += ":" + ":".join(str(c) for c in self.choice)
        return s


class CpuState(NamedTuple):
    pc: int
    regs: tuple  # register values by slot
    back: tuple  # times each back edge was taken (loop bound)
    rcu: int  # rcu_read_lock() nesting depth
    srcu: tuple  # ((location, depth), ...) for srcu_read_lock()
    status: str  # RUNNING, DONE or LOOP_BOUND


class State(NamedTuple):
    cpus: tuple  # tuple[CpuState, ...]
    mem: tuple  # location values by location index
    buffers: tuple = ()  # tso: per-CPU FIFO store buffers of (location index, value)
