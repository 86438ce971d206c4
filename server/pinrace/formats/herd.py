"""herd7's summary lines for a result, so scripts written for herd7 can read pinrace's."""

from __future__ import annotations

from ..engine.condition import render_prop
from ..engine.ir import Program
from ..explore.outcome import Result

__all__ = ["herd_text", "herd_json", "JSON_SCHEMA_VERSION"]

JSON_SCHEMA_VERSION = 1


_KIND = {"exists": "Allowed", "~exists": "Forbidden", "forall": "Required"}


def _condition(program: Program) -> str:
    c = program.condition
    return f"{c.quantifier} ({render_prop(c.prop)})"


def herd_text(program: Program, result: Result) -> str:
    """The lines herd7 prints: Test, States, each state, Ok/No, Witnesses, Observation."""
    kind = _KIND[result.quantifier]
    lines = [f"Test {program.name} {kind}", f"States {len(result.finals)}"]
    lines += [f.herd_line(program.observed) for f in result.finals]
    # herd7 says "Loop" when its unrolling of loops cut executions short (pinrace: the loop bound)
    lines.append(("Loop " if result.loop_cut else "") + ("Ok" if result.ok else "No"))
    lines.append("Witnesses")
    # herd7 counts the executions that validate the test as Positive: for ~exists those where
    # the proposition fails (the Observation line keeps the proposition's own counts)
    pos, neg = result.positive, result.negative
    if result.quantifier == "~exists":
        pos, neg = neg, pos
    lines.append(f"Positive: {pos} Negative: {neg}")
    for flag in result.flags:
        if flag != "loop-bound":
            lines.append(f"Flag {flag}")
    lines.append(f"Condition {_condition(program)}")
    lines.append(f"Observation {program.name} {result.observation} {result.positive} {result.negative}")
    if result.incomplete:
        lines.append(f"Incomplete {result.incomplete}")
    return "\n".join(lines) + "\n"


def herd_json(program: Program, result: Result) -> dict:
    """The same result as JSON (schema version JSON_SCHEMA_VERSION), with schedules."""
    return {
        "schema": JSON_SCHEMA_VERSION,
        "test": program.name,
        "model": result.model,
        "kind": _KIND[result.quantifier],
        "condition": _condition(program),
        "ok": result.ok,
        "observation": result.observation,
        "positive": result.positive,
        "negative": result.negative,
        "states": [
            {"values": f.values, "satisfies": f.satisfies, "executions": f.executions,
             "schedule": [t.token() for t in f.schedule]}
            for f in result.finals
        ],
        "stuck": [{"status": f.status, "values": f.values, "schedule": [t.token() for t in f.schedule]}
                  for f in result.stuck],
        "flags": list(result.flags),
        "explored": result.states,
        "elapsed_s": round(result.elapsed, 4),
        "incomplete": result.incomplete,
    }
