"""Interleavings as the thread draws them: a column per CPU, one call or operation per row.

    CPU0                   | CPU1                | CPU2
                           |                     |
                           | put_user_page(page) |
    r0 = page_pinned(page) |                     |
                           |                     | get_user_pages(page)

A call whose operations run back to back (page_pinned() reads `_refcount`, then
`_mapcount`) is one row labelled with the call; a call another CPU cuts into is drawn
one operation per row.  Cells too wide for 72 columns continue on the next line,
indented by two spaces, which is how diagram_import reads a cell spanning rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..engine.machine import Machine
from ..engine.state import RUNNING, Transition

__all__ = ["render_interleaving", "step_label", "diagram_rows", "export_diagram", "DiagramRow", "OP_MARK"]

OP_MARK = " [op]"  # marks a single operation whose text would otherwise read as its whole call
_MIN_COL = 8


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


@dataclass
class DiagramRow:
    """One row: a CPU, the transitions it runs there, the cell text, and whether it is a whole call."""

    cpu: int
    steps: list[Transition]
    label: str
    kind: str  # "call", "op" or "flush"


def _flush_label(machine: Machine, state, cpu: int) -> str:
    buf = state.buffers[cpu] if state.buffers and cpu < len(state.buffers) else ()
    if buf:
        loc, v = buf[0]
        return f"(flush {machine.locations[loc]}={v})"
    return "(flush)"


def diagram_rows(machine: Machine, steps: list[Transition]) -> list[DiagramRow]:
    """Group a schedule into rows: whole calls where they run back to back, else operations."""
    from .diagram_import import call_matches

    states = [machine.initial()]
    for t in steps:
        states.append(machine.step(states[-1], t))
    code = [th.code for th in machine.program.threads]
    last_call: dict[int, int] = {}
    rows: list[DiagramRow] = []
    i = 0
    while i < len(steps):
        t = steps[i]
        if t.op is None:
            rows.append(DiagramRow(t.cpu, [t], _flush_label(machine, states[i], t.cpu), "flush"))
            i += 1
            continue
        ins = code[t.cpu][t.op]
        cid = ins.origin.call_id
        j = i
        if last_call.get(t.cpu) != cid:
            while j + 1 < len(steps) and steps[j + 1].cpu == t.cpu and steps[j + 1].op is not None \
                    and code[t.cpu][steps[j + 1].op].origin.call_id == cid:
                j += 1
            if _call_ends(machine, states[j + 1], t.cpu, cid):
                rows.append(DiagramRow(t.cpu, list(steps[i:j + 1]), ins.origin.call or ins.origin.text, "call"))
                last_call[t.cpu] = cid
                i = j + 1
                continue
        label = ins.origin.text
        if call_matches(label, ins):
            label += OP_MARK
        rows.append(DiagramRow(t.cpu, [t], label, "op"))
        last_call[t.cpu] = cid
        i += 1
    return rows


def _call_ends(machine: Machine, state, cpu: int, cid: int) -> bool:
    c = state.cpus[cpu]
    code = machine.program.threads[cpu].code
    return c.status is not RUNNING or c.pc >= len(code) or code[c.pc].origin.call_id != cid


def _widths(natural: list[int], width: int) -> list[int]:
    n = len(natural)
    avail = width - 3 * (n - 1)
    if sum(natural) <= avail:
        return natural
    out = list(natural)
    todo = sorted(range(n), key=lambda k: natural[k])
    left = avail
    for pos, k in enumerate(todo):
        share = max(_MIN_COL, left // (n - pos))
        out[k] = min(natural[k], share)
        left -= out[k]
    return out


_BREAK = re.compile(r"(?<=[(,])|(?<=->)|(?<= )|(?=[&|+-] )")


def _fill(text: str, w: int) -> list[str]:
    """Greedy lines of at most `w` characters, breaking after `(`, `,`, `->` or a space."""
    chunks = [c for c in _BREAK.split(text) if c]
    lines, cur = [], ""
    for c in chunks:
        while len(c) > w:  # a chunk wider than the column: cut it
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(c[:w])
            c = c[w:]
        if len(cur) + len(c) > w and cur:
            lines.append(cur)
            cur = ""
        cur += c
    if cur:
        lines.append(cur)
    return [ln.strip() for ln in lines if ln.strip()]


def _wrap(text: str, w: int) -> list[str]:
    if len(text) <= w:
        return [text]
    head = _fill(text, w)[0]
    rest = text[text.index(head) + len(head):].strip()
    return [head] + ["  " + m for m in _fill(rest, max(w - 2, 4))]


def _table(n: int, cells: list[tuple[int, str]], width: int, annotate: list[str] | None = None) -> str:
    natural = [len(f"CPU{k}") for k in range(n)]
    for cpu, label in cells:
        natural[cpu] = max(natural[cpu], len(label))
    w = _widths(natural, width)
    lines = [" | ".join(f"CPU{k}".ljust(w[k]) for k in range(n)).rstrip(),
             " | ".join(" " * w[k] for k in range(n)).rstrip()]
    for r, (cpu, label) in enumerate(cells):
        for part in _wrap(label, w[cpu]):
            row = [""] * n
            row[cpu] = part
            lines.append(" | ".join(row[k].ljust(w[k]) for k in range(n)).rstrip())
        if annotate and r < len(annotate) and annotate[r]:
            lines.append("    " + annotate[r])
    return "\n".join(lines)


def export_diagram(machine: Machine, steps: list[Transition], width: int = 72) -> str:
    """The schedule as a diagram in the thread's style, readable by diagram_import."""
    rows = diagram_rows(machine, list(steps))
    return _table(len(machine.program.threads), [(r.cpu, r.label) for r in rows], width)


def render_interleaving(machine: Machine, steps: list[Transition], width: int = 72,
                        annotate: list[str] | None = None) -> str:
    """The diagram of `steps`; with `annotate`, one row per step and `annotate[i]` below row i."""
    if annotate is None:
        return export_diagram(machine, steps, width)
    n = len(machine.program.threads)
    return _table(n, [(t.cpu, step_label(machine, t)) for t in steps], width, annotate)
