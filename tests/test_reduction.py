"""Partial-order reduction is exact: reduced and plain search find the same final states."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import GOLDEN, ROOT
from pinrace.engine.models import make_model
from pinrace.explore.budget import Budget
from pinrace.explore.search import explore
from pinrace.library import load_program

CASES = sorted((GOLDEN / "sc").glob("*.litmus")) + sorted((ROOT / "protocols").glob("*.litmus"))


def _ends(result) -> set:
    return {(tuple(f.values.items()), f.status, f.satisfies) for f in result.finals + result.stuck}


def _agree(prog, model: str, cap: int | None = None) -> tuple[int, int]:
    budget = Budget(max_states=cap) if cap else None
    plain = explore(make_model(model, prog), budget, reduce=False)
    if cap:
        assume(not plain.incomplete)  # a cut-short plain search is no reference
    assert not plain.incomplete
    reduced = explore(make_model(model, prog), reduce=True)
    assert not reduced.incomplete
    assert _ends(reduced) == _ends(plain)
    assert reduced.observation == plain.observation
    assert reduced.states <= plain.states
    return plain.states, reduced.states


@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_reduced_search_agrees_with_plain_search(path: Path, model: str):
    _agree(load_program(path.read_text()), model)


_OPS = ["WRITE_ONCE(*{v}, {n});", "r{r} = READ_ONCE(*{v});", "atomic_add({n}, {v});", "r{r} = xchg({v}, {n});",
        "smp_mb();", "smp_wmb();", "r{r} = atomic_fetch_add({n}, {v});", "smp_store_release({v}, {n});",
        "r{r} = smp_load_acquire({v});", "spin_lock(l); r{r} = READ_ONCE(*{v}); WRITE_ONCE(*{v}, {n}); spin_unlock(l);",
        "if (READ_ONCE(*{v}) == 1) WRITE_ONCE(*{v}, {n});"]


@st.composite
def programs(draw):
    nthreads = draw(st.integers(2, 3))
    body = []
    for t in range(nthreads):
        ops = draw(st.lists(st.tuples(st.sampled_from(_OPS), st.sampled_from("xy"), st.integers(1, 2)),
                            min_size=1, max_size=3))
        lines = [op.format(v=v, n=n, r=k) for k, (op, v, n) in enumerate(ops)]
        body.append(f"P{t}(int *x, int *y, spinlock_t *l) {{ int r0; int r1; int r2; {' '.join(lines)} }}")
    return "C random\n{ spinlock_t l; }\n" + "\n".join(body) + "\nlocations [x; y]\nexists (x=1)\n"


@settings(max_examples=60, deadline=None)
@given(programs(), st.sampled_from(["sc", "tso"]))
def test_reduction_is_exact_on_random_programs(src: str, model: str):
    _agree(load_program(src), model)


@settings(max_examples=40, deadline=None)
@given(programs(), st.integers(1, 2), st.sampled_from(["sc", "tso"]))
def test_symmetry_is_exact_when_threads_repeat(src: str, copies: int, model: str):
    # repeat P0's body `copies` times: those CPUs are interchangeable
    lines = src.splitlines()
    p0 = next(line for line in lines if line.startswith("P0("))
    extra = [p0.replace("P0(", f"P{100 + i}(") for i in range(copies)]
    rest = [line for line in lines if line.startswith("P") and not line.startswith("P0(")]
    threads = [p0, *extra, *rest]
    renumbered = [t.replace(t[: t.index("(")], f"P{i}", 1) for i, t in enumerate(threads)]
    text = "\n".join([lines[0], lines[1], *renumbered, "locations [x; y]", "exists (x=1)"])
    _agree(load_program(text), model, cap=100_000)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("model", ["sc", "tso"])
def test_scaled_pin_scenarios_agree(k: int, model: str):
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from scaled import scaled_source

    plain, reduced = _agree(load_program(scaled_source(k)), model)
    if k == 3:
        assert reduced * 1.5 < plain  # two identical pinners: symmetry at least


_SAME = ["r0 = atomic_inc_return(x);", "r1 = READ_ONCE(*x);", "WRITE_ONCE(*x, 2);", "r0 = xchg(x, 3);",
         "r1 = READ_ONCE(*y);", "WRITE_ONCE(*y, 1);"]


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.lists(st.sampled_from(_SAME), min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["r0", "r1"])), min_size=1, max_size=4),
       st.sampled_from(["sc", "tso"]))
def test_symmetry_is_exact_when_registers_of_identical_cpus_are_observed(n: int, ops: list, seen: list, model: str):
    """Final states of identical CPUs are closed under their permutations by placing what the condition
    observes, not by listing permutations: the same final states as the plain search."""
    body = " ".join(ops)
    regs = sorted({f"{t % n}:{r}" for t, r in seen})
    src = ("C same\n{}\n" + "".join(f"P{i}(int *x, int *y) {{ int r0 = 0; int r1 = 0; {body} }}\n" for i in range(n))
           + f"locations [{'; '.join(regs)}; x]\nexists ({regs[0]}=1)\n")
    _agree(load_program(src), model, cap=200_000)


def test_symmetry_never_lists_the_permutations():
    """12 (and 16) identical CPUs, each reading once: one final state, found from a handful of
    canonical states, not from 12! permutations (issue 14's symmetry bomb)."""
    for n in (12, 16):
        src = ("C bomb\n{}\n" + "".join(f"P{i}(int *x) {{ r0 = READ_ONCE(*x); }}\n" for i in range(n))
               + "exists (" + " /\\ ".join(f"{i}:r0=0" for i in range(n)) + ")\n")
        r = explore(make_model("sc", load_program(src)), Budget(max_states=1_000, max_seconds=60))
        assert r.incomplete is None and len(r.finals) == 1 and r.states == n + 1
        assert r.finals[0].satisfies


def test_a_large_answer_under_symmetry_is_bounded_by_the_budget():
    """Distinct observations really do multiply (8 CPUs each taking a ticket: 8! final states); the
    enumeration stops at the budget with incomplete, like the search."""
    src = ("C tickets\n{}\n" + "".join(f"P{i}(int *x) {{ r0 = atomic_inc_return(x); }}\n" for i in range(8))
           + "locations [" + "; ".join(f"{i}:r0" for i in range(8)) + "]\nexists (0:r0=1)\n")
    r = explore(make_model("sc", load_program(src)), Budget(max_states=5_000))
    assert r.incomplete == "states" and 0 < len(r.finals) < 5_000 + 256  # checked every 256, as the search is
