"""The schedule format: the list of transitions taken, versioned, in text and JSON.

Text: space-separated tokens `CPU:OP[:CHOICE...]`, e.g. `0:0 1:0 0:flush 1:1`; a bare
CPU number (`0 1 1 0`) means "that CPU's next operation" and is resolved against the
engine while replaying.  Choices are the model's decisions: `flush` (tso), and under
lkmm `rf=W` (a read takes store W: `init`, or `1.2` for CPU1's op 2, `1.2.1` for its second
instance) and `co=W` (a store goes right after W in coherence order), e.g. `1:3:rf=0.2`;
a token without a choice takes the model's default, so version-1 schedules stay valid.
JSON: {"format": "pinrace-schedule", "version": 1,
"steps": [{"cpu": 0, "op": 3}, {"cpu": 1, "choice": ["flush"]}, ...]}.
"""

from __future__ import annotations

from ..engine.state import Transition
from ..errors import ScheduleError

__all__ = ["parse_schedule", "format_schedule", "schedule_to_json", "schedule_from_json", "VERSION"]

VERSION = 1


_DIGITS = 20  # no CPU, operation or choice number needs more; int() refuses over 4,300 digits


def _choice_item(s: str):
    return int(s) if s.lstrip("-").isdigit() and len(s) <= _DIGITS else s


def parse_token(tok: str, index: int) -> Transition | int:
    """A transition, or a bare CPU number to resolve against the engine."""
    parts = tok.strip().split(":")
    short = tok if len(tok) <= 40 else tok[:40] + "…"
    if any(len(p) > _DIGITS and p.lstrip("-").isdigit() for p in parts[:2]):
        raise ScheduleError(f"'{short}' is not a step: a number of {max(map(len, parts[:2])):,} digits", index)
    try:
        cpu = int(parts[0].lstrip("Pp").lstrip("CPU").lstrip("cpu") or parts[0])
    except ValueError:
        raise ScheduleError(f"'{short}' is not a step (expected CPU:OP, CPU:flush or a CPU number)", index) from None
    if cpu < 0:
        raise ScheduleError(f"'{short}': CPU numbers start at 0", index)
    if len(parts) == 1:
        return cpu
    if parts[1].isdigit():
        return Transition(cpu, int(parts[1]), tuple(_choice_item(p) for p in parts[2:]))
    return Transition(cpu, None, tuple(_choice_item(p) for p in parts[1:]))


def parse_schedule(text: str) -> list[Transition | int]:
    toks = text.replace(",", " ").split()
    return [parse_token(t, i) for i, t in enumerate(toks)]


def format_schedule(steps: list[Transition]) -> str:
    return " ".join(t.token() for t in steps)


def schedule_to_json(steps: list[Transition]) -> dict:
    out = []
    for t in steps:
        d: dict = {"cpu": t.cpu}
        if t.op is not None:
            d["op"] = t.op
        if t.choice:
            d["choice"] = list(t.choice)
        out.append(d)
    return {"format": "pinrace-schedule", "version": VERSION, "steps": out}


def schedule_from_json(data) -> list[Transition | int]:
    """Accepts the versioned object, a bare list of steps, or a text schedule."""
    if isinstance(data, str):
        return parse_schedule(data)
    if isinstance(data, dict):
        v = data.get("version", VERSION)
        if not isinstance(v, int) or v > VERSION or v < 1:
            raise ScheduleError(f"schedule format version {v!r} is not supported (this pinrace reads 1..{VERSION})")
        data = data.get("steps", [])
    if not isinstance(data, list):
        raise ScheduleError("a schedule is a list of steps")
    out: list[Transition | int] = []
    for i, s in enumerate(data):
        if isinstance(s, int):
            out.append(s)
        elif isinstance(s, str):
            out.append(parse_token(s, i))
        elif isinstance(s, dict) and isinstance(s.get("cpu"), int):
            op = s.get("op")
            if op is not None and not isinstance(op, int):
                raise ScheduleError("'op' must be an integer", i)
            choice = s.get("choice", [])
            if not isinstance(choice, list):
                raise ScheduleError("'choice' must be a list", i)
            out.append(Transition(s["cpu"], op, tuple(choice)))
        else:
            raise ScheduleError(f"step {s!r} is not {{'cpu': N, 'op': M}}", i)
    return out
