"""Cross-check on random small litmus tests: every SC final state is allowed by the LKMM (SC ⊆ LKMM)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinrace.engine.models.lkmm import check
from pinrace.engine.models.sc import SC
from pinrace.explore.budget import Budget
from pinrace.explore.search import explore
from pinrace.lang.compile import compile_source

LOCS = ("x", "y")
BARRIERS = ("smp_mb()", "smp_wmb()", "smp_rmb()", "barrier()", "smp_mb__before_atomic()",
            "smp_mb__after_atomic()")
WRITES = ("WRITE_ONCE(*{l}, {v})", "smp_store_release({l}, {v})", "atomic_add({v}, {l})",
          "r{r} = xchg({l}, {v})", "r{r} = cmpxchg({l}, 0, {v})", "r{r} = atomic_fetch_add_relaxed({v}, {l})")
READS = ("r{r} = READ_ONCE(*{l})", "r{r} = smp_load_acquire({l})")


@st.composite
def litmus(draw) -> str:
    nthreads = draw(st.integers(2, 3))
    threads, conds = [], []
    for t in range(nthreads):
        ops, regs = [], []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()) and draw(st.booleans()):
                ops.append(draw(st.sampled_from(BARRIERS)))
            loc = draw(st.sampled_from(LOCS))
            r = len(regs)
            if draw(st.booleans()):
                ops.append(draw(st.sampled_from(READS)).format(r=r, l=loc))
                regs.append(f"r{r}")
            else:
                op = draw(st.sampled_from(WRITES))
                ops.append(op.format(r=r, l=loc, v=draw(st.integers(1, 2))))
                if op.startswith("r{r}"):
                    regs.append(f"r{r}")
        decl = " ".join(f"int {r};" for r in regs)
        threads.append(f"P{t}(int *x, int *y) {{ {decl} {'; '.join(ops)}; }}")
        conds += [f"{t}:{r}=0" for r in regs]
    cond = " /\\ ".join(conds + ["x=1"]) if conds else "x=1"
    return "C random\n{}\n" + "\n".join(threads) + f"\nexists ({cond})\n"


# derandomized: the same 60 programs on every run, so a slow one is found here, not by chance in
# CI; lkmm gets time enough for the slowest shapes this strategy writes (three CPUs with four
# RMWs on one location take ~25 s on a loaded machine: the value sets over-approximate)
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(litmus())
def test_sc_states_are_lkmm_states(src):
    prog = compile_source(src)
    sc = explore(SC(prog))
    lk = check(prog, Budget(max_seconds=600))
    assert sc.incomplete is None and lk.incomplete is None
    sc_states = {tuple(f.values.items()) for f in sc.finals}
    lk_states = {tuple(f.values.items()) for f in lk.finals}
    assert sc_states <= lk_states, src
    if lk.observation == "Never":
        assert sc.observation == "Never", src
