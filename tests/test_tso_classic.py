"""x86-TSO against the classic tests: SB allowed; MP, LB, IRIW, 2+2W and SB with xchg forbidden."""

from __future__ import annotations

import pytest

from pinrace.explore.run import check
from pinrace.library import load_program

SB = """C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r1; WRITE_ONCE(*y, 1); r1 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r1=0)
"""
SB_XCHG = SB.replace("C SB", "C SB+xchg").replace("WRITE_ONCE(*x, 1); r0", "r2 = xchg(x, 1); r0").replace(
    "int r0;", "int r0; int r2;")
MP = """C MP
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\\ 1:r1=0)
"""
LB = """C LB
{}
P0(int *x, int *y) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r1; r1 = READ_ONCE(*y); WRITE_ONCE(*x, 1); }
exists (0:r0=1 /\\ 1:r1=1)
"""
IRIW = """C IRIW
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*x); r1 = READ_ONCE(*y); }
P2(int *y) { WRITE_ONCE(*y, 1); }
P3(int *x, int *y) { int r2; int r3; r2 = READ_ONCE(*y); r3 = READ_ONCE(*x); }
exists (1:r0=1 /\\ 1:r1=0 /\\ 3:r2=1 /\\ 3:r3=0)
"""
W22 = """C 2+2W
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 2); }
P1(int *x, int *y) { WRITE_ONCE(*y, 1); WRITE_ONCE(*x, 2); }
exists (x=1 /\\ y=1)
"""
SB_ATOMIC_ADD = SB.replace("C SB", "C SB+atomic_adds").replace("WRITE_ONCE(*x, 1); r0", "atomic_add(1, x); r0").replace(
    "WRITE_ONCE(*y, 1); r1", "atomic_add(1, y); r1")
# the thread's shape: xchg on one side, a locked (non-returning) atomic_add on the other
SB_XCHG_ADD = SB_XCHG.replace("WRITE_ONCE(*y, 1); r1", "atomic_add(1, y); r1")
SB_XCHG_BOTH = SB_XCHG.replace("WRITE_ONCE(*y, 1); r1", "r3 = xchg(y, 1); r1").replace("int r1;", "int r1; int r3;")


@pytest.mark.parametrize("src, sc, tso", [
    (SB, "Never", "Sometimes"),
    (SB_XCHG, "Never", "Sometimes"),  # one fenced side is not enough on x86 (SB+mfence+po is allowed)
    (SB_XCHG_ADD, "Never", "Never"),
    (SB_XCHG_BOTH, "Never", "Never"),
    (SB_ATOMIC_ADD, "Never", "Never"),  # a locked add drains the buffer, even without a return value
    (MP, "Never", "Never"),
    (LB, "Never", "Never"),
    (IRIW, "Never", "Never"),
    (W22, "Never", "Never"),
], ids=["SB", "SB+xchg+po", "SB+xchg+atomic_add", "SB+xchgs", "SB+atomic_adds", "MP", "LB", "IRIW", "2+2W"])
def test_classic_x86_tso_verdicts(src, sc, tso):
    prog = load_program(src)
    assert check(prog, "sc").observation == sc
    assert check(prog, "tso").observation == tso


def test_sb_counterexample_needs_both_buffers_unflushed():
    prog = load_program(SB)
    res = check(prog, "tso")
    bad = [f for f in res.finals if f.satisfies]
    assert bad and all(any(t.op is None for t in f.schedule) for f in bad)


def test_smp_mb_forbids_sb_under_tso():
    src = SB.replace("WRITE_ONCE(*x, 1); r0", "WRITE_ONCE(*x, 1); smp_mb(); r0").replace(
        "WRITE_ONCE(*y, 1); r1", "WRITE_ONCE(*y, 1); smp_mb(); r1")
    assert check(load_program(src), "tso").observation == "Never"


def test_a_blocked_cpu_can_still_flush_its_buffer():
    # CPU0 buffers x=1, then blocks in spin_lock (a locked instruction: it needs its buffer
    # drained) while CPU1 holds the lock and waits to see x=1: only the flush unblocks both.
    src = """C flush-while-blocked
{ spinlock_t s; }
P0(int *x, spinlock_t *s) { WRITE_ONCE(*x, 1); spin_lock(s); spin_unlock(s); }
P1(int *x, spinlock_t *s) { int r0; spin_lock(s); r0 = READ_ONCE(*x); spin_unlock(s); }
exists (1:r0=1)
"""
    from pinrace.engine.models import make_model
    from pinrace.engine.state import Transition

    prog = load_program(src)
    m = make_model("tso", prog)
    s = m.step(m.initial(), Transition(0, 0))  # x=1 into CPU0's buffer
    s = m.step(s, Transition(1, 0))  # CPU1 takes the lock
    assert m.blocked_reason(s, 0)  # CPU0's spin_lock waits (for the lock, and its buffer)
    assert Transition(0, None, ("flush",)) in m.enabled(s)
    s = m.step(s, Transition(0, None, ("flush",)))
    assert s.buffers[0] == ()
    res = check(prog, "tso")
    assert res.observation == "Sometimes" and not res.stuck


def test_waiting_cpu_buffer_flushes_to_release_a_writeback_waiter():
    # CPU0 waits for PG_writeback to clear; CPU1's clearing store is a plain store in its
    # buffer: the run ends only if the flush is offered while CPU0 blocks.
    src = """C wait-then-flush
{ struct page page = { .flags = 2 }; }
P0(struct page *page) { int r0; wait_on_page_writeback(page); r0 = 1; }
P1(struct page *page) { WRITE_ONCE(page->flags, 0); }
exists (0:r0=1)
"""
    res = check(load_program(src), "tso")
    assert res.observation == "Always" and not res.stuck


def test_sb_with_xchg_on_one_side_is_forbidden_when_the_other_side_is_locked_too():
    """The herd7-checked fact of issue 4: Never under sc and tso (Sometimes under lkmm)."""
    herd = """C bias-sb
{ atomic_t refcount = ATOMIC_INIT(1); int wb = 0; }
P0(atomic_t *refcount, int *wb) { int r0; atomic_add(1024, refcount); smp_wmb(); r0 = READ_ONCE(*wb); }
P1(atomic_t *refcount, int *wb) { int r1; int r2; r1 = xchg(wb, 1); smp_mb(); r2 = atomic_read(refcount); }
exists (0:r0=0 /\\ 1:r1=0 /\\ 1:r2=1)
"""
    prog = load_program(herd)
    assert check(prog, "sc").observation == "Never"
    assert check(prog, "tso").observation == "Never"
    fixed = load_program(herd.replace("smp_wmb()", "smp_mb__after_atomic()"))
    assert check(fixed, "sc").observation == check(fixed, "tso").observation == "Never"
