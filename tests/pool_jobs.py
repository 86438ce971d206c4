"""Job functions for tests/test_pool.py: the worker processes import them by name."""

from __future__ import annotations

import os
import time


def add(a, b, ctx):
    return a + b


def sleep(seconds, ctx):
    """Sleep, reporting progress; stop early when cancelled."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if ctx.cancelled():
            return "cancelled"
        ctx.progress({"t": round(time.monotonic() - t0, 2)})
        time.sleep(0.02)
    return "slept"


def rude_sleep(seconds, ctx):
    """Sleep without ever looking at the cancel flag."""
    time.sleep(seconds)
    return "slept"


def die(ctx):
    os._exit(3)


def hog(ctx):
    chunks = []
    while True:
        chunks.append(bytearray(16 << 20))


def pid(ctx):
    return os.getpid()
