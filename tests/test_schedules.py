"""Schedules: every shortest schedule the checker reports replays to its final state."""

from __future__ import annotations

import pytest

from conftest import GOLDEN
from pinrace.engine.models import make_model
from pinrace.engine.state import Transition
from pinrace.errors import ScheduleError
from pinrace.explore.replay import replay
from pinrace.explore.run import check
from pinrace.explore.search import observe
from pinrace.formats.schedule import (
    format_schedule,
    parse_schedule,
    schedule_from_json,
    schedule_to_json,
)
from pinrace.library import load_program

CASES = sorted((GOLDEN / "sc").glob("*.litmus"))


@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_reported_schedule_replays_to_its_final_state(path, model):
    prog = load_program(path.read_text())
    result = check(prog, model)
    machine = make_model(model, prog)
    assert result.finals
    for final in result.finals:
        s = machine.initial()
        for t in final.schedule:
            assert t in machine.enabled(s)
            s = machine.step(s, t)
        assert machine.status(s) == "done"
        assert observe(machine, s) == final.values


def test_schedules_are_shortest():
    # SB under sc: every final state needs all four operations, nothing more
    prog = load_program((GOLDEN / "sc" / "SB.litmus").read_text())
    assert all(len(f.schedule) == 4 for f in check(prog, "sc").finals)


def test_text_and_json_forms_round_trip():
    steps = [Transition(0, 0), Transition(1, 0), Transition(0, None, ("flush",)), Transition(1, 3, ("rf", 2))]
    text = format_schedule(steps)
    assert text == "0:0 1:0 0:flush 1:3:rf:2"
    assert parse_schedule(text) == steps
    assert schedule_from_json(schedule_to_json(steps)) == steps
    assert schedule_to_json(steps)["version"] == 1


def test_bare_cpu_numbers_resolve_to_the_next_operation():
    prog = load_program((GOLDEN / "sc" / "SB.litmus").read_text())
    machine = make_model("sc", prog)
    states, taken = replay(machine, parse_schedule("0 1 1 0"))
    assert [t.token() for t in taken] == ["0:0", "1:0", "1:1", "0:1"]
    assert observe(machine, states[-1]) == {"0:r0": 1, "1:r0": 1}


def test_a_step_that_is_not_enabled_is_refused_with_its_index():
    prog = load_program((GOLDEN / "sc" / "locks.litmus").read_text())
    machine = make_model("sc", prog)
    with pytest.raises(ScheduleError) as ei:
        replay(machine, parse_schedule("0 1"))  # CPU1's spin_lock waits for CPU0's unlock
    assert ei.value.step == 1
    assert ei.value.rule == "blocked"
    assert "waits for the lock" in ei.value.reason


def test_a_newer_schedule_version_is_refused_clearly():
    with pytest.raises(ScheduleError, match="version 9"):
        schedule_from_json({"format": "pinrace-schedule", "version": 9, "steps": []})


def test_tso_flush_is_a_step_of_its_own():
    prog = load_program((GOLDEN / "sc" / "SB.litmus").read_text())
    machine = make_model("tso", prog)
    states, _ = replay(machine, parse_schedule("0 1 1 0"))
    # both stores still sit in the store buffers: each CPU read the other's old value
    assert observe(machine, states[-1]) == {"0:r0": 0, "1:r0": 0}
    assert machine.status(states[-1]) == "running"
    states, _ = replay(machine, parse_schedule("0 1 1 0 0:flush 1:flush"))
    assert machine.status(states[-1]) == "done"
