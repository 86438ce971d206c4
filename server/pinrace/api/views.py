"""What the web face adds to engine.view.describe(): labelled moves, explanations, the verdict."""

from __future__ import annotations

import re
import weakref

from ..engine.condition import holds
from ..engine.ir import Branch, Fence, IsLocked, Jump, Load, Local, Lock, Rmw, Store, TryLock, Unlock
from ..engine.state import DONE, LOOP_BOUND, State, Transition
from ..engine.view import page_view, step_values, unwritten_registers
from ..explore.search import observe
from ..formats.diagram import step_label
from ..lang.ast import PAnd, PAtom, PConst, PNot, POr
from .scenario import condition_text

__all__ = ["verdict", "explain", "moves", "timeline_entry", "scenario_words", "condition_words", "op_role",
           "page_track", "changed_keys"]

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
    return {"description": d.group(1).strip() if d else "",
            "bad_outcome": b.group(1).strip() if b else condition_words(program)}


def _register_calls(program) -> dict:
    """{"0:r0": "page_pinned(page)"}: the call whose result a register is assigned."""
    out = {}
    for th in program.threads:
        for ins in th.code:
            d = getattr(ins, "dst", None)
            if d in th.registers and ins.origin.call:
                m = re.match(rf"^\s*{re.escape(d)}\s*=\s*(\w+\(.*\))\s*$", ins.origin.call)
                if m:
                    out.setdefault(f"{th.index}:{d}", m.group(1))
    return out


def _prop_words(p, calls: dict) -> str:
    t = type(p)
    if t is PAtom:
        if p.loc.thread is not None:
            call = calls.get(p.loc.key())
            who = f"CPU{p.loc.thread}'s {p.loc.name}" + (f" (what {call} returned)" if call else "")
        else:
            who = p.loc.name
        return f"{who} is {'not ' if p.negated else ''}{p.value}"
    if t is PAnd:
        parts = [_prop_words(a, calls) for a in p.args]
        return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    if t is POr:
        return "either " + " or ".join(_prop_words(a, calls) for a in p.args)
    if t is PNot:
        return f"it is not the case that {_prop_words(p.arg, calls)}"
    if t is PConst:
        return "true" if p.value else "false"
    return str(p)


def condition_words(program) -> str:
    """What reaching the bad outcome means, worded from the condition (for scenarios without a
    `Bad outcome:` line): "the run ends with CPU1's r3 is 1 (`exists (1:r3=1)` holds)"."""
    c = program.condition
    cond = condition_text(program)
    if c is None:
        return "no bad outcome: the scenario states no condition"
    words = _prop_words(c.prop, _register_calls(program))
    if c.quantifier == "forall":
        if isinstance(c.prop, PConst) and c.prop.value:
            return "no bad outcome: the condition forall (true) holds in every final state"
        return f"a final state where it is not the case that {words} (`{cond}` fails)"
    if c.quantifier == "~exists":
        return f"a final state where {words}, which `{cond}` forbids"
    return f"a final state where {words} (`{cond}` holds)"


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
    unwritten = [f"{c}:{r}" for c in range(len(state.cpus)) for r in unwritten_registers(machine, state, c)]
    return {"final": final, "status": status, "values": values, "satisfies": sat, "bad": bad,
            "filtered": filtered, "condition": condition_text(prog), "summary": _summary(status, sat, bad, filtered),
            "unwritten": [k for k in values if k in unwritten]}


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


def timeline_entry(machine, index: int, t: Transition, after: State | None = None,
                   before: State | None = None) -> dict:
    """One step of the run.  Under a model that reorders (lkmm), given the state `after` the
    step, it carries `reason` {rule, rules, text}: the engine's words for a step that ran ahead
    of program order, read an older value or went earlier in coherence, so the timeline can
    mark it; a step in program order carries none.  Given `before` too, it carries `track`:
    the page after the step (page_track)."""
    out = {"index": index, "token": t.token(), "cpu": t.cpu, "op": t.op, "label": step_label(machine, t)}
    if before is not None and after is not None:
        out["track"] = page_track(machine, t, before, after)
    extra = getattr(machine, "extra_view", None)
    if after is not None and extra is not None and getattr(machine, "reorders", False) and t.op is not None:
        r = extra(after, t).get("reason") or {}
        if r.get("rule") and r["rule"] != "program-order":
            out["reason"] = {"rule": r["rule"], "rules": r.get("rules", [r["rule"]]), "text": r.get("text", "")}
    return out


def _page_line(p: dict) -> str:
    return f"{p['refcount']} = {p['split']}"


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


# ---- the page track down the timeline -------------------------------------------------------

_TRACK_FLAGS = ("PG_locked", "PG_writeback")  # always shown; any other flag only while set
_track_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _pages_after(machine, state) -> list[dict]:
    mem = machine.memory(state)
    return [page_view(machine, mem, s) for s in machine.program.meta.get("structs", [])]


def page_track(machine, t: Transition, before: State, after: State) -> dict:
    """The page after step `t` (from `before` to `after`), compactly, for one timeline row:
    each page's `_refcount` (pins × bias + refs), PG_locked, PG_writeback and any other flag
    set, with `changed` naming what differs from the state before the step; the values the
    calls that finished in this step returned (page_pinned(), PageWriteback(), ...); plain
    memory that changed.  Cached per (step, states): rows are redrawn on every message."""
    cache = _track_cache.setdefault(machine, {})
    key = (t, before, after)
    hit = cache.get(key)
    if hit is not None:
        return hit
    p0 = {p["name"]: p for p in _pages_after(machine, before)}
    pages = []
    for p in _pages_after(machine, after):
        q = p0.get(p["name"], p)
        was = {f["name"]: f["set"] for f in q["flags"]}
        changed = [k for k in ("refcount", "mapcount_raw", "pincount") if q[k] != p[k]]
        flags = []
        for f in p["flags"]:
            if f["name"] in _TRACK_FLAGS or f["set"] or was.get(f["name"]):
                ch = was.get(f["name"]) != f["set"]
                flags.append({"name": f["name"], "set": f["set"], "changed": ch})
                if ch:
                    changed.append(f["name"])
        pages.append({"name": p["name"], "refcount": p["refcount"], "split": p["split"],
                      "false_positive_zone": p["false_positive_zone"], "mapcount": p["mapcount"],
                      "pincount": p["pincount"], "flags": flags, "changed": changed})
    vals = step_values(machine, after, t) if t.op is not None else {"value": None, "returns": []}
    structs = machine.program.meta.get("structs", [])
    m0, m1 = machine.memory(before), machine.memory(after)
    memory = [{"location": k, "before": m0.get(k), "value": v} for k, v in m1.items()
              if m0.get(k) != v and ("." not in k or k.split(".")[0] not in structs)]
    out = {"pages": pages, "returns": vals["returns"], "value": vals["value"], "memory": memory}
    if len(cache) > 20_000:
        cache.clear()
    cache[key] = out
    return out


# ---- what each operation of the code is for -----------------------------------------------

_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


def _loc(ins) -> str | None:
    a = getattr(ins, "addr", None)
    v = getattr(a, "value", None)
    return v if isinstance(v, str) else None


def op_role(ins, registers) -> str:
    """A short role for an operation, so operations with the same source text are told apart:
    "read of page._refcount", "the compare", "the return"."""
    loc = _loc(ins)
    at = f" {loc}" if loc else ""
    T = type(ins)
    if T is Load:
        if ins.await_ is not None:
            return f"wait on{at}"
        return ("acquire read of" if ins.tag == "ACQUIRE" else "read of") + at
    if T is Store:
        return ("release write of" if ins.tag == "RELEASE" else "write of") + at
    if T is Rmw:
        if ins.await_ is not None:
            return f"wait, then atomic update of{at}"
        return ("atomic update of" if ins.kind == "op" else "atomic read-modify-write of") + at
    if T is Fence:
        return "barrier"
    if T is Lock:
        return f"lock of{at}"
    if T is Unlock:
        return f"unlock of{at}"
    if T is TryLock:
        return f"trylock of{at}"
    if T is IsLocked:
        return f"lock test of{at}"
    if T is Branch:
        return "loop test" if ins.back else "the test"
    if T is Jump:
        if ins.back:
            return "loop back"
        return "the return" if ins.origin.text.lstrip().startswith("return") else "jump"
    if T is Local:
        if ins.dst in registers:
            return f"sets {ins.dst}"
        if ins.origin.text.lstrip().startswith("return"):
            e = ins.expr
            if getattr(e, "op", None) in _COMPARE:
                return "the compare"
            return "the return value"
        if re.match(r"^\s*\w+\(.*\)\s*$", ins.origin.text):
            return "the call"
        return "computes"
    return T.__name__.lower()


def changed_keys(before: dict, after: dict) -> list[str]:
    """What differs between two describe() views, as condition-style keys: "page._refcount",
    "page._mapcount", "page._pincount", "page.PG_writeback" (a flag), "0:r0" (a register), "x"
    (plain memory), "buffer:0" (CPU0's store buffer).  The state message sends it for the step
    that led to the current position, so "changed" always means "since the previous step"."""
    out: list[str] = []
    b_pages = {p["name"]: p for p in before.get("pages", [])}
    for p in after.get("pages", []):
        q = b_pages.get(p["name"])
        if q is None:
            continue
        for field, key in (("refcount", "_refcount"), ("mapcount_raw", "_mapcount"), ("pincount", "_pincount")):
            if q[field] != p[field]:
                out.append(f"{p['name']}.{key}")
        was = {f["name"]: f["set"] for f in q["flags"]}
        out += [f"{p['name']}.{f['name']}" for f in p["flags"] if was.get(f["name"]) != f["set"]]
    for c0, c1 in zip(before.get("cpus", []), after.get("cpus", []), strict=False):
        for r, v in c1["registers"].items():
            if c0["registers"].get(r) != v or (r in c0.get("unwritten", ()) and r not in c1.get("unwritten", ())):
                out.append(f"{c1['cpu']}:{r}")
    out += [k for k, v in after.get("memory", {}).items() if before.get("memory", {}).get(k) != v]
    for i, (x, y) in enumerate(zip(before.get("buffers") or [], after.get("buffers") or [], strict=False)):
        if x != y:
            out.append(f"buffer:{i}")
    return out
