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
