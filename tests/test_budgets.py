"""Every budget ends a run with `incomplete: <name>` and keeps what it found; nothing hangs."""

from __future__ import annotations

import pytest

from conftest import ROOT
from pinrace.cli import main
from pinrace.explore.budget import Budget
from pinrace.explore.run import check
from pinrace.library import find, load_program

MODELS = ["sc", "tso", "lkmm"]


def _prog(name: str = "bias-barrier-posted"):
    return load_program(find(name).source)


def _finals(r) -> set:
    return {tuple(f.values.items()) for f in r.finals}


@pytest.mark.parametrize("model", MODELS)
def test_states_budget_keeps_a_subset_of_the_outcomes(model):
    prog = _prog()
    full = check(prog, model)
    part = check(prog, model, Budget(max_states=2))
    assert not full.incomplete and part.incomplete == "states"
    assert _finals(part) <= _finals(full)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("field, value, name", [
    ("max_seconds", 0.0, "time"),
    ("max_memory_mb", 1.0, "memory"),
    ("cancelled", lambda: True, "cancelled"),
])
def test_time_memory_and_cancellation_budgets(model, field, value, name):
    # a scenario big enough that no model finishes before its first budget check
    r = check(_prog("bias-unsynchronized-full"), model, Budget(**{field: value}))
    assert r.incomplete == name


@pytest.mark.parametrize("model", ["sc", "tso"])
def test_steps_budget_bounds_the_run_length(model):
    r = check(_prog("bias-barrier-posted-full"), model, Budget(max_steps_per_cpu=2))
    assert r.incomplete == "steps"
    assert all(len(f.schedule) <= 2 * 2 for f in r.finals)


def test_lkmm_path_explosion_stops_at_the_budget_instead_of_hanging():
    from pinrace.engine.models.lkmm import check as lkmm_check

    # guessing every RMW's old value along a retry loop is exponential (the reason RMWs are
    # symbolic by default): whatever the enumeration, the budget must cut it
    r = lkmm_check(_prog("bias-barrier-fixed-full"), Budget(max_seconds=2), symbolic_rmw=False)
    assert r.incomplete == "time" and r.elapsed < 10


def test_cli_says_unknown_not_never_when_stopped(capsys):
    rc = main(["check", str(ROOT / "protocols" / "bias-barrier-posted.litmus"), "--model", "sc",
               "--max-states", "2"])
    out = capsys.readouterr().out
    assert rc == 3
    assert "unknown (stopped by the states budget)" in out and "incomplete: states" in out
