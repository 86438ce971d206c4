"""Scenarios as the web face receives them: a built-in name or source text, compiled once."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from ..engine.ir import Program
from ..errors import PinraceError, SourceError
from ..library import LibraryError, builtins, find, load_program

__all__ = ["Scenario", "resolve", "compile_cached", "stepper", "StepUnsupported", "MAX_SOURCE", "condition_text"]

MAX_SOURCE = 200_000  # characters of scenario text the server accepts
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
        raise SourceError(f"the scenario is {len(scenario):,} characters long; the limit is {MAX_SOURCE:,}")
    s = scenario.strip()
    if "\n" not in s and "{" not in s and not s.startswith("C "):
        if any(b.name == s for b in builtins()):
            b = find(s)
            return Scenario(b.source, b.name, b.name)
        find(s)  # raises LibraryError naming the built-ins
    return Scenario(scenario, _first_name(scenario))


def _first_name(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("C ") and len(line) > 2:
            return line[2:].strip().split()[0]
        if line:
            break
    return "scenario"


_cache: OrderedDict = OrderedDict()


def compile_cached(text: str, loop_bound: int | None = None) -> Program:
    """Compile scenario text, remembering the last few programs (they are never mutated)."""
    key = (hashlib.sha256(text.encode()).hexdigest(), loop_bound)
    p = _cache.get(key)
    if p is not None:
        _cache.move_to_end(key)
        return p
    p = load_program(text, loop_bound=loop_bound)
    _cache[key] = p
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return p


def stepper(model: str, program: Program):
    """A steppable model (initial, enabled, step) for `program`, or StepUnsupported.

    sc and tso always step.  lkmm steps once engine.models.lkmm provides a machine with
    that protocol; until then exploring lkmm works and stepping answers `unsupported`.
    """
    from ..engine.models import MODELS, make_model

    if model not in MODELS:
        raise StepUnsupported(f"unknown model '{model}' (choose from {', '.join(MODELS)})")
    try:
        m = make_model(model, program)
    except (ImportError, AttributeError, NotImplementedError):
        m = None
    needed = ("initial", "enabled", "step", "status", "blocked_reason", "memory", "registers")
    if m is None or not all(hasattr(m, a) for a in needed):
        raise StepUnsupported(f"stepping under {model} is not available yet: explore it, or step under sc or tso")
    return m


def condition_text(program: Program) -> str:
    from ..engine.condition import render_prop

    c = program.condition
    return f"{c.quantifier} ({render_prop(c.prop)})" if c is not None else ""
