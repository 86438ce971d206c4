"""What the web face adds to engine.view.describe(): labelled moves, explanations, the verdict."""

from __future__ import annotations

import re

from ..engine.condition import holds
from ..engine.state import DONE, LOOP_BOUND, State, Transition
from ..explore.search import observe
from ..formats.diagram import step_label
from .scenario import condition_text

__all__ = ["verdict", "explain", "moves", "timeline_entry", "scenario_words"]

# metadata lines in a scenario's leading comment, as protocols/*.litmus write them
_DESCRIPTION = re.compile(r"^\s*\*?\s*(?:Description|Summary):\s*(.+)$", re.M)
_BAD_OUTCOME = re.compile(r"^\s*\*?\s*Bad outcome:\s*(.+)$", re.M)


def scenario_words(text: str, program) -> dict:
    """The words the browser shows for a scenario: its one-line `description` and what its bad
    outcome means (`bad_outcome`), from the `Description:` and `Bad outcome:` lines of its
    comment; without the latter, a sentence made from the condition (so the browser never
    composes verdict text itself)."""
    d = _DESCRIPTION.search(text)
    b = _BAD_OUTCOME.search(text)
    cond = condition_text(program)
    if b:
        bad = b.group(1).strip()
    elif program.condition is not None and program.condition.quantifier == "forall":
        bad = f"the bad outcome is reached: {cond} does not hold in this final state"
    else:
        bad = f"the bad outcome is reached: {cond} holds in this final state"
    return {"description": d.group(1).strip() if d else "", "bad_outcome": bad}


def verdict(machine, state: State) -> dict:
    """Is `state` final, and is it the bad outcome?  (engine.condition.holds over observe().)"""
    prog = machine.program
    status = machine.status(state)
    values = observe(machine, state)
    final = status == DONE
    sat = bad = None
    filtered = False
    if final:
        filtered = prog.filter is not None and not holds(prog.filter, values)
        if prog.condition is not None:
            sat = holds(prog.condition.prop, values)
            bad = (not sat) if prog.condition.quantifier == "forall" else sat
            if filtered:
                bad = False
    return {"final": final, "status": status, "values": values, "satisfies": sat, "bad": bad,
            "filtered": filtered, "condition": condition_text(prog), "summary": _summary(status, sat, bad, filtered)}


def _summary(status: str, sat: bool | None, bad: bool | None, filtered: bool) -> str:
    """One line on where the run stands, for the browser's status line (the bad outcome's own
    words come from scenario_words)."""
    if status == "deadlock":
        return "deadlock: every CPU that has not finished is blocked (a verdict of its own)"
    if status == LOOP_BOUND:
        return "a retry loop ran past its bound: this run is cut off, not an outcome"
    if status != DONE:
        return "not final yet: the condition is judged when every CPU is done"
    if filtered:
        return "final state, excluded by the scenario's filter: not an outcome"
    if sat is None:
        return "final state (the scenario states no condition)"
    return ("final state: the bad outcome is reached" if bad else
            "final state: the bad outcome is not reached (condition " + ("holds" if sat else "does not hold") + ")")


def moves(machine, state: State) -> list[dict]:
    """The enabled transitions with their labels, in the engine's order (lkmm adds `choice`: the
    read's source or the store's place in coherence order, in words; and `reason`: the rule
    that allows it, as view.last.reason will say once taken)."""
    out = [{"token": t.token(), "cpu": t.cpu, "op": t.op, "label": step_label(machine, t)}
           for t in machine.enabled(state)]
    words = getattr(machine, "choice_text", None)
    if words is not None:
        for d, t in zip(out, machine.enabled(state), strict=True):
            d["choice"] = words(state, t)
            why = machine.transition_reason(state, t)
            d["reason"] = {"rule": why["rule"], "text": why["text"]}  # before the user picks it
    return out


def timeline_entry(machine, index: int, t: Transition, after: State | None = None) -> dict:
    """One step of the run.  Under a model that reorders (lkmm), given the state `after` the
    step, it carries `reason` {rule, rules, text}: the engine's words for a step that ran ahead
    of program order, read an older value or went earlier in coherence, so the timeline can
    mark it; a step in program order carries none."""
    out = {"index": index, "token": t.token(), "cpu": t.cpu, "op": t.op, "label": step_label(machine, t)}
    extra = getattr(machine, "extra_view", None)
    if after is not None and extra is not None and getattr(machine, "reorders", False) and t.op is not None:
        r = extra(after, t).get("reason") or {}
        if r.get("rule") and r["rule"] != "program-order":
            out["reason"] = {"rule": r["rule"], "rules": r.get("rules", [r["rule"]]), "text": r.get("text", "")}
    return out


def _page_line(p: dict) -> str:
    return f"{p['refcount']} = {p['pins']} pin(s) × {p['bias']} + {p['references']}"


def explain(machine, t: Transition, before: dict, after: dict, s1: State | None = None) -> str:
    """One sentence on what a step did, from the describe() views before and after it (and the
    state after it, `s1`, for values returned into temporaries)."""
    label = step_label(machine, t)
    what: list[str] = []
    c0, c1 = before["cpus"][t.cpu], after["cpus"][t.cpu]
    ins = machine.program.threads[t.cpu].code[t.op] if t.op is not None else None
    dst = getattr(ins, "dst", None)
    for r, v in c1["registers"].items():
        if c0["registers"].get(r) != v:
            what.append(f"{r} = {v}")
    if dst is not None and dst not in c1["registers"] and s1 is not None:
        # a helper's or a compiler temporary: say what the operation returned
        got = machine.registers(s1, t.cpu, hidden=True).get(dst)
        if got is not None:
            what.insert(0, f"returned {got}")
    for k, v in after["memory"].items():
        if before["memory"].get(k) != v:
            what.append(f"{k}: {before['memory'].get(k)} → {v}")
    for p0, p1 in zip(before["pages"], after["pages"], strict=False):
        name = p1["name"]
        if p0["refcount"] != p1["refcount"]:
            what.append(f"{name}._refcount: {_page_line(p0)} → {_page_line(p1)}"
                        + (" (false-positive zone)" if p1["false_positive_zone"] else ""))
        if p0["mapcount_raw"] != p1["mapcount_raw"]:
            what.append(f"{name}._mapcount: {p0['mapcount_raw']} → {p1['mapcount_raw']}")
        if p0["flags_word"] != p1["flags_word"]:
            f0 = {f["name"]: f["set"] for f in p0["flags"]}
            changed = [f"{'set' if f['set'] else 'cleared'} {f['name']}" for f in p1["flags"]
                       if f0.get(f["name"]) != f["set"]]
            what.append(f"{name}.flags: " + (", ".join(changed) or f"{p0['flags_word']} → {p1['flags_word']}"))
        if p0["pincount"] != p1["pincount"]:
            what.append(f"{name}._pincount: {p0['pincount']} → {p1['pincount']}")
    b0, b1 = before.get("buffers"), after.get("buffers")
    if b0 is not None and b1 is not None:
        for i, (x, y) in enumerate(zip(b0, b1, strict=False)):
            if len(y) > len(x):
                e = y[-1]
                what.append(f"{e['location']}={e['value']} waits in CPU{i}'s store buffer")
            elif len(y) < len(x):
                e = x[0]
                what.append(f"CPU{i}'s store buffer writes {e['location']}={e['value']} to memory")
    if c1["status"] != c0["status"] and c1["status"] != "running":
        what.append(f"CPU{t.cpu} is {c1['status']}")
    for c in after["cpus"]:
        if c["blocked"] and not before["cpus"][c["cpu"]]["blocked"]:
            what.append(f"CPU{c['cpu']} now waits: {c['blocked']}")
    why = (after.get("last") or {}).get("reason")
    if why and why.get("text"):
        what.append(why["text"])  # lkmm: the rule that allowed this step (engine words, structured in view.last)
    who = f"CPU{t.cpu}" + ("" if t.op is None else f" (line {c0['next_line']})" if c0.get("next_line") else "")
    return f"{who}: {label}" + (": " + "; ".join(what) if what else ": no visible change")
