"""Golden tests under sc: each NAME.litmus beside NAME.expected holds herd7's summary lines."""

from __future__ import annotations

import pytest

from conftest import GOLDEN
from pinrace.explore.run import check
from pinrace.formats.herd import herd_text
from pinrace.library import load_program

CASES = sorted((GOLDEN / "sc").glob("*.litmus"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_sc(path):
    prog = load_program(path.read_text())
    got = herd_text(prog, check(prog, "sc"))
    assert got.strip() == path.with_suffix(".expected").read_text().strip()


def test_golden_set_covers_the_classic_shapes():
    names = {p.stem for p in CASES}
    assert {"SB", "MP", "LB", "IRIW", "2+2W", "R", "S", "CoRR", "CoWW", "locks"} <= names


@pytest.mark.parametrize("name,verdict", [
    ("SB", "Never"), ("MP", "Never"), ("LB", "Never"), ("IRIW", "Never"), ("2+2W", "Never"),
    ("R", "Never"), ("S", "Never"), ("CoRR", "Never"), ("CoWW", "Never"), ("locks", "Never"),
    ("lost-update", "Sometimes"), ("rcu", "Never"),
])
def test_sc_verdicts_from_the_literature(name, verdict):
    # SC forbids every relaxed shape; a lock makes increments atomic; a grace period
    # waits for pre-existing readers.
    prog = load_program((GOLDEN / "sc" / f"{name}.litmus").read_text())
    assert check(prog, "sc").observation == verdict
