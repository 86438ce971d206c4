"""Random LKMM litmus tests for differential testing against herd7 (bench/differential.py).

`generate(seed)` returns the text of one C litmus test and the set of constructs it uses.
The same seed always gives the same test.  Tests stay small enough for both tools to finish
in well under a second (at most four CPUs, four writes to a location, a dozen or so events),
and every test is one herd7 7.58 reads: only constructs its C parser takes, locks and RCU
sections well nested, registers declared before use.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["generate", "CONSTRUCTS"]

LOCS = ("x", "y", "z", "w")
ORDERS = ("", "_relaxed", "_acquire", "_release")
FENCES = ("smp_mb()", "smp_rmb()", "smp_wmb()", "smp_mb__before_atomic()", "smp_mb__after_atomic()",
          "barrier()", "smp_mb__after_spinlock()", "smp_mb__after_unlock_lock()", "synchronize_rcu()")
VOID_RMW = ("atomic_add", "atomic_sub", "atomic_and", "atomic_or", "atomic_xor", "atomic_andnot")
RETURN_RMW = ("atomic_add_return", "atomic_sub_return", "atomic_fetch_add", "atomic_fetch_sub",
              "atomic_fetch_and", "atomic_fetch_or", "atomic_fetch_xor", "atomic_fetch_andnot")
UNARY_RETURN_RMW = ("atomic_inc_return", "atomic_dec_return", "atomic_fetch_inc", "atomic_fetch_dec")

# every construct the generator can emit; the bench reports how many tests used each
CONSTRUCTS = (
    "READ_ONCE", "WRITE_ONCE", "plain-load", "plain-store", "smp_load_acquire", "smp_store_release",
    "atomic_read", "atomic_set", "atomic_read_acquire", "atomic_set_release", "rcu_dereference",
    "rcu_assign_pointer", "smp_store_mb", *(f.split("(")[0] for f in FENCES),
    "atomic-void", "atomic_inc/dec", "atomic-return", "atomic-return-unary", "xchg", "cmpxchg",
    "atomic_add_unless", "atomic_*_and_test", "atomic_add_negative", "order:mb", "order:relaxed",
    "order:acquire", "order:release", "rmw-then-read-own-write", "spin_lock", "spin_trylock", "spin_is_locked",
    "rcu_read_lock", "srcu_read_lock", "synchronize_srcu", "smp_mb__after_srcu_read_unlock",
    "addr-dep", "data-dep", "ctrl-dep", "code-after-if", "else", "nested-if", "temporary",
    "cond:exists", "cond:forall", "cond:~exists", "cond:reg", "cond:mem", "cond:reg=reg", "cond:/\\",
    "cond:\\/", "cond:~", "cond:=>", "filter", "locations", "no-condition", "init-values", "4-cpus", "3-cpus",
    "2-cpus", "cycle",
)


@dataclass
class _Thread:
    tid: int
    lines: list[str] = field(default_factory=list)
    regs: list[str] = field(default_factory=list)  # declared int registers
    ptr_regs: list[str] = field(default_factory=list)  # declared int * registers
    values: dict[str, list] = field(default_factory=dict)  # register -> values it may hold (for conditions)
    loaded: list[str] = field(default_factory=list)  # registers holding a value read from memory
    uses_srcu: bool = False
    uses_lock: bool = False
    uses_ptr: bool = False


class _Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.seed = seed
        self.used: set[str] = set()
        self.locs = list(LOCS[: self.r.randint(1, 4)])
        self.writes: dict[str, int] = {loc: 0 for loc in self.locs}
        self.values = {loc: [0] for loc in self.locs}
        self.init: dict[str, int] = {}
        self.events = 0
        self.max_events = self.r.randint(4, 12)
        # herd7 enumerates every value of every read: keep reads and writes few, as litmus tests do
        self.reads = 0
        self.max_reads = self.r.randint(2, 5)
        self.lock_sections = 0  # herd7 orders critical sections by permutation: keep them few
        self.ptr = self.r.random() < 0.15  # an RCU-style pointer p, initially pointing at x

    # ---- helpers ---------------------------------------------------------------------
    def use(self, *names: str) -> None:
        self.used.update(names)

    def pick_loc(self, writing: bool = False) -> str | None:
        choices = [loc for loc in self.locs if not writing or self.writes[loc] < 2]
        if not choices:
            return None
        loc = self.r.choice(choices)
        if writing:
            self.writes[loc] += 1
        return loc

    def order(self) -> str:
        sfx = self.r.choice(ORDERS)
        self.use({"": "order:mb", "_relaxed": "order:relaxed", "_acquire": "order:acquire",
                  "_release": "order:release"}[sfx])
        return sfx

    def new_reg(self, t: _Thread, values: list) -> str:
        name = f"r{len(t.regs) + len(t.ptr_regs)}"
        t.regs.append(name)
        t.values[name] = values
        return name

    def value_expr(self, t: _Thread) -> tuple[str, list]:
        """A value to store: a constant, or (data dependency) an expression over a loaded register."""
        v = self.r.randint(1, 3)
        if t.loaded and self.r.random() < 0.3:
            reg = self.r.choice(t.loaded)
            self.use("data-dep")
            form = self.r.choice(("{r}", "{r} + {v}", "{r} * 0 + {v}", "({r} & 0) + {v}"))
            return form.format(r=reg, v=v), [v, v + 1, v + 2, v + 3]
        return str(v), [v]

    def note_write(self, loc: str, values: list) -> None:
        self.values[loc].extend(values)
        self.events += 1

    # ---- statements ---------------------------------------------------------------------
    def load(self, t: _Thread) -> None:
        if self.reads >= self.max_reads:
            return self.store(t, fallback=False)
        self.reads += 1
        if self.ptr and t.ptr_regs and self.r.random() < 0.5:
            reg = self.new_reg(t, [0, 1, 2, 3])
            t.lines.append(f"{reg} = READ_ONCE(*{self.r.choice(t.ptr_regs)});")
            self.use("addr-dep", "READ_ONCE")
            t.loaded.append(reg)
            self.events += 1
            return
        if self.ptr and self.r.random() < 0.25:
            name = f"r{len(t.regs) + len(t.ptr_regs)}"
            t.ptr_regs.append(name)
            t.values[name] = ["x", "y"]
            t.lines.append(f"{name} = rcu_dereference(*p);")
            t.uses_ptr = True
            self.use("rcu_dereference")
            self.events += 1
            return
        loc = self.pick_loc()
        reg = self.new_reg(t, sorted(set(self.values[loc]), key=str))
        kind = self.r.choice(("READ_ONCE", "READ_ONCE", "smp_load_acquire", "atomic_read", "atomic_read_acquire",
                              "plain-load"))
        expr = {"READ_ONCE": f"READ_ONCE(*{loc})", "smp_load_acquire": f"smp_load_acquire({loc})",
                "atomic_read": f"atomic_read({loc})", "atomic_read_acquire": f"atomic_read_acquire({loc})",
                "plain-load": f"*{loc}"}[kind]
        self.use(kind)
        t.lines.append(f"{reg} = {expr};")
        t.loaded.append(reg)
        self.events += 1

    def store(self, t: _Thread, fallback: bool = True) -> None:
        if self.ptr and self.r.random() < 0.2:
            target = self.r.choice(("x", "y"))
            t.lines.append(f"rcu_assign_pointer(*p, {target});")
            t.uses_ptr = True
            self.use("rcu_assign_pointer")
            self.events += 1
            return
        loc = self.pick_loc(writing=True)
        if loc is None:
            return self.load(t) if fallback else self.fence(t)
        val, vals = self.value_expr(t)
        kind = self.r.choice(("WRITE_ONCE", "WRITE_ONCE", "smp_store_release", "atomic_set", "atomic_set_release",
                              "plain-store", "smp_store_mb"))
        text = {"WRITE_ONCE": f"WRITE_ONCE(*{loc}, {val});", "smp_store_release": f"smp_store_release({loc}, {val});",
                "atomic_set": f"atomic_set({loc}, {val});", "atomic_set_release": f"atomic_set_release({loc}, {val});",
                "plain-store": f"*{loc} = {val};", "smp_store_mb": f"smp_store_mb(*{loc}, {val});"}[kind]
        self.use(kind)
        t.lines.append(text)
        self.note_write(loc, vals)

    def fence(self, t: _Thread) -> None:
        f = self.r.choice(FENCES)
        self.use(f.split("(")[0])
        t.lines.append(f + ";")

    def rmw(self, t: _Thread) -> None:
        if self.reads >= self.max_reads:
            return self.store(t, fallback=False)
        loc = self.pick_loc(writing=True)
        if loc is None:
            return self.load(t)
        self.reads += 1
        self.events += 2
        v = self.r.randint(1, 2)
        # values an RMW may leave: keep the domain small but honest for conditions
        vals = sorted({a + b for a in self.values[loc] if isinstance(a, int) for b in (-2, -1, 1, 2, 3)}
                      | {v, 0, 1, 2, 3}, key=str)
        kind = self.r.choice(("void", "void", "unary-void", "return", "return", "unary-return", "xchg", "cmpxchg",
                              "add_unless", "and_test", "add_negative"))
        if kind == "void":
            op = self.r.choice(VOID_RMW)
            t.lines.append(f"{op}({v}, {loc});")
            self.use("atomic-void")
        elif kind == "unary-void":
            t.lines.append(f"{self.r.choice(('atomic_inc', 'atomic_dec'))}({loc});")
            self.use("atomic_inc/dec")
        else:
            if kind == "return":
                expr = f"{self.r.choice(RETURN_RMW)}{self.order()}({v}, {loc})"
                self.use("atomic-return")
            elif kind == "unary-return":
                expr = f"{self.r.choice(UNARY_RETURN_RMW)}{self.order()}({loc})"
                self.use("atomic-return-unary")
            elif kind == "xchg":
                base = self.r.choice(("xchg", "atomic_xchg"))
                expr = f"{base}{self.order()}({loc}, {v})"
                self.use("xchg")
            elif kind == "cmpxchg":
                base = self.r.choice(("cmpxchg", "atomic_cmpxchg"))
                old = self.r.choice(self.values[loc]) if self.r.random() < 0.7 else self.r.randint(0, 2)
                expr = f"{base}{self.order()}({loc}, {old}, {v + 1})"
                self.use("cmpxchg")
            elif kind == "add_unless":
                expr = f"atomic_add_unless({loc}, {v}, {self.r.randint(0, 2)})"
                self.use("atomic_add_unless")
            elif kind == "and_test":
                expr = self.r.choice((f"atomic_dec_and_test({loc})", f"atomic_inc_and_test({loc})",
                                      f"atomic_sub_and_test({v}, {loc})"))
                self.use("atomic_*_and_test")
            else:
                expr = f"atomic_add_negative{self.order()}({v}, {loc})"
                self.use("atomic_add_negative")
            reg = self.new_reg(t, vals)
            t.lines.append(f"{reg} = {expr};")
            t.loaded.append(reg)
        self.values[loc].extend(vals)
        # the RMW's own write read back on the same CPU: to-r through the RMW's data dependency
        if self.r.random() < 0.25 and self.reads < self.max_reads:
            reg = self.new_reg(t, vals)
            how = self.r.choice(("smp_load_acquire({l})", "READ_ONCE(*{l})", "atomic_read_acquire({l})"))
            t.lines.append(f"{reg} = {how.format(l=loc)};")
            t.loaded.append(reg)
            self.use("rmw-then-read-own-write")
            self.events += 1
            self.reads += 1

    def lock_section(self, t: _Thread, depth: int) -> None:
        if self.lock_sections >= 2:
            return self.fence(t)
        self.lock_sections += 1
        t.uses_lock = True
        kind = self.r.choice(("lock", "lock", "trylock", "islocked"))
        if kind == "islocked":
            reg = self.new_reg(t, [0, 1])
            t.lines.append(f"{reg} = spin_is_locked(s);")
            self.use("spin_is_locked")
            self.events += 1
            return
        if kind == "trylock":
            reg = self.new_reg(t, [0, 1])
            t.lines.append(f"{reg} = spin_trylock(s);")
            t.lines.append(f"if ({reg}) {{")
            self.body(t, self.r.randint(1, 2), depth + 1, inside_lock=True)
            t.lines.append("spin_unlock(s);")
            t.lines.append("}")
            self.use("spin_trylock")
            self.events += 2
            return
        t.lines.append("spin_lock(s);")
        if self.r.random() < 0.3:
            t.lines.append("smp_mb__after_spinlock();")
            self.use("smp_mb__after_spinlock")
        self.body(t, self.r.randint(1, 2), depth + 1, inside_lock=True)
        t.lines.append("spin_unlock(s);")
        self.use("spin_lock")
        self.events += 3

    def rcu_section(self, t: _Thread, depth: int) -> None:
        if self.r.random() < 0.35:
            t.uses_srcu = True
            reg = f"i{len(t.lines)}"
            t.lines.append(f"int {reg} = srcu_read_lock(ss);")
            self.body(t, self.r.randint(1, 2), depth + 1, in_rcu=True)
            t.lines.append(f"srcu_read_unlock(ss, {reg});")
            if self.r.random() < 0.3:
                t.lines.append("smp_mb__after_srcu_read_unlock();")
                self.use("smp_mb__after_srcu_read_unlock")
            self.use("srcu_read_lock")
            self.events += 2
            return
        t.lines.append("rcu_read_lock();")
        self.body(t, self.r.randint(1, 3), depth + 1, in_rcu=True)
        t.lines.append("rcu_read_unlock();")
        self.use("rcu_read_lock")

    def if_stmt(self, t: _Thread, depth: int, inside_lock: bool, in_rcu: bool) -> None:
        if not t.loaded:
            return self.load(t)
        reg = self.r.choice(t.loaded)
        vals = [v for v in t.values.get(reg, [0, 1]) if isinstance(v, int)] or [0, 1]
        cond = self.r.choice((f"{reg}", f"{reg} == {self.r.choice(vals)}", f"{reg} != {self.r.choice(vals)}",
                              f"{reg} > 0", f"{reg} >= 1", f"{reg} < 2"))
        t.lines.append(f"if ({cond}) {{")
        self.body(t, self.r.randint(1, 2), depth + 1, inside_lock, in_rcu)
        if self.r.random() < 0.35:
            t.lines.append("} else {")
            self.body(t, self.r.randint(1, 2), depth + 1, inside_lock, in_rcu)
            self.use("else")
        t.lines.append("}")
        self.use("ctrl-dep")
        if depth > 0:
            self.use("nested-if")
        if self.r.random() < 0.6:  # code after the if: not control-dependent in herd7
            self.store(t)
            self.use("code-after-if")

    def temporary(self, t: _Thread) -> None:
        if not t.loaded:
            return self.load(t)
        src = self.r.choice(t.loaded)
        vals = [v for v in t.values.get(src, [0]) if isinstance(v, int)] or [0]
        reg = self.new_reg(t, sorted({v + 1 for v in vals} | {0}))
        t.lines.append(f"{reg} = {src} + 1;")
        t.loaded.append(reg)
        self.use("temporary")

    def body(self, t: _Thread, n: int, depth: int = 0, inside_lock: bool = False, in_rcu: bool = False) -> None:
        if depth and self.events >= self.max_events:
            t.lines.append("barrier();")  # herd7 takes no empty block
            self.use("barrier")
            return
        for _ in range(n):
            if self.events >= self.max_events:
                return
            choices = ["load", "load", "store", "store", "fence", "rmw", "temporary"]
            if depth < 2:
                choices += ["if"]
                if not inside_lock and not in_rcu:
                    choices += ["lock", "rcu"]
            if not in_rcu and not inside_lock and depth == 0:
                choices += ["sync-srcu"]
            what = self.r.choice(choices)
            if what == "load":
                self.load(t)
            elif what == "store":
                self.store(t)
            elif what == "fence":
                if in_rcu:  # no grace period inside a read-side section (herd7 flags invalid-sleep)
                    t.lines.append("smp_mb();")
                    self.use("smp_mb")
                else:
                    self.fence(t)
            elif what == "rmw":
                self.rmw(t)
            elif what == "temporary":
                self.temporary(t)
            elif what == "if":
                self.if_stmt(t, depth, inside_lock, in_rcu)
            elif what == "lock":
                self.lock_section(t, depth)
            elif what == "rcu":
                self.rcu_section(t, depth)
            elif what == "sync-srcu":
                t.uses_srcu = True
                t.lines.append("synchronize_srcu(ss);")
                self.use("synchronize_srcu")

    # ---- cycles: diy7's shapes (MP, SB, LB, WRC, ISA2, ...) with random orderings ----------
    def access(self, t: _Thread, kind: str, loc: str, value: int, addr_from: str | None = None) -> str | None:
        """One access of a cycle: a read (returns its register) or a write of `value`."""
        target = f"*({loc} + ({addr_from} & 0))" if addr_from else f"*{loc}"
        pointer = f"({loc} + ({addr_from} & 0))" if addr_from else loc
        if addr_from:
            self.use("addr-dep")
        if kind == "R":
            reg = self.new_reg(t, [0, value])
            form = self.r.choice(("READ_ONCE", "READ_ONCE", "READ_ONCE", "smp_load_acquire", "atomic_read",
                                  "plain-load", "rmw-read"))
            if form == "rmw-read" and self.writes[loc] < 2:
                self.writes[loc] += 1
                expr = self.r.choice((f"atomic_fetch_add{self.order()}(0, {pointer})",
                                      f"xchg{self.order()}({pointer}, {value})",
                                      f"atomic_add_return{self.order()}(0, {pointer})",
                                      f"cmpxchg{self.order()}({pointer}, {value + 5}, 7)"))
                self.use("atomic-return")
                self.values[loc].append(value)
            else:
                form = "READ_ONCE" if form == "rmw-read" else form
                expr = {"READ_ONCE": f"READ_ONCE({target})", "smp_load_acquire": f"smp_load_acquire({pointer})",
                        "atomic_read": f"atomic_read({pointer})", "plain-load": target}[form]
                self.use(form)
            t.lines.append(f"{reg} = {expr};")
            t.loaded.append(reg)
            self.reads += 1
            self.events += 1
            return reg
        self.writes[loc] += 1
        self.values[loc].append(value)
        val = str(value)
        if t.loaded and self.r.random() < 0.3:
            val = f"({self.r.choice(t.loaded)} & 0) + {value}"
            self.use("data-dep")
        form = self.r.choice(("WRITE_ONCE", "WRITE_ONCE", "WRITE_ONCE", "smp_store_release", "atomic_set",
                              "plain-store", "xchg", "atomic_xchg_relaxed", "smp_store_mb"))
        text = {"WRITE_ONCE": f"WRITE_ONCE({target}, {val});",
                "smp_store_release": f"smp_store_release({pointer}, {val});",
                "atomic_set": f"atomic_set({pointer}, {val});", "plain-store": f"{target} = {val};",
                "smp_store_mb": f"smp_store_mb({target}, {val});"}.get(form)
        if text is None:
            base, sfx = ("xchg", self.order()) if form == "xchg" else ("atomic_xchg", "_relaxed")
            reg = self.new_reg(t, [0, 1, 2, 3])
            text = f"{reg} = {base}{sfx}({pointer}, {val});"
            self.use("xchg")
        else:
            self.use(form)
        t.lines.append(text)
        self.events += 1
        return None

    def between(self, t: _Thread, first_reg: str | None, second_kind: str) -> tuple[str | None, str | None]:
        """What orders a thread's two cycle accesses: (wrapping `if` condition, address source)."""
        how = self.r.choice(("po", "fence", "fence", "fence", "addr", "ctrl", "ctrl-after", "rmw-fence", "lock",
                             "unlock-lock", "noise"))
        if how == "fence":
            f = self.r.choice(FENCES[:6] + ("smp_mb()", "smp_mb()"))
            self.use(f.split("(")[0])
            t.lines.append(f + ";")
        elif how == "rmw-fence":
            loc = self.pick_loc(writing=True)
            if loc is not None:
                before = self.r.random() < 0.5
                if before:
                    t.lines.append("smp_mb__before_atomic();")
                t.lines.append(f"{self.r.choice(('atomic_inc', 'atomic_dec'))}({loc});")
                if not before:
                    t.lines.append("smp_mb__after_atomic();")
                self.use("atomic_inc/dec", "smp_mb__before_atomic" if before else "smp_mb__after_atomic")
                self.values[loc] += [1, -1, 2]
                self.events += 2
        elif how == "addr" and first_reg is not None:
            return None, first_reg
        elif how in ("ctrl", "ctrl-after") and first_reg is not None:
            cond = self.r.choice((f"{first_reg}", f"{first_reg} == 1", f"{first_reg} != 2", f"{first_reg} >= 0"))
            self.use("ctrl-dep")
            if how == "ctrl-after":
                t.lines.append(f"if ({cond}) {{")
                self.body(t, 1, 1)
                if self.r.random() < 0.4:
                    t.lines.append("} else {")
                    self.body(t, 1, 1)
                    self.use("else")
                t.lines.append("}")
                self.use("code-after-if")
                return None, None
            return cond, None
        elif how in ("lock", "unlock-lock") and self.lock_sections >= 2:
            pass
        elif how == "lock":
            self.lock_sections += 1
            t.uses_lock = True
            self.use("spin_lock")
            return "lock", None
        elif how == "unlock-lock":
            self.lock_sections += 2
            t.uses_lock = True
            t.lines.append("spin_lock(s);")
            t.lines.append("spin_unlock(s);")
            t.lines.append("spin_lock(s);")
            if self.r.random() < 0.5:
                t.lines.append("smp_mb__after_unlock_lock();")
                self.use("smp_mb__after_unlock_lock")
            t.lines.append("spin_unlock(s);")
            self.use("spin_lock")
            self.events += 6
        elif how == "noise":
            self.body(t, 1, 1)
        return None, None

    def cycle(self, n: int) -> tuple[list[_Thread], str]:
        """n threads in a communication cycle; returns them and the cycle's outcome as a proposition."""
        threads = [_Thread(i) for i in range(n)]
        self.locs = list(LOCS[:n]) if n <= len(LOCS) else list(LOCS)
        self.writes = {loc: 0 for loc in self.locs}
        self.values = {loc: [0] for loc in self.locs}
        edges = [self.r.choice(("rf", "rf", "fr", "co")) for _ in range(n)]  # edge i: thread i -> i+1 on locs[i]
        atoms = []
        pending: dict[int, str] = {}  # final-value atoms for co edges, by location index
        for i, t in enumerate(threads):
            inc = edges[i - 1]  # the edge into thread i, on locs[i-1]
            out = edges[i]
            first_kind = "R" if inc == "rf" else "W"
            last_kind = "W" if out in ("rf", "co") else "R"
            lin, lout = self.locs[(i - 1) % n], self.locs[i]
            wrap_rcu = self.r.random() < 0.12
            if wrap_rcu:
                t.lines.append("rcu_read_lock();")
                self.use("rcu_read_lock")
            first_val = 2 if inc == "co" else 1
            reg = self.access(t, first_kind, lin, first_val)
            if inc == "rf":
                atoms.append(f"{i}:{reg}=1")
            elif inc == "fr":
                pass  # the read of the previous thread sees 0: recorded there
            else:
                pending[(i - 1) % n] = f"{lin}=2"
            cond, addr = self.between(t, reg, last_kind) if not wrap_rcu else (None, None)
            if wrap_rcu and self.r.random() < 0.5:
                t.lines.append("rcu_read_unlock();")
                t.lines.append("synchronize_rcu();")
                t.lines.append("rcu_read_lock();")
                self.use("synchronize_rcu")
            if cond == "lock":
                t.lines.insert(len(t.lines) - 1, "spin_lock(s);")
                self.events += 2
            elif cond is not None:
                t.lines.append(f"if ({cond}) {{")
            reg2 = self.access(t, last_kind, lout, 1, addr_from=addr)
            if cond == "lock":
                t.lines.append("spin_unlock(s);")
            elif cond is not None:
                t.lines.append("}")
                if self.r.random() < 0.4:
                    self.store(t)
                    self.use("code-after-if")
            if wrap_rcu:
                t.lines.append("rcu_read_unlock();")
            if last_kind == "R":
                atoms.append(f"{i}:{reg2}=0")
            if self.r.random() < 0.15 and i > 0:
                t.lines.append("synchronize_rcu();")
                self.use("synchronize_rcu")
        atoms += pending.values()
        self.r.shuffle(atoms)
        return threads, " /\\ ".join(atoms) if atoms else ""

    # ---- the test ------------------------------------------------------------------------
    def condition(self, threads: list[_Thread]) -> str:
        atoms = []
        for t in threads:
            for reg in t.regs + t.ptr_regs:
                if reg in t.values:
                    atoms.append(("reg", f"{t.tid}:{reg}", t.values[reg]))
        for loc in self.locs:
            atoms.append(("mem", loc, self.values[loc]))
        if not atoms:
            return ""
        terms = []
        for _ in range(self.r.randint(1, 4)):
            kind, name, vals = self.r.choice(atoms)
            regs = [a for a in atoms if a[0] == "reg" and a[1] != name]
            if kind == "reg" and regs and self.r.random() < 0.15:
                terms.append(f"{name}={self.r.choice(regs)[1]}")
                self.use("cond:reg=reg")
                continue
            val = self.r.choice(vals) if vals and self.r.random() < 0.85 else self.r.randint(0, 3)
            terms.append(f"{name}={val}")
            self.use("cond:reg" if kind == "reg" else "cond:mem")
        prop = terms[0]
        for term in terms[1:]:
            if self.r.random() < 0.15:
                term = f"~{term}"
                self.use("cond:~")
            op = self.r.choice(("/\\", "/\\", "\\/", "=>")) if len(terms) > 1 else "/\\"
            if op == "=>" and self.r.random() < 0.7:
                op = "/\\"
            self.use({"/\\": "cond:/\\", "\\/": "cond:\\/", "=>": "cond:=>"}[op])
            prop = f"{prop} {op} {term}" if self.r.random() < 0.7 else f"({prop}) {op} {term}"
        quant = self.r.choice(("exists", "exists", "exists", "forall", "~exists"))
        self.use(f"cond:{quant}")
        return f"{quant} ({prop})"

    def build(self) -> str:
        n = self.r.choice((2, 2, 2, 3, 3, 4))
        self.use(f"{n}-cpus")
        shaped = self.r.random() < 0.7
        cycle_prop = ""
        if shaped:
            self.ptr = False
            threads, cycle_prop = self.cycle(n)
            self.use("cycle")
        else:
            threads = [_Thread(i) for i in range(n)]
            for loc in self.locs:
                if self.r.random() < 0.2:
                    self.init[loc] = self.r.randint(1, 2)
                    self.values[loc] = [self.init[loc]]
                    self.use("init-values")
            order = list(range(n))
            for _ in range(3):
                for i in order:
                    if self.events < self.max_events:
                        self.body(threads[i], 1)
                self.r.shuffle(order)
        for t in threads:
            if not t.lines:
                self.store(t)
        lines = [f"C gen-{self.seed}", "", "{"]
        for loc, v in self.init.items():
            lines.append(f"\t{loc}={v};")
        if self.ptr:
            lines.append("\tp=x;")
        lines.append("}")
        lines.append("")
        for t in threads:
            params = [f"int *{loc}" for loc in self.locs]
            if self.ptr:
                params.append("int **p")
                for v in ("x", "y"):
                    if v not in self.locs:
                        params.append(f"int *{v}")
            if t.uses_lock:
                params.append("spinlock_t *s")
            if t.uses_srcu:
                params.append("struct srcu_struct *ss")
            lines.append(f"P{t.tid}({', '.join(params)})")
            lines.append("{")
            for reg in t.regs:
                lines.append(f"\tint {reg};")
            for reg in t.ptr_regs:  # initialised: a pointer read in one branch may be used after it
                lines.append(f"\tint *{reg} = x;")
            depth = 1
            for text in t.lines:
                if text.startswith("}"):
                    depth -= 1
                lines.append("\t" * depth + text)
                if text.endswith("{"):
                    depth += 1
            lines.append("}")
            lines.append("")
        extra = []
        if self.r.random() < 0.1:
            regs = [f"{t.tid}:{r}" for t in threads for r in t.regs]
            if regs:
                extra.append(f"locations [{'; '.join(self.r.sample(regs, min(2, len(regs))))};]")
                self.use("locations")
        if self.r.random() < 0.1:
            t = self.r.choice(threads)
            if t.regs:
                reg = self.r.choice(t.regs)
                vals = [v for v in t.values.get(reg, [0]) if isinstance(v, int)] or [0]
                extra.append(f"filter ({t.tid}:{reg}={self.r.choice(vals)})")
                self.use("filter")
        if cycle_prop and self.r.random() < 0.8:
            self.use("cond:exists", "cond:reg")
            cond = f"exists ({cycle_prop})"
        else:
            cond = "" if self.r.random() < 0.03 else self.condition(threads)
        if not cond:
            self.use("no-condition")
        lines.extend(extra)
        if cond:
            lines.append(cond)
        return "\n".join(lines) + "\n"


def generate(seed: int) -> tuple[str, set[str]]:
    """One random litmus test (its text) and the constructs it uses, both fixed by the seed."""
    g = _Gen(seed)
    text = g.build()
    return text, g.used
