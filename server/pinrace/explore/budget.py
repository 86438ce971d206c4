"""Budgets that bound exploration, and the progress reports it sends while it runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Budget", "Progress", "Stop"]


@dataclass
class Budget:
    """Limits on one exploration; hitting one ends it with `incomplete: <name>`."""

    max_states: int = 2_000_000
    max_seconds: float = 60.0
    max_steps_per_cpu: int = 10_000
    cancelled: Callable[[], bool] | None = None
    started: float = field(default_factory=time.monotonic)

    def exceeded(self, states: int) -> str | None:
        if states > self.max_states:
            return "states"
        if time.monotonic() - self.started > self.max_seconds:
            return "time"
        if self.cancelled is not None and self.cancelled():
            return "cancelled"
        return None


@dataclass
class Progress:
    states: int
    outcomes: int
    bad: int
    elapsed: float


class Stop(Exception):
    """Raised inside a search to unwind when a budget is hit."""

    def __init__(self, reason: str):
        self.reason = reason
