"""Interleavings as the thread draws them: a column per CPU, one operation per row."""

from __future__ import annotations

from ..engine.machine import Machine
from ..engine.state import Transition

__all__ = ["render_interleaving", "step_label"]


def step_label(machine: Machine, t: Transition) -> str:
    """What a transition does, in the scenario's own words."""
    if t.op is None:
        if t.choice == ("flush",):
            return "(store buffer flush)"
        return "(" + " ".join(map(str, t.choice)) + ")"
    o = machine.program.threads[t.cpu].code[t.op].origin
    if o.call and o.call != o.text and o.primitive not in ("plain",):
        return f"{o.call}: {o.text}" if len(o.call) + len(o.text) < 60 else o.text
    return o.text


def render_interleaving(machine: Machine, steps: list[Transition], width: int = 72,
                        annotate: list[str] | None = None) -> str:
    """Rows of `CPU0 | CPU1 | ...` cells; `annotate[i]` is appended below row i when given."""
    n = len(machine.program.threads)
    cells = [[""] * n for _ in steps]
    for r, t in enumerate(steps):
        cells[r][t.cpu] = step_label(machine, t)
    col = max(12, min(max((len(c) for row in cells for c in row), default=8), (width - 3 * (n - 1)) // n))
    header = " | ".join(f"CPU{i}".ljust(col) for i in range(n)).rstrip()
    lines = [header, "-+-".join("-" * col for _ in range(n))]
    for r, row in enumerate(cells):
        lines.append(" | ".join(_clip(c, col).ljust(col) for c in row).rstrip())
        if annotate and annotate[r]:
            lines.append("    " + annotate[r])
    return "\n".join(lines)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
