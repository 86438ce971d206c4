"""A state as people read it: page fields, pins × bias, flags by name, registers, buffers.

Every face (CLI replay, REST, websocket, browser) shows this same dictionary, so the
browser never computes page semantics itself.
"""

from __future__ import annotations

from .machine import Machine
from .state import State, Transition

__all__ = ["describe", "page_view", "step_values", "flags_text", "refcount_text", "unwritten_registers",
           "DEFAULT_BIAS"]

DEFAULT_BIAS = 1024  # PAGE_PIN_BIAS in the thread, GUP_PIN_COUNTING_BIAS upstream


def _bias(machine: Machine) -> int:
    d = machine.program.meta.get("defines", {})
    for name in ("PAGE_PIN_BIAS", "GUP_PIN_COUNTING_BIAS"):
        if isinstance(d.get(name), int) and d[name] > 0:
            return d[name]
    return DEFAULT_BIAS


def _flag_names(machine: Machine) -> dict[int, str]:
    d = machine.program.meta.get("defines", {})
    return {v: k for k, v in sorted(d.items()) if k.startswith("PG_") and isinstance(v, int) and 0 <= v < 64}


def page_view(machine: Machine, mem: dict, name: str) -> dict:
    """One struct page: `_refcount` split as pins × bias + references, flags by name."""
    bias = _bias(machine)
    ref = mem.get(f"{name}._refcount", 0)
    mapc = mem.get(f"{name}._mapcount", -1)
    flags = mem.get(f"{name}.flags", 0)
    names = _flag_names(machine)
    pins, refs = (divmod(ref, bias) if isinstance(ref, int) and ref >= 0 else (0, ref))
    flag_list = []
    if isinstance(flags, int):
        for bit, fname in sorted(names.items()):
            flag_list.append({"name": fname, "bit": bit, "set": bool(flags >> bit & 1)})
    return {
        "name": name,
        "refcount": ref,
        "bias": bias,
        "pins": pins,
        "references": refs,
        "split": refcount_text(pins, bias, refs),
        # with references >= bias the bias check reports a pin that does not exist
        "false_positive_zone": isinstance(refs, int) and refs >= bias,
        "mapcount_raw": mapc,
        "mapcount": mapc + 1 if isinstance(mapc, int) else mapc,
        "flags_word": flags,
        "flags": flag_list,
        "pincount": mem.get(f"{name}._pincount", 0),
    }


def refcount_text(pins, bias, refs) -> str:
    """`_refcount` in words, the one spelling every face uses: "0 pins × 1024 + 2 refs"."""
    return f"{pins} {'pin' if pins == 1 else 'pins'} × {bias} + {refs} {'ref' if refs == 1 else 'refs'}"


def unwritten_registers(machine: Machine, state: State, cpu: int) -> list[str]:
    """The user registers of `cpu` that nothing has written yet in `state` (shown as "—", not 0).

    A register is written once the CPU has gone past the first instruction that assigns it
    (its pc is beyond it, it is done, or a loop went back over it), when the scenario gives it
    an initial value, or (lkmm) when the step that assigns it ran ahead of program order.
    """
    th = machine.program.threads[cpu]
    c = state.cpus[cpu]
    if c.status != "running" and c.status != "loop-bound":
        return []
    first: dict[str, int] = {}
    for pc, ins in enumerate(th.code):
        d = getattr(ins, "dst", None)
        if d in th.registers and d not in first:
            first[d] = pc
    init = {r for (t, r) in machine.program.init_regs if t == cpu}
    tc = machine.threads[cpu]
    back = getattr(tc, "back_edges", {}) or {}
    went_back = [pc for pc, k in back.items() if k < len(c.back) and c.back[k] > 0]
    ran = {k[1] for k in getattr(state, "ran", ()) if k[0] == cpu}  # lkmm: steps run, maybe ahead
    out = []
    for r in th.registers:
        fw = first.get(r)
        if r in init:
            continue
        if fw is not None and (c.pc > fw or any(b > fw for b in went_back)
                               or any(getattr(th.code[op], "dst", None) == r for op in ran)):
            continue
        out.append(r)
    return out


def flags_text(page: dict) -> str:
    """`0x3 [PG_locked|PG_writeback]`: the flags word and the names of its set bits."""
    names = [f["name"] for f in page["flags"] if f["set"]]
    word = page["flags_word"]
    known = sum(1 << f["bit"] for f in page["flags"] if f["set"])
    if isinstance(word, int) and word & ~known:
        names.append(f"0x{word & ~known:x}")
    return f"{word:#x} [{'|'.join(names)}]" if isinstance(word, int) else str(word)


def step_values(machine: Machine, state: State, t: Transition) -> dict:
    """What the step `t` that led to `state` returned: the operation's value, and calls it finished.

    `value` is what a load read or an RMW returned (None for stores and fences);
    `returns` lists each inlined function call that completed in this step, innermost
    first, with the value it returned, e.g. `{"call": "page_pinned(page)", "value": 0}`.
    """
    out: dict = {"value": None, "returns": []}
    if t.op is None:
        return out
    ins = machine.program.threads[t.cpu].code[t.op]
    tc = machine.threads[t.cpu]
    c = state.cpus[t.cpu]
    dst = getattr(ins, "dst", None)
    if dst is not None and dst in tc.slots:
        out["value"] = c.regs[tc.slots[dst]]
    running = c.status == "running"
    if running and getattr(machine, "reorders", False) and c.pc <= t.op:
        return out  # lkmm: the step ran ahead of program order, so no call around it has finished
    calls = machine.program.meta.get("returns", {}).get(t.cpu, [])
    for start, end, text, reg in sorted(calls, key=lambda x: x[1] - x[0]):
        if start <= t.op < end and not (running and start <= c.pc < end) and reg in tc.slots:
            out["returns"].append({"call": text, "value": c.regs[tc.slots[reg]]})
    return out


def describe(machine: Machine, state: State, last: Transition | None = None) -> dict:
    """Everything a viewer shows about `state`."""
    from ..formats.diagram import step_label

    mem = machine.memory(state)
    cpus = []
    for i, c in enumerate(state.cpus):
        code = machine.program.threads[i].code
        nxt = code[c.pc].origin.text if c.pc < len(code) else None
        cpus.append({
            "cpu": i,
            "pc": c.pc,
            "status": c.status,
            "next": nxt,
            "next_line": code[c.pc].origin.line if c.pc < len(code) else None,
            "blocked": machine.blocked_reason(state, i),
            "registers": machine.registers(state, i),
            "unwritten": unwritten_registers(machine, state, i),
            "rcu_depth": c.rcu,
        })
    structs = machine.program.meta.get("structs", [])
    plain_mem = {k: v for k, v in mem.items() if "." not in k or k.split(".")[0] not in structs}
    out = {
        "model": machine.name,
        "status": machine.status(state),
        "cpus": cpus,
        "memory": plain_mem,
        "pages": [page_view(machine, mem, s) for s in structs],
        "enabled": [t.token() for t in machine.enabled(state)],
    }
    if hasattr(machine, "buffers"):
        out["buffers"] = [[{"location": loc, "value": v} for loc, v in b] for b in machine.buffers(state)]
    if last is not None:
        out["last"] = {"step": last.token(), "label": step_label(machine, last), **step_values(machine, state, last)}
    extra = getattr(machine, "extra_view", None)
    if extra is not None:  # lkmm: what each CPU can still read; `last.reason`: the rule that allowed the step
        more = extra(state, last)
        out["lkmm"] = more["lkmm"]
        if last is not None:
            out["last"]["reason"] = more["reason"]
    return out
