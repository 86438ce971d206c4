"""Read an interleaving diagram (as pasted from an email) back into a schedule for a protocol.

The diagram is a `CPU0 | CPU1 | ...` table, one call or operation per row, as the thread
draws them and as formats.diagram exports them.  Reading:

* quote markers (`> >>> `) are stripped; the table starts at the `CPU0 | CPU1` header and
  ends at the first line without a `|`; rules (`---+---`) and blank rows are skipped;
* a cell continues on the next rows while its parentheses are unbalanced or the next
  lines are indented deeper than its first line (nothing else on those rows): one call;
* each cell is matched against the CPU's next call (its statement in the thread's code,
  e.g. `r0 = page_pinned(page)`, or just the function's name, through ALIASES so `PUP()`
  reads as put_user_page()) or its next single operation (`atomic_read(&page->_refcount)`,
  `smp_mb()`); a matched call runs all its operations at that row's position;
* rows that are ambiguous (two CPUs on one row) or impossible (the CPU's next call is
  something else, or it is blocked) are refused with the line and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..engine.machine import Machine
from ..engine.state import RUNNING, State, Transition
from ..errors import SourceError

__all__ = ["DiagramError", "ALIASES", "Cell", "Imported", "parse_diagram", "import_diagram", "call_matches",
           "op_matches"]

# Names the thread and the kernel use for the same operation: one row per operation.
ALIASES: dict[str, tuple[str, ...]] = {
    "gup": ("GUP", "gup", "gup_fast", "get_user_pages", "get_user_pages_fast", "get_user_page", "pin_user_pages",
            "pin_user_pages_fast", "pin_user_page", "get_page_pin", "try_grab_page", "try_grab_folio",
            "gup_pin", "pin"),
    "pup": ("PUP", "pup", "put_user_page", "put_user_pages", "unpin_user_page", "unpin_user_pages",
            "put_page_pin", "unpin_folio", "unpin", "gup_put", "pup_put"),
    "page_pinned": ("page_pinned", "page_maybe_dma_pinned", "folio_maybe_dma_pinned", "page_dma_pinned",
                    "is_pinned", "pinned"),
    "writeback": ("test_set_page_writeback", "TestSetPageWriteback", "set_page_writeback",
                  "folio_start_writeback", "writeback", "start_writeback"),
    "end_writeback": ("end_page_writeback", "TestClearPageWriteback", "folio_end_writeback", "end_writeback"),
    "mkclean": ("page_mkclean", "folio_mkclean", "clear_page_dirty_for_io", "mkclean"),
}
_CANON = {a.lower(): k for k, names in ALIASES.items() for a in names}
_KEYWORDS = {"if", "while", "for", "return", "sizeof", "switch", "do"}
_QUOTE = re.compile(r"^(?:[ \t]*>)+[ \t]?")
_HEADER = re.compile(r"^\s*(?:CPU|P)\s*0\b")
_HEAD_NAME = re.compile(r"(?:CPU|P)\s*(\d+)")
_RULE = re.compile(r"^[\s|+=-]*$")
_FNAME = re.compile(r"([A-Za-z_]\w*)\s*\(")


class DiagramError(SourceError):
    """A diagram row that does not fit the protocol: `line` is the row's line in the pasted text."""

    code = "bad-diagram"
    kind = "diagram"


@dataclass
class Cell:
    cpu: int
    line: int  # 1-based line of the cell's first row in the pasted text
    column: int
    lines: list[str]
    indent: int

    @property
    def head(self) -> str:
        return self.lines[0]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@dataclass
class Imported:
    """A diagram read against a program: the schedule, and which rows produced which steps."""

    schedule: list[Transition]
    rows: list[dict] = field(default_factory=list)  # {"line", "cpu", "text", "kind", "steps"}
    trailing: list[Transition] = field(default_factory=list)  # steps run after the last row
    cpus: int = 0

    def to_dict(self) -> dict:
        return {"schedule": " ".join(t.token() for t in self.schedule), "rows": self.rows,
                "trailing": " ".join(t.token() for t in self.trailing), "cpus": self.cpus}


# ---- text matching ------------------------------------------------------------------------


def _norm(s: str) -> str:
    s = re.sub(r"\s+", "", s)
    while s.endswith(";"):
        s = s[:-1]
    return s


def _drop_assign(s: str) -> str:
    return re.sub(r"^[A-Za-z_]\w*(?:\.\w+)?=(?!=)", "", s)


def _fname(s: str) -> str | None:
    for m in _FNAME.finditer(s):
        if m.group(1) not in _KEYWORDS:
            return m.group(1)
    return None


def _canon(name: str) -> str:
    return _CANON.get(name.lower(), name.lower())


def _text_eq(cell: str, code_text: str) -> bool:
    a, b = _norm(cell), _norm(code_text)
    return bool(a) and (a == b or _drop_assign(a) == _drop_assign(b))


def _bare_call(cell: str) -> bool:
    return bool(re.fullmatch(r"\s*(?:[A-Za-z_]\w*\s*=\s*)?[A-Za-z_]\w*\s*\(.*\)\s*;?\s*", cell, re.S))


def _name_eq(cell: str, code_text: str) -> bool:
    a, b = _fname(cell), _fname(code_text)
    return bool(a and b) and _bare_call(cell) and _canon(a) == _canon(b)


def call_matches(cell: str, ins) -> bool:
    """Whether `cell` names the call (top-level statement) instruction `ins` belongs to."""
    call = ins.origin.call or ins.origin.text
    return _text_eq(cell, call) or _name_eq(cell, call)


def op_matches(cell: str, ins) -> bool:
    """Whether `cell` names instruction `ins` itself (its source text or its primitive)."""
    o = ins.origin
    if _text_eq(cell, o.text):
        return True
    f = _fname(cell)
    return bool(f) and _bare_call(cell) and (f == o.primitive or f == _fname(o.text))


def _decide(cell: Cell, label: str, ins, starts: bool, op_only: bool) -> str | None:
    """`call`, `op` or None: exact text beats a name match, a whole call beats its first operation."""
    forms = (label, cell.head) if label != cell.head else (label,)
    call = ins.origin.call or ins.origin.text
    if op_only:
        return "op" if any(op_matches(f, ins) for f in forms) else None
    if starts and any(_text_eq(f, call) for f in forms):
        return "call"
    if any(_text_eq(f, ins.origin.text) for f in forms):
        return "op"
    if starts and any(_name_eq(f, call) for f in forms):
        return "call"
    if any(op_matches(f, ins) for f in forms):
        return "op"
    return None


# ---- parsing the table ----------------------------------------------------------------------


def parse_diagram(text: str) -> tuple[int, list[Cell]]:
    """(number of CPUs, cells in row order) of the first diagram in `text`."""
    if len(text) > 200_000:
        raise DiagramError("the diagram is longer than 200,000 characters")
    raw = text.replace("\r", "").split("\n")
    lines = [_QUOTE.sub("", ln, count=1).expandtabs(8) for ln in raw]
    start = next((i for i, ln in enumerate(lines) if _HEADER.match(ln)), None)
    if start is None:
        raise DiagramError("no diagram found: expected a header row 'CPU0 | CPU1 | ...'", 1, 1, text)
    header = lines[start]
    names = [int(m.group(1)) for m in _HEAD_NAME.finditer(header)]
    if names != list(range(len(names))):
        raise DiagramError("the header must name CPU0, CPU1, ... in order", start + 1, 1, text)
    n = len(names)
    seps = [i for i, ch in enumerate(header) if ch == "|"]
    if len(seps) != n - 1:
        raise DiagramError(f"the header names {n} CPUs but has {len(seps)} '|' separators", start + 1, 1, text)
    cells: list[Cell] = []
    open_: dict[int, Cell] = {}
    prev_nonempty: set[int] = set()
    for idx in range(start + 1, len(lines)):
        ln = lines[idx]
        if n > 1 and "|" not in ln:
            break
        if n == 1 and not ln.strip():
            break
        if _RULE.match(ln) and "-" in ln:
            continue
        parts = _split(ln, n, seps, idx + 1, text)
        filled = [k for k, p in enumerate(parts) if p.strip()]
        if not filled:
            open_.clear()
            prev_nonempty = set()
            continue
        cont = [k for k in filled if k in open_ and k in prev_nonempty and _continues(open_[k], parts[k])]
        new = [k for k in filled if k not in cont]
        if cont and new:
            k, c = cont[0], new[0]
            raise DiagramError(f"CPU{c}'s '{parts[c].strip()}' is beside the continuation of CPU{k}'s "
                               f"'{open_[k].head}': which of CPU{k}'s operations come first is unclear; draw "
                               f"CPU{k}'s call one operation per row", idx + 1, _col(ln, parts, c), text)
        if len(new) > 1:
            raise DiagramError(f"this row has operations on {' and '.join(f'CPU{k}' for k in new)}: put each on a "
                               f"row of its own so their order is clear", idx + 1, _col(ln, parts, new[1]), text)
        for k in cont:
            open_[k].lines.append(parts[k].strip())
        for k in new:
            open_.clear()
            cell = Cell(k, idx + 1, _col(ln, parts, k), [parts[k].strip()], _indent(parts[k]))
            cells.append(cell)
            open_[k] = cell
        prev_nonempty = set(filled)
    return n, cells


def _split(ln: str, n: int, seps: list[int], lineno: int, text: str) -> list[str]:
    if ln.count("|") <= n - 1:
        parts = ln.split("|")
        return parts + [""] * (n - len(parts))
    # more '|' than columns (a `|` inside a cell): cut at the bars nearest the header's
    cuts, at = [], 0
    for s in seps:
        near = [i for i, ch in enumerate(ln) if ch == "|" and abs(i - s) <= 3 and i >= at]
        if not near:
            raise DiagramError("this row has more '|' than the header and they do not line up with its columns",
                               lineno, 1, text)
        best = min(near, key=lambda i: abs(i - s))
        cuts.append(best)
        at = best + 1
    bounds = [-1, *cuts, len(ln)]
    return [ln[bounds[k] + 1:bounds[k + 1]] for k in range(n)]


def _col(ln: str, parts: list[str], k: int) -> int:
    off = sum(len(p) + 1 for p in parts[:k])
    return off + _indent(parts[k]) + 1


def _indent(s: str) -> int:
    return len(s) - len(s.lstrip())


def _continues(cell: Cell, part: str) -> bool:
    so_far = cell.text
    if so_far.count("(") > so_far.count(")"):
        return True
    return _indent(part) > cell.indent


# ---- reading the cells against a program ---------------------------------------------------------


def import_diagram(text: str, machine: Machine, complete: bool = True) -> Imported:
    """The schedule a diagram draws for `machine`'s program (sc or tso).

    With `complete`, CPUs with work left after the last row run it to the end (CPU0
    first, then store buffers flush), so the final state can be checked.
    """
    n, cells = parse_diagram(text)
    if not cells:
        raise DiagramError("the diagram has a header but no rows (the table ends at the first line without '|')",
                           1, 1, text)
    prog = machine.program
    if n != len(prog.threads):
        raise DiagramError(f"the diagram has {n} CPU columns; {prog.name} has {len(prog.threads)} threads",
                           cells[0].line if cells else 1, 1, text)
    s = machine.initial()
    schedule: list[Transition] = []
    rows: list[dict] = []
    last_call: dict[int, int] = {}
    for cell in cells:
        try:
            s, steps, kind = _read_cell(machine, s, cell, last_call, text)
        except DiagramError:
            if cell.cpu in last_call:
                raise
            # calls before a CPU's first drawn row: run them just before that row, if the row
            # then matches (the thread draws only the racing part: `PUP()` after an earlier pin)
            skipped = _skip_to(machine, s, cell, text)
            if skipped is None:
                raise
            s, pre = skipped
            schedule += pre
            rows.append({"line": cell.line, "cpu": cell.cpu, "text": "(calls before this row)", "kind": "setup",
                         "steps": [t.token() for t in pre]})
            s, steps, kind = _read_cell(machine, s, cell, last_call, text)
        schedule += steps
        rows.append({"line": cell.line, "cpu": cell.cpu, "text": cell.text, "kind": kind,
                     "steps": [t.token() for t in steps]})
    trailing: list[Transition] = []
    if complete:
        s, trailing = _finish(machine, s)
    return Imported(schedule + trailing, rows, trailing, n)


def _fail(cell: Cell, text: str, reason: str) -> DiagramError:
    return DiagramError(reason, cell.line, cell.column, text)


def _read_cell(machine: Machine, s: State, cell: Cell, last_call: dict, text: str):
    cpu = cell.cpu
    c = s.cpus[cpu]
    code = machine.program.threads[cpu].code
    label = cell.text
    if re.match(r"^\(?\s*flush\b", label, re.I):
        t = Transition(cpu, None, ("flush",))
        if t not in machine.enabled(s):
            raise _fail(cell, text, f"CPU{cpu} has no buffered store to flush here")
        return machine.step(s, t), [t], "flush"
    if c.status is not RUNNING or c.pc >= len(code):
        what = "has finished" if c.status == "done" else f"stopped ({c.status})"
        raise _fail(cell, text, f"CPU{cpu} {what}; it has no call '{cell.head}' left to run")
    ins = code[c.pc]
    op_only = label.endswith("[op]")
    if op_only:
        label = label[: -len("[op]")].rstrip()
    starts = last_call.get(cpu) != ins.origin.call_id
    kind = _decide(cell, label, ins, starts, op_only)
    if kind is None:
        nxt = ins.origin.call if starts else f"{ins.origin.text} (inside {ins.origin.call})"
        raise _fail(cell, text, f"CPU{cpu}'s next {'call' if starts else 'operation'} is '{nxt}', "
                    f"not '{cell.head}'")
    as_call = kind == "call"
    why = machine.blocked_reason(s, cpu)
    if why:
        raise _fail(cell, text, f"CPU{cpu} cannot run '{cell.head}' here: {why}")
    cid = ins.origin.call_id
    steps = []
    while True:
        t = Transition(cpu, s.cpus[cpu].pc)
        s = machine.step(s, t)
        steps.append(t)
        c = s.cpus[cpu]
        if not as_call or c.status is not RUNNING or c.pc >= len(code) or code[c.pc].origin.call_id != cid:
            break
        why = machine.blocked_reason(s, cpu)
        if why:
            raise _fail(cell, text, f"CPU{cpu}'s call '{ins.origin.call}' cannot finish at this row: {why}; "
                        f"draw it one operation per row")
        if len(steps) > 10_000:
            raise _fail(cell, text, f"CPU{cpu}'s call '{ins.origin.call}' does not finish")
    if s.cpus[cpu].status == "loop-bound":
        raise _fail(cell, text, f"CPU{cpu}'s '{cell.head}' goes round its loop more than the bound allows")
    last_call[cpu] = cid
    return s, steps, "call" if as_call else "op"


def _skip_to(machine: Machine, s: State, cell: Cell, text: str, max_calls: int = 16):
    """(state, steps) after running whole calls of the cell's CPU until its next call matches the cell."""
    cpu = cell.cpu
    code = machine.program.threads[cpu].code
    steps: list[Transition] = []
    for _ in range(max_calls):
        c = s.cpus[cpu]
        if c.status is not RUNNING or c.pc >= len(code) or machine.blocked_reason(s, cpu):
            return None
        cid = code[c.pc].origin.call_id
        while True:
            t = Transition(cpu, s.cpus[cpu].pc)
            s = machine.step(s, t)
            steps.append(t)
            c = s.cpus[cpu]
            if c.status is not RUNNING or c.pc >= len(code) or code[c.pc].origin.call_id != cid:
                break
            if machine.blocked_reason(s, cpu) or len(steps) > 10_000:
                return None
        c = s.cpus[cpu]
        if c.status is RUNNING and c.pc < len(code):
            label = cell.text[:-4].rstrip() if cell.text.endswith("[op]") else cell.text
            if _decide(cell, label, code[c.pc], True, cell.text.endswith("[op]")) == "call":
                return s, steps
    return None


def _finish(machine: Machine, s: State) -> tuple[State, list[Transition]]:
    out: list[Transition] = []
    progress = True
    while progress and len(out) < 100_000:
        progress = False
        for t in machine.enabled(s):
            if t.op is not None:
                s = machine.step(s, t)
                out.append(t)
                progress = True
                break
        else:
            flushes = [t for t in machine.enabled(s) if t.op is None]
            if flushes:
                s = machine.step(s, flushes[0])
                out.append(flushes[0])
                progress = True
    return s, out
