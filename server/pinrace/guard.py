"""A deadline and a memory ceiling for code that does not poll a budget itself.

Compiling (lark's parser, macro expansion, inlining) and some enumerations run pure Python
that never looks at an exploration Budget.  `guard(seconds, memory_mb, on_exceed, stop)` runs a
block under a SIGALRM interval timer: every TICK seconds a signal handler, which Python runs
between bytecodes of the main thread, checks the elapsed time, the resident size and the
cancel flag, and raises what `on_exceed(reason)` returns ("time", "memory" or "cancelled"),
marked `from_guard`.  So the block stops in the
middle of whatever it was doing, in bounded time and memory, without a second thread and
without the process being killed (the worker pool's hard stop is the backstop for code
that sits in one long C call).

Only the main thread can receive signals: elsewhere (a server thread, a test) the block
runs unguarded, which is why the server runs such code in worker processes.  Guards nest:
the inner one restores the outer one's timer and handler when it ends.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .explore.budget import rss_mb

__all__ = ["guard", "TICK"]

TICK = 0.05  # seconds between looks at the clock and the resident size


@contextmanager
def guard(seconds: float | None, memory_mb: float | None, on_exceed: Callable[[str], BaseException],
          stop: Callable[[], bool] | None = None, stop_grace: float = 0.5) -> Iterator[None]:
    """Raise on_exceed("time") once `seconds` have passed, on_exceed("memory") above `memory_mb` MiB,
    and on_exceed("cancelled") once `stop()` has said so for `stop_grace` seconds (code that polls the
    cancel flag itself gets that long to stop with what it found)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer") \
            or (seconds is None and memory_mb is None):
        yield
        return
    deadline = time.monotonic() + seconds if seconds is not None else None
    fired = False
    stop_seen: float | None = None

    def stopped() -> bool:
        nonlocal stop_seen
        if stop is None or not stop():
            return False
        if stop_seen is None:
            stop_seen = time.monotonic()
        return time.monotonic() - stop_seen >= stop_grace

    def tick(signum, frame):
        nonlocal fired
        if fired:
            return
        reason = ("time" if deadline is not None and time.monotonic() > deadline else
                  "memory" if memory_mb is not None and rss_mb() > memory_mb else
                  "cancelled" if stopped() else None)
        if reason:
            fired = True  # raise once: the block's own cleanup must not be interrupted again
            exc = on_exceed(reason)
            exc.from_guard = True  # it stopped code mid-way: callers may not trust that code's state
            raise exc

    old_handler = signal.signal(signal.SIGALRM, tick)
    old_timer = signal.setitimer(signal.ITIMER_REAL, TICK, TICK)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0] > 0:  # an outer guard: resume its timer where it was
            signal.setitimer(signal.ITIMER_REAL, *old_timer)
