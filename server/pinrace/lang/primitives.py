"""One table from kernel primitives to core events, as herd7's linux-kernel.def does.

Each row says which core event a primitive becomes (load, store, rmw, fence, lock,
unlock, trylock, islocked, srcu-sync), its ordering tag from linux-kernel.bell, which
argument is the location (and whether it is written as an lvalue, `READ_ONCE(*x)`, or
as a pointer, `smp_load_acquire(x)`), and, for RMWs, the operation.  The models see
only core events; docs/primitives.md is generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.ir import ACQUIRE, MB, NORETURN, ONCE, RELEASE, SRCU_LOCK, SRCU_UNLOCK

__all__ = ["Primitive", "PRIMITIVES", "lookup"]


@dataclass(frozen=True)
class Primitive:
    name: str
    event: str  # load store rmw fence lock unlock trylock islocked srcu-sync store+mb
    tag: str | None = None
    arity: int = 0
    loc: int | None = None  # index of the location argument
    lvalue: bool = False  # location written as an lvalue (`*x`), not a pointer
    value: tuple[int, ...] = ()  # indices of value arguments, in operand order
    kind: str | None = None  # rmw kind: op, op_return, fetch_op, xchg, cmpxchg, add_unless
    op: str | None = None  # rmw arithmetic
    result: str | None = None  # post-processing of the returned value: "==0", "<0", "bit"
    x86: str = ""  # the instruction Linux emits on x86, for docs/primitives.md
    doc: str = ""


PRIMITIVES: dict[str, Primitive] = {}


def _add(p: Primitive) -> None:
    PRIMITIVES[p.name] = p


_ORDER_SUFFIX = (("", MB), ("_relaxed", ONCE), ("_acquire", ACQUIRE), ("_release", RELEASE))

# ONCE accesses, release/acquire, RCU pointer publication
_add(Primitive("READ_ONCE", "load", ONCE, 1, 0, True, x86="mov"))
_add(Primitive("WRITE_ONCE", "store", ONCE, 2, 0, True, (1,), x86="mov"))
_add(Primitive("smp_load_acquire", "load", ACQUIRE, 1, 0, x86="mov"))
_add(Primitive("smp_store_release", "store", RELEASE, 2, 0, value=(1,), x86="mov"))
_add(Primitive("rcu_dereference", "load", ONCE, 1, 0, True, x86="mov"))
_add(Primitive("rcu_assign_pointer", "store", RELEASE, 2, 0, True, (1,), x86="mov"))
_add(Primitive("smp_store_mb", "store+mb", ONCE, 2, 0, True, (1,), x86="xchg"))
_add(Primitive("atomic_read", "load", ONCE, 1, 0, x86="mov"))
_add(Primitive("atomic_set", "store", ONCE, 2, 0, value=(1,), x86="mov"))
_add(Primitive("atomic_read_acquire", "load", ACQUIRE, 1, 0, x86="mov"))
_add(Primitive("atomic_set_release", "store", RELEASE, 2, 0, value=(1,), x86="mov"))

# fences
for _name, _tag, _x86 in (
    ("smp_mb", "MB", "mfence (lock; addl)"), ("smp_rmb", "rmb", "compiler barrier"),
    ("smp_wmb", "wmb", "compiler barrier"), ("smp_mb__before_atomic", "before-atomic", "compiler barrier"),
    ("smp_mb__after_atomic", "after-atomic", "compiler barrier"),
    ("smp_mb__after_spinlock", "after-spinlock", "compiler barrier"),
    ("smp_mb__after_unlock_lock", "after-unlock-lock", "compiler barrier"),
    ("smp_mb__after_srcu_read_unlock", "after-srcu-read-unlock", "compiler barrier"),
    ("barrier", "barrier", "compiler barrier"), ("rcu_read_lock", "rcu-lock", "preempt_disable"),
    ("rcu_read_unlock", "rcu-unlock", "preempt_enable"), ("synchronize_rcu", "sync-rcu", "grace period"),
    ("synchronize_rcu_expedited", "sync-rcu", "grace period"),
):
    _add(Primitive(_name, "fence", _tag, 0, x86=_x86))

# exchange
for _base in ("xchg", "atomic_xchg"):
    for _sfx, _tag in _ORDER_SUFFIX:
        _add(Primitive(_base + _sfx, "rmw", _tag, 2, 0, value=(1,), kind="xchg", x86="xchg"))
for _base in ("cmpxchg", "atomic_cmpxchg"):
    for _sfx, _tag in _ORDER_SUFFIX:
        _add(Primitive(_base + _sfx, "rmw", _tag, 3, 0, value=(1, 2), kind="cmpxchg",
                       x86="lock cmpxchg"))

# spinlocks
_add(Primitive("spin_lock", "lock", None, 1, 0, x86="lock cmpxchg (loop)"))
_add(Primitive("spin_unlock", "unlock", None, 1, 0, x86="mov"))
_add(Primitive("spin_trylock", "trylock", None, 1, 0, x86="lock cmpxchg"))
_add(Primitive("spin_is_locked", "islocked", None, 1, 0, x86="mov"))

# SRCU
_add(Primitive("srcu_read_lock", "load", SRCU_LOCK, 1, 0, x86="per-cpu inc"))
_add(Primitive("srcu_down_read", "load", SRCU_LOCK, 1, 0, x86="per-cpu inc"))
_add(Primitive("srcu_read_unlock", "store", SRCU_UNLOCK, 2, 0, value=(1,), x86="per-cpu inc"))
_add(Primitive("srcu_up_read", "store", SRCU_UNLOCK, 2, 0, value=(1,), x86="per-cpu inc"))
_add(Primitive("synchronize_srcu", "srcu-sync", None, 1, 0, x86="grace period"))
_add(Primitive("synchronize_srcu_expedited", "srcu-sync", None, 1, 0, x86="grace period"))

# atomics without return value: unordered in the LKMM, a locked instruction on x86
for _op, _sym in (("add", "+"), ("sub", "-"), ("and", "&"), ("or", "|"), ("xor", "^"), ("andnot", "&~")):
    _add(Primitive(f"atomic_{_op}", "rmw", NORETURN, 2, 1, value=(0,), kind="op", op=_sym,
                   x86=f"lock {_op if _op != 'andnot' else 'and'}"))
_add(Primitive("atomic_inc", "rmw", NORETURN, 1, 0, kind="op", op="+", x86="lock inc"))
_add(Primitive("atomic_dec", "rmw", NORETURN, 1, 0, kind="op", op="-", x86="lock dec"))

# value-returning atomics: fully ordered unless suffixed
for _op, _sym in (("add", "+"), ("sub", "-")):
    for _sfx, _tag in _ORDER_SUFFIX:
        _add(Primitive(f"atomic_{_op}_return{_sfx}", "rmw", _tag, 2, 1, value=(0,),
                       kind="op_return", op=_sym, x86="lock xadd"))
for _op, _sym in (("inc", "+"), ("dec", "-")):
    for _sfx, _tag in _ORDER_SUFFIX:
        _add(Primitive(f"atomic_{_op}_return{_sfx}", "rmw", _tag, 1, 0, kind="op_return",
                       op=_sym, x86="lock xadd"))
        _add(Primitive(f"atomic_fetch_{_op}{_sfx}", "rmw", _tag, 1, 0, kind="fetch_op", op=_sym,
                       x86="lock xadd"))
for _op, _sym in (("add", "+"), ("sub", "-"), ("and", "&"), ("or", "|"), ("xor", "^"), ("andnot", "&~")):
    for _sfx, _tag in _ORDER_SUFFIX:
        _add(Primitive(f"atomic_fetch_{_op}{_sfx}", "rmw", _tag, 2, 1, value=(0,), kind="fetch_op",
                       op=_sym, x86="lock xadd" if _sym in "+-" else "lock cmpxchg (loop)"))
_add(Primitive("atomic_sub_and_test", "rmw", MB, 2, 1, value=(0,), kind="op_return", op="-",
               result="==0", x86="lock sub; sete"))
_add(Primitive("atomic_dec_and_test", "rmw", MB, 1, 0, kind="op_return", op="-", result="==0",
               x86="lock dec; sete"))
_add(Primitive("atomic_inc_and_test", "rmw", MB, 1, 0, kind="op_return", op="+", result="==0",
               x86="lock inc; sete"))
for _sfx, _tag in _ORDER_SUFFIX:
    _add(Primitive(f"atomic_add_negative{_sfx}", "rmw", _tag, 2, 1, value=(0,), kind="op_return",
                   op="+", result="<0", x86="lock add; sets"))
_add(Primitive("atomic_add_unless", "rmw", MB, 3, 0, value=(1, 2), kind="add_unless", op="+",
               x86="lock cmpxchg (loop)"))

# Bit operations on one word (Documentation/atomic_bitops.txt): (nr, addr).  Non-RMW
# forms are unordered; test_and_* are fully ordered; _lock/_unlock are acquire/release.
_add(Primitive("set_bit", "rmw", NORETURN, 2, 1, value=(0,), kind="op", op="|bit", x86="lock bts"))
_add(Primitive("clear_bit", "rmw", NORETURN, 2, 1, value=(0,), kind="op", op="&~bit", x86="lock btr"))
_add(Primitive("change_bit", "rmw", NORETURN, 2, 1, value=(0,), kind="op", op="^bit", x86="lock btc"))
_add(Primitive("test_bit", "load", ONCE, 2, 1, value=(0,), result="bit", x86="bt"))
_add(Primitive("test_bit_acquire", "load", ACQUIRE, 2, 1, value=(0,), result="bit", x86="bt"))
_add(Primitive("test_and_set_bit", "rmw", MB, 2, 1, value=(0,), kind="fetch_op", op="|bit",
               result="bit", x86="lock bts"))
_add(Primitive("test_and_clear_bit", "rmw", MB, 2, 1, value=(0,), kind="fetch_op", op="&~bit",
               result="bit", x86="lock btr"))
_add(Primitive("test_and_set_bit_lock", "rmw", ACQUIRE, 2, 1, value=(0,), kind="fetch_op",
               op="|bit", result="bit", x86="lock bts"))
_add(Primitive("clear_bit_unlock", "rmw", RELEASE, 2, 1, value=(0,), kind="fetch_op", op="&~bit",
               x86="lock btr"))
# pinrace's blocking waits, used by the page prelude: a wait is a read that must see the
# bit clear (herd7 would write a `filter`); the bit lock also sets it, with ACQUIRE.
_add(Primitive("__wait_bit_clear", "load", ACQUIRE, 2, 1, value=(0,), result="wait-clear",
               x86="wait_on_bit", doc="blocks until bit nr of *addr is clear"))
_add(Primitive("__lock_bit", "rmw", ACQUIRE, 2, 1, value=(0,), kind="fetch_op", op="|bit",
               result="wait-lock", x86="lock bts (sleeping)",
               doc="blocks until bit nr is clear, then sets it (test_and_set_bit_lock)"))


def lookup(name: str) -> Primitive | None:
    return PRIMITIVES.get(name)


def closest(name: str, extra: list[str]) -> str | None:
    """A likely intended name, for 'did you mean' hints."""
    import difflib

    m = difflib.get_close_matches(name, list(PRIMITIVES) + extra, n=1, cutoff=0.75)
    return m[0] if m else None
