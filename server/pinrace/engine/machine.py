"""The operational core shared by sc and tso: run one CPU operation on a state.

A model subclass decides where stores go (memory, or a store buffer), which
instructions must wait for a drained buffer, and which extra moves exist (flushes).
Local work (register arithmetic, branches, barriers a model ignores) runs eagerly
after each operation, so every transition is one memory operation a user can see.
"""

from __future__ import annotations

from ..errors import SourceError
from .expr import EvalError, apply_op, closure, truth, wrap32
from .ir import (
    Branch,
    Fence,
    IsLocked,
    Jump,
    Load,
    Local,
    Lock,
    Program,
    Rmw,
    Store,
    SyncSrcu,
    TryLock,
    Unlock,
)
from .state import DONE, LOOP_BOUND, RUNNING, CpuState, State, Transition

__all__ = ["Machine", "RuntimeFault", "access", "independent", "futures", "conflicts_with_future"]


class RuntimeFault(SourceError):
    """A scenario that fails while running (bad pointer, division by zero), with its line."""

    code = "runtime-error"
    kind = "runtime error"


class _ThreadCode:
    """A thread's instructions with register slots and compiled expressions."""

    def __init__(self, machine: Machine, thread, init_regs: dict):
        self.thread = thread
        names = list(thread.registers)
        for ins in thread.code:
            d = getattr(ins, "dst", None)
            if d and d not in names:
                names.append(d)
        for (_t, r) in init_regs:
            if r not in names:
                names.append(r)
        self.slots = {n: i for i, n in enumerate(names)}
        self.reg_names = names
        self.init = tuple(init_regs.get(n, 0) for n in names)
        self._compile_fns()

    def _compile_fns(self) -> None:
        self.back_edges = {}
        self.fns = []
        v_slot = {"$v": 0}
        r_slot = {"$r": 0}
        for pc, ins in enumerate(self.thread.code):
            f: dict = {}
            for attr in ("addr", "value", "expr", "cond"):
                e = getattr(ins, attr, None)
                if e is not None:
                    f[attr] = closure(e, self.slots)
            if isinstance(ins, Rmw):
                f["operands"] = tuple(closure(o, self.slots) for o in ins.operands)
                if ins.result is not None:
                    f["result"] = closure(ins.result, r_slot)
            if getattr(ins, "await_", None) is not None:
                f["await"] = closure(ins.await_, v_slot)
            if isinstance(ins, (Branch, Jump)) and ins.back:
                self.back_edges[pc] = len(self.back_edges)
            self.fns.append(f)

    # The compiled expressions are closures, which do not pickle: a machine prepared in a worker
    # process (lkmm stepping) crosses to the server without them and compiles them again there.
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("fns", "back_edges")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._compile_fns()


class Machine:
    """Shared semantics of the operational models; subclasses are sc and tso."""

    name = "abstract"
    buffered_stores = False  # tso: plain stores go to a private buffer, flushed later

    def __init__(self, program: Program):
        self.program = program
        self.locations = sorted(set(program.init_memory) | set(program.lock_locations))
        self.loc_index = {n: i for i, n in enumerate(self.locations)}
        self.threads = [_ThreadCode(self, t, {r: v for (ti, r), v in program.init_regs.items() if ti == t.index})
                        for t in program.threads]
        self.loop_bound = program.loop_bound

    # ---- model hooks -------------------------------------------------------------------
    def is_local(self, ins) -> bool:
        """Instructions run eagerly, without a transition of their own."""
        return isinstance(ins, (Local, Branch, Jump)) or (
            isinstance(ins, Fence) and ins.tag not in ("rcu-lock", "rcu-unlock", "sync-rcu"))

    def read(self, state: State, cpu: int, loc: int):
        return state.mem[loc]

    def write(self, state: State, cpu: int, loc: int, value, mem: list, bufs: list,
              buffered: bool = False) -> None:
        """Store `value`; `buffered` marks plain stores that x86 would queue (not locked RMWs)."""
        mem[loc] = value

    def must_drain(self, ins) -> bool:
        return False

    def extra_moves(self, state: State) -> list[Transition]:
        return []

    def extra_step(self, state: State, t: Transition) -> State:
        raise SourceError(f"no such move {t.token()}")

    def quiescent(self, state: State) -> bool:
        return True

    # ---- public protocol ---------------------------------------------------------------
    def initial(self) -> State:
        mem = tuple(self.program.init_memory.get(n, 0) for n in self.locations)
        cpus = []
        for i, tc in enumerate(self.threads):
            c = CpuState(0, tc.init, (0,) * len(tc.back_edges), 0, (), RUNNING)
            cpus.append(self._settle(i, c))
        bufs = tuple(() for _ in self.threads)
        return State(tuple(cpus), mem, bufs)

    def enabled(self, state: State) -> list[Transition]:
        """Transitions possible in `state`, in a fixed order: CPU 0's operation first."""
        out: list[Transition] = []
        if any(c.status is LOOP_BOUND for c in state.cpus):
            return out  # the run is cut where a loop exceeded its bound
        for i, c in enumerate(state.cpus):
            if c.status is RUNNING and self._can_run(state, i, c):
                out.append(Transition(i, c.pc))
        out.extend(self.extra_moves(state))
        return out

    def status(self, state: State) -> str:
        """running, done, deadlock or loop-bound."""
        if any(c.status == LOOP_BOUND for c in state.cpus):
            return LOOP_BOUND
        if all(c.status == DONE for c in state.cpus) and self.quiescent(state):
            return DONE
        if not self.enabled(state):
            return "deadlock"
        return RUNNING

    def blocked_reason(self, state: State, cpu: int) -> str | None:
        c = state.cpus[cpu]
        if c.status is not RUNNING or self._can_run(state, cpu, c):
            return None
        ins = self.program.threads[cpu].code[c.pc]
        return self._why_blocked(state, cpu, c, ins)

    def step(self, state: State, t: Transition) -> State:
        if t.op is None:
            return self.extra_step(state, t)
        c = state.cpus[t.cpu] if 0 <= t.cpu < len(state.cpus) else None
        if c is None or c.status is not RUNNING or c.pc != t.op:
            raise SourceError(f"CPU{t.cpu} is not about to run operation {t.op}")
        if not self._can_run(state, t.cpu, c):
            raise SourceError(f"CPU{t.cpu} is blocked: {self.blocked_reason(state, t.cpu)}")
        try:
            return self._execute(state, t.cpu, c)
        except EvalError as e:
            o = self.program.threads[t.cpu].code[c.pc].origin
            raise RuntimeFault(e.reason, o.line, o.column, self.program.source) from None

    # ---- internals ---------------------------------------------------------------------
    def _addr(self, tc: _ThreadCode, pc: int, regs, ins) -> int:
        a = tc.fns[pc]["addr"](regs)
        if isinstance(a, str) and a in self.loc_index:
            return self.loc_index[a]
        o = ins.origin
        raise RuntimeFault(f"{o.text} accesses {a!r}, which is not a location of this test",
                           o.line, o.column, self.program.source)

    def _can_run(self, state: State, i: int, c: CpuState) -> bool:
        ins = self.program.threads[i].code[c.pc]
        if self.must_drain(ins) and state.buffers and state.buffers[i]:
            return False
        tc = self.threads[i]
        if isinstance(ins, Lock):
            return self.read(state, i, self._addr(tc, c.pc, c.regs, ins)) == 0
        if isinstance(ins, (Load, Rmw)) and ins.await_ is not None:
            v = self.read(state, i, self._addr(tc, c.pc, c.regs, ins))
            return truth(tc.fns[c.pc]["await"]((v,)))
        if isinstance(ins, Fence) and ins.tag == "sync-rcu":
            return all(o.rcu == 0 for j, o in enumerate(state.cpus) if j != i)
        if isinstance(ins, SyncSrcu):
            loc = tc.fns[c.pc]["addr"](c.regs)
            return all(d == 0 for j, o in enumerate(state.cpus) if j != i for (n, d) in o.srcu if n == loc)
        return True

    def _why_blocked(self, state, cpu, c, ins) -> str:
        if self.must_drain(ins) and state.buffers and state.buffers[cpu]:
            return f"{ins.origin.primitive}() waits for CPU{cpu}'s store buffer to drain"
        if isinstance(ins, Lock):
            return f"{ins.origin.text} waits for the lock to be released"
        if isinstance(ins, Fence):
            return "synchronize_rcu() waits for read-side critical sections to end"
        if isinstance(ins, SyncSrcu):
            return "synchronize_srcu() waits for SRCU read-side critical sections to end"
        return f"{ins.origin.text} waits for its condition"

    def _execute(self, state: State, i: int, c: CpuState) -> State:
        ins = self.program.threads[i].code[c.pc]
        tc = self.threads[i]
        fns = tc.fns[c.pc]
        regs = list(c.regs)
        mem = list(state.mem)
        bufs = list(state.buffers)
        rcu, srcu = c.rcu, c.srcu
        T = type(ins)
        if T is Load:
            loc = self._addr(tc, c.pc, c.regs, ins)
            v = self.read(state, i, loc)
            if ins.tag == "srcu-lock":
                srcu = _bump(srcu, self.locations[loc], +1)
            if ins.dst is not None:
                regs[tc.slots[ins.dst]] = v
        elif T is Store:
            loc = self._addr(tc, c.pc, c.regs, ins)
            v = fns["value"](c.regs)
            if ins.tag == "srcu-unlock":
                srcu = _bump(srcu, self.locations[loc], -1)
            self.write(state, i, loc, v if not isinstance(v, int) else wrap32(v), mem, bufs, True)
        elif T is Rmw:
            loc = self._addr(tc, c.pc, c.regs, ins)
            old = self.read(state, i, loc)
            ops = [f(c.regs) for f in fns["operands"]]
            ret, new = _rmw(ins, old, ops)
            if new is not None:
                self.write(state, i, loc, new, mem, bufs)
            if "result" in fns:
                ret = fns["result"]((ret,))
            if ins.dst is not None:
                regs[tc.slots[ins.dst]] = ret
        elif T is Lock:
            self.write(state, i, self._addr(tc, c.pc, c.regs, ins), 1, mem, bufs)
        elif T is Unlock:
            self.write(state, i, self._addr(tc, c.pc, c.regs, ins), 0, mem, bufs, True)
        elif T is TryLock:
            loc = self._addr(tc, c.pc, c.regs, ins)
            ok = self.read(state, i, loc) == 0
            if ok:
                self.write(state, i, loc, 1, mem, bufs)
            if ins.dst is not None:
                regs[tc.slots[ins.dst]] = int(ok)
        elif T is IsLocked:
            loc = self._addr(tc, c.pc, c.regs, ins)
            if ins.dst is not None:
                regs[tc.slots[ins.dst]] = int(self.read(state, i, loc) != 0)
        elif T is Fence:
            if ins.tag == "rcu-lock":
                rcu += 1
            elif ins.tag == "rcu-unlock":
                rcu = max(rcu - 1, 0)
        elif T is SyncSrcu:
            pass
        c2 = CpuState(c.pc + 1, tuple(regs), c.back, rcu, srcu, RUNNING)
        c2 = self._settle(i, c2)
        cpus = state.cpus[:i] + (c2,) + state.cpus[i + 1:]
        return State(cpus, tuple(mem), tuple(bufs))

    def _settle(self, i: int, c: CpuState) -> CpuState:
        """Run local instructions until the next operation, the end, or the loop bound."""
        code = self.program.threads[i].code
        tc = self.threads[i]
        pc, regs, back = c.pc, None, c.back
        n = len(code)
        guard = 0
        while pc < n:
            ins = code[pc]
            if not self.is_local(ins):
                break
            guard += 1
            if guard > 100_000:
                raise RuntimeFault("local computation does not terminate", ins.origin.line,
                                   ins.origin.column, self.program.source)
            T = type(ins)
            try:
                if T is Local:
                    if regs is None:
                        regs = list(c.regs)
                    regs[tc.slots[ins.dst]] = tc.fns[pc]["expr"](tuple(regs))
                    pc += 1
                    continue
                if T is Branch:
                    cur = tuple(regs) if regs is not None else c.regs
                    if truth(tc.fns[pc]["cond"](cur)):
                        pc += 1
                        continue
                elif T is not Jump:
                    pc += 1  # a barrier this model ignores
                    continue
            except EvalError as e:
                raise RuntimeFault(e.reason, ins.origin.line, ins.origin.column, self.program.source) from None
            if ins.back:
                k = tc.back_edges[pc]
                if back[k] >= self.loop_bound:
                    return CpuState(pc, tuple(regs) if regs is not None else c.regs, back, c.rcu, c.srcu, LOOP_BOUND)
                back = back[:k] + (back[k] + 1,) + back[k + 1:]
            pc = ins.target
        status = DONE if pc >= n else RUNNING
        return CpuState(pc, tuple(regs) if regs is not None else c.regs, back, c.rcu, c.srcu, status)

    # ---- views ------------------------------------------------------------------------
    def registers(self, state: State, cpu: int, hidden: bool = False) -> dict:
        tc = self.threads[cpu]
        names = tc.reg_names if hidden else tc.thread.registers
        return {n: state.cpus[cpu].regs[tc.slots[n]] for n in names}

    def memory(self, state: State) -> dict:
        return dict(zip(self.locations, state.mem, strict=True))

    def final_memory(self, state: State) -> dict:
        """Memory once every buffered store has reached it."""
        return self.memory(state)


def _bump(srcu: tuple, loc: str, d: int) -> tuple:
    m = dict(srcu)
    m[loc] = m.get(loc, 0) + d
    return tuple(sorted((k, v) for k, v in m.items() if v))


def _rmw(ins: Rmw, old, ops: list):
    """(returned value, new value or None when the RMW fails and writes nothing)."""
    k = ins.kind
    if k == "xchg":
        return old, ops[0]
    if k == "cmpxchg":
        return old, (ops[1] if old == ops[0] else None)
    if k == "add_unless":
        if old == ops[1]:
            return 0, None
        return 1, apply_op("+", old, ops[0])
    new = apply_op(ins.op, old, ops[0] if ops else 1)
    if k == "op_return":
        return new, new
    return old, new  # fetch_op and op (whose return value is unused)


# ---- independence (for partial-order reduction) -------------------------------------------

_COMMUTING = {"+": "add", "-": "add", "|": "or", "&~": "andnot", "&": "and", "^": "xor"}


def access(machine: Machine, state: State, t: Transition):
    """What a transition touches in shared state: (kind, key) pairs.

    kind is "r" (reads), "w" (writes), or the class of an update that commutes with
    others of its class ("add", "or", ... for non-returning atomics; "nest" for entering
    and leaving RCU/SRCU read-side sections; "buf" for store-buffer occupancy under tso).
    A CPU's registers and position are private and never listed.
    """
    if t.op is None:  # a tso flush writes the oldest buffered location
        loc = state.buffers[t.cpu][0][0]
        return (("w", loc), ("buf", "$buffers"))
    c = state.cpus[t.cpu]
    ins = machine.program.threads[t.cpu].code[c.pc]
    tc = machine.threads[t.cpu]
    T = type(ins)
    if T is Fence:
        if ins.tag in ("rcu-lock", "rcu-unlock"):
            return (("nest", "$rcu"),)
        if ins.tag == "sync-rcu":
            return (("r", "$rcu"), ("r", "$buffers"))
        return ()
    if T is SyncSrcu:
        return (("r", "$srcu"), ("r", "$buffers"))
    loc = machine._addr(tc, c.pc, c.regs, ins)
    out: list = []
    if getattr(ins, "tag", None) in ("srcu-lock", "srcu-unlock"):
        out.append(("nest", "$srcu"))
    if T is Load or T is IsLocked:
        out.append(("r", loc))
    elif T is Store or T is Unlock:
        out.append(("buf", "$buffers") if machine.buffered_stores else ("w", loc))
    elif T is Rmw and ins.kind == "op" and ins.await_ is None and ins.op in _COMMUTING:
        out.append((_COMMUTING[ins.op], loc))
    else:
        out += [("r", loc), ("w", loc)]
    return tuple(out)


def independent(a_access, b_access) -> bool:
    """Two transitions of different CPUs commute and cannot enable or disable each other."""
    for ka, la in a_access:
        for kb, lb in b_access:
            if la != lb:
                continue
            if ka == "r" and kb == "r":
                continue
            if ka == kb and ka not in ("r", "w"):
                continue  # e.g. two atomic_add()s: the sum is the same either way
            return False
    return True


def futures(machine: Machine) -> list[list[frozenset]]:
    """For each CPU and position, every (kind, location) it may still touch from there on.

    Over-approximate: a location computed at run time is "*", which conflicts with all.
    Used to find a transition no other CPU can ever interfere with (a persistent set).
    """
    out = []
    for th in machine.program.threads:
        code = th.code
        n = len(code)
        own = []
        for ins in code:
            T = type(ins)
            if T in (Local, Branch, Jump) or (T is Fence and ins.tag not in ("rcu-lock", "rcu-unlock", "sync-rcu")):
                own.append(frozenset())
                continue
            if T is Fence:
                sync = {("r", "$rcu"), ("r", "$buffers")}
                own.append(frozenset({("nest", "$rcu")} if ins.tag != "sync-rcu" else sync))
                continue
            if T is SyncSrcu:
                own.append(frozenset({("r", "$srcu"), ("r", "$buffers")}))
                continue
            a = getattr(ins, "addr", None)
            loc = machine.loc_index.get(a.value, "*") if type(a).__name__ == "Const" else "*"
            acc = {("r", loc), ("w", loc), ("nest", "$srcu"), ("buf", "$buffers")}
            own.append(frozenset(acc))
        # reachability over the control-flow graph, iterated to a fixpoint for loops
        fut = [frozenset()] * (n + 1)
        changed = True
        while changed:
            changed = False
            for pc in range(n - 1, -1, -1):
                ins = code[pc]
                succ = []
                if type(ins) is Jump:
                    succ = [ins.target]
                elif type(ins) is Branch:
                    succ = [pc + 1, ins.target]
                else:
                    succ = [pc + 1]
                f = own[pc].union(*(fut[min(s, n)] for s in succ))
                if f != fut[pc]:
                    fut[pc] = f
                    changed = True
        out.append(fut)
    return out


def conflicts_with_future(acc, future: frozenset) -> bool:
    """Whether a transition's access may conflict with anything in another CPU's future."""
    for ka, la in acc:
        for kb, lb in future:
            if la != lb and lb != "*" and la != "*":
                continue
            if ka == "r" and kb == "r":
                continue
            if ka == kb and ka not in ("r", "w"):
                continue
            return True
    return False
