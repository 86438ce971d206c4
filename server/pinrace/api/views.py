"""What the web face adds to engine.view.describe(): labelled moves, explanations, the verdict."""

from __future__ import annotations

from ..engine.condition import holds
from ..engine.state import DONE, State, Transition
from ..explore.search import observe
from ..formats.diagram import step_label
from .scenario import condition_text

__all__ = ["verdict", "explain", "moves", "timeline_entry"]


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
            "filtered": filtered, "condition": condition_text(prog)}


def moves(machine, state: State) -> list[dict]:
    """The enabled transitions with their labels, in the engine's order."""
    return [{"token": t.token(), "cpu": t.cpu, "op": t.op, "label": step_label(machine, t)}
            for t in machine.enabled(state)]


def timeline_entry(machine, index: int, t: Transition) -> dict:
    return {"index": index, "token": t.token(), "cpu": t.cpu, "op": t.op, "label": step_label(machine, t)}


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
    who = f"CPU{t.cpu}" + ("" if t.op is None else f" (line {c0['next_line']})" if c0.get("next_line") else "")
    return f"{who}: {label}" + (": " + "; ".join(what) if what else ": no visible change")
