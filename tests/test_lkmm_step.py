"""Stepwise lkmm: navigation among the executions linux-kernel.cat allows.

The exhaustive part explores every state `enabled`/`step` can reach (depth-first, states
deduplicated) for every project golden test and, when present, every test of the shared LKMM
corpus: the final states reached are exactly the allowed ones (herd7's, for the catalogue), no
state short of the end has no step, and every allowed execution replays as its own schedule.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from conftest import GOLDEN, ROOT
from pinrace.engine.models import make_model
from pinrace.engine.models.lkmm import LKMM, Refusal, check
from pinrace.engine.models.lkmm.execs import linearize
from pinrace.engine.view import describe
from pinrace.errors import ScheduleError
from pinrace.explore.replay import replay
from pinrace.explore.search import observe
from pinrace.formats.schedule import parse_schedule, schedule_from_json, schedule_to_json
from pinrace.library import load_program, resolve_source

PROJECT = sorted((GOLDEN / "lkmm").glob("*.litmus")) + sorted((GOLDEN / "sc").glob("*.litmus")) \
    + sorted((GOLDEN / "lkmm-kernel").glob("*.litmus"))


def machine(path_or_text) -> LKMM:
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    m = LKMM(load_program(text))
    m.prepare()
    return m


def shown(m: LKMM, s) -> dict:
    """A final state's values as a result shows them: herd7's locations (filter-only ones left out)."""
    keys = {loc.key() for loc in m.program.observed}
    return {k: v for k, v in observe(m, s).items() if k in keys}


def explore(m: LKMM, limit: int = 200_000) -> tuple[set, int, int]:
    """(final observed values reached, states, states with no step that are not the end)."""
    s0 = m.initial()
    seen = {s0}
    stack = [s0]
    finals: set = set()
    stuck = 0
    while stack:
        s = stack.pop()
        moves = m.enabled(s)
        if not moves:
            if m.status(s) == "done":
                finals.add(tuple(shown(m, s).items()))
            else:
                stuck += 1
            continue
        for t in moves:
            s2 = m.step(s, t)
            if s2 not in seen:
                seen.add(s2)
                stack.append(s2)
        assert len(seen) < limit, "state space larger than this test expects"
    return finals, len(seen), stuck


def allowed(m: LKMM) -> set:
    return {tuple(f.values.items()) for f in m.result.finals}


def every_execution_replays(m: LKMM) -> None:
    for e in m.executions:
        s = m.initial()
        for t in linearize(e):
            assert t in m.enabled(s), (e.index, t)
            s = m.step(s, t)
        assert m.status(s) == "done" and shown(m, s) == e.values


def walk(m: LKMM, rng: random.Random) -> dict:
    s = m.initial()
    while True:
        moves = m.enabled(s)
        if not moves:
            assert m.status(s) == "done", "a random walk got stuck before the end"
            return shown(m, s)
        s = m.step(s, rng.choice(moves))


# ---- the whole project corpus ------------------------------------------------------------------

@pytest.mark.parametrize("path", PROJECT, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_reaches_exactly_the_allowed_final_states(path):
    m = machine(path)
    assert m.incomplete is None and m.stats["unsteppable"] == 0
    finals, _states, stuck = explore(m)
    assert finals == allowed(m)
    assert stuck == 0
    every_execution_replays(m)
    rng = random.Random(path.stem)
    for _ in range(10):
        assert tuple(walk(m, rng).items()) in finals


def test_kernel_copies_keep_their_verdicts():
    for path in sorted((GOLDEN / "lkmm-kernel").glob("*.litmus")):
        want = re.search(r"Result:\s*(\w+)", path.read_text()).group(1)
        m = machine(path)
        prog = m.program
        finals, _, _ = explore(m)
        from pinrace.engine.condition import holds

        pos = sum(1 for f in finals if holds(prog.condition.prop, dict(f)))
        assert ("Never" if pos == 0 else "Sometimes") == want, path.name


# ---- the shared corpus (only beside ../shared/lkmm) ------------------------------------------------

def test_shared_corpus_every_allowed_state_reached_none_forbidden(shared_lkmm):
    """All 35 kernel tests and 79 catalogue tests, exhaustively (no sampling): ~2 s."""
    kernel = sorted((shared_lkmm / "litmus-tests").glob("*.litmus"))
    catalogue = sorted((shared_lkmm / "herd-catalogue").glob("*.litmus"))
    assert kernel
    from pinrace.engine.condition import holds

    for path in kernel + catalogue:
        m = machine(path)
        assert m.incomplete is None and m.stats["unsteppable"] == 0, path.name
        finals, _, stuck = explore(m)
        assert stuck == 0, path.name
        assert finals == allowed(m), path.name
        every_execution_replays(m)
        prog = m.program
        if path in kernel:
            want = re.search(r"Result:\s*(\w+)", path.read_text()).group(1)
            pos = sum(1 for f in finals if holds(prog.condition.prop, dict(f)))
            assert ("Never" if pos == 0 else "Sometimes") == want, path.name
        else:
            expected = path.with_name(path.name + ".expected").read_text()
            states = re.search(r"^States \d+\n(.*?)\n(?:Ok|No)\n", expected, re.S | re.M).group(1)
            herd = {line.strip() for line in states.splitlines()}
            got = {" ".join(f"{loc.herd()}={dict(f)[loc.key()]};" for loc in prog.observed) for f in finals}
            assert got == herd, path.name
        rng = random.Random(path.name)
        for _ in range(5):
            walk(m, rng)


# ---- the thread's counterexample, step by step -----------------------------------------------------

def test_bias_barrier_posted_counterexample_replays_and_names_the_missing_ordering():
    label, src = resolve_source("bias-barrier-posted")
    prog = load_program(src)
    r = check(prog)
    assert r.observation == "Sometimes"
    (bad,) = [f for f in r.finals if f.satisfies]
    assert bad.schedule and all(len(t.choice) == 1 for t in bad.schedule)
    m = make_model("lkmm", prog)
    states, taken = replay(m, bad.schedule)
    assert taken == bad.schedule and m.status(states[-1]) == "done"
    assert observe(m, states[-1]) == bad.values
    texts = [describe(m, s, t)["last"]["reason"] for s, t in zip(states[1:], taken, strict=True)]
    reorder = [w for w in texts if w["rule"] == "store→load"]
    assert reorder, [w["text"] for w in texts]
    words = reorder[0]["text"]
    assert words.startswith("store→load reordering: nothing orders `atomic_add()`")
    assert "`smp_wmb()` orders stores only" in words
    assert "`atomic_add()` returns no value, so it is unordered" in words
    ev = reorder[0]["reasons"][0]["events"]
    assert ev[0]["text"].startswith("atomic_add(") and ev[0]["line"] == 35 and ev[1]["kind"] == "R"


def test_bias_barrier_fixed_has_no_such_schedule():
    _, src = resolve_source("bias-barrier-fixed")
    m = machine(src)
    finals, _, stuck = explore(m)
    assert stuck == 0 and not any(holds_bad(m, f) for f in finals)


def holds_bad(m, f) -> bool:
    from pinrace.engine.condition import holds

    return bool(holds(m.program.condition.prop, dict(f)))


# ---- refusals ----------------------------------------------------------------------------------------

def test_load_before_store_across_smp_mb_is_refused_with_rule_and_cycle():
    m = machine(GOLDEN / "lkmm" / "page-pin+mb.litmus")
    s0 = m.initial()
    with pytest.raises(Refusal) as e:
        m.resolve(s0, parse_schedule("0:2")[0], 0)  # READ_ONCE(*wb) before atomic_add(), across smp_mb()
    why = e.value.why
    assert e.value.rule == "mb" and why["axiom"] == "happens-before"
    assert why["by"] == {"line": 4, "text": "smp_mb()"}
    assert "`smp_mb()` at line 4 orders these" in why["text"]
    assert "RMW refcount →mb→ R wb →xo→ RMW refcount" in why["text"]
    assert [(c["from"]["loc"], c["rel"], c["to"]["loc"]) for c in why["cycle"]] == [
        ("refcount", "mb", "wb"), ("wb", "xo", "refcount")]
    assert e.value.to_dict()["why"] == why and e.value.to_dict()["rule"] == "mb"
    with pytest.raises(Refusal):
        m.step(s0, parse_schedule("0:2:rf=init")[0])


def test_stale_read_after_smp_mb_is_refused_with_the_propagation_cycle():
    m = machine(GOLDEN / "lkmm" / "SB+mbs.litmus")
    with pytest.raises(Refusal) as e:
        replay(m, parse_schedule("0:0 0:2:rf=init 1:0 1:2:rf=init"))
    assert e.value.step == 3 and e.value.rule == "propagation"
    assert "W x →mb→ R y →fr→ W y →mb→ R x →fr→ W x" in e.value.why["text"]
    assert {c["rel"] for c in e.value.why["cycle"]} == {"mb", "fr"}


def test_stale_read_after_rmb_is_refused_with_the_happens_before_cycle():
    m = machine(GOLDEN / "lkmm" / "MP+wmb+rmb.litmus")
    with pytest.raises(Refusal) as e:
        replay(m, parse_schedule("0:0 0:2 1:0:rf=0.2 1:3:rf=init"))
    why = e.value.why
    assert e.value.rule == "happens-before" and why["axiom"] == "happens-before"
    assert "`smp_rmb()` at line 5 orders these loads" in why["text"]
    assert "R flag →rmb→ R buf →fr→ W buf →wmb→ W flag →rf→ R flag" in why["text"]
    assert [c["rel"] for c in why["cycle"]] == ["rmb", "fr", "wmb", "rf"]
    with pytest.raises(ScheduleError) as e:
        m.resolve(m.initial(), parse_schedule("1:2")[0], 0)  # op 2 is smp_rmb(): not a step
    assert e.value.rule == "not-a-step"


def test_coherence_refusal():
    m = machine(GOLDEN / "lkmm" / "CoRR.litmus")
    with pytest.raises(Refusal) as e:
        replay(m, parse_schedule("0:0 1:0:rf=0.0 1:2:rf=init"))
    assert e.value.rule == "coherence" and "→po-loc→" in e.value.why["text"]


def test_other_refusals_are_plain_schedule_errors():
    m = machine(GOLDEN / "lkmm" / "SB.litmus")
    s0 = m.initial()
    for tok, rule in (("0:9", "not-on-path"), ("5:0", "no-such-cpu"), ("0:flush", "not-enabled"),
                      ("0:0:rf=init", "bad-choice"), ("0:0:co=1.0", "not-run")):
        with pytest.raises(ScheduleError) as e:
            m.resolve(s0, parse_schedule(tok)[0], 0)
        assert e.value.rule == rule, tok


# ---- schedules, choices and views ----------------------------------------------------------------------

def test_old_schedules_still_replay_and_choices_default_to_the_least_surprising():
    m = machine(GOLDEN / "lkmm" / "SB.litmus")
    states, taken = replay(m, parse_schedule("0 0 1 1"))  # an sc schedule: bare CPU numbers
    assert [t.token() for t in taken] == ["0:0:co=init", "0:1:rf=init", "1:0:co=init", "1:1:rf=0.0"]
    assert observe(m, states[-1]) == {"0:r0": 0, "1:r0": 1}
    _, taken2 = replay(m, parse_schedule("0:0 0:1 1:0 1:1"))  # ops without choices
    assert taken2 == taken
    js = schedule_to_json(taken)
    assert js["steps"][3] == {"cpu": 1, "op": 1, "choice": ["rf=0.0"]}
    assert schedule_from_json(js) == taken


def test_store_load_reordering_and_older_value_and_co_earlier():
    m = machine(GOLDEN / "lkmm" / "SB.litmus")
    states, taken = replay(m, parse_schedule("0:1:rf=init 1:0 1:1:rf=init 0:0"))
    assert observe(m, states[-1]) == {"0:r0": 0, "1:r0": 0}
    first = describe(m, states[1], taken[0])["last"]["reason"]
    assert first["rule"] == "store→load" and first["reasons"][0]["edges"][0]["rel"] == "po"
    plain = describe(m, states[3], taken[2])["last"]["reason"]
    assert plain["rule"] == "program-order"  # x=1 has not run yet: init is the newest x
    m2 = machine(GOLDEN / "lkmm" / "2+2W+wmbs.litmus")
    seen = set()
    for e in m2.executions:
        s = m2.initial()
        for t in linearize(e):
            s = m2.step(s, t)
            seen.update(describe(m2, s, t)["last"]["reason"]["rules"])
    assert "co-earlier" in seen


def test_older_value_reason():
    m = machine(GOLDEN / "lkmm" / "MP.litmus")
    prog = m.program
    ops = {th.index: [pc for pc, ins in enumerate(th.code) if type(ins).__name__ in ("Load", "Store")]
           for th in prog.threads}
    w0, w1 = ops[0]
    r0, r1 = ops[1]
    sched = parse_schedule(f"0:{w0} 0:{w1} 1:{r0}:rf=0.{w1} 1:{r1}:rf=init")
    states, taken = replay(m, sched)
    why = describe(m, states[-1], taken[-1])["last"]["reason"]
    assert why["rule"] == "older-value" and "older value" in why["text"]


def test_per_cpu_memory_view():
    m = machine(GOLDEN / "lkmm" / "MP.litmus")
    s = m.initial()
    v = describe(m, s)["lkmm"]
    assert v["executions"] == v["allowed"] == len(m.executions) and v["incomplete"] is None
    reader = v["cpus"][1]["can_read"]
    assert {w["value"] for w in reader["buf"]} == {0, 1} and {w["value"] for w in reader["flag"]} == {0, 1}
    assert [w["ran"] for w in reader["buf"]] == [True, False]  # init has run, CPU0's store not yet
    assert v["cpus"][0]["can_read"] == {}
    assert v["coherence"]["buf"] == [{"write": "init", "value": 0}]
    s = m.step(s, m.enabled(s)[0])  # CPU0's first store
    v = describe(m, s)["lkmm"]
    assert v["coherence"]["buf"] == [{"write": "init", "value": 0}, {"write": "0.0", "value": 1}]


def test_cli_check_prints_a_schedule_that_replays(capsys):
    from pinrace.cli import main

    assert main(["check", "bias-barrier-posted", "--model", "lkmm"]) == 1
    out = capsys.readouterr().out
    cmd = re.search(r"pinrace replay bias-barrier-posted --model lkmm --schedule '([^']+)'", out)
    assert cmd and "store→load reordering" in out
    assert main(["replay", "bias-barrier-posted", "--model", "lkmm", "--schedule", cmd.group(1)]) == 0
    out = capsys.readouterr().out
    assert "why: store→load reordering" in out and "status: done" in out


def test_session_steps_undoes_moves_and_refuses_under_lkmm():
    from pinrace.api.session import Session

    sb = (GOLDEN / "lkmm" / "SB+mbs.litmus").read_text()
    s = Session()
    out = s.load(sb, "lkmm")
    assert out[1]["stepping"] is True and out[2]["view"]["lkmm"]["executions"] == 3
    (st,) = s.step(token="0:0")
    assert st["view"]["last"]["reason"]["rule"] == "program-order" and st["position"] == 1
    with pytest.raises(ScheduleError) as e:
        s.step(token="0:2:co=init")
    assert e.value.rule == "bad-choice"
    with pytest.raises(ScheduleError) as e:
        s.step(token="1:2")  # CPU1's load before its store, across smp_mb()
    assert e.value.to_dict()["rule"] == "mb" and "cycle" in e.value.to_dict()["why"]
    assert s.current()[0]["position"] == 1  # unchanged
    (st,) = s.undo()
    assert st["position"] == 0
    s.move(schedule="1:0 0:0 0:2 1:2")
    (st,) = s.current()
    assert st["verdict"]["final"] and [x["token"] for x in st["timeline"]][-1].startswith("1:2:rf=")
    # lkmm may move a step ahead of its own CPU's earlier ones when nothing orders them
    s.load((GOLDEN / "lkmm" / "SB.litmus").read_text(), "lkmm")
    s.move(schedule="0 0 1 1")
    (st,) = s.move(src=1, dst=0)
    assert [x["token"] for x in st["timeline"]][0] == "0:1:rf=init"
    assert "store→load reordering" in (st["explanation"] or "") or st["cause"] == "move"
    _, sc = s.set_model("sc")
    assert sc["model"] == "sc"


def test_budget_cut_enumeration_says_incomplete():
    from pinrace.explore.budget import Budget

    m = LKMM(load_program((GOLDEN / "lkmm" / "IRIW.litmus").read_text()), Budget(max_states=5))
    m.prepare()
    assert m.incomplete == "states"
    assert describe(m, m.initial())["lkmm"]["incomplete"] == "states"


def test_root_is_the_repository():
    assert (ROOT / "pyproject.toml").is_file()
