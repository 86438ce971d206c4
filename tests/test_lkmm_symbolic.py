"""RMWs whose old value nobody reads are resolved along co instead of guessed: same executions.

The reference is the first implementation (every old value of every RMW enumerated as a
separate path), which is exact but exponential in the number of atomic_add()s and bit ops.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import GOLDEN, ROOT
from pinrace.engine.models.lkmm import check
from pinrace.explore.budget import Budget
from pinrace.library import load_program

CASES = sorted((ROOT / "protocols").glob("*.litmus")) + sorted(GOLDEN.glob("*/*.litmus"))


def _outcomes(r) -> dict:
    return {tuple(f.values.items()): (f.satisfies, f.executions) for f in r.finals}


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_symbolic_rmws_change_no_outcome_and_no_execution_count(path: Path):
    prog = load_program(path.read_text())
    reference = check(prog, Budget(max_seconds=2), symbolic_rmw=False)
    if reference.incomplete:
        pytest.skip("the reference enumeration does not finish in 2 s (the reason for the symbolic one)")
    fast = check(prog)
    assert not fast.incomplete
    assert _outcomes(fast) == _outcomes(reference)
    assert (fast.observation, sorted(fast.flags)) == (reference.observation, sorted(reference.flags))


@pytest.mark.parametrize("name", ["gup-fast-trylock", "bias-barrier-fixed-full", "bias-barrier-posted-full"])
def test_page_scenarios_the_reference_cannot_finish_now_complete(name: str):
    prog = load_program((ROOT / "protocols" / f"{name}.litmus").read_text())
    r = check(prog, Budget(max_seconds=30))
    assert not r.incomplete and r.finals
