"""Scenarios as the web face receives them: a built-in name or source text, compiled once.

The server process never compiles text a client sent: `session_program` has a worker job do
it (and prepare lkmm stepping) under admission control, and keeps the result.
`compile_cached` is what the workers (and library users) call.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from ..engine.ir import Program
from ..errors import PinraceError, SourceError
from ..library import LibraryError, builtins, find, litmus_name, load_program
from ..limits import LIMITS

__all__ = ["Scenario", "resolve", "compile_cached", "stepper", "StepUnsupported", "condition_text",
           "session_program", "RemoteError"]

_CACHE_SIZE = 64


class StepUnsupported(PinraceError):
    """Stepping is not available for this model (yet): exploring still is."""

    code = "unsupported"


@dataclass(frozen=True)
class Scenario:
    """Scenario text and where it came from: `builtin` names a protocols/ file, else None."""

    text: str
    label: str
    builtin: str | None = None


def resolve(scenario: str) -> Scenario:
    """A built-in protocol by name, or the text itself when it is scenario source.

    Text with a newline, a brace or a leading `C ` is source; anything else must name a
    built-in (LibraryError lists them).
    """
    if not isinstance(scenario, str) or not scenario.strip():
        raise LibraryError("the scenario is empty: give a built-in protocol name or scenario source")
    if len(scenario) > LIMITS.source_chars:
        raise SourceError(f"the scenario is {len(scenario):,} characters long; the limit is {LIMITS.source_chars:,} "
                          f"(PINRACE_MAX_SOURCE_CHARS)")
    try:
        scenario.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate ("\\ud800" in JSON): not text a file could hold
        line = scenario.count("\n", 0, e.start) + 1
        col = e.start - (scenario.rfind("\n", 0, e.start) + 1) + 1
        raise SourceError("the scenario text is not valid Unicode (a lone surrogate)", line, col, scenario) from None
    s = scenario.strip()
    if "\n" not in s and "{" not in s and not s.startswith("C "):
        if any(b.name == s for b in builtins()):
            b = find(s)
            return Scenario(b.source, b.name, b.name)
        names = ", ".join(b.name for b in builtins())
        raise LibraryError(f"'{s[:60]}' is neither a built-in protocol nor a litmus test: a litmus test starts "
                           f"with `C name` on its first line (built-ins: {names})")
    return Scenario(scenario, litmus_name(scenario))



_cache: OrderedDict = OrderedDict()
_sizes: dict = {}
_cache_chars = 0
# The server keeps the programs its sessions loaded (compiled in a worker), so a second load of
# the same text needs no job: at most this many characters of source behind them (a program
# takes ~16 bytes of memory per character of text).
_CACHE_CHARS = 1_000_000
_compiling: dict = {}  # key -> the future of the job compiling it now


async def session_program(runner, scenario: Scenario, model: str, loop_bound: int | None,
                          client: str | None) -> tuple[Program, object, str | None, float]:
    """(program, prepared model or None, why the model cannot step it or None, server CPU seconds spent
    receiving them) for a websocket load or model switch: compiled, and under lkmm prepared, in a
    worker job under admission control (never in this process)."""
    from . import work

    key = _key(scenario.text, loop_bound)
    prog = _cache.get(key)
    if prog is None and model != "lkmm" and key in _compiling:
        # the same text is being compiled for another session (twenty users opening the same
        # scenario at once): wait for that job rather than queue twenty
        try:
            await asyncio.shield(_compiling[key])
        except Exception:
            pass  # that one failed: this one gets its own answer below
        prog = _cache.get(key)
    if prog is not None and model != "lkmm":
        _cache.move_to_end(key)
        return prog, None, None, 0.0
    job = runner.submit(work.stepping, scenario.text, model, loop_bound, prog is None, client=client,
                        seconds=work.prepare_seconds(), what="compiling the scenario"
                        + (" and preparing lkmm stepping" if model == "lkmm" else ""))
    mine = model != "lkmm" and key not in _compiling
    if mine:
        _compiling[key] = asyncio.ensure_future(job.result())
    try:
        out = await (_compiling[key] if mine else job.result())
    finally:
        if mine:
            _compiling.pop(key, None)
    if "error" in out:
        raise RemoteError(out["error"], out.get("status", 422))
    if prog is None:
        prog = out["program"]
        _remember(key, prog, len(scenario.text))
    return prog, out["machine"], out["unsupported"], job.task.server_cpu


class RemoteError(PinraceError):
    """An error a worker job answered, carried back as its dict (line, column and all) and status."""

    def __init__(self, d: dict, status: int = 422):
        super().__init__(d.get("message", ""))
        self.d = d
        self.status = status
        self.code = d.get("code", "error")

    def to_dict(self) -> dict:
        return dict(self.d)


def _key(text: str, loop_bound: int | None) -> tuple:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), loop_bound


def _remember(key: tuple, p: Program, chars: int) -> None:
    global _cache_chars
    if key in _cache:
        return
    _cache[key] = p
    _sizes[key] = chars
    _cache_chars += chars
    while len(_cache) > _CACHE_SIZE or (_cache_chars > _CACHE_CHARS and len(_cache) > 1):
        old, _ = _cache.popitem(last=False)
        _cache_chars -= _sizes.pop(old, 0)


def compile_cached(text: str, loop_bound: int | None = None) -> Program:
    """Compile scenario text, remembering the last few programs (they are never mutated)."""
    key = _key(text, loop_bound)
    p = _cache.get(key)
    if p is not None:
        _cache.move_to_end(key)
        return p
    p = load_program(text, loop_bound=loop_bound)
    _remember(key, p, len(text))
    return p


def stepper(model: str, program: Program):
    """A steppable model (initial, enabled, step) for `program`, or StepUnsupported.

    sc and tso always step.  lkmm first enumerates the allowed executions it navigates, and
    answers StepUnsupported with the engine's reason when the scenario uses what it cannot model.
    """
    from ..engine.models import MODELS, make_model

    if model not in MODELS:
        raise StepUnsupported(f"unknown model '{model}' (choose from {', '.join(MODELS)})")
    m = make_model(model, program)
    prepare = getattr(m, "prepare", None)
    if prepare is not None:  # lkmm enumerates the allowed executions it navigates, once, here
        try:
            prepare()
        except SourceError as e:
            raise StepUnsupported(f"stepping under {model} is not available for this scenario: {e.reason}") from None
    return m


def condition_text(program: Program) -> str:
    from ..engine.condition import render_prop

    c = program.condition
    return f"{c.quantifier} ({render_prop(c.prop)})" if c is not None else ""
