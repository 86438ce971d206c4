"""What runs inside the worker processes: compiling, checks, litmus runs, diffs, stepping preparation.

Each job gets plain data (scenario text, model, budgets) and a pool.JobContext as its last
argument (progress out, cancel in), and returns plain data, or objects this code built (a
compiled Program, a prepared lkmm model): nothing a client sent is ever unpickled.  A
heartbeat thread sends the latest progress at start and every PROGRESS_EVERY seconds, so a
client always hears from a long run even when the engine reports rarely.

Every piece of work is bounded here, where it runs: compiling by PINRACE_MAX_COMPILE_SECONDS
and the memory limit (pinrace.guard: the parser polls nothing), an exploration by its budget
and, should the model not poll it, by a guard a little past it, after which the answer is
`incomplete` with nothing found and the process is replaced (it was stopped mid-way).
"""

from __future__ import annotations

import functools
import threading
import time
import traceback

from ..errors import LimitExceeded, PinraceError, SourceError
from ..explore.budget import OutOfBudget
from ..guard import guard
from ..limits import LIMITS
from .rawjson import raw

__all__ = ["run_check", "run_litmus", "run_diff", "result_dict", "lower_priority", "stepping", "compile_program",
           "incomplete_result", "PROGRESS_EVERY", "GUARD_MEMORY", "explore_seconds", "compile_limit",
           "prepare_seconds"]

PROGRESS_EVERY = 0.25
# the guard's memory ceiling, relative to PINRACE_MAX_MEMORY_MB: above the explorations' own
# (they stop at the limit with incomplete: memory), below the pool's hard stop (jobs.MEMORY_HEADROOM)
GUARD_MEMORY = 1.1


def lower_priority() -> None:
    """Worker initializer: run niced, so on a busy machine the kernel prefers the server process,
    whose event loop answers every session's steps; and import the engine and parse the grammar and
    the prelude before the first job."""
    import os

    try:
        os.nice(10)
    except (AttributeError, OSError):  # not on this platform, or not allowed: run as is
        pass
    from ..explore import run  # noqa: F401
    from ..formats import diagram, herd  # noqa: F401
    from ..library import load_program
    from . import transfer

    transfer.install()
    # the grammar and the page prelude are parsed once per process: here, not inside the first
    # job's compile budget
    load_program("C warm\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\nexists (x=1)\n")


# ---- the time each kind of job may take, for the pool's hard stop (jobs.JobRunner.submit) --------


def compile_limit() -> float:
    return LIMITS.compile_seconds + LIMITS.overrun_seconds


def explore_seconds(budget: dict) -> float:
    """Compiling, the exploration, drawing its counterexamples (lkmm prepares its stepping model
    for that), each past its own limit by at most PINRACE_OVERRUN_SECONDS."""
    return (LIMITS.compile_seconds + float(budget["max_seconds"]) + LIMITS.default_seconds
            + 3 * LIMITS.overrun_seconds)


def prepare_seconds() -> float:
    """Compiling and preparing lkmm stepping (an enumeration under the default budget)."""
    return LIMITS.compile_seconds + LIMITS.default_seconds + 2 * LIMITS.overrun_seconds


class _Channel:
    """Progress out, cancel in, over the job's context."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.latest = {"states": 0, "outcomes": 0, "bad": 0}
        self.t0 = time.monotonic()
        self.label = ""
        self._stop = threading.Event()
        self._thread = None

    def start(self, label: str) -> None:
        self.label = label
        if label == "lkmm":  # what `states` counts under lkmm, and where the checker is
            self.latest.update(unit="candidate executions", phase="paths")
        self._send()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        self.ctx.progress({"type": "progress", "model": self.label, "elapsed": round(time.monotonic() - self.t0, 3),
                           **self.latest})

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
        return self.ctx.cancelled()

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _budget(b: dict, ch: _Channel):
    from ..explore.budget import Budget

    return Budget(max_states=int(b["max_states"]), max_seconds=float(b["max_seconds"]),
                  max_memory_mb=LIMITS.memory_mb, cancelled=ch.cancelled)


def error_answer(e: BaseException) -> dict | None:
    """A user error as a job answers it ({"error", "status"}), or None for anything else."""
    if isinstance(e, PinraceError):
        from ..library import LibraryError

        return {"error": e.to_dict(), "status": 404 if isinstance(e, LibraryError) else 422}
    if isinstance(e, RecursionError):
        # a recursion in pinrace's own code ran out of stack on this scenario (lkmm's closures on
        # very long CPUs, nesting in the text): the scenario is too large for it, not malformed
        return {"error": {"code": "too-complex", "message": "the scenario is too large or nests too deeply for "
                          "pinrace to handle (Python's recursion limit)"}, "status": 422}
    return None


def _guarded(fn):
    """User errors become {"error": ...}; anything else is an internal error without a trace."""

    @functools.wraps(fn)  # __module__ and __qualname__ too: the pool sends job functions by name
    def wrapper(*args, **kw):
        try:
            return fn(*args, **kw)
        except Exception as e:
            if getattr(e, "from_guard", False) and getattr(e, "recycle", True) and args \
                    and hasattr(args[-1], "recycle"):
                args[-1].recycle = True  # stopped mid-way: the process's state is suspect, replace it
            out = error_answer(e)
            if out is not None:
                return out
            traceback.print_exc()  # to the server's log, never to the client
            return {"error": {"code": "internal-error", "message": "internal error in the checker (logged)"},
                    "status": 500}

    return wrapper


def _too_long(what: str, seconds: float, var: str):
    def make(reason: str) -> BaseException:
        if reason == "memory":
            return LimitExceeded(f"{what} used more than {LIMITS.memory_mb:g} MiB (PINRACE_MAX_MEMORY_MB)")
        if reason == "cancelled":
            return LimitExceeded(f"{what} was cancelled")
        return LimitExceeded(f"{what} took more than {seconds:g} s ({var})")

    return make


def compile_program(text: str, loop_bound: int | None, ctx=None):
    """Compile scenario text under the compile budget (time and memory), and stoppable by the job's
    cancel flag (the parser polls nothing): LimitExceeded past them."""
    from .scenario import compile_cached

    secs = LIMITS.compile_seconds
    too_long = _too_long("compiling the scenario", secs, "PINRACE_MAX_COMPILE_SECONDS")

    def stopped(reason: str) -> BaseException:
        e = too_long(reason)
        e.recycle = False  # the compiler keeps nothing between compiles but caches: the process is fine
        return e

    with guard(secs, LIMITS.memory_mb * GUARD_MEMORY, stopped, _stop(ctx)):
        return compile_cached(text, loop_bound)


def _stop(ctx):
    return ctx.cancelled if ctx is not None else None


def incomplete_result(program, model: str, reason: str, elapsed: float = 0.0):
    """A Result with nothing found, stopped by `reason`: what an exploration stopped from outside answers."""
    from ..explore.outcome import Result

    return Result(model=model, name=program.name, finals=[], stuck=[], states=0, elapsed=elapsed,
                  incomplete=reason, quantifier=program.condition.quantifier if program.condition else "exists")


def _explore(program, model: str, budget: dict, ch: _Channel, ctx):
    """check() under its budget, and under a guard past it for models that do not poll it."""
    from ..explore.run import check

    t0 = time.monotonic()
    secs = float(budget["max_seconds"]) + LIMITS.overrun_seconds
    try:
        b = _budget(budget, ch)
        if model == "lkmm":  # the checker's budget polls are its progress: candidates judged so far
            exceeded = b.exceeded

            def counting(states: int, _exceeded=exceeded) -> str | None:
                ch.saw(states)
                return _exceeded(states)

            b.exceeded = counting
        with guard(secs, LIMITS.memory_mb * GUARD_MEMORY, OutOfBudget, _stop(ctx)):
            return check(program, model, b, ch.progress)
    except OutOfBudget as e:
        ctx.recycle = True  # stopped mid-way: whatever state the model keeps is suspect
        return incomplete_result(program, model, e.reason, time.monotonic() - t0)


def result_dict(program, result, ctx=None) -> dict:
    """herd_json(result) plus what the web face adds: the verdict in words, counterexamples
    with their schedules and a thread-style diagram, and statistics."""
    from ..formats.herd import herd_json

    d = herd_json(program, result)
    d["bad_reachable"] = result.bad_reachable
    d["verdict"] = ("incomplete" if result.incomplete and not result.bad_reachable
                    else "reachable" if result.bad_reachable else "unreachable")
    ces = [{"values": f.values, "schedule": [t.token() for t in f.schedule], "diagram": None}
           for f in result.counterexamples()]
    _diagrams(program, result, ces, ctx)
    d["counterexamples"] = ces
    d["statistics"] = {"explored": result.states, "final_states": len(result.finals),
                       "stuck_states": len(result.stuck), "elapsed_s": round(result.elapsed, 4)}
    d["invariant_violations"] = [{"values": f.values, "status": f.status, "schedule": [t.token() for t in f.schedule]}
                                 for f in getattr(result, "invariant_violations", [])]
    return d


def _diagrams(program, result, ces: list[dict], ctx) -> None:
    """Draw each counterexample (lkmm first prepares its stepping model: bounded like stepping is)."""
    from ..engine.models import make_model
    from ..formats.diagram import render_interleaving

    machine = None
    secs = LIMITS.default_seconds + LIMITS.overrun_seconds
    try:
        with guard(secs, LIMITS.memory_mb * GUARD_MEMORY, OutOfBudget, _stop(ctx)):
            for f, ce in zip(result.counterexamples(), ces, strict=True):
                if not f.schedule:
                    continue
                try:
                    if machine is None:
                        machine = make_model(result.model, program)
                        prepare = getattr(machine, "prepare", None)
                        if prepare is not None:  # lkmm replays among its allowed executions
                            prepare()
                    ce["diagram"] = render_interleaving(machine, f.schedule)
                except PinraceError:
                    ce["diagram"] = None  # e.g. lkmm's stepping enumeration ran out of its budget
    except OutOfBudget:
        if ctx is not None:
            ctx.recycle = True  # the answer goes without diagrams


# ---- jobs ----------------------------------------------------------------------------------


@_guarded
def _check(text: str, model: str, budget: dict, loop_bound: int | None, ch: _Channel, ctx) -> dict:
    from .scenario import condition_text

    prog = compile_program(text, loop_bound, ctx)
    res = _explore(prog, model, budget, ch, ctx)
    if model == "lkmm":  # drawing each counterexample replays it among the allowed executions
        ch.latest = {**ch.latest, "phase": "counterexamples"}
    d = result_dict(prog, res, ctx)
    # the result (it may be megabytes) as JSON made here; what the server decides by, apart
    return {"result": raw(d), "bad_reachable": d["bad_reachable"], "incomplete": d["incomplete"],
            "test": prog.name, "condition": condition_text(prog)}


def run_check(text: str, model: str, budget: dict, loop_bound: int | None, ctx) -> dict:
    """Check one scenario under one model: {"result" (Raw JSON), "bad_reachable", "incomplete", "test",
    "condition"} or {"error": ..., "status": N}."""
    ch = _Channel(ctx)
    ch.start(model)
    try:
        return _check(text, model, budget, loop_bound, ch, ctx)
    finally:
        ch.finish()


@_guarded
def _litmus(text: str, model: str, budget: dict, ch: _Channel, ctx) -> dict:
    from ..formats.herd import herd_json, herd_text

    prog = compile_program(text, None, ctx)
    res = _explore(prog, model, budget, ch, ctx)
    return {"json": raw(herd_json(prog, res)), "text": herd_text(prog, res)}


def run_litmus(text: str, model: str, budget: dict, ctx) -> dict:
    """herd7's result for a litmus test, as JSON and as herd7's text."""
    ch = _Channel(ctx)
    ch.start(model)
    try:
        return _litmus(text, model, budget, ch, ctx)
    finally:
        ch.finish()


@_guarded
def _diff(old: str, new: str, model: str, budget: dict, ch: _Channel, ctx) -> dict:
    from ..explore.diff import diff

    progs = []
    for text, which in ((old, "old"), (new, "new")):
        try:
            progs.append(compile_program(text, None, ctx))
        except SourceError as e:  # say which version the line and column are in
            return {"error": {**e.to_dict(), "message": f"{which}: {e.reason}"}, "status": 422}
    p_old, p_new = progs
    secs = float(budget["max_seconds"]) + LIMITS.overrun_seconds
    try:
        with guard(secs, LIMITS.memory_mb * GUARD_MEMORY, OutOfBudget, _stop(ctx)):
            d = diff(p_old, p_new, model, _budget(budget, ch))
    except OutOfBudget as e:
        ctx.recycle = True
        return {"error": {"code": "over-budget", "message": f"the {model} exploration did not stop within its "
                          f"budget ({e.reason}) and was stopped"}, "status": 422}

    def state(f):
        return {"values": {k: f.values[k] for k in d.common}, "satisfies": f.satisfies,
                "schedule": [t.token() for t in f.schedule]}

    return {"result": raw({
        "model": model, "compared_on": d.common,
        "only_old": [state(f) for f in d.removed], "only_new": [state(f) for f in d.added],
        "old_observation": d.old.observation, "new_observation": d.new.observation,
        "incomplete": d.incomplete,
    }), "differ": bool(d.removed or d.added)}


def run_diff(old: str, new: str, model: str, budget: dict, ctx) -> dict:
    """Final states only one of two versions allows, each with a shortest schedule."""
    ch = _Channel(ctx)
    ch.start(model)
    try:
        return _diff(old, new, model, budget, ch, ctx)
    finally:
        ch.finish()


def prepare_stepper(model: str, program, ctx):
    """scenario.stepper() under the stepping budget: lkmm enumerates its allowed executions here."""
    from .scenario import stepper

    secs = LIMITS.default_seconds + LIMITS.overrun_seconds
    try:
        with guard(secs, LIMITS.memory_mb * GUARD_MEMORY, _too_long(f"preparing {model} stepping", secs,
                                                                    "PINRACE_DEFAULT_SECONDS"), _stop(ctx)):
            return stepper(model, program)
    except LimitExceeded as e:
        if getattr(e, "from_guard", False) and ctx is not None:
            ctx.recycle = True
        raise


@_guarded
def stepping(text: str, model: str, loop_bound: int | None, want_program: bool, ctx) -> dict:
    """What a websocket session needs to load a scenario or switch to lkmm: {"program" (when asked),
    "machine" (lkmm, prepared; None for sc and tso, which the server builds at no cost), "unsupported"
    (why the model cannot step it, or None)}."""
    from .scenario import StepUnsupported

    prog = compile_program(text, loop_bound, ctx)
    out: dict = {"program": prog if want_program else None, "machine": None, "unsupported": None}
    if model == "lkmm":
        try:
            m = prepare_stepper(model, prog, ctx)
            cache = getattr(m, "_cache", None)
            if isinstance(cache, dict):
                cache.clear()  # per-state memo: the server builds its own
            out["machine"] = m
        except StepUnsupported as e:
            out["unsupported"] = str(e)
        except SourceError as e:  # the stepping budget's guard
            out["unsupported"] = f"stepping under {model} is not available for this scenario: {e.reason}"
    return out
