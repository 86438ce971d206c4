"""Per-thread control-flow paths by symbolic execution: events, po, rmw and dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field

from ....errors import Unsupported
from ...cfg import immediate_post_dominators
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
    prov: frozenset = frozenset()  # for the value fixpoint: the reads this written value was computed from
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
    backs: int
    prov: dict
    copies: dict  # register -> the path's read whose value it holds unchanged


class _Walker:
    """Walks one thread's code along every path (one per value each read may take), with an
    explicit stack, not recursion: a thread may read hundreds of times."""

    def __init__(self, program, thread, domains, track=False, budget=None, symbolic=True):
        self.track = track
        self.symbolic = symbolic and not track
        self.budget = budget
        self.work = 0
        self.program = program
        self.thread = thread
        self.domains = domains
        self.bound = program.loop_bound
        self.joins = immediate_post_dominators(thread.code)
        self.paths: list[Path] = []
        self.cut = 0
        self._pc = 0  # the instruction being walked: every event emitted records it
        self._regs: dict = {}
        self.seen: set = set()
        self.written: list = []  # track mode: (location, value, provenance) of every write
        self._stack: list[_Cont] = []

    def run(self) -> list[Path]:
        regs = {name: v for (t, name), v in self.program.init_regs.items() if t == self.thread.index}
        self._stack = [_Cont(0, regs, {}, 0, (), Path(), 0, {}, {})]
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
            self.written.append((ev.loc, ev.value, ev.prov))  # all the value fixpoint needs
        if not self.track:  # only the final pass is stepped; the value fixpoint needs no snapshots
            p.before.append(dict(self._regs))
        p.events.append(ev)
        p.addr.append(addr)
        p.data.append(data)
        p.ctrl.append(ctrl)
        return len(p.events) - 1

    def _fork(self, p: Path) -> Path:
        return Path(list(p.events), list(p.rmw), list(p.addr), list(p.data), list(p.ctrl), list(p.before))

    def _prov(self, expr, prov) -> frozenset:
        out = frozenset()
        for r in registers_of(expr):
            out |= prov.get(r, frozenset())
        return out

    def _child(self, c: _Cont, q: Path, regs: dict, deps: dict, prov: dict, copy_reg=None, read=-1) -> _Cont:
        copies = dict(c.copies)
        if copy_reg is not None:
            if read >= 0:
                copies[copy_reg] = read
            else:
                copies.pop(copy_reg, None)
        return _Cont(c.pc + 1, regs, deps, c.ctrl, c.scopes, q, c.backs, prov, copies)

    @staticmethod
    def _copy_of(expr, copies) -> int:
        return copies.get(expr.name, -1) if type(expr) is Reg else -1

    def _go(self, c: _Cont) -> None:
        """Walk `c` until its path ends or forks (the children go on the stack)."""
        code = self.thread.code
        tid = self.thread.index
        prog = self.program
        p, regs, deps, prov = c.path, c.regs, c.deps, c.prov
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
                # the value fixpoint only needs the (value, provenance) pairs writes can produce, and
                # those depend on nothing but this key: a path reaching a known key adds no new pair
                key = (pc, tuple(sorted(regs.items())), tuple(sorted(prov.items())), c.backs, len(p.events))
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
                        prov[ins.dst] = self._prov(ins.expr, prov)
                    c.pc += 1
                elif t is Branch:
                    d = self._dep(ins.cond, deps)
                    if d:
                        c.scopes = c.scopes + ((self.joins[pc], ctrl),)
                        c.ctrl = ctrl | d
                    if truth(evaluate(ins.cond, regs)):
                        c.pc += 1
                    else:
                        if ins.back:
                            c.backs += 1
                            if c.backs > self.bound:
                                self.cut += 1
                                return
                        c.pc = ins.target
                elif t is Jump:
                    if ins.back:
                        c.backs += 1
                        if c.backs > self.bound:
                            self.cut += 1
                            return
                    c.pc = ins.target
                elif t is Fence:
                    self._emit(p, Ev("F", None, None, frozenset((ins.tag,)), ins.origin, tid), ctrl)
                    c.pc += 1
                elif t is Store:
                    loc = self._loc(ins, regs)
                    v = evaluate(ins.value, regs)
                    pv = self._prov(ins.value, prov) if self.track else frozenset()
                    self._emit(p, Ev("W", loc, v, frozenset((ins.tag,)), ins.origin, tid, pv,
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
                    me = (tid, len(p.events))
                    children = []
                    for v, pv in self._values(loc, me):
                        if ins.await_ is not None and not truth(evaluate(ins.await_, {"$v": v})):
                            continue
                        q = self._fork(p)
                        self._pc, self._regs = pc, regs
                        i = self._emit(q, Ev("R", loc, v, frozenset((ins.tag,)), ins.origin, tid, ret=v), ctrl, ad)
                        r2, d2, p2 = dict(regs), dict(deps), dict(prov)
                        if ins.dst is not None:
                            r2[ins.dst] = v
                            d2[ins.dst] = 1 << i
                            p2[ins.dst] = pv | {me}
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
                        r2, d2, p2 = dict(regs), dict(deps), dict(prov)
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
                        r2, d2, p2 = dict(regs), dict(deps), dict(prov)
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

    def _values(self, loc, me):
        """(value, provenance) a read `me` may take: never one computed from itself (no thin air)."""
        entries = [(v, pv) for v, pv in self.domains.get(loc, ((0, frozenset()),)) if me not in pv]
        if self.track:
            return entries
        seen = {}
        for v, _ in entries:
            seen.setdefault((type(v).__name__, v), v)
        return [(v, frozenset()) for v in seen.values()]

    def _rmw(self, ins, c: _Cont) -> None:
        pc, regs, deps, ctrl, p, prov = c.pc, c.regs, c.deps, c.ctrl, c.path, c.prov
        tid = self.thread.index
        loc = self._loc(ins, regs)
        ad = self._dep(ins.addr, deps)
        ops = [evaluate(o, regs) for o in ins.operands] or [1]  # atomic_inc()/atomic_dec(): by one
        od = 0
        opv = frozenset()
        for o in ins.operands:
            od |= self._dep(o, deps)
            if self.track:
                opv |= self._prov(o, prov)
        k = ins.kind
        me = (tid, len(p.events))
        if self.symbolic and ins.dst is None and ins.await_ is None and k in ("op", "op_return", "fetch_op", "xchg"):
            # nothing reads this RMW's old value: rather than one path per value the location may
            # hold, one path whose write is resolved along co (the paths of atomic_add()s multiply)
            tags = frozenset((ins.tag, "RMW"))
            op = ("=", ops[0]) if k == "xchg" else (ins.op, ops[0])
            i = self._emit(p, Ev("R", loc, None, tags, ins.origin, tid), ctrl, ad)
            j = self._emit(p, Ev("W", loc, None, tags, ins.origin, tid, op=op), ctrl, ad,
                           od if k == "xchg" else od | (1 << i))
            p.rmw.append((i, j))
            c.pc += 1
            self._stack.append(c)
            return
        children = []
        for old, pv in self._values(loc, me):
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
            mine = pv | {me}
            if ins.dst is not None and ins.result is not None:
                ret = evaluate(ins.result, {"$r": ret})
            i = self._emit(q, Ev("R", loc, old, tags, ins.origin, tid, ret=ret), ctrl, ad)
            if write:
                # herd7 computes an arithmetic RMW's new value from its read: `data` from the read to
                # the write, which linux-kernel.cat's to-r and to-w then see (not xchg, not cmpxchg)
                own = 1 << i if k in _ARITHMETIC else 0
                copy = self._copy_of(ins.operands[-1], c.copies) if k in ("xchg", "cmpxchg") else -1
                j = self._emit(q, Ev("W", loc, new, tags, ins.origin, tid, (mine | opv) if self.track else mine,
                                     copy=copy), ctrl, ad, od | own)
                q.rmw.append((i, j))
            r2, d2, p2 = dict(regs), dict(deps), dict(prov)
            if ins.dst is not None:
                r2[ins.dst] = ret
                d2[ins.dst] = 1 << i
                p2[ins.dst] = mine
            # the register holds the read's value unchanged when the RMW returns the old value
            plain_old = k in ("fetch_op", "xchg", "cmpxchg") and ins.result is None
            children.append(self._child(c, q, r2, d2, p2, ins.dst, i if plain_old else -1))
        self._fork_all(children)


def thread_paths(program, domains, budget=None, symbolic=True) -> tuple[list[list[Path]], int]:
    """Every thread's paths under the given read-value domains, and how many paths the loop bound cut.

    symbolic=False guesses the old value of every RMW (the slow reference the tests compare with)."""
    out, cut = [], 0
    for th in program.threads:
        w = _Walker(program, th, domains, False, budget, symbolic)
        out.append(w.run())
        cut += w.cut
    return out, cut


def _minimal(entries) -> tuple:
    """Per value keep only the subset-minimal provenances (a smaller one is usable wherever a larger is)."""
    byval: dict = {}
    for v, pv in entries:
        byval.setdefault((type(v).__name__, v), (v, []))[1].append(pv)
    out = []
    for v, provs in byval.values():
        provs = sorted(set(provs), key=len)
        keep: list = []
        for pv in provs:
            if not any(k <= pv for k in keep):
                keep.append(pv)
        out.extend((v, pv) for pv in keep)
    out.sort(key=lambda e: (isinstance(e[0], str), str(e[0]) if isinstance(e[0], str) else e[0], sorted(e[1])))
    return tuple(out)


def value_domains(program, budget=None, symbolic=True) -> tuple[dict, list[list[Path]], int]:
    """The fixpoint of (value, provenance) each location may hold, and the thread paths under it.

    A read never takes a value computed from its own result (herd7 cannot solve such a cyclic
    equation), which keeps counters such as two atomic_inc()s finite.
    """
    init = {loc: ((v, frozenset()),) for loc, v in program.init_memory.items()}
    domains = dict(init)
    for _ in range(64):
        grown = {loc: list(es) for loc, es in init.items()}
        for th in program.threads:
            w = _Walker(program, th, domains, True, budget)
            w.run()
            for loc, v, pv in set(w.written):
                grown.setdefault(loc, [(0, frozenset())]).append((v, pv))
        new = {loc: _minimal(es) for loc, es in grown.items()}
        if new == domains:
            paths, cut = thread_paths(program, domains, budget=budget, symbolic=symbolic)
            return domains, paths, cut
        if sum(len(es) for es in new.values()) > MAX_DOMAIN:
            break
        domains = new
    raise Unsupported("lkmm: the values written do not settle to a small finite set "
                      "(a counter without bound?): not modelled", 0, 0, None)
