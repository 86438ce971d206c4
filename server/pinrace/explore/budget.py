"""Budgets that bound exploration, and the progress reports it sends while it runs."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Budget", "Progress", "BUDGET_NAMES", "OutOfBudget", "rss_mb"]

BUDGET_NAMES = ("states", "steps", "time", "memory", "cancelled")


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    # the current resident size, not the peak: server workers are reused across jobs, and one big
    # job must not make every later one fail its memory budget
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / (1 << 20)
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux: the peak


class OutOfBudget(Exception):
    """Raised from deep inside a search that cannot return partial results cheaply."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Budget:
    """Limits on one exploration; hitting one ends it with `incomplete: <name>`.

    states: distinct states (sc/tso) or candidate executions (lkmm) examined;
    steps: the longest schedule explored, per CPU (so a 3-CPU scenario may run 3 × steps);
    time: wall-clock seconds; memory: resident MiB of the process;
    cancelled: a callable the caller flips to stop the run.
    """

    max_states: int = 2_000_000
    max_seconds: float = 60.0
    max_steps_per_cpu: int = 10_000
    max_memory_mb: float = 4096.0
    cancelled: Callable[[], bool] | None = None
    started: float = field(default_factory=time.monotonic)
    _memory_checked: float = field(default=0.0, repr=False, compare=False)

    def exceeded(self, states: int) -> str | None:
        """The name of the first budget this run has used up, or None."""
        if states > self.max_states:
            return "states"
        now = time.monotonic()
        if now - self.started > self.max_seconds:
            return "time"
        if self.cancelled is not None and self.cancelled():
            return "cancelled"
        # reading the resident size is a system call: hot loops poll often, so look every 10 ms
        if now - self._memory_checked >= 0.01:
            self._memory_checked = now
            if rss_mb() > self.max_memory_mb:
                return "memory"
        return None

    def enforce(self, states: int = 0) -> None:
        """Raise OutOfBudget when a budget is used up (for loops with no natural place to stop)."""
        reason = self.exceeded(states)
        if reason:
            raise OutOfBudget(reason)


@dataclass
class Progress:
    """What a running exploration has found so far (sent to progress callbacks)."""

    states: int
    outcomes: int
    bad: int
    elapsed: float
