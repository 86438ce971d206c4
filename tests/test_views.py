"""What the server adds for the browser (issue 16): the page track on each timeline row, what
changed since the previous step, unwritten registers, each operation's role, bad outcomes in
words, the lkmm execution graph (and a refusal's cycle on it), and lkmm progress by phase."""

from __future__ import annotations

import json
import threading

import pytest

from pinrace.api import work
from pinrace.api.pool import JobContext
from pinrace.api.session import Session
from pinrace.errors import ScheduleError
from pinrace.library import find, load_program

RACE = "thread-false-negative"


@pytest.fixture(autouse=True)
def _real_protocols(monkeypatch):
    monkeypatch.delenv("PINRACE_PROTOCOLS", raising=False)


def _race() -> tuple[Session, dict]:
    s = Session()
    s.load(RACE)
    for cpu in (1, 0, 0, 2):
        (msg,) = s.step(cpu=cpu)
    return s, msg


def test_each_timeline_row_carries_the_page_after_its_step():
    _, msg = _race()
    tracks = [t["track"] for t in msg["timeline"]]
    page = [t["pages"][0] for t in tracks]
    assert [p["split"] for p in page] == ["0 pins × 1024 + 2 refs"] * 3 + ["1 pin × 1024 + 2 refs"]
    assert [p["changed"] for p in page] == [["refcount"], [], [], ["refcount"]]
    assert [f["name"] for f in page[0]["flags"]] == ["PG_locked", "PG_writeback"]
    assert tracks[2]["returns"] == [{"call": "page_pinned(page)", "value": 0}]
    assert tracks[1]["returns"] == [] and tracks[1]["value"] == 2  # the read of _refcount


def test_changed_is_against_the_previous_step_wherever_the_position_came_from():
    s, msg = _race()
    assert msg["changed"] == ["page._refcount"]
    assert s.jump(3)[0]["changed"] == ["0:r0"]  # page_pinned() wrote r0 (with 0, the value it had)
    assert s.jump(2)[0]["changed"] == []
    assert s.jump(0)[0]["changed"] == []


def test_registers_not_yet_written_are_listed():
    s = Session()
    (_, _, st) = s.load(RACE)
    assert st["view"]["cpus"][0]["unwritten"] == ["r0"] and st["verdict"]["unwritten"] == ["0:r0"]
    s.step(cpu=0)
    s.step(cpu=0)
    assert s.current()[0]["view"]["cpus"][0]["unwritten"] == []
    # under lkmm a read that ran ahead of program order has its value (the track shows it), but the
    # register it is assigned to is written when program order reaches the assignment
    s.load("C sb\n{}\nP0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\n"
           "P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }\nexists (0:r0=0 /\\ 1:r0=0)\n",
           "lkmm")
    ahead = [t["token"] for t in s.current()[0]["transitions"] if t["token"].startswith("0:1")]
    (st,) = s.step(token=ahead[0])
    assert st["timeline"][0]["track"]["value"] == 0
    assert st["view"]["cpus"][0]["unwritten"] == ["r0"]
    (st,) = s.step(cpu=0)
    assert st["view"]["cpus"][0]["unwritten"] == [] and st["view"]["cpus"][1]["unwritten"] == ["r0"]


def test_operations_with_the_same_text_are_told_apart_by_role():
    (sc, _, _) = Session().load(RACE)
    code = sc["cpus"][0]["code"]
    assert code[3]["text"] == code[4]["text"]
    assert [c["role"] for c in code] == ["the call", "read of page._refcount", "read of page._mapcount",
                                         "the compare", "the return", "sets r0"]


def test_a_bad_outcome_without_words_is_worded_from_the_condition():
    (sc, _, _) = Session().load("C w\n{}\nP0(int *x) { int r0; r0 = READ_ONCE(*x); }\n"
                                "P1(int *x) { WRITE_ONCE(*x, 1); }\nexists (0:r0=1 /\\ x=1)\n")
    assert sc["bad_outcome"] == ("a final state where CPU0's r0 (what READ_ONCE(*x) returned) is 1 and x is 1 "
                                 "(`exists (0:r0=1 /\\ [x]=1)` holds)")
    (sc, _, _) = Session().load("C f\n{}\nP0(int *x) { int r0; r0 = READ_ONCE(*x); }\nforall (0:r0=0)\n")
    assert sc["bad_outcome"].startswith("a final state where it is not the case that CPU0's r0")


def test_the_lkmm_graph_has_the_events_run_and_their_relations():
    s = Session()
    s.load("bias-barrier-posted", "lkmm")
    assert s.current()[0]["graph"]["nodes"] == []
    for t in ("0:3", 1, 1, 1, 0):
        (st,) = s.step(token=t) if isinstance(t, str) else s.step(cpu=t)
    g = st["graph"]
    ran = {n["id"]: n for n in g["nodes"] if n["cpu"] is not None}
    assert set(ran) == {"0.0", "0.3", "1.1", "1.7", "1.9"}
    assert ran["0.0"]["label"] == "RMW page._refcount: 2→1026"
    edges = {(e["from"], e["rel"], e["to"]) for e in g["edges"]}
    assert ("0.0", "po", "0.3") in edges  # program order, unordered: no ppo edge between them
    assert not any(e["kind"] == "ppo" and e["from"] == "0.0" for e in g["edges"])
    assert ("1.1", "mb", "1.7") in edges  # smp_mb() orders writeback's read after its flag
    assert ("0.3", "fr", "1.1") in edges and ("1.7", "fr", "0.0") in edges  # the SB cycle
    assert ("init:page.flags", "rf", "0.3") in edges and ("init:page._refcount", "co", "0.0") in edges
    assert "graph" not in Session().load(RACE)[-1]  # sc and tso have none


def test_a_refused_lkmm_step_carries_the_graph_with_its_cycle():
    s = Session()
    s.load("bias-barrier-fixed", "lkmm")
    s.step(token="0:0")
    s.step(cpu=0)
    with pytest.raises(ScheduleError) as e:
        s.move(1, 0)
    g = e.value.to_dict()["why"]["graph"]
    assert g["axiom"] == "happens-before"
    cyc = [(x["from"], x["rel"], x["to"]) for x in g["edges"] if x.get("cycle")]
    assert cyc == [("0.0", "mb", "0.3"), ("0.3", "xo", "0.0")]
    assert not any(n.get("ghost") for n in g["nodes"])  # both ran: the cycle is between them


def test_a_test_without_a_condition_is_forall_true():
    p = load_program("C n\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\n")
    assert p.condition.quantifier == "forall"
    s = Session()
    s.load("C n\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\n")
    (st,) = s.step(cpu=0)
    v = st["verdict"]
    assert (v["final"], v["satisfies"], v["bad"], v["condition"]) == (True, True, False, "forall (true)")


def test_lkmm_progress_says_its_phase_and_counts_candidates_as_they_go():
    seen: list[dict] = []

    class Recording(work._Channel):
        def saw(self, states: int) -> None:
            super().saw(states)
            seen.append(dict(self.latest))

    ctx = JobContext(lambda item: None, 0, threading.Event())
    ch = Recording(ctx)
    ch.start("lkmm")
    assert ch.latest["unit"] == "candidate executions" and ch.latest["phase"] == "paths"
    out = work._check(find("bias-barrier-posted-full").source, "lkmm", {"max_states": 500_000, "max_seconds": 30},
                      None, ch, ctx)
    ch.finish()
    out = {"result": json.loads(out["result"])}  # the worker's answer is JSON text
    assert out["result"]["observation"] == "Sometimes"
    assert seen[0]["phase"] == "paths" and seen[0]["states"] == 0  # enumerating paths: no candidate yet
    judged = [x["states"] for x in seen if x["phase"] == "executions"]
    assert judged and judged == sorted(judged) and judged[-1] == out["result"]["statistics"]["explored"]
    assert len(set(judged)) > 1  # counted as they go, not only at the end
    assert ch.latest["phase"] == "counterexamples"


def test_a_call_around_a_step_that_ran_ahead_has_not_returned():
    s = Session()
    s.load("bias-barrier-posted", "lkmm")
    s.step(cpu=1)  # writeback sets PG_writeback
    (st,) = s.step(token="0:3:rf=1.1")  # GUP's test_bit() ahead of its atomic_add(), reading it
    track = st["timeline"][-1]["track"]
    assert track["value"] == 2 and track["returns"] == []  # PageWriteback() finishes in program order
    assert st["view"]["last"]["returns"] == []
