"""The compiled program: per-CPU lists of instructions over a tiny expression language.

Memory instructions carry the core event they produce (load, store, RMW, fence, lock,
unlock) and the kernel's ordering tag, as herd7's linux-kernel.def maps each primitive.
Every model (sc, tso, lkmm) interprets these same instructions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Value = int | str  # an int, or a pointer: the name of the location it points to

# ---- expressions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    value: Value


@dataclass(frozen=True, slots=True)
class Reg:
    name: str


@dataclass(frozen=True, slots=True)
class Bin:
    op: str  # + - * / % << >> & | ^ && || == != < <= > >= &~
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Un:
    op: str  # ! ~ -
    arg: Expr


@dataclass(frozen=True, slots=True)
class Ite:
    cond: Expr
    then: Expr
    other: Expr


Expr = Const | Reg | Bin | Un | Ite

# ---- ordering tags (linux-kernel.bell) --------------------------------------------

ONCE, RELEASE, ACQUIRE, MB, NORETURN, PLAIN = "ONCE", "RELEASE", "ACQUIRE", "MB", "NORETURN", "PLAIN"
SRCU_LOCK, SRCU_UNLOCK = "srcu-lock", "srcu-unlock"

FENCES = (
    "MB", "rmb", "wmb", "barrier", "rcu-lock", "rcu-unlock", "sync-rcu", "before-atomic",
    "after-atomic", "after-spinlock", "after-unlock-lock", "after-srcu-read-unlock",
)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an instruction comes from, for explanations and diagrams."""

    line: int
    column: int
    primitive: str  # the kernel primitive or "plain" / "local"
    call: str  # the outermost call in the thread's own code, e.g. "page_pinned(page)"
    call_id: int  # distinguishes two dynamic instances of the same textual call site
    text: str  # the source text of the primitive call or statement


# ---- instructions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Local:
    """dst = expr, no memory event."""

    dst: str
    expr: Expr
    origin: Origin


@dataclass(frozen=True, slots=True)
class Load:
    dst: str | None
    addr: Expr
    tag: str  # ONCE, ACQUIRE, PLAIN, srcu-lock
    origin: Origin
    # a blocking wait: the load may only take a value satisfying this predicate over
    # Reg("$v"); herd7 would state it as a `filter`.
    await_: Expr | None = None


@dataclass(frozen=True, slots=True)
class Store:
    addr: Expr
    value: Expr
    tag: str  # ONCE, RELEASE, PLAIN, srcu-unlock
    origin: Origin


@dataclass(frozen=True, slots=True)
class Rmw:
    """A read-modify-write on one location.

    kind: "op" (no return: atomic_add), "op_return" (returns new), "fetch_op" (returns
    old), "xchg", "cmpxchg" (operands: expected, new), "add_unless" (operands: a, u;
    returns 1 when it added).  The write happens only when it succeeds: cmpxchg compares,
    add_unless tests; a failed one is a lone read (herd7's FailedRMW).
    `await_` blocks the RMW until the old value satisfies it (lock_page's wait).
    `result` post-processes the returned value over Reg("$r") (atomic_dec_and_test).
    """

    dst: str | None
    addr: Expr
    kind: str
    op: str | None
    operands: tuple[Expr, ...]
    tag: str
    origin: Origin
    await_: Expr | None = None
    result: Expr | None = None


@dataclass(frozen=True, slots=True)
class Fence:
    tag: str  # one of FENCES
    origin: Origin


@dataclass(frozen=True, slots=True)
class Lock:
    """spin_lock: blocks until the lock is free, then takes it (LKR/LKW in herd7)."""

    addr: Expr
    origin: Origin


@dataclass(frozen=True, slots=True)
class Unlock:
    addr: Expr
    origin: Origin


@dataclass(frozen=True, slots=True)
class TryLock:
    dst: str | None
    addr: Expr
    origin: Origin


@dataclass(frozen=True, slots=True)
class IsLocked:
    dst: str | None
    addr: Expr
    origin: Origin


@dataclass(frozen=True, slots=True)
class SyncSrcu:
    addr: Expr
    origin: Origin


@dataclass(frozen=True, slots=True)
class Branch:
    """Go to `target` when `cond` is false (fall through when true)."""

    cond: Expr
    target: int
    origin: Origin
    back: bool = False  # a loop's back edge: counted against the loop bound
    # the end of the if/while/for statement: the branch's control dependency lasts until control
    # reaches it (the then and else arms, and what a jump out of them runs); -1: the target
    join: int = -1


@dataclass(frozen=True, slots=True)
class Jump:
    target: int
    origin: Origin
    back: bool = False


Instr = Local | Load | Store | Rmw | Fence | Lock | Unlock | TryLock | IsLocked | SyncSrcu | Branch | Jump
MEMORY_INSTRS = (Load, Store, Rmw, Lock, Unlock, TryLock, IsLocked, SyncSrcu)
CONTROL_INSTRS = (Local, Branch, Jump)


@dataclass
class Thread:
    index: int
    code: list[Instr]
    registers: list[str]  # user-visible registers, in order of first appearance
    name: str = ""


@dataclass
class Program:
    """A compiled scenario: threads, initial memory, what to observe, the condition."""

    name: str
    threads: list[Thread]
    init_memory: dict[str, Value]
    init_regs: dict[tuple[int, str], Value]
    lock_locations: frozenset[str]
    observed: list  # list[CLoc] shown in final states, herd7's order
    condition: object | None  # ast.Condition
    filter: object | None  # ast.Prop
    source: str = ""
    loop_bound: int = 2  # herd7's -unroll default, as lang.compile.DEFAULT_LOOP_BOUND
    invariants: list = field(default_factory=list)  # list[(name, Prop)] checked in every state
    filter_locs: list = field(default_factory=list)  # list[CLoc] the filter reads beyond `observed`
    meta: dict = field(default_factory=dict)

    @property
    def watched(self) -> list:
        """Every location a final state needs: the shown ones, then those only the filter reads."""
        return self.observed + self.filter_locs
