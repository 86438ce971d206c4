"""The built-in protocol library (protocols/*.litmus) and the page API prelude."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .engine.ir import Program
from .errors import PinraceError

__all__ = ["protocols_dir", "prelude", "Builtin", "builtins", "find", "load_program", "LibraryError", "litmus_name"]

_DESC = re.compile(r"^\s*\*?\s*(Description|Summary):\s*(.+)$", re.M)


class LibraryError(PinraceError):
    code = "unknown-protocol"


def protocols_dir() -> Path:
    env = os.environ.get("PINRACE_PROTOCOLS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "protocols"


def prelude() -> str:
    """The page API, written in pinrace's own language (protocols/prelude.h)."""
    return _prelude_at(protocols_dir() / "prelude.h")


@lru_cache(maxsize=4)
def _prelude_at(p: Path) -> str:
    return p.read_text() if p.exists() else ""


@dataclass(frozen=True)
class Builtin:
    name: str  # file stem, e.g. "bias-barrier-posted"
    path: Path
    description: str

    @property
    def source(self) -> str:
        return self.path.read_text()


def builtins() -> list[Builtin]:
    d = protocols_dir()
    out = []
    for p in sorted(d.glob("*.litmus")):
        text = p.read_text()
        m = _DESC.search(text)
        out.append(Builtin(p.stem, p, m.group(2).strip() if m else ""))
    return out


def find(name: str) -> Builtin:
    for b in builtins():
        if b.name == name:
            return b
    names = ", ".join(b.name for b in builtins())
    raise LibraryError(f"no built-in protocol '{name}' (built-ins: {names})")


def load_program(source: str, loop_bound: int | None = None) -> Program:
    """Compile scenario text with the page prelude available."""
    from .errors import SyntaxError_
    from .lang.compile import compile_source

    try:
        prog = compile_source(source, loop_bound=loop_bound, prelude=prelude() or None)
    except SyntaxError_ as e:
        if e.reason.endswith("expected one of: c") and not source[: _offset(source, e.line, e.column)].strip():
            found = e.reason.split(";")[0].removeprefix("unexpected ")
            raise SyntaxError_(f"this is not a litmus test: a litmus test starts with `C name` (then the initial "
                               f"state in braces, one `P0(...) {{ ... }}` per CPU and a condition such as "
                               f"`exists (0:r0=1)`), or give a built-in protocol's name; found {found}",
                               e.line, e.column, source) from None
        raise
    if prog.condition is None:
        # herd7 reads a test without a final condition as `forall (true)`: every final state
        # satisfies it, so the observation is Always and no outcome is bad
        from .lang.ast import Condition, PConst

        prog.condition = Condition("forall", PConst(True), None)
    return prog


def _offset(text: str, line: int, column: int) -> int:
    """The index in `text` of a 1-based line and column."""
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: max(line - 1, 0)]) + max(column - 1, 0)


def litmus_name(text: str) -> str:
    """The name on a litmus text's `C NAME` line (the first non-blank line), or "scenario"."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("C ") and len(line) > 2:
            return line[2:].strip().split()[0]
        if line:
            break
    return "scenario"


def resolve_source(arg: str) -> tuple[str, str]:
    """(label, text) for a file path or a built-in protocol name."""
    p = Path(arg)
    if p.exists():
        return str(p), p.read_text()
    try:
        b = find(arg)
    except LibraryError:
        raise LibraryError(f"'{arg}' is neither a file nor a built-in protocol "
                           f"(see `pinrace protocols`)") from None
    return b.name, b.source
