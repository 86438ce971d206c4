"""Compile a parsed scenario to a Program: inline helpers, lower control flow, map primitives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from lark import Token, Tree

from ..engine.ir import (
    PLAIN,
    Bin,
    Branch,
    Const,
    Expr,
    Fence,
    Instr,
    IsLocked,
    Ite,
    Jump,
    Load,
    Local,
    Lock,
    Origin,
    Program,
    Reg,
    Rmw,
    Store,
    SyncSrcu,
    Thread,
    TryLock,
    Un,
    Unlock,
    Value,
)
from ..errors import (
    ArityError,
    ConditionError,
    InitError,
    LimitExceeded,
    SourceError,
    SyntaxError_,
    UnknownPrimitive,
    Unsupported,
)
from ..limits import LIMITS
from .ast import CLoc, Function, Scenario, prop_locations
from .parser import parse
from .primitives import closest, lookup

__all__ = ["compile_source", "compile_scenario", "PAGE_FIELDS", "DEFAULT_LOOP_BOUND"]

DEFAULT_LOOP_BOUND = 2  # herd7's -unroll default: each loop goes round at most twice
MAX_INLINE_DEPTH = 16
# struct page as pinrace models it: field -> initial value (one mapping, one reference)
PAGE_FIELDS = {"_refcount": 1, "_mapcount": 0, "flags": 0, "_pincount": 0}
_LOCK_TYPES = {"spinlock_t"}

# herd7's C also reads C11 atomics (for its C11 models); pinrace models the kernel's primitives only
_C11 = frozenset(
    [f"atomic_{op}{sfx}" for op in ("load", "store", "exchange", "fetch_add", "fetch_sub", "fetch_or", "fetch_xor",
                                    "fetch_and", "compare_exchange_strong", "compare_exchange_weak")
     for sfx in ("", "_explicit")]
    + ["atomic_thread_fence", "atomic_signal_fence", "lock", "unlock", "WCAS", "SCAS"])
_BINOPS = {"lor": "||", "land": "&&", "bor": "|", "bxor": "^", "band": "&"}


def compile_source(source: str, *, loop_bound: int | None = None, prelude: str | None = None) -> Program:
    """Parse and compile scenario text (optionally after a prelude of helper functions).

    `invariant NAME (prop)` lines after the condition become `Program.invariants`.
    """
    try:
        try:
            scenario = parse(source)
        except ValueError:
            line, col, digits = _long_number(source)
            if not digits:
                raise
            raise SyntaxError_(f"the number {_abbrev(digits)} does not fit in 64 bits", line, col, source) from None
        prog = compile_scenario(scenario, loop_bound=loop_bound, prelude=prelude)
        if "invariant" in source:
            from ..explore.invariants import parse_invariants

            prog.invariants = parse_invariants(source, prog)
    except RecursionError:
        # the tree walkers recurse on nesting: pasted text must not escape as a non-pinrace error
        raise LimitExceeded("the scenario nests too deeply (brackets, blocks or operators) to compile") from None
    return prog


def compile_scenario(sc: Scenario, *, loop_bound: int | None = None, prelude: str | None = None) -> Program:
    return _Compiler(sc, loop_bound, prelude).run()


@dataclass
class _Frame:
    """One inlined function body: its renamed locals and where `return` goes."""

    env: dict[str, Expr]
    ret_reg: str | None
    ret_label: str
    name: str
    src: str = ""  # the text the body's positions refer to (the scenario or the prelude)
    site: tuple[int, int] | None = None  # for prelude bodies: the call's line:column in the scenario
    serial: int | None = None  # unique within the thread: scopes the frame's labels


@dataclass
class _ThreadCtx:
    index: int
    code: list = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    pending: list = field(default_factory=list)  # (instr index, label, origin) to patch
    user_regs: list[str] = field(default_factory=list)
    temp: int = 0
    call: str = ""
    call_id: int = 0
    loops: list = field(default_factory=list)  # (continue_label, break_label)
    frames: list = field(default_factory=list)
    label_seq: int = 0


class _Compiler:
    def __init__(self, sc: Scenario, loop_bound: int | None, prelude: str | None):
        self.sc = sc
        self.src = sc.source
        self.loop_bound = loop_bound
        self.functions: dict[str, Function] = {}
        self.defines: dict[str, tuple[object, object]] = {}
        self.prelude_src = prelude or ""
        self.prelude_fns: set[str] = set()
        self.sites: list[tuple[tuple[int, int], str, int]] = []  # prelude calls being inlined
        self.returns: dict[int, list] = {}  # thread -> [(start pc, end pc, call text, return register)]
        if prelude:
            pre = _parse_prelude(prelude)
            self.functions.update(pre.functions)
            self.defines.update(pre.defines)
            self.prelude_fns = set(pre.functions) - set(sc.functions)
            self.prelude_src = pre.source  # positions in the prelude refer to the text as parsed
        self.functions.update(sc.functions)
        self.defines.update(sc.defines)
        self.expanded = 0  # expression nodes macro expansions produced (PINRACE_MAX_MACRO_EXPANSION)
        self.expanding: dict[str, None] = {}  # the macros being expanded, outermost first
        self.expansion_site = None  # where the outermost of them is used
        self.macro_values: dict[str, Const] = {}  # constant #defines, computed once
        self._macro_names: dict[str, frozenset | None] = {}
        self.memory: dict[str, Value] = {}
        self.locks: set[str] = set()
        self.structs: set[str] = set()
        self.init_regs: dict[tuple[int, str], Value] = {}
        self.warnings: list[str] = []

    # ---- errors --------------------------------------------------------------------
    def err(self, cls, reason: str, node) -> SourceError:
        if self.sites:  # inside a prelude function: point at the scenario's call
            (line, col), fname, pline = self.sites[0][0], self.sites[-1][1], _lc(node)[0]
            return cls(f"{reason} (in {fname}() of the page prelude, line {pline})", line, col, self.src)
        line, col = _lc(node)
        return cls(reason, line, col, self.src)

    # ---- entry -----------------------------------------------------------------------
    def run(self) -> Program:
        self.init_block()
        if len(self.sc.threads) > LIMITS.cpus:
            # checked before compiling any thread: the cost of compiling grows with the CPU count
            p = self.sc.threads[LIMITS.cpus].pos
            raise LimitExceeded(f"the scenario has {len(self.sc.threads)} CPUs; the limit is {LIMITS.cpus} "
                                f"(PINRACE_MAX_CPUS)", p.line, p.column, self.src)
        threads = []
        for fn in self.sc.threads:
            for pname, _ in fn.params:
                if pname not in self.memory and pname not in self.structs:
                    self.memory[pname] = 0
        for i, fn in enumerate(self.sc.threads):
            threads.append(self.thread(i, fn))
        observed, filter_locs = self.observed(threads)
        bound = self.loop_bound
        if bound is None:
            b = self.defines.get("PINRACE_LOOP_BOUND")
            bound = self.const_int(b[0]) if b else DEFAULT_LOOP_BOUND
            if bound > LIMITS.loop_bound:
                raise LimitExceeded(f"PINRACE_LOOP_BOUND is {bound}; the limit is {LIMITS.loop_bound} "
                                    f"(PINRACE_MAX_LOOP_BOUND)", b[1].line, b[1].column, self.src)
        if bound > LIMITS.loop_bound:
            raise LimitExceeded(f"the loop bound is {bound}; the limit is {LIMITS.loop_bound} (PINRACE_MAX_LOOP_BOUND)")
        consts = {}
        for dname, (dnode, _) in self.defines.items():
            try:
                consts[dname] = self.const_int(dnode)
            except SourceError:
                continue
        return Program(
            meta={"defines": consts, "structs": sorted(self.structs), "returns": self.returns,
                  "warnings": self.warnings},
            name=self.sc.name,
            threads=threads,
            init_memory=dict(self.memory),
            init_regs=dict(self.init_regs),
            lock_locations=frozenset(self.locks),
            observed=observed,
            filter_locs=filter_locs,
            condition=self.sc.condition,
            filter=self.sc.filter,
            source=self.src,
            loop_bound=bound,
        )

    # ---- init block ------------------------------------------------------------------
    def init_block(self) -> None:
        for e in self.sc.init:
            tgt = e.target
            if ":" in tgt:
                t, r = tgt.split(":", 1)
                cpu = _int_literal(t)
                if cpu is None:
                    raise InitError(f"there is no P{_abbrev(t)}", e.pos.line, e.pos.column, self.src)
                self.init_regs[(cpu, r)] = self.init_value(e.value, e)
                continue
            if "struct page" in e.types or (e.struct_fields is not None and "." not in tgt):
                self.structs.add(tgt)
                for f, v in PAGE_FIELDS.items():
                    self.memory[f"{tgt}.{f}"] = v
                for f, vnode in e.struct_fields or ():
                    if f not in PAGE_FIELDS:
                        raise InitError(f"struct page has no field '{f}' (fields: {', '.join(PAGE_FIELDS)})",
                                        e.pos.line, e.pos.column, self.src)
                    self.memory[f"{tgt}.{f}"] = self.init_value(vnode, e)
                continue
            if "." in tgt:
                base, f = tgt.split(".", 1)
                if base not in self.structs:
                    raise InitError(f"'{base}' is not a struct page declared earlier in the init block",
                                    e.pos.line, e.pos.column, self.src)
                if f not in PAGE_FIELDS:
                    raise InitError(f"struct page has no field '{f}'", e.pos.line, e.pos.column, self.src)
            if _LOCK_TYPES & set(e.types):
                self.locks.add(tgt)
            self.memory[tgt] = self.init_value(e.value, e) if e.value is not None else 0
        # a pointer to a location nobody declared (`p=y`) brings that location into being
        for v in list(self.memory.values()) + list(self.init_regs.values()):
            if isinstance(v, str) and v not in self.memory and v not in self.structs:
                self.memory[v] = 0

    def init_value(self, node, entry) -> Value:
        if node is None:
            return 0
        if isinstance(node, Tree) and node.data == "call":
            fname = _name_of(node.children[0])
            args = _args(node)
            if fname in ("ATOMIC_INIT", "ATOMIC_LONG_INIT") and len(args) == 1:
                return self.init_value(args[0], entry)
            raise InitError(f"'{fname}(...)' is not an initial value (use a number, a location or ATOMIC_INIT(n))",
                            *_lc(node), self.src)
        if isinstance(node, Tree) and node.data == "name":
            n = str(node.children[0])
            if n in self.defines:
                return self.const_int(self.defines[n][0])
            return n  # a pointer to location n
        if isinstance(node, Tree) and node.data == "addrof":
            inner = node.children[0]
            if isinstance(inner, Tree) and inner.data == "name":
                return str(inner.children[0])
        if isinstance(node, Tree) and node.data == "number":
            return self.const_int(node)  # its own error (beyond 64 bits) says more than the one below
        try:
            return self.const_int(node)
        except SourceError:
            raise InitError("an initial value must be a number, a location or ATOMIC_INIT(n)",
                            *_lc(node), self.src) from None

    def const_int(self, node) -> int:
        ctx = _ThreadCtx(-1)
        e = self.expr(node, ctx)
        if ctx.code or not isinstance(e, Const) or not isinstance(e.value, int):
            e2 = _fold(e)
            if ctx.code or not isinstance(e2, Const) or not isinstance(e2.value, int):
                raise self.err(SyntaxError_, "expected a constant integer expression", node)
            return e2.value
        return e.value

    # ---- threads -----------------------------------------------------------------------
    def thread(self, index: int, fn: Function) -> Thread:
        ctx = _ThreadCtx(index)
        env: dict[str, Expr] = {}
        for pname, _is_ptr in fn.params:
            env[pname] = Const(pname)
        ctx.frames.append(_Frame(env, None, "", fn.name, self.src))
        for (t, r), _v in self.init_regs.items():
            if t == index and r not in ctx.user_regs:
                ctx.user_regs.append(r)
                env[r] = Reg(r)
        self.block(fn.body, ctx)
        self.place(ctx, "$end")
        self.patch(ctx)
        return Thread(index, ctx.code, ctx.user_regs, fn.name)

    def patch(self, ctx: _ThreadCtx) -> None:
        for at, label, node, join in ctx.pending:
            if label not in ctx.labels:
                raise self.err(SyntaxError_, f"goto to undefined label '{label.split('#')[0]}'", node)
            target = ctx.labels[label]
            ins = ctx.code[at]
            back = target <= at
            if isinstance(ins, Branch):
                ctx.code[at] = Branch(ins.cond, target, ins.origin, back, ctx.labels[join] if join else target)
            else:
                ctx.code[at] = Jump(target, ins.origin, back)

    def origin(self, node, ctx: _ThreadCtx, primitive: str) -> Origin:
        frame = ctx.frames[-1] if ctx.frames else None
        src = frame.src if frame is not None and frame.src else self.src
        site = frame.site if frame is not None else None
        line, col = site if site is not None else _lc(node)
        return Origin(line, col, primitive, ctx.call or _text(src, node), ctx.call_id, _text(src, node))

    def emit(self, ctx: _ThreadCtx, ins: Instr) -> int:
        if len(ctx.code) >= LIMITS.ops_per_cpu:
            # inlining can grow code exponentially (f calls g twice, g calls h twice, ...): stop at
            # the limit rather than after the blow-up
            o = ins.origin
            raise LimitExceeded(f"P{ctx.index} compiles to more than {LIMITS.ops_per_cpu:,} operations "
                                f"(PINRACE_MAX_OPS_PER_CPU); inlined helpers count", o.line, o.column, self.src)
        ctx.code.append(ins)
        return len(ctx.code) - 1

    def emit_jump(self, ctx: _ThreadCtx, label: str, node, cond: Expr | None = None, join: str | None = None) -> None:
        """A jump, or with `cond` a branch to `label` when cond is false; `join` labels the end of
        the statement the branch belongs to (its control dependency ends there, as in herd7)."""
        o = self.origin(node, ctx, "local")
        at = self.emit(ctx, Jump(-1, o) if cond is None else Branch(cond, -1, o))
        ctx.pending.append((at, label, node, join))

    def new_label(self, ctx: _ThreadCtx, hint: str) -> str:
        ctx.label_seq += 1
        return f"{hint}#{ctx.label_seq}"

    def place(self, ctx: _ThreadCtx, label: str) -> None:
        ctx.labels[label] = len(ctx.code)

    def temp(self, ctx: _ThreadCtx) -> str:
        ctx.temp += 1
        return f"$t{ctx.temp}"

    # ---- statements --------------------------------------------------------------------
    def block(self, node: Tree, ctx: _ThreadCtx) -> None:
        for st in node.children:
            if isinstance(st, Tree):
                self.stmt(st, ctx)

    def stmt(self, st: Tree, ctx: _ThreadCtx) -> None:
        top = len(ctx.frames) == 1
        if top and st.data not in ("block", "labeled_stmt"):
            ctx.call = _call_text(self.src, st)
            ctx.call_id += 1
        kind = st.data
        if kind == "block":
            self.block(st, ctx)
        elif kind == "decl":
            for d in st.children:
                if isinstance(d, Tree) and d.data == "declarator":
                    name = next(c for c in d.children if isinstance(c, Token) and c.type == "NAME")
                    reg = self.declare(str(name), ctx)
                    init = [c for c in d.children if isinstance(c, Tree)]
                    if init:
                        self.assign_reg(reg, init[0], ctx, d)
        elif kind == "expr_stmt":
            self.expr(st.children[0], ctx, discard=True)
        elif kind == "if_stmt":
            cond = self.expr(st.children[0], ctx)
            else_l, end_l = self.new_label(ctx, "else"), self.new_label(ctx, "endif")
            self.emit_jump(ctx, else_l, st.children[0], cond, end_l if len(st.children) > 2 else else_l)
            self.stmt(st.children[1], ctx)
            if len(st.children) > 2:
                self.emit_jump(ctx, end_l, st)
                self.place(ctx, else_l)
                self.stmt(st.children[2], ctx)
                self.place(ctx, end_l)
            else:
                self.place(ctx, else_l)
        elif kind == "while_stmt":
            top_l, end_l = self.new_label(ctx, "while"), self.new_label(ctx, "endwhile")
            self.place(ctx, top_l)
            cond = self.expr(st.children[0], ctx)
            self.emit_jump(ctx, end_l, st.children[0], cond)
            ctx.loops.append((top_l, end_l))
            self.stmt(st.children[1], ctx)
            ctx.loops.pop()
            self.emit_jump(ctx, top_l, st)
            self.place(ctx, end_l)
        elif kind == "do_stmt":
            top_l, cont_l, end_l = (self.new_label(ctx, h) for h in ("do", "docond", "enddo"))
            self.place(ctx, top_l)
            ctx.loops.append((cont_l, end_l))
            self.stmt(st.children[0], ctx)
            ctx.loops.pop()
            self.place(ctx, cont_l)
            cond = self.expr(st.children[1], ctx)
            self.emit_jump(ctx, end_l, st.children[1], cond)
            self.emit_jump(ctx, top_l, st)
            self.place(ctx, end_l)
        elif kind == "for_stmt":
            parts = st.children
            init = next((c for c in parts if isinstance(c, Tree) and c.data == "for_init"), None)
            rest = [c for c in parts if not (isinstance(c, Tree) and c.data == "for_init")]
            body = rest[-1]
            # grammar: for (init? ; cond? ; step?) — tell cond from step by position in the text
            exprs = rest[:-1]
            cond, step = _split_for(ctx.frames[-1].src or self.src, st, exprs)
            if init is not None:
                c = init.children[0]
                if c.data == "decl":
                    self.stmt(c, ctx)
                else:
                    self.expr(c, ctx, discard=True)
            top_l, cont_l, end_l = (self.new_label(ctx, h) for h in ("for", "forstep", "endfor"))
            self.place(ctx, top_l)
            if cond is not None:
                ce = self.expr(cond, ctx)
                self.emit_jump(ctx, end_l, cond, ce)
            ctx.loops.append((cont_l, end_l))
            self.stmt(body, ctx)
            ctx.loops.pop()
            self.place(ctx, cont_l)
            if step is not None:
                self.expr(step, ctx, discard=True)
            self.emit_jump(ctx, top_l, st)
            self.place(ctx, end_l)
        elif kind == "goto_stmt":
            self.emit_jump(ctx, self.scoped_label(str(st.children[0]), ctx), st)
        elif kind == "labeled_stmt":
            label = self.scoped_label(str(st.children[0]), ctx)
            if label in ctx.labels:
                raise self.err(SyntaxError_, f"label '{st.children[0]}' is defined twice", st)
            self.place(ctx, label)
            self.stmt(st.children[1], ctx)
        elif kind == "return_stmt":
            frame = ctx.frames[-1]
            if len(ctx.frames) == 1:
                if st.children:
                    raise self.err(SyntaxError_, "a thread cannot return a value", st)
                self.emit_jump(ctx, "$end", st)
                return
            if st.children:
                v = self.expr(st.children[0], ctx)
                if frame.ret_reg is not None:
                    self.emit(ctx, Local(frame.ret_reg, v, self.origin(st, ctx, "local")))
            self.emit_jump(ctx, frame.ret_label, st)
        elif kind in ("break_stmt", "continue_stmt"):
            if not ctx.loops:
                raise self.err(SyntaxError_, f"'{kind[:-5]}' outside a loop", st)
            cont, brk = ctx.loops[-1]
            self.emit_jump(ctx, brk if kind == "break_stmt" else cont, st)
        elif kind == "empty_stmt":
            return
        else:
            raise self.err(SyntaxError_, f"unexpected statement {kind}", st)

    def scoped_label(self, name: str, ctx: _ThreadCtx) -> str:
        # a frame's serial number, not id(): a freed frame's id is reused by the next call,
        # which would merge two inlined calls' labels
        frame = ctx.frames[-1]
        if frame.serial is None:
            ctx.label_seq += 1
            frame.serial = ctx.label_seq
        return f"{name}@{len(ctx.frames)}:{frame.serial}"

    def declare(self, name: str, ctx: _ThreadCtx) -> str:
        frame = ctx.frames[-1]
        if len(ctx.frames) == 1:
            if name in frame.env and isinstance(frame.env[name], Const):
                raise SyntaxError_(f"'{name}' is a parameter and cannot be redeclared", 0, 0, self.src)
            reg = name
            if reg not in ctx.user_regs:
                ctx.user_regs.append(reg)
        else:
            ctx.temp += 1
            reg = f"{frame.name}.{name}${ctx.temp}"
        frame.env[name] = Reg(reg)
        return reg

    def lookup_name(self, name: str, ctx: _ThreadCtx, node) -> Expr:
        for frame in reversed(ctx.frames):
            if name in frame.env:
                return frame.env[name]
            break  # C scoping: a helper sees only its own locals and parameters
        if name in self.defines:
            return self.expand(name, ctx, node)
        if name in self.memory or name in self.structs:
            return Const(name)
        if name in ("NULL",):
            return Const(0)
        if name in ("true", "false"):
            return Const(int(name == "true"))
        if ctx.index < 0:
            raise self.err(SyntaxError_, f"unknown name '{name}'", node)
        if len(ctx.frames) == 1:
            # herd7 reads an unknown name in a thread as a register that holds 0
            line, col = _lc(node)
            self.warnings.append(f"line {line}: '{name}' is used before it is assigned or declared (it reads 0)")
            return Reg(self.declare(name, ctx))
        raise self.err(SyntaxError_, f"'{name}' is used before it is assigned or declared", node)

    # ---- macros ------------------------------------------------------------------------------
    def expand(self, name: str, ctx: _ThreadCtx, node) -> Expr:
        """A #define's value where it is used, bounded by size.

        A macro is expanded at every use, and its body's macros inside it: `#define A1 (A0+A0)`
        and so on doubles with each level.  So a #define that is arithmetic over numbers and other
        such #defines is computed once and reused (a constant, whatever its nesting), and every
        other expansion is charged its body's size against PINRACE_MAX_MACRO_EXPANSION, past
        which the use that went over is an error."""
        value = self.macro_values.get(name)
        local = ctx.frames[-1].env.keys() if ctx.frames else set()
        if value is not None and not (self.macro_names(name) & local):
            return value  # (unless a local of the same name shadows one of its macros here)
        if name in self.expanding:
            raise self.err(SyntaxError_, f"#define {name} expands to itself "
                           f"({' -> '.join([*self.expanding, name])})", node)
        body = self.defines[name][0]
        self.expanded += _size(body)
        if self.expanded > LIMITS.macro_nodes:
            # said at the use in the code that started it, not inside some #define
            outer, site = (next(iter(self.expanding)), self.expansion_site) if self.expanding else (name, node)
            raise self.err(LimitExceeded, f"expanding {outer} takes the scenario's macro expansions past "
                           f"{LIMITS.macro_nodes:,} expression nodes (PINRACE_MAX_MACRO_EXPANSION)", site)
        if not self.expanding:
            self.expansion_site = node
        self.expanding[name] = None
        try:
            e = self.expr(body, ctx)
        finally:
            del self.expanding[name]
        if self.macro_names(name) is not None:
            folded = _fold(e)
            if isinstance(folded, Const) and isinstance(folded.value, int):
                self.macro_values[name] = folded
                return folded
        return e

    def macro_names(self, name: str) -> frozenset | None:
        """The #defines `name`'s body uses, itself included, when it is plain arithmetic over numbers
        and such #defines (so its value is the same at every use); else None."""
        if name in self._macro_names:
            return self._macro_names[name]
        self._macro_names[name] = None  # a cycle is not plain arithmetic
        names = {name}
        for sub in _walk(self.defines[name][0]):
            if isinstance(sub, Tree):
                if sub.data not in _ARITHMETIC:
                    return None
                if sub.data == "name":
                    n = str(sub.children[0])
                    inner = self.macro_names(n) if n in self.defines else None
                    if inner is None:
                        return None
                    names |= inner
        self._macro_names[name] = frozenset(names)
        return self._macro_names[name]

    def assign_reg(self, reg: str, value_node, ctx: _ThreadCtx, node) -> None:
        v = self.expr(value_node, ctx)
        self.emit(ctx, Local(reg, v, self.origin(node, ctx, "local")))

    # ---- lvalues -------------------------------------------------------------------------
    def lvalue(self, node, ctx: _ThreadCtx):
        """('reg', name) or ('mem', address expression)."""
        kind = node.data if isinstance(node, Tree) else None
        if kind == "name":
            name = str(node.children[0])
            frame = ctx.frames[-1]
            if name in frame.env:
                e = frame.env[name]
                if isinstance(e, Reg):
                    return ("reg", e.name)
                raise self.err(SyntaxError_, f"cannot assign to '{name}': it is a pointer parameter "
                               f"(did you mean *{name}?)", node)
            if name in self.defines:
                raise self.err(SyntaxError_, f"cannot assign to the constant '{name}'", node)
            if name in self.memory and len(ctx.frames) == 1 and ctx.index >= 0 and name not in frame.env:
                # herd7 treats an undeclared name in a thread as a register
                pass
            return ("reg", self.declare(name, ctx))
        if kind == "deref":
            return ("mem", self.expr(node.children[0], ctx))
        if kind in ("arrow", "dot"):
            base = self.expr(node.children[0], ctx) if kind == "arrow" else self.struct_base(node.children[0], ctx)
            fld = str(node.children[1])
            return ("mem", self.field_addr(base, fld, node))
        raise self.err(SyntaxError_, "expected something that can be assigned to", node)

    def struct_base(self, node, ctx: _ThreadCtx) -> Expr:
        if isinstance(node, Tree) and node.data == "name":
            n = str(node.children[0])
            if n in self.structs:
                return Const(n)
        if isinstance(node, Tree) and node.data == "deref":
            return self.expr(node.children[0], ctx)
        return self.expr(node, ctx)

    def field_addr(self, base: Expr, fld: str, node) -> Expr:
        base = _fold(base)
        if not isinstance(base, Const) or not isinstance(base.value, str):
            raise self.err(Unsupported, "a field of a computed pointer (only fields of a named struct page)", node)
        if base.value not in self.structs:
            raise self.err(SyntaxError_, f"'{base.value}' is not a struct page", node)
        if fld not in PAGE_FIELDS:
            raise self.err(SyntaxError_, f"struct page has no field '{fld}' (fields: {', '.join(PAGE_FIELDS)})", node)
        return Const(f"{base.value}.{fld}")

    # ---- expressions ---------------------------------------------------------------------
    def expr(self, node, ctx: _ThreadCtx, discard: bool = False) -> Expr:
        if isinstance(node, Token):
            raise self.err(SyntaxError_, f"unexpected {node!s}", node)
        k = node.data
        if k == "number":
            value = _int_literal(str(node.children[0]))
            if value is None:
                raise self.err(SyntaxError_, f"the integer constant {_abbrev(str(node.children[0]))} does not fit in "
                               "64 bits", node)
            return Const(value)
        if k == "name":
            return self.lookup_name(str(node.children[0]), ctx, node)
        if k in _BINOPS:
            op = _BINOPS[k]
            if op in ("&&", "||"):
                return self.short_circuit(node, op, ctx)
            return Bin(op, self.expr(node.children[0], ctx), self.expr(node.children[1], ctx))
        if k == "binop":
            left = self.expr(node.children[0], ctx)
            return Bin(str(node.children[1]), left, self.expr(node.children[2], ctx))
        if k == "lnot":
            return Un("!", self.expr(node.children[0], ctx))
        if k == "bnot":
            return Un("~", self.expr(node.children[0], ctx))
        if k == "neg":
            return _fold(Un("-", self.expr(node.children[0], ctx)))
        if k == "cast":
            return self.expr(node.children[-1], ctx)
        if k == "ternary":
            c = self.expr(node.children[0], ctx)
            a, b = node.children[1], node.children[2]
            n0 = len(ctx.code)
            ea = self.expr(a, ctx)
            eb = self.expr(b, ctx)
            if len(ctx.code) != n0:
                raise self.err(Unsupported, "memory accesses inside ?: (use if/else)", node)
            return Ite(c, ea, eb)
        if k == "addrof":
            lv = self.lvalue(node.children[0], ctx)
            if lv[0] != "mem":
                raise self.err(Unsupported, "taking the address of a register", node)
            return lv[1]
        if k in ("deref", "arrow", "dot"):
            lv = self.lvalue(node, ctx)
            return self.plain_load(lv[1], node, ctx)
        if k == "assign":
            return self.assignment(node.children[0], node.children[1], ctx, node)
        if k == "compound_assign":
            op = str(node.children[1])[:-1]
            target = node.children[0]
            rhs = Tree("binop", [target, Token("OP", op), node.children[2]], node.meta)
            return self.assignment(target, rhs, ctx, node)
        if k in ("preinc", "postinc"):
            kids = node.children
            tok, target = (kids[0], kids[1]) if k == "preinc" else (kids[1], kids[0])
            op = "+" if str(tok) == "++" else "-"
            old = self.expr(target, ctx)
            tmp = self.temp(ctx)
            self.emit(ctx, Local(tmp, old, self.origin(node, ctx, "local")))
            rhs_val = Bin(op, Reg(tmp), Const(1))
            self.assign_value(target, rhs_val, ctx, node)
            return Reg(tmp) if k == "postinc" else rhs_val
        if k == "call":
            return self.call(node, ctx, discard)
        if k == "annotated_call":
            name, tags = str(node.children[0]), " ".join(str(node.children[1]).split())
            raise self.err(Unsupported, f"herd7's core event {name}{tags}: write the kernel primitive it stands "
                           "for (see docs/primitives.md)", node)
        raise self.err(SyntaxError_, f"unexpected expression ({k})", node)

    def short_circuit(self, node, op: str, ctx: _ThreadCtx) -> Expr:
        left = self.expr(node.children[0], ctx)
        n0 = len(ctx.code)
        right = self.expr(node.children[1], ctx)
        if len(ctx.code) == n0:
            return Bin(op, left, right)
        # the right side touches memory: evaluate it only when C would
        del ctx.code[n0:]
        ctx.pending = [p for p in ctx.pending if p[0] < n0]
        tmp = self.temp(ctx)
        o = self.origin(node, ctx, "local")
        self.emit(ctx, Local(tmp, Un("!", Un("!", left)), o))
        skip = self.new_label(ctx, "sc")
        self.emit_jump(ctx, skip, node, Reg(tmp) if op == "&&" else Un("!", Reg(tmp)))
        right = self.expr(node.children[1], ctx)
        self.emit(ctx, Local(tmp, Un("!", Un("!", right)), o))
        self.place(ctx, skip)
        return Reg(tmp)

    def assignment(self, target, value_node, ctx: _ThreadCtx, node) -> Expr:
        v = self.expr(value_node, ctx)
        return self.assign_value(target, v, ctx, node)

    def assign_value(self, target, v: Expr, ctx: _ThreadCtx, node) -> Expr:
        lv = self.lvalue(target, ctx)
        if lv[0] == "reg":
            self.emit(ctx, Local(lv[1], v, self.origin(node, ctx, "local")))
            return Reg(lv[1])
        self.emit(ctx, Store(lv[1], v, PLAIN, self.origin(node, ctx, "plain")))
        return v

    def plain_load(self, addr: Expr, node, ctx: _ThreadCtx) -> Expr:
        tmp = self.temp(ctx)
        self.emit(ctx, Load(tmp, addr, PLAIN, self.origin(node, ctx, "plain")))
        return Reg(tmp)

    # ---- calls ----------------------------------------------------------------------------
    def call(self, node: Tree, ctx: _ThreadCtx, discard: bool) -> Expr:
        fname = _name_of(node.children[0])
        if fname is None:
            raise self.err(Unsupported, "calls through function pointers", node)
        args = _args(node)
        if fname in self.functions:
            return self.inline(self.functions[fname], args, node, ctx, discard)
        prim = lookup(fname)
        if prim is None and fname in _C11:
            raise self.err(Unsupported, f"C11 atomics ({fname}) under the kernel's memory model", node.children[0])
        if prim is None:
            hint = closest(fname, list(self.functions))
            more = f"; did you mean '{hint}'?" if hint else ""
            raise self.err(UnknownPrimitive, f"'{fname}' is neither a kernel primitive pinrace knows nor a "
                           f"function defined in the scenario{more}", node.children[0])
        if len(args) != prim.arity:
            raise self.err(ArityError, f"{fname}() takes {prim.arity} argument{'s' if prim.arity != 1 else ''}, "
                           f"got {len(args)}", node)
        origin = self.origin(node, ctx, fname)
        addr: Expr | None = None
        if prim.loc is not None:
            a = args[prim.loc]
            if prim.lvalue:
                lv = self.lvalue(a, ctx)
                if lv[0] != "mem":
                    raise self.err(SyntaxError_, f"{fname}() needs a memory location such as *x, not a register", a)
                addr = lv[1]
            else:
                addr = self.expr(a, ctx)
        vals = [self.expr(args[i], ctx) for i in prim.value]
        ev = prim.event
        dst = None if discard else self.temp(ctx)
        if ev == "fence":
            self.emit(ctx, Fence(prim.tag, origin))
            return Const(0)
        if ev == "load":
            await_ = None
            if prim.result == "wait-clear":
                await_ = Bin("==", Bin("&", Bin(">>", Reg("$v"), vals[0]), Const(1)), Const(0))
            d = dst or self.temp(ctx)
            self.emit(ctx, Load(d, addr, prim.tag, origin, await_))
            if prim.result == "bit":
                return Bin("&", Bin(">>", Reg(d), vals[0]), Const(1))
            return Reg(d)
        if ev in ("store", "store+mb"):
            self.emit(ctx, Store(addr, vals[0], prim.tag, origin))
            if ev == "store+mb":
                self.emit(ctx, Fence("MB", origin))
            return Const(0)
        if ev == "rmw":
            op = prim.op
            operands = tuple(vals)
            if op and op.endswith("bit"):
                op = op[:-3]
                operands = (Bin("<<", Const(1), vals[0]),)
            await_ = None
            if prim.result == "wait-lock":
                await_ = Bin("==", Bin("&", Reg("$v"), operands[0]), Const(0))
            result = None
            if prim.result == "==0":
                result = Bin("==", Reg("$r"), Const(0))
            elif prim.result == "<0":
                result = Bin("<", Reg("$r"), Const(0))
            elif prim.result == "bit":
                result = Un("!", Un("!", Bin("&", Reg("$r"), operands[0])))
            d = dst if prim.kind != "op" else None
            self.emit(ctx, Rmw(d, addr, prim.kind, op, operands, prim.tag, origin, await_, result))
            return Reg(d) if d else Const(0)
        if ev == "lock":
            self.emit(ctx, Lock(addr, origin))
            return Const(0)
        if ev == "unlock":
            self.emit(ctx, Unlock(addr, origin))
            return Const(0)
        if ev == "trylock":
            d = dst or self.temp(ctx)
            self.emit(ctx, TryLock(d, addr, origin))
            return Reg(d)
        if ev == "islocked":
            d = dst or self.temp(ctx)
            self.emit(ctx, IsLocked(d, addr, origin))
            return Reg(d)
        if ev == "srcu-sync":
            self.emit(ctx, SyncSrcu(addr, origin))
            return Const(0)
        raise self.err(SyntaxError_, f"unhandled primitive event {ev}", node)

    def inline(self, fn: Function, args: list, node: Tree, ctx: _ThreadCtx, discard: bool) -> Expr:
        if len(args) != len(fn.params):
            raise self.err(ArityError, f"{fn.name}() takes {len(fn.params)} argument"
                           f"{'s' if len(fn.params) != 1 else ''}, got {len(args)}", node)
        if any(f.name == fn.name for f in ctx.frames[1:]):
            raise self.err(Unsupported, f"recursive call to {fn.name}()", node)
        if len(ctx.frames) > MAX_INLINE_DEPTH:
            raise self.err(LimitExceeded, f"helpers nest more than {MAX_INLINE_DEPTH} calls deep at {fn.name}()", node)
        env: dict[str, Expr] = {}
        for (pname, _), a in zip(fn.params, args, strict=True):
            v = _fold(self.expr(a, ctx))
            if isinstance(v, Const):
                env[pname] = v  # constants (pointers, numbers) stay static: no false dependencies
            else:
                ctx.temp += 1
                reg = f"{fn.name}.{pname}${ctx.temp}"
                self.emit(ctx, Local(reg, v, self.origin(a, ctx, "local")))
                env[pname] = Reg(reg)
        ret_reg = None
        if fn.returns_value and not discard:
            ret_reg = self.temp(ctx)
            self.emit(ctx, Local(ret_reg, Const(0), self.origin(node, ctx, "local")))
        outer = ctx.frames[-1]
        from_prelude = fn.name in self.prelude_fns
        if from_prelude:
            site = outer.site if outer.site is not None else _lc(node)
            frame = _Frame(env, ret_reg, "", fn.name, self.prelude_src, site)
            self.sites.append((site, fn.name, 0))
        else:
            frame = _Frame(env, ret_reg, "", fn.name, self.src)
        call_text = _text(outer.src or self.src, node)
        start = len(ctx.code)
        ctx.frames.append(frame)
        try:
            frame.ret_label = self.scoped_label("$return", ctx)
            self.block(fn.body, ctx)
            self.place(ctx, frame.ret_label)
        finally:
            ctx.frames.pop()
            if from_prelude:
                self.sites.pop()
        if ret_reg is not None and ctx.index >= 0:
            self.returns.setdefault(ctx.index, []).append((start, len(ctx.code), call_text, ret_reg))
        return Reg(ret_reg) if ret_reg else Const(0)

    # ---- observed locations ------------------------------------------------------------------
    def observed(self, threads: list[Thread]) -> tuple[list[CLoc], list[CLoc]]:
        """herd7's shown locations (`locations [...]` and the condition's, registers first, each
        sorted), and the further ones only the filter reads (herd7 does not show them)."""
        shown = self._distinct(list(self.sc.locations) + prop_locations(self.sc.condition.prop), threads)
        keys = {loc.key() for loc in shown}
        hidden = [loc for loc in self._distinct(prop_locations(self.sc.filter) if self.sc.filter else [], threads)
                  if loc.key() not in keys]
        regs = sorted((x for x in shown if x.thread is not None), key=lambda x: (x.thread, x.name))
        mems = sorted((x for x in shown if x.thread is None), key=lambda x: x.name)
        return regs + mems, hidden

    def _distinct(self, locs: list[CLoc], threads: list[Thread]) -> list[CLoc]:
        seen, out = set(), []
        for loc in locs:
            if loc.key() not in seen:
                seen.add(loc.key())
                self.check_loc(loc, threads)
                out.append(loc)
        return out

    def check_loc(self, loc: CLoc, threads: list[Thread]) -> None:
        """A location the condition names.  As in herd7, a register or a location the code never
        touches reads 0 (a warning says so); only a thread that does not exist is an error."""
        pos = self.sc.condition.pos if self.sc.condition else None
        line, col = (pos.line, pos.column) if pos else (0, 0)
        if loc.thread is not None:
            if loc.thread >= len(threads):
                raise ConditionError(f"{loc.key()}: there is no thread P{loc.thread}", line, col, self.src)
            if loc.name not in threads[loc.thread].registers:
                self.warnings.append(f"line {line}: {loc.key()}: P{loc.thread} has no register '{loc.name}' "
                                     "(it reads 0)")
        elif loc.name not in self.memory:
            self.warnings.append(f"line {line}: '{loc.name}' is not a shared location of this test (it reads 0)")


# ---- helpers ------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _parse_prelude(text: str) -> Scenario:
    """A prelude is functions and #defines only: give it a test name and an empty thread to parse."""
    if not text.lstrip().startswith("C "):
        text = "C prelude " + text + "\nP0() {}\n"  # same line numbers as the file
    return parse(text)



def _lc(node) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.line or 0, node.column or 0
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    if isinstance(node, Tree):
        for c in node.children:
            lc = _lc(c)
            if lc != (0, 0):
                return lc
    return 0, 0


def _text(src: str, node) -> str:
    meta = getattr(node, "meta", None)
    if meta is None or getattr(meta, "empty", True):
        return str(node)
    return " ".join(src[meta.start_pos:meta.end_pos].split())


def _call_text(src: str, st: Tree) -> str:
    """How a top-level statement is named in diagrams: the statement, or its condition."""
    k = st.data
    if k in ("if_stmt", "while_stmt"):
        return f"{k[:-5]} ({_text(src, st.children[0])})"
    if k == "do_stmt":
        return f"while ({_text(src, st.children[1])})"
    if k == "for_stmt":
        return "for (...)"
    return _text(src, st).rstrip(";").strip()


def _name_of(node) -> str | None:
    if isinstance(node, Tree) and node.data == "name":
        return str(node.children[0])
    return None


def _args(call: Tree) -> list:
    if len(call.children) < 2:
        return []
    a = call.children[1]
    if isinstance(a, Tree) and a.data == "args":
        return list(a.children)
    return [a]


_U64 = (1 << 64) - 1


def _int_literal(text: str) -> int | None:
    """A C integer constant's value, or None beyond 64 bits (its digits are counted before int() reads
    them: Python refuses to convert more than 4,300 digits, and nothing needs more than 20)."""
    t = text.rstrip("uUlL")
    hexa = t.lower().startswith("0x")
    digits = t[2:].lstrip("0") if hexa else t.lstrip("0")
    if len(digits) > (16 if hexa else 20):
        return None
    v = int(t, 16) if hexa else int(t)
    return v if v <= _U64 else None


def _abbrev(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}…{text[-4:]} ({len(text):,} characters)"


def _long_number(source: str):
    """Where the first number too long for Python's int() is in `source` (line, column), for the
    parser's own conversions of CPU numbers, which refuse them with a ValueError."""
    import re

    m = re.search(r"\d{4000,}", source)
    if m is None:
        return 0, 0, ""
    line = source.count("\n", 0, m.start()) + 1
    return line, m.start() - (source.rfind("\n", 0, m.start()) + 1) + 1, m.group()


# parse-tree nodes of plain arithmetic (what a constant #define may be made of)
_ARITHMETIC = frozenset({"number", "name", "binop", "lnot", "bnot", "neg", "cast", "ternary", *_BINOPS})


def _walk(node):
    """Every node of a parse tree, iteratively (a body may nest deeply)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Tree):
            stack.extend(n.children)


def _size(node) -> int:
    """Parse-tree nodes in a macro body: what one expansion of it costs."""
    return sum(1 for n in _walk(node) if isinstance(n, Tree))


def _fold(e: Expr) -> Expr:
    """Fold constant integer arithmetic so `1U << 10` is a constant, not a computation."""
    from ..engine.expr import EvalError, evaluate

    if isinstance(e, Const):
        return e
    if isinstance(e, (Bin, Un)):
        try:
            kids = (e.left, e.right) if isinstance(e, Bin) else (e.arg,)
            if all(isinstance(_fold(k), Const) for k in kids):
                return Const(evaluate(e, {}))
        except EvalError:
            return e
    return e


def _split_for(src: str, st: Tree, exprs: list) -> tuple:
    """Which of a for-loop's optional expressions is the condition and which the step."""
    if len(exprs) == 2:
        return exprs[0], exprs[1]
    if not exprs:
        return None, None
    # one expression: it is the condition when a ';' follows it inside the header
    e = exprs[0]
    end = e.meta.end_pos if not getattr(e.meta, "empty", True) else 0
    tail = src[end:].lstrip()
    return (e, None) if tail.startswith(";") else (None, e)
