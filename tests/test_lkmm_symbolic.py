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

# the reference enumeration cannot finish these at all (it passes 4 GiB or minutes: each
# atomic_add() and bit op multiplies the paths); the symbolic one must, below
REFERENCE_CANNOT = {"gup-fast-trylock", "bias-barrier-fixed-full", "bias-barrier-posted-full",
                    "mixed-put-page-put-user-page"}
CASES = [p for p in sorted((ROOT / "protocols").glob("*.litmus")) + sorted(GOLDEN.glob("*/*.litmus"))
         if p.stem not in REFERENCE_CANNOT or p.parent.name != "protocols"]


def _outcomes(r) -> dict:
    return {tuple(f.values.items()): (f.satisfies, f.executions) for f in r.finals}


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_symbolic_rmws_change_no_outcome_and_no_execution_count(path: Path):
    prog = load_program(path.read_text())
    # a state budget, not a clock: the reference runs to its end on any machine (bias-page-lock,
    # the slowest, takes about 10 s), and an unfinished reference is a failure, not a skip
    reference = check(prog, Budget(max_states=2_000_000, max_seconds=3600), symbolic_rmw=False)
    assert not reference.incomplete, reference.incomplete
    fast = check(prog)
    assert not fast.incomplete
    assert _outcomes(fast) == _outcomes(reference)
    assert (fast.observation, sorted(fast.flags)) == (reference.observation, sorted(reference.flags))


@pytest.mark.parametrize("name", sorted(REFERENCE_CANNOT))
def test_page_scenarios_the_reference_cannot_finish_now_complete(name: str):
    prog = load_program((ROOT / "protocols" / f"{name}.litmus").read_text())
    r = check(prog, Budget(max_seconds=30))
    assert not r.incomplete and r.finals
