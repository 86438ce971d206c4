"""What runs inside the exploration worker processes: checks, litmus runs and diffs.

Each job gets plain data (scenario text, model, budgets) and returns plain JSON-able
data, so nothing but strings and dicts crosses the process boundary.  A job may get a
`channel`: a multiprocessing Manager queue it reports progress into and a Manager
Event the server sets to cancel it.  A heartbeat thread sends the latest progress at
start and every PROGRESS_EVERY seconds, so a client always hears from a long run even
when the engine reports rarely.
"""

from __future__ import annotations

import threading
import time
import traceback

from ..errors import PinraceError, SourceError

__all__ = ["run_check", "run_litmus", "run_diff", "result_dict", "warm", "lower_priority", "compile_only",
           "PROGRESS_EVERY", "DONE"]

PROGRESS_EVERY = 0.25
DONE = "__done__"  # the last item a job puts on its progress queue
_CANCEL_POLL = 0.05  # seconds between looks at the cancel flag (each is an IPC round trip)


def lower_priority() -> None:
    """Pool initializer: explorations run niced, so on a busy machine the kernel prefers the
    server process, whose event loop answers every session's steps."""
    import os

    try:
        os.nice(10)
    except (AttributeError, OSError):  # not on this platform, or not allowed: run as is
        pass


def warm() -> int:
    """Import the engine in a fresh worker, so the first real job starts at once."""
    from ..explore import run  # noqa: F401
    from ..formats import diagram, herd  # noqa: F401
    from ..library import load_program  # noqa: F401

    return 1


class _Channel:
    """Progress out, cancel in; both optional."""

    def __init__(self, channel):
        self.queue, self.cancel_event = channel if channel else (None, None)
        self.latest = {"states": 0, "outcomes": 0, "bad": 0}
        self.t0 = time.monotonic()
        self.label = ""
        self._stop = threading.Event()
        self._last_poll = 0.0
        self._cancelled = False
        self._thread = None

    def start(self, label: str) -> None:
        self.label = label
        if label == "lkmm":  # what `states` counts under lkmm, and where the checker is
            self.latest.update(unit="candidate executions", phase="paths")
        if self.queue is None:
            return
        self._send()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        try:
            self.queue.put({"type": "progress", "model": self.label,
                            "elapsed": round(time.monotonic() - self.t0, 3), **self.latest})
        except Exception:  # the server went away: the job ends by its budget
            pass

    def _beat(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY):
            self._send()

    def progress(self, p) -> None:
        self.latest = {**self.latest, "states": max(p.states, self.latest["states"]), "outcomes": p.outcomes,
                       "bad": p.bad}
        if self.label == "lkmm":
            self.latest["phase"] = "executions"

    def saw(self, states: int) -> None:
        """lkmm: the candidate executions judged so far, from the budget checks the checker makes
        between them (its own progress reports come every 256 candidates); before the first one
        it is still enumerating each CPU's paths."""
        if states > self.latest["states"]:
            self.latest = {**self.latest, "states": states}
        self.latest["phase"] = "executions" if self.latest["states"] else "paths"

    def cancelled(self) -> bool:
        if self.cancel_event is None:
            return False
        now = time.monotonic()
        if not self._cancelled and now - self._last_poll >= _CANCEL_POLL:
            self._last_poll = now
            try:
                self._cancelled = self.cancel_event.is_set()
            except Exception:  # the server is gone: stop
                self._cancelled = True
        return self._cancelled

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.queue is not None:
            try:
                self.queue.put(DONE)
            except Exception:
                pass


def _budget(b: dict, ch: _Channel):
    from ..explore.budget import Budget
    from ..limits import LIMITS

    return Budget(max_states=int(b["max_states"]), max_seconds=float(b["max_seconds"]),
                  max_memory_mb=LIMITS.memory_mb, cancelled=ch.cancelled)


def _guard(fn):
    """User errors become {"error": ...}; anything else is an internal error without a trace."""

    def wrapper(*args, **kw):
        try:
            return fn(*args, **kw)
        except SourceError as e:
            return {"error": e.to_dict(), "status": 422}
        except PinraceError as e:
            return {"error": e.to_dict(), "status": 422}
        except RecursionError:
            return {"error": {"code": "too-complex", "message": "the scenario nests too deeply to compile"},
                    "status": 422}
        except Exception:
            traceback.print_exc()  # to the server's log, never to the client
            return {"error": {"code": "internal-error", "message": "internal error in the checker (logged)"},
                    "status": 500}

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    return wrapper


def _program(text: str, loop_bound: int | None):
    from .scenario import compile_cached

    return compile_cached(text, loop_bound)


def result_dict(program, result) -> dict:
    """herd_json(result) plus what the web face adds: the verdict in words, counterexamples
    with their schedules and a thread-style diagram, and statistics."""
    from ..engine.models import make_model
    from ..formats.diagram import render_interleaving
    from ..formats.herd import herd_json

    d = herd_json(program, result)
    d["bad_reachable"] = result.bad_reachable
    d["verdict"] = ("incomplete" if result.incomplete and not result.bad_reachable
                    else "reachable" if result.bad_reachable else "unreachable")
    ces = []
    machine = None
    for f in result.counterexamples():
        diagram = None
        if f.schedule:
            try:
                if machine is None:
                    machine = make_model(result.model, program)
                    prepare = getattr(machine, "prepare", None)
                    if prepare is not None:  # lkmm replays among its allowed executions
                        prepare()
                diagram = render_interleaving(machine, f.schedule)
            except PinraceError:
                diagram = None  # e.g. lkmm's stepping enumeration ran out of its budget
        ces.append({"values": f.values, "schedule": [t.token() for t in f.schedule], "diagram": diagram})
    d["counterexamples"] = ces
    d["statistics"] = {"explored": result.states, "final_states": len(result.finals),
                       "stuck_states": len(result.stuck), "elapsed_s": round(result.elapsed, 4)}
    d["invariant_violations"] = [{"values": f.values, "status": f.status, "schedule": [t.token() for t in f.schedule]}
                                 for f in getattr(result, "invariant_violations", [])]
    return d


@_guard
def compile_only(text: str, loop_bound: int | None = None) -> dict:
    """Compile scenario text in the compile process: {"program": Program, "cpu": seconds} or
    {"error": ...}.  The Program comes back pickled: an object this code built, never one a client sent."""
    t0 = time.process_time()
    prog = _program(text, loop_bound)
    return {"program": prog, "cpu": time.process_time() - t0}


@_guard
def _check(text: str, model: str, budget: dict, loop_bound: int | None, ch: _Channel) -> dict:
    from ..explore.run import check

    prog = _program(text, loop_bound)
    b = _budget(budget, ch)
    if model == "lkmm":
        exceeded = b.exceeded

        def counting(states: int, _exceeded=exceeded) -> str | None:
            ch.saw(states)
            return _exceeded(states)

        b.exceeded = counting
    res = check(prog, model, b, ch.progress)
    if model == "lkmm":  # drawing each counterexample replays it among the allowed executions
        ch.latest = {**ch.latest, "phase": "counterexamples"}
    return {"result": result_dict(prog, res)}


def run_check(text: str, model: str, budget: dict, loop_bound: int | None = None, channel=None) -> dict:
    """Check one scenario under one model: {"result": ...} or {"error": ..., "status": N}."""
    ch = _Channel(channel)
    ch.start(model)
    try:
        return _check(text, model, budget, loop_bound, ch)
    finally:
        ch.finish()


@_guard
def _litmus(text: str, model: str, budget: dict, ch: _Channel) -> dict:
    from ..explore.run import check
    from ..formats.herd import herd_json, herd_text

    prog = _program(text, None)
    res = check(prog, model, _budget(budget, ch), ch.progress)
    return {"json": herd_json(prog, res), "text": herd_text(prog, res)}


def run_litmus(text: str, model: str, budget: dict, channel=None) -> dict:
    """herd7's result for a litmus test, as JSON and as herd7's text."""
    ch = _Channel(channel)
    ch.start(model)
    try:
        return _litmus(text, model, budget, ch)
    finally:
        ch.finish()


@_guard
def _diff(old: str, new: str, model: str, budget: dict, ch: _Channel) -> dict:
    from ..explore.diff import diff

    p_old, p_new = _program(old, None), _program(new, None)
    d = diff(p_old, p_new, model, _budget(budget, ch))

    def state(f):
        return {"values": {k: f.values[k] for k in d.common}, "satisfies": f.satisfies,
                "schedule": [t.token() for t in f.schedule]}

    return {"result": {
        "model": model, "compared_on": d.common,
        "only_old": [state(f) for f in d.removed], "only_new": [state(f) for f in d.added],
        "old_observation": d.old.observation, "new_observation": d.new.observation,
        "incomplete": d.incomplete,
    }}


def run_diff(old: str, new: str, model: str, budget: dict, channel=None) -> dict:
    """Final states only one of two versions allows, each with a shortest schedule."""
    ch = _Channel(channel)
    ch.start(model)
    try:
        return _diff(old, new, model, budget, ch)
    finally:
        ch.finish()
