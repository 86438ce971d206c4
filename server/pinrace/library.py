"""The built-in protocol library (protocols/*.litmus) and the page API prelude."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import assets
from .engine.ir import Program
from .errors import PinraceError

__all__ = ["protocols_dir", "prelude", "Builtin", "builtins", "require_builtins", "find", "load_program",
           "LibraryError", "litmus_name", "resolve_source", "read_scenario_file"]

_DESC = re.compile(r"^\s*\*?\s*(Description|Summary):\s*(.+)$", re.M)


class LibraryError(PinraceError):
    code = "unknown-protocol"


def protocols_dir() -> Path:
    """PINRACE_PROTOCOLS when set (a folder of *.litmus, prelude.h optional), else the shipped library."""
    env = os.environ.get("PINRACE_PROTOCOLS")
    if not env:
        return assets.protocols_dir()
    if not Path(env).is_dir():
        raise LibraryError(f"PINRACE_PROTOCOLS={env} is not a folder")
    return Path(env)


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


def require_builtins() -> list[Builtin]:
    """builtins(), for the commands that show them: an empty library is a broken install or a
    wrong PINRACE_PROTOCOLS, and must not look like a library with nothing in it."""
    out = builtins()
    if not out:
        raise LibraryError(f"no built-in protocols (*.litmus) in {protocols_dir()}")
    return out


def find(name: str) -> Builtin:
    for b in builtins():
        if b.name == name:
            return b
    names = ", ".join(b.name for b in builtins())
    raise LibraryError(f"no built-in protocol '{name}' (built-ins: {names})")


def load_program(source: str, loop_bound: int | None = None) -> Program:
    """Compile scenario text with the page prelude available."""
    from .lang.compile import compile_source

    return compile_source(source, loop_bound=loop_bound, prelude=prelude() or None)


def litmus_name(text: str) -> str:
    """The name on a litmus text's `C NAME` line (the first non-blank line), or "scenario"."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("C ") and len(line) > 2:
            return line[2:].strip().split()[0]
        if line:
            break
    return "scenario"


def read_scenario_file(p: Path) -> str:
    """A scenario file's text; a LibraryError that says why not (a directory, not UTF-8 text, unreadable)."""
    try:
        with open(p, encoding="utf-8") as f:
            return f.read()
    except IsADirectoryError:
        raise LibraryError(f"{p}: is a directory, not a scenario file") from None
    except UnicodeDecodeError as e:
        raise LibraryError(f"{p}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}): "
                           "a scenario is UTF-8 text") from None
    except OSError as e:
        raise LibraryError(f"{p}: {e.strerror or e}") from None


def resolve_source(arg: str) -> tuple[str, str]:
    """(label, text) for a file path or a built-in protocol name."""
    p = Path(arg)
    if p.exists():
        return str(p), read_scenario_file(p)
    try:
        b = find(arg)
    except LibraryError:
        raise LibraryError(f"'{arg}' is neither a file nor a built-in protocol "
                           f"(see `pinrace protocols`)") from None
    return b.name, b.source
