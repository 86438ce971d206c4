"""Replay a schedule through a model's `step`, keeping every state on the way."""

from __future__ import annotations

from ..engine.machine import Machine
from ..engine.state import State, Transition
from ..errors import ScheduleError, SourceError

__all__ = ["replay", "resolve"]


def resolve(machine: Machine, state: State, step: Transition | int, index: int) -> Transition:
    """Turn a bare CPU number into that CPU's enabled move; check a full transition."""
    own = getattr(machine, "resolve", None)
    if own is not None:  # lkmm: choices default to the least surprising one; refusals carry the rule
        return own(state, step, index)
    moves = machine.enabled(state)
    if isinstance(step, int):
        ops = [t for t in moves if t.cpu == step and t.op is not None]
        if not ops:
            reason = machine.blocked_reason(state, step) if 0 <= step < len(state.cpus) else None
            if not 0 <= step < len(state.cpus):  # negative too: cpus[-1] would be the last CPU
                raise ScheduleError(f"there is no CPU{step}", index, "no-such-cpu")
            c = state.cpus[step]
            why = reason or f"CPU{step} has {'finished' if c.status == 'done' else c.status}"
            raise ScheduleError(f"CPU{step} cannot run: {why}", index, "blocked")
        return ops[0]
    if step in moves:
        return step
    if 0 <= step.cpu < len(state.cpus):
        reason = machine.blocked_reason(state, step.cpu)
        if reason:
            raise ScheduleError(f"{step.token()} is not enabled: {reason}", index, "blocked")
    raise ScheduleError(f"{step.token()} is not enabled here (enabled: "
                        f"{', '.join(t.token() for t in moves) or 'none'})", index, "not-enabled")


def replay(machine: Machine, steps: list) -> tuple[list[State], list[Transition]]:
    """States s0..sn and the resolved transitions; raises ScheduleError naming the bad step."""
    s = machine.initial()
    states, taken = [s], []
    for i, st in enumerate(steps):
        t = resolve(machine, s, st, i)
        try:
            s = machine.step(s, t)
        except SourceError as e:
            raise ScheduleError(str(e), i, "runtime") from None
        states.append(s)
        taken.append(t)
    return states, taken
