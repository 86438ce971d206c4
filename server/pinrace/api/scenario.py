"""Scenarios as the web face receives them: a built-in name or source text, compiled once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from ..engine.ir import Program
from ..errors import PinraceError, SourceError
from ..library import LibraryError, builtins, find, litmus_name, load_program
from ..limits import LIMITS

__all__ = ["Scenario", "resolve", "compile_cached", "stepper", "StepUnsupported", "MAX_SOURCE", "condition_text",
           "heavy_gate", "HEAVY_CHARS", "precompile", "RemoteError"]

MAX_SOURCE = LIMITS.source_chars  # characters of scenario text the server accepts (PINRACE_MAX_SOURCE_CHARS)
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
    if len(scenario) > MAX_SOURCE:
        raise SourceError(f"the scenario is {len(scenario):,} characters long; the limit is {MAX_SOURCE:,} "
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

# Compiling is pure Python in the server process (in a thread, off the event loop, but holding the
# GIL): a scenario near MAX_SOURCE takes seconds.  One such compile at a time, queued on the event
# loop (not in a thread), so however many arrive together, the loop competes with one.
HEAVY_CHARS = 20_000
_gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class RemoteError(PinraceError):
    """A PinraceError raised in the compile process, carried back as its dict (line, column and all)."""

    def __init__(self, d: dict):
        super().__init__(d.get("message", ""))
        self.d = d
        self.code = d.get("code", "error")

    def to_dict(self) -> dict:
        return dict(self.d)


async def precompile(runner, scenario: str, loop_bound: int | None = None) -> float:
    """Compile a large scenario text in `runner`'s compile process (one at a time) into the cache,
    so the compile_cached that follows is a hit; small texts are left to it.  The CPU seconds spent."""
    if not isinstance(scenario, str) or len(scenario) < HEAVY_CHARS:
        return 0.0
    text = resolve(scenario).text
    key = _key(text, loop_bound)
    if key in _cache:
        return 0.0
    async with heavy_gate(text):
        if key in _cache:
            return 0.0
        out = await runner.compile(text, loop_bound)
    if "error" in out:
        raise RemoteError(out["error"])
    _remember(key, out["program"])
    return float(out.get("cpu", 0.0))


def heavy_gate(text: object) -> contextlib.AbstractAsyncContextManager:
    """`async with heavy_gate(text):` around compiling `text` off the loop."""
    if not isinstance(text, str) or len(text) < HEAVY_CHARS:
        return contextlib.nullcontext()
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(1)
    return gate



def _key(text: str, loop_bound: int | None) -> tuple:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), loop_bound


def _remember(key: tuple, p: Program) -> None:
    _cache[key] = p
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)


def compile_cached(text: str, loop_bound: int | None = None) -> Program:
    """Compile scenario text, remembering the last few programs (they are never mutated)."""
    key = _key(text, loop_bound)
    p = _cache.get(key)
    if p is not None:
        _cache.move_to_end(key)
        return p
    p = load_program(text, loop_bound=loop_bound)
    _remember(key, p)
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
