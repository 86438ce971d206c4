"""Flatten a compiled scenario to plain herd7 LKMM litmus C (linux-kernel.def macros only).

Works from the Program, where helpers are already inlined and primitives mapped to
tagged core events, and writes each event back as the one macro of linux-kernel.def
that produces it:

* struct page fields become locations `page__refcount`, `page__mapcount`, `page_flags`;
  a location any RMW touches is an `atomic_t`, so it is read with atomic_read();
* the flags word stays one location: set_bit() is atomic_or() (unordered, like the
  kernel's), test_and_set_bit() is atomic_fetch_or() (fully ordered, value-returning),
  clear_bit_unlock() atomic_fetch_andnot_release(), lock_page() an acquire
  atomic_fetch_or_acquire(), each followed by the bit test in plain arithmetic;
* a blocking wait is a read plus a `filter` that keeps executions where it read a value
  that lets it go on (herd7 cannot block); `lock_page()` likewise;
* loops are unrolled up to the scenario's bound; executions that would go round again
  set the register `lb` and are discarded by the filter, as pinrace discards runs that
  hit the loop bound.  Each approximation is named in a comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..engine.condition import render_prop
from ..engine.ir import (
    ACQUIRE,
    MB,
    NORETURN,
    ONCE,
    PLAIN,
    RELEASE,
    Bin,
    Branch,
    Const,
    Fence,
    IsLocked,
    Ite,
    Jump,
    Load,
    Local,
    Lock,
    Program,
    Reg,
    Rmw,
    Store,
    SyncSrcu,
    TryLock,
    Un,
    Unlock,
)
from ..errors import Unsupported
from ..lang.ast import CLoc, PAnd, PAtom, PNot, POr, prop_locations

__all__ = ["export_litmus", "MAX_NODES"]

MAX_NODES = 20_000  # unrolled instructions per thread
_SUFFIX = {MB: "", ONCE: "_relaxed", ACQUIRE: "_acquire", RELEASE: "_release"}
_OPNAME = {"+": "add", "-": "sub", "|": "or", "&": "and", "^": "xor", "&~": "andnot"}
_FENCE = {"MB": "smp_mb", "rmb": "smp_rmb", "wmb": "smp_wmb", "barrier": "barrier", "rcu-lock": "rcu_read_lock",
          "rcu-unlock": "rcu_read_unlock", "sync-rcu": "synchronize_rcu", "before-atomic": "smp_mb__before_atomic",
          "after-atomic": "smp_mb__after_atomic", "after-spinlock": "smp_mb__after_spinlock",
          "after-unlock-lock": "smp_mb__after_unlock_lock",
          "after-srcu-read-unlock": "smp_mb__after_srcu_read_unlock"}
_EXIT = ("exit",)


@dataclass
class _Names:
    locs: dict[str, str]  # pinrace location -> herd7 name
    atomic: set[str]
    pointers: set[str]
    locks: set[str]


@dataclass
class _ThreadOut:
    lines: list[str] = field(default_factory=list)
    regs: dict[str, str] = field(default_factory=dict)  # pinrace register -> C name
    ptr_regs: set[str] = field(default_factory=set)
    used_locs: set[str] = field(default_factory=set)
    filters: list[str] = field(default_factory=list)  # register names that must end 0
    notes: list[str] = field(default_factory=list)
    waits: int = 0


def _ident(s: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", s)
    return s if s and not s[0].isdigit() else "_" + s


def _names(p: Program) -> _Names:
    locs: dict[str, str] = {}
    taken: set[str] = set()
    for loc in sorted(set(p.init_memory) | set(p.lock_locations)):
        base = _ident(loc.replace(".", "_"))
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        locs[loc] = name
    atomic = set()
    for th in p.threads:
        for ins in th.code:
            if isinstance(ins, Rmw) and isinstance(ins.addr, Const):
                atomic.add(ins.addr.value)
    pointers = {k for k, v in p.init_memory.items() if isinstance(v, str)}
    return _Names(locs, atomic, pointers, set(p.lock_locations))


def export_litmus(program: Program, name: str | None = None) -> str:
    """herd7 litmus C for `program`, with comments where it had to approximate."""
    nm = _names(program)
    outs = [_Thread(program, nm, th).run() for th in program.threads]
    title = name or program.name
    notes = ["Exported by pinrace from the compiled scenario: helpers are inlined and every",
             "primitive is written as the linux-kernel.def macro for its event."]
    if any(o.waits for o in outs):
        notes.append("Blocking waits are reads kept by the filter only when they see a value that lets them go on.")
    if any("lb" in o.filters for o in outs):
        notes.append(f"Loops are unrolled {program.loop_bound} times; executions that would go round again set"
                     " lb and are discarded by the filter.")
    for i, o in enumerate(outs):
        notes += [f"P{i}: {n}" for n in o.notes]
    lines = [f"C {title}", "", "(*"] + [f" * {n}" for n in notes] + [" *)", "", "{"]
    used = set().union(*(o.used_locs for o in outs)) | {loc.name for loc in program.observed if loc.thread is None}
    used |= {v for k, v in program.init_memory.items() if k in used and isinstance(v, str)}
    used |= {v for v in program.init_regs.values() if isinstance(v, str)}
    for loc, v in sorted(program.init_memory.items()):
        if loc in program.lock_locations or loc not in used:
            continue
        val = nm.locs.get(v, v) if isinstance(v, str) else v
        lines.append(f"\t{nm.locs[loc]}={val};")
    for (t, r), v in sorted(program.init_regs.items()):
        val = nm.locs.get(v, v) if isinstance(v, str) else v
        lines.append(f"\t{t}:{outs[t].regs.get(r, r)}={val};")
    lines += ["}", ""]
    for i, o in enumerate(outs):
        params = ", ".join(_param(loc, nm) for loc in sorted(o.used_locs)) or "void"
        lines.append(f"P{i}({params})")
        lines.append("{")
        decls = sorted(set(o.regs.values()), key=_natural)
        ptr = {o.regs[r] for r in o.ptr_regs if r in o.regs}
        for r in decls:
            lines.append(f"\tint {'*' if r in ptr else ''}{r};")
        if decls:
            lines.append("")
        lines += o.lines
        lines += ["}", ""]
    lines += _cond_lines(program, nm, outs)
    return "\n".join(lines) + "\n"


def _natural(s: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]


def _param(loc: str, nm: _Names) -> str:
    n = nm.locs[loc]
    if loc in nm.locks:
        return f"spinlock_t *{n}"
    if loc in nm.pointers:
        return f"int **{n}"
    return f"{'atomic_t' if loc in nm.atomic else 'int'} *{n}"


def _rename_prop(p, nm: _Names, regs: list[dict]):
    t = type(p)
    if t is PAtom:
        loc = p.loc
        if loc.thread is None:
            loc = CLoc(None, nm.locs.get(loc.name, loc.name))
        else:
            loc = CLoc(loc.thread, regs[loc.thread].get(loc.name, loc.name) if loc.thread < len(regs) else loc.name)
        v = nm.locs.get(p.value, p.value) if isinstance(p.value, str) else p.value
        return PAtom(loc, v, p.negated)
    if t is PNot:
        return PNot(_rename_prop(p.arg, nm, regs))
    if t in (PAnd, POr):
        return t(tuple(_rename_prop(a, nm, regs) for a in p.args))
    return p


def _cond_lines(program: Program, nm: _Names, outs: list[_ThreadOut]) -> list[str]:
    regs = [o.regs for o in outs]
    out = []
    in_cond = set()
    if program.condition is not None:
        in_cond = {loc.key() for loc in prop_locations(program.condition.prop)}
    extra = [loc for loc in program.observed if loc.key() not in in_cond]
    if extra:
        names = []
        for loc in extra:
            if loc.thread is None:
                names.append(nm.locs.get(loc.name, loc.name))
            else:
                names.append(f"{loc.thread}:{regs[loc.thread].get(loc.name, loc.name)}")
        out.append("locations [" + " ".join(f"{n};" for n in names) + "]")
    conj = []
    if program.filter is not None:
        conj.append(_rename_prop(program.filter, nm, regs))
    for i, o in enumerate(outs):
        conj += [PAtom(CLoc(i, r), 0) for r in o.filters]
    if conj:
        f = conj[0] if len(conj) == 1 else PAnd(tuple(conj))
        out.append(f"filter ({_herd_prop(f)})")
    if program.condition is not None:
        c = program.condition
        out.append(f"{c.quantifier} ({_herd_prop(_rename_prop(c.prop, nm, regs))})")
    else:
        out.append("exists (true)")
    return out


def _herd_prop(p) -> str:
    # render_prop writes memory as [x]; herd7 and pinrace both read the bare name too
    return re.sub(r"\[([A-Za-z_]\w*)\]", r"\1", render_prop(p))



class _Thread:
    def __init__(self, program: Program, nm: _Names, thread):
        self.p = program
        self.nm = nm
        self.th = thread
        self.code = thread.code
        self.o = _ThreadOut()
        self.back = {pc: k for k, pc in enumerate(pc for pc, ins in enumerate(self.code)
                                                   if isinstance(ins, (Branch, Jump)) and ins.back)}
        taken = set(nm.locs.values())
        for r in thread.registers:
            self.o.regs[r] = r
            taken.add(r)
        self.taken = taken
        for (t, r), v in program.init_regs.items():
            if t == thread.index:
                self.reg(r)
                if isinstance(v, str):
                    self.o.ptr_regs.add(r)

    # ---- names ---------------------------------------------------------------------------
    def reg(self, r: str) -> str:
        if r not in self.o.regs:
            base = _ident(r.lstrip("$").replace("$", "_").replace(".", "_"))
            name, k = base, 1
            while name in self.taken:
                k += 1
                name = f"{base}_{k}"
            self.taken.add(name)
            self.o.regs[r] = name
        return self.o.regs[r]

    def fresh(self, hint: str) -> str:
        k = 0
        while f"{hint}{k}" in self.taken:
            k += 1
        name = f"{hint}{k}"
        self.taken.add(name)
        self.o.regs["$" + name] = name
        return name

    def expr(self, e, sub: dict | None = None) -> str:
        t = type(e)
        if t is Const:
            v = e.value
            if isinstance(v, str):
                self.o.used_locs.add(v)
                return self.nm.locs[v]
            return str(v) if v >= 0 else f"({v})"
        if t is Reg:
            if sub and e.name in sub:
                return sub[e.name]
            return self.reg(e.name)
        if t in (Bin, Un):
            folded = _fold(e)
            if folded is not None:
                return str(folded) if folded >= 0 else f"({folded})"
        if t is Bin:
            return self.binop(e, sub)
        if t is Un:
            x = self.expr(e.arg, sub)
            if e.op == "!":
                return f"({x} == 0)"
            if e.op == "~":
                return f"(-1 - {x})"  # two's complement: ~x == -1 - x
            return f"(0 - {x})"
        if t is Ite:
            c = self.expr(e.cond, sub)
            return f"((({c} != 0) * {self.expr(e.then, sub)}) + (({c} == 0) * {self.expr(e.other, sub)}))"
        raise Unsupported(f"cannot export expression {e!r}")

    def binop(self, e: Bin, sub: dict | None) -> str:
        """herd7's C takes + - * / & | ^ and comparisons only: write the rest with those."""
        a, b, op = self.expr(e.left, sub), self.expr(e.right, sub), e.op
        k = _fold(e.right)
        if op == "&~":
            return f"({a} & {(~k) if k is not None else f'(-1 - {b})'})"
        if op in ("<<", ">>") and k is not None and 0 <= k < 31:
            # a shift by a constant: the flags word and bit numbers are never negative here
            return f"({a} * {1 << k})" if op == "<<" else f"({a} / {1 << k})"
        if op in ("<<", ">>"):
            raise Unsupported(f"cannot export a shift by a computed amount ({op})")
        if op == "%":
            return f"({a} - (({a} / {b}) * {b}))"
        if op == "&&":
            return f"((({a} != 0) * ({b} != 0)) != 0)"
        if op == "||":
            return f"((({a} != 0) + ({b} != 0)) != 0)"
        return f"({a} {op} {b})"

    def addr(self, ins) -> tuple[str, str | None]:
        """(C pointer expression, pinrace location when static)."""
        a = ins.addr
        if isinstance(a, Const) and isinstance(a.value, str):
            self.o.used_locs.add(a.value)
            return self.nm.locs[a.value], a.value
        return self.expr(a), None

    # ---- instructions ------------------------------------------------------------------------
    def emit(self, ins, ind: str) -> list[str]:
        T = type(ins)
        o = ins.origin
        if T is Local:
            if isinstance(ins.expr, Const) and isinstance(ins.expr.value, str):
                self.o.ptr_regs.add(ins.dst)
            return [f"{ind}{self.reg(ins.dst)} = {_strip(self.expr(ins.expr))};"]
        if T is Fence:
            return [f"{ind}{_FENCE[ins.tag]}();"]
        if T is Load:
            a, loc = self.addr(ins)
            atomic = loc in self.nm.atomic
            if ins.tag == ONCE:
                rhs = f"atomic_read({a})" if atomic else f"READ_ONCE(*{a})"
            elif ins.tag == ACQUIRE:
                rhs = f"atomic_read_acquire({a})" if atomic else f"smp_load_acquire({a})"
            elif ins.tag == PLAIN:
                rhs = f"*{a}"
            elif ins.tag == "srcu-lock":
                rhs = f"srcu_read_lock({a})"
            else:
                raise Unsupported(f"cannot export a load tagged {ins.tag}", o.line, o.column)
            dst = self.reg(ins.dst) if ins.dst else self.fresh("t")
            if loc in self.nm.pointers:
                self.o.ptr_regs.add(ins.dst)
            out = [f"{ind}{dst} = {rhs};"]
            if ins.await_ is not None:
                out += self.wait(ins.await_, dst, ind, o)
            return out
        if T is Store:
            a, loc = self.addr(ins)
            atomic = loc in self.nm.atomic
            v = _strip(self.expr(ins.value))
            if ins.tag == ONCE:
                return [f"{ind}atomic_set({a}, {v});" if atomic else f"{ind}WRITE_ONCE(*{a}, {v});"]
            if ins.tag == RELEASE:
                return [f"{ind}atomic_set_release({a}, {v});" if atomic else f"{ind}smp_store_release({a}, {v});"]
            if ins.tag == PLAIN:
                return [f"{ind}*{a} = {v};"]
            if ins.tag == "srcu-unlock":
                return [f"{ind}srcu_read_unlock({a}, {v});"]
            raise Unsupported(f"cannot export a store tagged {ins.tag}", o.line, o.column)
        if T is Rmw:
            return self.rmw(ins, ind)
        if T in (Lock, Unlock, TryLock, IsLocked, SyncSrcu):
            a, _ = self.addr(ins)
            fn = {Lock: "spin_lock", Unlock: "spin_unlock", TryLock: "spin_trylock", IsLocked: "spin_is_locked",
                  SyncSrcu: "synchronize_srcu"}[T]
            dst = getattr(ins, "dst", None)
            return [f"{ind}{self.reg(dst) + ' = ' if dst else ''}{fn}({a});"]
        raise Unsupported(f"cannot export {T.__name__}", o.line, o.column)

    def wait(self, pred, value: str, ind: str, o) -> list[str]:
        w = self.fresh("w")
        self.o.filters.append(w)
        self.o.waits += 1
        note = (f"line {o.line}: {o.text} blocks in pinrace; here it is a read, and the filter keeps only "
                f"executions where it read a value that lets it go on")
        if note not in self.o.notes:
            self.o.notes.append(note)
        # no `//` comment here: herd7's splitter can then read a later `(*p` as an OCaml comment
        return [f"{ind}{w} = ({_strip(self.expr(pred, {'$v': value}))}) == 0;"]

    def rmw(self, ins: Rmw, ind: str) -> list[str]:
        o = ins.origin
        a, _ = self.addr(ins)
        ops = [_strip(self.expr(x)) for x in ins.operands]
        sfx = _SUFFIX.get(ins.tag)
        k = ins.kind
        if k == "op" and ins.tag == NORETURN and ins.await_ is None:
            if not ops:
                return [f"{ind}atomic_{'inc' if ins.op == '+' else 'dec'}({a});"]
            return [f"{ind}atomic_{_OPNAME[ins.op]}({ops[0]}, {a});"]
        if sfx is None and k != "op":
            raise Unsupported(f"cannot export an RMW tagged {ins.tag}", o.line, o.column)
        if k == "op":  # an ordered RMW whose value is unused: the fetch form, fully ordered
            k, sfx = "fetch_op", sfx or ""
        if k in ("op_return", "fetch_op"):
            if ins.op not in _OPNAME or (k == "op_return" and ins.op not in "+-"):
                raise Unsupported(f"no linux-kernel.def macro for {k} with '{ins.op}'", o.line, o.column)
            if not ops:
                word = "inc" if ins.op == "+" else "dec"
                call = f"atomic_{word}_return{sfx}({a})" if k == "op_return" else f"atomic_fetch_{word}{sfx}({a})"
            elif k == "op_return":
                call = f"atomic_{_OPNAME[ins.op]}_return{sfx}({ops[0]}, {a})"
            else:
                call = f"atomic_fetch_{_OPNAME[ins.op]}{sfx}({ops[0]}, {a})"
        elif k == "xchg":
            call = f"atomic_xchg{sfx}({a}, {ops[0]})"
        elif k == "cmpxchg":
            call = f"atomic_cmpxchg{sfx}({a}, {ops[0]}, {ops[1]})"
        elif k == "add_unless":
            if ins.tag != MB:
                raise Unsupported("atomic_add_unless is fully ordered only", o.line, o.column)
            call = f"atomic_add_unless({a}, {ops[0]}, {ops[1]})"
        else:
            raise Unsupported(f"cannot export an RMW of kind {k}", o.line, o.column)
        # herd7 defines these as expression macros: a call must assign its value somewhere
        dst = self.reg(ins.dst) if ins.dst else self.fresh("t")
        out = [f"{ind}{dst} = {call};"]
        if ins.await_ is not None:
            if k not in ("fetch_op", "xchg", "cmpxchg"):
                raise Unsupported("a blocking RMW that does not return the old value", o.line, o.column)
            out += self.wait(ins.await_, dst, ind, o)
        if ins.result is not None:
            out.append(f"{ind}{dst} = {_strip(self.expr(ins.result, {'$r': dst}))};")
        return out

    # ---- control flow: unroll to a DAG, then structure by each branch's join ------------------
    def run(self) -> _ThreadOut:
        self.succ = self.graph()
        self.emitted = 0
        end, lines = self.region((0, (0,) * len(self.back)), frozenset(), "\t")
        self.o.lines = lines
        return self.o

    def graph(self) -> dict:
        n = len(self.code)
        bound = self.p.loop_bound
        self.back_pcs = sorted(self.back, key=lambda pc: self.back[pc])
        self.reach = self.reachability()
        start = (0, (0,) * len(self.back))
        succ: dict = {}
        todo = [start]
        cut_lines = set()
        while todo:
            node = todo.pop()
            if node in succ or node == _EXIT:
                continue
            if len(succ) > MAX_NODES:
                raise Unsupported(f"P{self.th.index} is too large to unroll for herd7 (over {MAX_NODES:,} "
                                  f"instructions with its loops unrolled {bound} times)")
            if node[0] == "cut":
                nxt = (node[1] + 1, self.canon(node[1] + 1, node[2])) if node[1] + 1 < n else _EXIT
                succ[node] = [nxt]
                todo.append(nxt)
                continue
            pc, cnt = node
            if pc >= n:
                succ[node] = [_EXIT]
                continue
            cnt = self.canon(pc, cnt)
            ins = self.code[pc]
            targets: list = []
            if isinstance(ins, Jump):
                targets = [(ins.target, ins.back)]
            elif isinstance(ins, Branch):
                targets = [(pc + 1, False), (ins.target, ins.back)]
            else:
                targets = [(pc + 1, False)]
            out = []
            for tgt, back in targets:
                if back:
                    k = self.back[pc]
                    if cnt[k] >= bound:
                        out.append(("cut", pc, cnt))
                        cut_lines.add(ins.origin.line)
                        continue
                    c2 = cnt[:k] + (cnt[k] + 1,) + cnt[k + 1:]
                    out.append((tgt, self.canon(tgt, c2)) if tgt < n else _EXIT)
                else:
                    out.append((tgt, self.canon(tgt, cnt)) if tgt < n else _EXIT)
            succ[node] = out
            todo.extend(out)
        if cut_lines:
            self.o.filters.append(self.reg_lb())
            for ln in sorted(cut_lines):
                self.o.notes.append(f"line {ln}: the loop is unrolled {bound} times (pinrace's loop bound); "
                                    f"going round again sets lb=1 and the filter drops the execution")
        return succ

    def canon(self, pc: int, cnt: tuple) -> tuple:
        """Counters of loops that can no longer be reached from `pc` do not matter: zero them."""
        if not cnt:
            return cnt
        reach = self.reach[pc] if pc < len(self.reach) else frozenset()
        return tuple(c if bpc in reach else 0 for c, bpc in zip(cnt, self.back_pcs, strict=True))

    def reachability(self) -> list[frozenset]:
        n = len(self.code)
        succ = []
        for pc, ins in enumerate(self.code):
            if isinstance(ins, Jump):
                succ.append([ins.target])
            elif isinstance(ins, Branch):
                succ.append([pc + 1, ins.target])
            else:
                succ.append([pc + 1])
        out = []
        for pc in range(n):
            seen, todo = set(), [pc]
            while todo:
                x = todo.pop()
                if x in seen or x >= n:
                    continue
                seen.add(x)
                todo.extend(succ[x])
            out.append(frozenset(seen))
        return out

    def reg_lb(self) -> str:
        if "$lb" not in self.o.regs:
            name = "lb" if "lb" not in self.taken else self.fresh("lb")
            self.taken.add(name)
            self.o.regs["$lb"] = name
        return self.o.regs["$lb"]

    def region(self, node, stops: frozenset, ind: str) -> tuple:
        """Write the code from `node` until a node whose instruction is in `stops` (or the end);
        returns where it stopped and the lines.  An if's arms run to the end of the statement
        (its join), so herd7 sees the same control dependencies as pinrace: the arms, and what
        a goto out of them runs, nested as unrolling nests it.  When the arms reach the join in
        different states (a loop counter), each arm carries on to the end on its own."""
        lines: list[str] = []
        while node != _EXIT and not (node[0] != "cut" and node[0] in stops):
            self.emitted += 1
            if self.emitted > MAX_NODES:
                raise Unsupported(f"P{self.th.index} is too large to write out for herd7 (over {MAX_NODES:,} "
                                  "instructions once its loops are unrolled)")
            if node[0] == "cut":
                lines.append(f"{ind}{self.reg_lb()} = 1;")  # past the loop bound: the filter drops it
                node = self.succ[node][0]
                continue
            ins = self.code[node[0]]
            if isinstance(ins, Jump):
                node = self.succ[node][0]
                continue
            if isinstance(ins, Branch):
                join = ins.join if ins.join >= 0 else ins.target
                yes, no = self.succ[node]
                inner = stops | {join}
                t_end, then = self.region(yes, inner, ind + "\t")
                e_end, other = self.region(no, inner, ind + "\t")
                if t_end != e_end:  # no common join: each arm runs on to the end of this region
                    if t_end != _EXIT and t_end[0] == join:
                        t_end, more = self.region(t_end, stops, ind + "\t")
                        then += more
                    if e_end != _EXIT and e_end[0] == join:
                        e_end, more = self.region(e_end, stops, ind + "\t")
                        other += more
                if t_end != e_end:
                    # still apart (an early return): each arm runs to the thread's end, since the
                    # caller takes this statement for the last one and writes nothing after it
                    if t_end != _EXIT:
                        t_end, more = self.region(t_end, frozenset(), ind + "\t")
                        then += more
                    if e_end != _EXIT:
                        e_end, more = self.region(e_end, frozenset(), ind + "\t")
                        other += more
                cond = _strip(self.expr(ins.cond))
                if then and other:
                    lines += [f"{ind}if ({cond}) {{", *then, f"{ind}}} else {{", *other, f"{ind}}}"]
                elif then:
                    lines += [f"{ind}if ({cond}) {{", *then, f"{ind}}}"]
                elif other:
                    lines += [f"{ind}if ({_paren(cond)} == 0) {{", *other, f"{ind}}}"]
                if t_end != e_end:
                    return _EXIT, lines
                node = t_end
                continue
            lines += self.emit(ins, ind)
            node = self.succ[node][0]
        return node, lines


def _fold(e) -> int | None:
    from ..engine.expr import EvalError, evaluate, registers_of

    if registers_of(e):
        return None
    try:
        v = evaluate(e, {})
    except EvalError:
        return None
    return v if isinstance(v, int) else None


def _strip(s: str) -> str:
    """Drop one pair of redundant outer parentheses."""
    if s.startswith("(") and s.endswith(")"):
        depth = 0
        for i, ch in enumerate(s):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(s) - 1:
                return s
        return s[1:-1]
    return s


def _paren(s: str) -> str:
    return s if s.startswith("(") and _strip(s) != s else f"({s})"

