"""Per-thread control-flow paths by symbolic execution: events, po, rmw and dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

from ....errors import Unsupported
from ....lang.ast import PAnd, prop_locations
from ...condition import holds
from ...expr import EvalError, apply_op, evaluate, registers_of, truth
from ...ir import Branch, Fence, IsLocked, Jump, Load, Local, Lock, Reg, Rmw, Store, SyncSrcu, TryLock, Unlock

__all__ = ["Ev", "Path", "thread_paths", "value_domains", "LOCK_TAGS"]

LOCK_TAGS = frozenset(("LKR", "LKW", "UL", "LF", "RL", "RU"))
_ARITHMETIC = frozenset(("op", "op_return", "fetch_op", "add_unless"))  # RMWs whose write is computed from the read
MAX_DOMAIN = 4096


@dataclass(slots=True)
class Ev:
    """One event of a path: kind R, W, F (fence) or S (synchronize_srcu, has a location)."""

    kind: str
    loc: str | None
    value: object
    tags: frozenset
    origin: object = None
    tid: int = -1
    depth: int = 0  # value fixpoint: how many reads, one feeding the next, this written value was computed from
    pc: int = -1  # the instruction (op) of the thread's code this event comes from: stepping names it
    ret: object = None  # what the instruction put in its destination register (loads, RMWs, trylocks)
    # a write whose value is `op` applied to the value it overwrites (an RMW whose result nobody
    # uses): its value, and its read's, are known only once co is chosen (see rfco.py)
    op: tuple | None = None
    # a write whose value is exactly what a read of this path returned (`WRITE_ONCE(*y, r0)`):
    # that read's index in the path.  herd7 leaves a cycle of such copies symbolic (cat check)
    copy: int = -1


@dataclass
class Path:
    events: list[Ev] = field(default_factory=list)
    rmw: list[tuple[int, int]] = field(default_factory=list)
    addr: list[int] = field(default_factory=list)  # per event: bitmask of local reads it address-depends on
    data: list[int] = field(default_factory=list)
    ctrl: list[int] = field(default_factory=list)
    before: list[dict] = field(default_factory=list)  # per event: the registers just before it (for stepping)
    regs: dict = field(default_factory=dict)
    # set when the path reaches something not modelled (an integer address, a division by zero):
    # the events are the prefix before it, and the error is raised only if an allowed execution has it
    error: Exception | None = None
    # filled by the checker once the path is complete: per location, values read and written
    rw: tuple | None = field(default=None, repr=False, compare=False)
    # value fixpoint only: per location, the RMWs resolved along co this path runs, in order
    sym: dict = field(default_factory=dict, repr=False, compare=False)


def _unsupported(reason: str, ins, program) -> Unsupported:
    o = getattr(ins, "origin", None)
    return Unsupported(reason, getattr(o, "line", 0), getattr(o, "column", 0), program.source or None)


@dataclass(slots=True)
class _Cont:
    """A path being walked: where it is, its registers, their dependencies, the control scopes."""

    pc: int
    regs: dict
    deps: dict  # register -> bitmask of the path's reads its value depends on (addr, data)
    ctrl: int  # the reads the current instruction is control-dependent on
    scopes: tuple  # ((join pc, ctrl before the branch), ...): a branch's dependency ends at its join
    path: Path
    backs: tuple  # per back edge of the code, how often this path took it (the loop bound counts each)
    depth: dict  # value fixpoint: register -> the depth of the value it holds
    copies: dict  # register -> the path's read whose value it holds unchanged


class _Walker:
    """Walks one thread's code along every path (one per value each read may take), with an
    explicit stack, not recursion: a thread may read hundreds of times."""

    def __init__(self, program, thread, domains, track=False, budget=None, symbolic=True):
        self.track = track
        self.symbolic = symbolic
        self.budget = budget
        self.work = 0
        self.program = program
        self.thread = thread
        self.domains = domains
        self.bound = program.loop_bound
        self.back_edges = {pc: k for k, pc in enumerate(pc for pc, ins in enumerate(thread.code)
                                                         if isinstance(ins, (Branch, Jump)) and ins.back)}
        self.live = _live_registers(program, thread)
        self.paths: list[Path] = []
        self.cut = 0
        self._pc = 0  # the instruction being walked: every event emitted records it
        self._regs: dict = {}
        self.seen: set = set()
        self.written: list = []  # track mode: (location, value, depth) of every write
        self._stack: list[_Cont] = []

    def run(self) -> list[Path]:
        regs = {name: v for (t, name), v in self.program.init_regs.items() if t == self.thread.index}
        self._stack = [_Cont(0, regs, {}, 0, (), Path(), (0,) * len(self.back_edges), {}, {})]
        while self._stack:
            self._go(self._stack.pop())
        return self.paths

    def _fork_all(self, children: list[_Cont]) -> None:
        # pushed last-first, so the first value's paths are walked (and listed) first
        self._stack.extend(reversed(children))

    def _loc(self, ins, regs):
        try:
            a = evaluate(ins.addr, regs)
        except EvalError as e:
            raise _unsupported(f"lkmm: address of '{ins.origin.text}': {e.reason}", ins, self.program) from None
        if not isinstance(a, str):
            raise _unsupported(f"lkmm: '{ins.origin.text}' accesses the integer address {a}: "
                               "only named locations are modelled", ins, self.program)
        return a

    @staticmethod
    def _dep(expr, deps) -> int:
        m = 0
        for r in registers_of(expr):
            m |= deps.get(r, 0)
        return m

    def _emit(self, p: Path, ev: Ev, ctrl: int, addr: int = 0, data: int = 0) -> int:
        ev.pc = self._pc
        if self.track and ev.kind == "W" and not (ev.tags & LOCK_TAGS):
            self.written.append((ev.loc, ev.value, ev.depth))  # all the value fixpoint needs
        if not self.track:  # only the final pass is stepped; the value fixpoint needs no snapshots
            p.before.append(dict(self._regs))
        p.events.append(ev)
        p.addr.append(addr)
        p.data.append(data)
        p.ctrl.append(ctrl)
        return len(p.events) - 1

    def _fork(self, p: Path) -> Path:
        q = Path(list(p.events), list(p.rmw), list(p.addr), list(p.data), list(p.ctrl), list(p.before))
        if p.sym:
            q.sym = dict(p.sym)
        return q

    @staticmethod
    def _depth(expr, depth) -> int:
        return max((depth.get(r, 0) for r in registers_of(expr)), default=0)

    def _child(self, c: _Cont, q: Path, regs: dict, deps: dict, depth: dict, copy_reg=None, read=-1) -> _Cont:
        copies = dict(c.copies)
        if copy_reg is not None:
            if read >= 0:
                copies[copy_reg] = read
            else:
                copies.pop(copy_reg, None)
        return _Cont(c.pc + 1, regs, deps, c.ctrl, c.scopes, q, c.backs, depth, copies)

    def _branch(self, ins: Branch, c: _Cont, taken: bool) -> bool:
        """Move `c` past a branch; False when going round the loop again passes the bound."""
        if taken:
            c.pc += 1
            return True
        if ins.back and not self._take_back_edge(c):
            return False
        c.pc = ins.target
        return True

    def _take_back_edge(self, c: _Cont) -> bool:
        """Count going round a loop once more; False (the path is cut) past the loop bound, which
        counts each back edge on its own, as the sc and tso machines and herd7's unrolling do."""
        k = self.back_edges[c.pc]
        if c.backs[k] >= self.bound:
            self.cut += 1
            return False
        c.backs = c.backs[:k] + (c.backs[k] + 1,) + c.backs[k + 1:]
        return True

    @staticmethod
    def _copy_of(expr, copies) -> int:
        return copies.get(expr.name, -1) if type(expr) is Reg else -1

    def _go(self, c: _Cont) -> None:
        """Walk `c` until its path ends or forks (the children go on the stack)."""
        code = self.thread.code
        tid = self.thread.index
        prog = self.program
        p, regs, deps, depth = c.path, c.regs, c.deps, c.depth
        while c.pc < len(code):
            pc = c.pc
            if c.scopes:  # leaving the scope of a branch: its control dependency ends at the join
                k = next((i for i, (j, _) in enumerate(c.scopes) if j == pc), None)
                if k is not None:
                    c.ctrl, c.scopes = c.scopes[k][1], c.scopes[:k]
            self.work += 1
            if self.budget is not None and self.work % 1024 == 0:
                self.budget.enforce()  # loops unrolled to the bound can make paths exponential
            ins = code[pc]
            t = type(ins)
            self._pc, self._regs = pc, regs  # events emitted below record their op (stepping names it)
            if self.track and t in (Load, Rmw):
                # the value fixpoint only needs the (value, depth) pairs writes can produce, and
                # those depend on nothing but this key: a path reaching a known key adds no new pair
                live = self.live[pc]  # a dead register's value changes nothing ahead: not in the key
                key = (pc, tuple(sorted((r, v) for r, v in regs.items() if r in live)),
                       tuple(sorted((r, d) for r, d in depth.items() if r in live)), c.backs, len(p.events),
                       tuple(sorted(p.sym.items())))
                if key in self.seen:
                    self.paths.append(p)
                    return
                self.seen.add(key)
            ctrl = c.ctrl
            try:
                if t is Local:
                    regs[ins.dst] = evaluate(ins.expr, regs)
                    deps[ins.dst] = self._dep(ins.expr, deps)
                    src = self._copy_of(ins.expr, c.copies)
                    if src >= 0:
                        c.copies[ins.dst] = src
                    else:
                        c.copies.pop(ins.dst, None)
                    if self.track:
                        depth[ins.dst] = self._depth(ins.expr, depth)
                    c.pc += 1
                elif t is Branch:
                    d = self._dep(ins.cond, deps)
                    if d:
                        # herd7's rule: the dependency covers the if's then and else arms (and what a
                        # goto out of them runs, as unrolling would nest it), not the code after the if
                        c.scopes = c.scopes + ((ins.join if ins.join >= 0 else ins.target, ctrl),)
                        c.ctrl = ctrl | d
                    taken = truth(evaluate(ins.cond, regs))
                    if self.track and d:
                        # the value fixpoint also walks the way the read values known so far do not
                        # take: a write there may be what makes the other way possible (LB through
                        # control, `if (r0 == 1) y = 1;` on both sides, which herd7 allows)
                        other = _Cont(c.pc, dict(regs), dict(deps), c.ctrl, c.scopes, p, c.backs, dict(depth),
                                      dict(c.copies))
                        other.path = self._fork(p)
                        if self._branch(ins, other, not taken):
                            self._stack.append(other)
                    if not self._branch(ins, c, taken):
                        return
                    continue
                elif t is Jump:
                    if ins.back and not self._take_back_edge(c):
                        return
                    c.pc = ins.target
                elif t is Fence:
                    self._emit(p, Ev("F", None, None, frozenset((ins.tag,)), ins.origin, tid), ctrl)
                    c.pc += 1
                elif t is Store:
                    loc = self._loc(ins, regs)
                    v = evaluate(ins.value, regs)
                    dv = self._depth(ins.value, depth) if self.track else 0
                    self._emit(p, Ev("W", loc, v, frozenset((ins.tag,)), ins.origin, tid, dv,
                                     copy=self._copy_of(ins.value, c.copies)), ctrl,
                               self._dep(ins.addr, deps), self._dep(ins.value, deps))
                    c.pc += 1
                elif t is Load:
                    try:
                        a = evaluate(ins.addr, regs)
                    except EvalError:
                        a = None
                    if isinstance(a, int):
                        # a read of an integer address (a NULL pointer, say) can read from no write:
                        # like herd7, no execution takes this path
                        return
                    loc = self._loc(ins, regs)
                    ad = self._dep(ins.addr, deps)
                    children = []
                    for v, dv in self._values(loc):
                        if ins.await_ is not None and not truth(evaluate(ins.await_, {"$v": v})):
                            continue
                        q = self._fork(p)
                        self._pc, self._regs = pc, regs
                        i = self._emit(q, Ev("R", loc, v, frozenset((ins.tag,)), ins.origin, tid, ret=v), ctrl, ad)
                        r2, d2, p2 = dict(regs), dict(deps), dict(depth)
                        if ins.dst is not None:
                            r2[ins.dst] = v
                            d2[ins.dst] = 1 << i
                            p2[ins.dst] = dv + 1
                        children.append(self._child(c, q, r2, d2, p2, ins.dst, i))
                    self._fork_all(children)
                    return
                elif t is Rmw:
                    self._rmw(ins, c)
                    return
                elif t is Lock or t is TryLock:
                    loc = self._loc(ins, regs)
                    outcomes = (1,) if t is Lock else (1, 0)
                    children = []
                    for ok in outcomes:
                        q = self._fork(p)
                        self._pc, self._regs = pc, regs
                        if ok:
                            i = self._emit(q, Ev("R", loc, 0, frozenset(("LKR",)), ins.origin, tid, ret=1), ctrl)
                            j = self._emit(q, Ev("W", loc, 1, frozenset(("LKW",)), ins.origin, tid), ctrl)
                            q.rmw.append((i, j))
                        else:
                            i = self._emit(q, Ev("R", loc, 1, frozenset(("LF",)), ins.origin, tid, ret=0), ctrl)
                        r2, d2, p2 = dict(regs), dict(deps), dict(depth)
                        if t is TryLock and ins.dst is not None:
                            r2[ins.dst] = ok
                            d2[ins.dst] = 1 << i
                            p2.pop(ins.dst, None)
                        children.append(self._child(c, q, r2, d2, p2, ins.dst if t is TryLock else None))
                    self._fork_all(children)
                    return
                elif t is IsLocked:
                    loc = self._loc(ins, regs)
                    children = []
                    for ok in (1, 0):
                        q = self._fork(p)
                        self._pc, self._regs = pc, regs
                        i = self._emit(q, Ev("R", loc, ok, frozenset(("RL" if ok else "RU",)), ins.origin, tid,
                                                ret=ok), ctrl)
                        r2, d2, p2 = dict(regs), dict(deps), dict(depth)
                        if ins.dst is not None:
                            r2[ins.dst] = ok
                            d2[ins.dst] = 1 << i
                            p2.pop(ins.dst, None)
                        children.append(self._child(c, q, r2, d2, p2, ins.dst))
                    self._fork_all(children)
                    return
                elif t is Unlock:
                    loc = self._loc(ins, regs)
                    self._emit(p, Ev("W", loc, 0, frozenset(("UL",)), ins.origin, tid), ctrl)
                    c.pc += 1
                elif t is SyncSrcu:
                    loc = self._loc(ins, regs)
                    self._emit(p, Ev("S", loc, None, frozenset(("sync-srcu",)), ins.origin, tid), ctrl)
                    c.pc += 1
                else:
                    raise _unsupported(f"lkmm: instruction {t.__name__} is not modelled", ins, prog)
            except EvalError as e:
                p.error = _unsupported(f"lkmm: {e.reason}", ins, prog)
            except Unsupported as e:
                p.error = e
            if p.error is not None:
                p.regs = regs
                self.paths.append(p)
                return
        p.regs = regs
        self.paths.append(p)

    def _values(self, loc):
        """(value, depth) a read may take: each value the location may hold, with the smallest
        depth it has (the final walk needs the values only)."""
        entries = self.domains.get(loc, ((0, 0),))
        return entries if self.track else [(v, 0) for v, _ in entries]

    def _rmw(self, ins, c: _Cont) -> None:
        pc, regs, deps, ctrl, p, depth = c.pc, c.regs, c.deps, c.ctrl, c.path, c.depth
        tid = self.thread.index
        loc = self._loc(ins, regs)
        ad = self._dep(ins.addr, deps)
        ops = [evaluate(o, regs) for o in ins.operands] or [1]  # atomic_inc()/atomic_dec(): by one
        od = 0
        opd = 0
        for o in ins.operands:
            od |= self._dep(o, deps)
            if self.track:
                opd = max(opd, self._depth(o, depth))
        k = ins.kind
        unused = ins.dst is None or ins.dst not in self.live[pc + 1]  # `t = atomic_fetch_or(..)`, t not read again
        if self.symbolic and unused and ins.await_ is None and k in ("op", "op_return", "fetch_op", "xchg"):
            # nothing reads this RMW's old value: rather than one path per value the location may
            # hold, one path whose write is resolved along co (the paths of atomic_add()s multiply)
            tags = frozenset((ins.tag, "RMW"))
            op = ("=", ops[0]) if k == "xchg" else (ins.op, ops[0])
            if self.track:  # value_domains() closes the location's values under these ops
                p.sym[loc] = p.sym.get(loc, ()) + ((op, opd),)
                c.pc += 1
                self._stack.append(c)
                return
            i = self._emit(p, Ev("R", loc, None, tags, ins.origin, tid), ctrl, ad)
            j = self._emit(p, Ev("W", loc, None, tags, ins.origin, tid, op=op), ctrl, ad,
                           od if k == "xchg" else od | (1 << i))
            p.rmw.append((i, j))
            c.pc += 1
            self._stack.append(c)
            return
        children = []
        for old, dv in self._values(loc):
            if ins.await_ is not None and not truth(evaluate(ins.await_, {"$v": old})):
                continue
            write = True
            if k == "op" or k == "op_return" or k == "fetch_op":
                new = apply_op(ins.op, old, ops[0])
                ret = new if k == "op_return" else old
            elif k == "xchg":
                new, ret = ops[0], old
            elif k == "cmpxchg":
                write = old == ops[0]
                new, ret = ops[1], old
            elif k == "add_unless":
                write = old != ops[1]
                new = apply_op("+", old, ops[0]) if write else None
                ret = 1 if write else 0
            else:
                raise _unsupported(f"lkmm: atomic kind '{k}' is not modelled", ins, self.program)
            q = self._fork(p)
            self._pc, self._regs = pc, regs
            tags = frozenset((ins.tag, "RMW"))
            mine = dv + 1
            if ins.dst is not None and ins.result is not None:
                ret = evaluate(ins.result, {"$r": ret})
            i = self._emit(q, Ev("R", loc, old, tags, ins.origin, tid, ret=ret), ctrl, ad)
            if write:
                # herd7 computes an arithmetic RMW's new value from its read: `data` from the read to
                # the write, which linux-kernel.cat's to-r and to-w then see (not xchg, not cmpxchg)
                own = 1 << i if k in _ARITHMETIC else 0
                copy = self._copy_of(ins.operands[-1], c.copies) if k in ("xchg", "cmpxchg") else -1
                j = self._emit(q, Ev("W", loc, new, tags, ins.origin, tid, max(mine, opd),
                                     copy=copy), ctrl, ad, od | own)
                q.rmw.append((i, j))
            r2, d2, p2 = dict(regs), dict(deps), dict(depth)
            if ins.dst is not None:
                r2[ins.dst] = ret
                d2[ins.dst] = 1 << i
                p2[ins.dst] = mine
            # the register holds the read's value unchanged when the RMW returns the old value
            plain_old = k in ("fetch_op", "xchg", "cmpxchg") and ins.result is None
            children.append(self._child(c, q, r2, d2, p2, ins.dst, i if plain_old else -1))
        self._fork_all(children)


def _live_registers(program, thread) -> list[frozenset]:
    """Per instruction (and at the end, index len(code)), the registers some way on from it
    reads before writing them (the condition, filter and locations read the thread's
    registers at its end).  Reads by a local assignment to a register nobody reads do not
    count: `t2 = (t2 & 2) == 0;` with t2 unused leaves the RMW before it free to go symbolic."""
    code = thread.code
    n = len(code)
    at_exit = frozenset(loc.name for loc in program.watched if loc.thread == thread.index)
    uses, defs, succ = [], [], []
    for pc, ins in enumerate(code):
        u: set = set()
        for name in ("expr", "cond", "addr", "value", "await_", "result"):
            e = getattr(ins, name, None)
            if e is not None:
                u |= registers_of(e)
        for e in getattr(ins, "operands", ()):
            u |= registers_of(e)
        uses.append(frozenset(u))
        dst = getattr(ins, "dst", None)
        defs.append(frozenset((dst,)) if dst is not None else frozenset())
        if isinstance(ins, Jump):
            succ.append((ins.target,))
        elif isinstance(ins, Branch):
            succ.append((pc + 1, ins.target))
        else:
            succ.append((pc + 1,))
    live = [frozenset()] * n + [at_exit]
    changed = True
    while changed:  # backward dataflow to the fixpoint: loops feed their heads
        changed = False
        for pc in range(n - 1, -1, -1):
            out = frozenset().union(*(live[min(s, n)] for s in succ[pc]))
            ins = code[pc]
            if type(ins) is Local and ins.dst not in out:
                new = out  # a local whose result nobody reads reads nothing itself (strong liveness)
            else:
                new = uses[pc] | (out - defs[pc])
            if new != live[pc]:
                live[pc], changed = new, True
    return live


def _local_filters(program) -> dict:
    """The filter's conjuncts that name the registers of one thread only: thread -> [prop].  A
    path whose final registers fail one can be in no execution the filter keeps (an exported
    wait, `filter (0:w0=0 /\\ ...)`, drops its blocking paths this way, before any combination)."""
    f = program.filter
    if f is None:
        return {}
    parts = f.args if isinstance(f, PAnd) else (f,)
    out: dict = {}
    for part in parts:
        threads = {loc.thread for loc in prop_locations(part)}
        if len(threads) == 1 and None not in threads:
            out.setdefault(threads.pop(), []).append(part)
    return out


def thread_paths(program, domains, budget=None, symbolic=True) -> tuple[list[list[Path]], int]:
    """Every thread's paths under the given read-value domains, and how many paths the loop bound cut.

    symbolic=False guesses the old value of every RMW (the slow reference the tests compare with)."""
    out, cut = [], 0
    local = _local_filters(program)
    for th in program.threads:
        w = _Walker(program, th, domains, False, budget, symbolic)
        walked = w.run()
        props = local.get(th.index)
        if props:
            t = th.index
            walked = [q for q in walked if q.error is not None
                      or all(holds(pr, {f"{t}:{k}": v for k, v in q.regs.items()}) for pr in props)]
        out.append(walked)
        cut += w.cut
    return out, cut


def _minimal(entries) -> tuple:
    """Per value, the smallest depth it is reached with (a shallower derivation is usable wherever
    a deeper one is), sorted so that equal domains compare equal."""
    best: dict = {}
    for v, d in entries:
        k = (type(v).__name__, v)
        if k not in best or d < best[k][1]:
            best[k] = (v, d)
    return tuple(sorted(best.values(), key=lambda e: (isinstance(e[0], str), str(e[0]) if isinstance(e[0], str)
                                                      else e[0])))


def _apply(op: tuple, v):
    return op[1] if op[0] == "=" else apply_op(op[0], v, op[1])


def _interleavings(start, runs: list[set], limit: int) -> list:
    """The (value, depth) pairs a location holds when, from `start`, each thread has run a prefix
    of one of its sequences of RMWs (`runs[t]`), interleaved: co follows each thread's program
    order (CoWW), and every RMW reads the write just before it in co."""
    out: dict = {}
    for choice in product(*(sorted(r) for r in runs)):
        frontier = {((0,) * len(choice), start[0], start[1])}
        while frontier:
            nxt = set()
            for pos, v, d in frontier:
                k = (type(v).__name__, v)
                if k not in out or d < out[k][1]:
                    out[k] = (v, d)
                for t, seq in enumerate(choice):
                    if pos[t] < len(seq):
                        (op, opd) = seq[pos[t]]
                        try:
                            w = _apply(op, v)
                        except EvalError:
                            continue  # arithmetic on a pointer: no such execution
                        e = max(d + 1, opd)
                        if e <= limit:
                            nxt.add((pos[:t] + (pos[t] + 1,) + pos[t + 1:], w, e))
            frontier = nxt
            if len(out) > MAX_DOMAIN:
                return list(out.values())
    return list(out.values())


def _closure(entries, ops: set, times: int, limit: int) -> list:
    """The (value, depth) pairs `entries` reach by at most `times` of the RMWs `ops` in any order
    (for values a plain write put there: the RMWs after it in co are not known in advance)."""
    out = dict(((type(v).__name__, v), (v, d)) for v, d in _minimal(entries))
    frontier = list(out.values())
    for _ in range(times):
        nxt = []
        for v, d in frontier:
            for op, opd in ops:
                try:
                    w = _apply(op, v)
                except EvalError:
                    continue
                k, e = (type(w).__name__, w), (w, max(d + 1, opd))
                if e[1] <= limit and (k not in out or e[1] < out[k][1]):
                    out[k] = e
                    nxt.append(e)
        if not nxt:
            break
        frontier = nxt
        if len(out) > MAX_DOMAIN:
            break
    return list(out.values())


def _maximal(seqs: set) -> set:
    """The sequences that are not a prefix of another (a prefix's values are the longer one's too)."""
    return {a for a in seqs if not any(len(b) > len(a) and b[:len(a)] == a for b in seqs)}


def _read_bound(program) -> int:
    """How many reads one execution can chain, one's value feeding the next: at most every read
    instruction of every thread, once in a thread without loops, else as often as the loop
    bound lets it run."""
    reads = (Load, Rmw, Lock, TryLock, IsLocked)
    total = 0
    for th in program.threads:
        loops = any(isinstance(i, (Branch, Jump)) and i.back for i in th.code)
        total += sum(isinstance(i, reads) for i in th.code) * (program.loop_bound + 1 if loops else 1)
    return total


def value_domains(program, budget=None, symbolic=True) -> tuple[dict, list[list[Path]], int]:
    """The values each location may hold (each with its depth), and the thread paths under them.

    A fixpoint from the initial values: walk every thread with reads taking the values known so
    far, collect what its writes store, repeat until nothing new appears.  A value's depth
    counts the reads it was computed through; values deeper than the reads one execution can
    chain are out of reach and dropped, which keeps counters finite.  The domain may hold more
    than executions reach (a read fed by itself, say): the candidate executions are checked
    exactly afterwards.  RMWs whose old value nobody uses (atomic_add() on _refcount) are not
    walked value by value: the location's values are closed under their operations.
    """
    limit = _read_bound(program)
    init = {loc: ((v, 0),) for loc, v in program.init_memory.items()}
    domains = dict(init)
    for _ in range(limit + 2):
        grown = {loc: list(es) for loc, es in init.items()}
        runs: dict = {}  # location -> per thread, the sequences of RMWs resolved along co its paths run
        for t, th in enumerate(program.threads):
            w = _Walker(program, th, domains, True, budget, symbolic)
            for q in w.run():
                for loc, seq in q.sym.items():
                    runs.setdefault(loc, [set() for _ in program.threads])[t].add(seq)
            for loc, v, d in set(w.written):
                if d <= limit:
                    grown.setdefault(loc, [(0, 0)]).append((v, d))
        for loc, per_thread in runs.items():
            per_thread = [_maximal(r) or {()} for r in per_thread]
            start = (program.init_memory.get(loc, 0), 0)
            later = [e for e in grown.setdefault(loc, [(0, 0)]) if e != start]  # values plain writes put there
            ops = {op for r in per_thread for seq in r for op in seq}
            chain = sum(max(len(seq) for seq in r) for r in per_thread)
            grown[loc] = _interleavings(start, per_thread, limit) + _closure(later, ops, chain, limit)
        new = {loc: _minimal(es) for loc, es in grown.items()}
        if new == domains:
            paths, cut = thread_paths(program, domains, budget=budget, symbolic=symbolic)
            return domains, paths, cut
        if sum(len(es) for es in new.values()) > MAX_DOMAIN:
            break
        domains = new
    raise Unsupported("lkmm: the values written do not settle to a small finite set "
                      "(a counter without bound?): not modelled", 0, 0, None)
