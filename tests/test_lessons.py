"""Lessons (docs/lessons.md): the format, the course, and every goal judged by the server.

For every lesson a solution meets the goal and a wrong attempt does not: run goals are played
in a websocket-less Session exactly as the browser plays them, check goals through the same
exhaustive check the server runs for an `explore`.  Then the websocket and REST faces.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pinrace.api.app import create_app
from pinrace.api.pool import JobContext
from pinrace.api.session import Session
from pinrace.api.work import run_check
from pinrace.errors import PinraceError
from pinrace.lessons import BadLesson, LessonError, find_lesson, judge_result, keeps_test, lessons, parse_lesson

BUDGET = {"max_states": 500_000, "max_seconds": 30}
COURSE = ["refcount-bias", "unsynchronized", "placeholder", "false-positive", "barrier-posted-never",
          "barrier-posted-lkmm", "barrier-fix", "three-cpu-snapshot", "page-lock", "gup-fast-trylock"]


@pytest.fixture(autouse=True)
def _real_protocols(monkeypatch):
    monkeypatch.delenv("PINRACE_PROTOCOLS", raising=False)


# ---- playing a run ------------------------------------------------------------------------------

def _enabled_cpus(s: Session) -> list[int]:
    return [t.cpu for t in s.machine.enabled(s.states[s.cursor])]


def play(name: str, moves: list, model: str | None = None) -> dict:
    """Start lesson `name` and play `moves`: N steps CPU N once, "*N" runs CPU N while it can,
    "0:3" is a token, "end" runs whatever can run until the run is final; the goal as judged."""
    s = Session()
    s.start_lesson(name)
    if model:
        s.set_model(model)
    for m in moves:
        if isinstance(m, int):
            s.step(cpu=m)
        elif m == "end":
            while _enabled_cpus(s):
                s.step(cpu=_enabled_cpus(s)[0])
        elif m.startswith("*"):
            while int(m[1:]) in _enabled_cpus(s):
                s.step(cpu=int(m[1:]))
        else:
            s.step(token=m)
    return s.goal_message()


RUNS = {  # lesson: (a solution, a wrong attempt)
    "refcount-bias": ([0, "*1"], ["*1", 0]),  # the pin before page_pinned() reads _refcount, or after
    "unsynchronized": (["*1", "*0"], ["*0", "*1"]),  # writeback decides before GUP pins, or after
    "placeholder": (["*0", "*1"], ["*1", "*0"]),  # GUP reads PG_writeback before writeback sets it
    "false-positive": ([0, 1, "*2"], ["*2", 0, 1]),  # two more references before the checks, or after
    "barrier-posted-lkmm": (["0:3"], [0, 0]),  # the PageWriteback() read ahead of the atomic_add()
    "three-cpu-snapshot": ([1, 0, 0, 2], [0, 0, 1, 2]),  # the thread's diagram, or the snapshot first
    "gup-fast-trylock": ([1, 0, "end"], ["end"]),  # writeback holds the lock when gup-fast tries it
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_solution_meets_the_goal_and_a_wrong_attempt_does_not(name):
    good, bad = RUNS[name]
    g = play(name, good)
    assert g["type"] == "goal" and g["lesson"] == name
    assert g["met"] is True and g["done"] is True and g["why"].startswith("Goal met"), g
    assert g["explain"] == find_lesson(name).explain
    w = play(name, bad)
    assert w["met"] is False and w["explain"] is None and w["why"], w


def test_an_unfinished_run_is_not_yet_met():
    g = play("three-cpu-snapshot", [1, 0])
    assert g["met"] is False and g["why"].startswith("Not yet")


def test_a_run_goal_is_judged_under_the_model_it_names():
    g = play("three-cpu-snapshot", [1, 0, 0, 2], model="tso")
    assert g["met"] is False and "judged under sc" in g["why"]
    g = play("barrier-posted-lkmm", ["end"], model="sc")
    assert g["met"] is False and "lkmm" in g["why"]


def test_a_reordering_goal_names_the_step():
    g = play("barrier-posted-lkmm", ["0:3"])
    assert g["met"] and g["step"] == 0 and "store→load" in g["why"]


def test_an_edited_scenario_does_not_count_for_a_run_goal():
    s = Session()
    s.start_lesson("unsynchronized")
    s.load(find_lesson("unsynchronized").text.replace("page._refcount=1026", "page._refcount=2"))
    for c in (1, 1, 1, 0):
        s.step(cpu=c)
    g = s.goal_message()
    assert g["met"] is False and "not the lesson's scenario" in g["why"]


# ---- goals met by the exhaustive check ----------------------------------------------------------

def _check(text: str, model: str) -> dict:
    """The check a lesson's goal is judged on, as the worker makes it (its result is JSON text)."""
    ctx = JobContext(lambda item: None, 0, threading.Event())
    out = run_check(text, model, BUDGET, None, ctx)
    assert "result" in out, out
    return json.loads(out["result"])


def test_unreachable_under_tso_is_met_by_the_check_under_tso_only():
    x = find_lesson("barrier-posted-never")
    assert judge_result(x, "tso", _check(x.text, "tso"), x.text)["met"] is True
    wrong = judge_result(x, "sc", _check(x.text, "sc"), x.text)  # Never too, but not the model asked
    assert wrong["met"] is False and "tso" in wrong["why"]
    assert judge_result(x, "tso", {**_check(x.text, "lkmm")}, x.text)["met"] is False  # Sometimes


def test_unreachable_with_the_page_lock_even_under_lkmm():
    x = find_lesson("page-lock")
    ok = judge_result(x, "lkmm", _check(x.text, "lkmm"), x.text)
    assert ok["met"] is True and ok["observation"] == "Never"
    unlocked = x.text.replace("\tlock_page(page);\n\tr1 = TestSetPageWriteback(page);",
                              "\tr1 = TestSetPageWriteback(page);")
    assert unlocked != x.text
    wrong = judge_result(x, "lkmm", _check(unlocked, "lkmm"), unlocked)
    assert wrong["met"] is False and "not the lesson's scenario" in wrong["why"]


def test_an_incomplete_check_shows_nothing():
    x = find_lesson("page-lock")
    r = {**_check(x.text, "lkmm"), "incomplete": "time"}
    assert judge_result(x, "lkmm", r, x.text)["met"] is False


def test_the_fix_with_smp_mb_after_atomic_turns_lkmm_never():
    x = find_lesson("barrier-fix")
    fixed = x.text.replace("smp_wmb();", "smp_mb__after_atomic();")
    g = judge_result(x, "lkmm", _check(fixed, "lkmm"), fixed)
    assert g["met"] is True and "Never under lkmm" in g["why"]


@pytest.mark.parametrize("edit, words", [
    (("smp_wmb();", "smp_rmb();"), "Still reachable under lkmm"),  # the wrong barrier
    (("smp_wmb();", "smp_wmb();"), "protocol as given"),  # no change at all
    (("\tatomic_add(PAGE_PIN_BIAS, &page->_refcount);\n", ""), "no longer does"),  # removes the pin
    (("exists (0:r0=0 /\\ 1:r1=0 /\\ 1:r2=0)", "exists (0:r0=2)"), "condition"),  # changes the question
])
def test_a_wrong_fix_is_not_met(edit, words):
    x = find_lesson("barrier-fix")
    text = x.text.replace(*edit)
    g = judge_result(x, "lkmm", _check(text, "lkmm"), text)
    assert g["met"] is False and words in g["why"], g


def test_a_fix_is_judged_under_the_model_the_lesson_names():
    x = find_lesson("barrier-fix")
    fixed = x.text.replace("smp_wmb();", "smp_mb__after_atomic();")
    assert judge_result(x, "tso", _check(fixed, "tso"), fixed)["met"] is False


def test_keeps_test_allows_barriers_only():
    x = find_lesson("barrier-fix")
    assert keeps_test(x.text, x.text.replace("smp_wmb();", "smp_mb();")) is None
    assert "CPUs" in keeps_test(x.text, find_lesson("three-cpu-snapshot").text)


# ---- the course and the format ------------------------------------------------------------------

def test_the_course_has_its_lessons_in_the_thread_s_order():
    ls = lessons()
    assert [x.name for x in ls] == COURSE
    assert [x.index for x in ls] == list(range(1, len(COURSE) + 1))
    for x in ls:
        assert x.title and x.goal_text and x.hints and x.explain, x.name
        assert 1 <= x.explain.count(". ") + 1 <= 6, x.name  # the thread's argument in a few sentences
    kinds = {x.goal.kind for x in ls}
    assert kinds == {"bad-outcome", "final-state", "unreachable", "reorder", "fix"}
    # companions name built-ins; the first lesson is a litmus file of its own
    assert ls[0].builtin is None and ls[0].path.suffix == ".litmus"
    assert all(x.builtin for x in ls[1:])


def test_every_lesson_scenario_compiles_and_starts_under_its_model():
    for x in lessons():
        s = Session()
        out = s.start_lesson(x.name)
        assert [m["type"] for m in out] == ["lesson", "scenario", "model", "state", "goal"], x.name
        assert out[2]["model"] == x.model and out[2]["stepping"], x.name
        assert out[-1]["met"] is False, x.name  # nothing is met before the learner acts


def test_a_companion_lesson_file(tmp_path: Path):
    p = tmp_path / "03-my-lesson.lesson"
    p.write_text("# a comment\nLesson: Mine\nScenario: bias-unsynchronized\nModel: tso\n"
                 "Goal: Reach it,\n  on two lines.\nCheck: bad-outcome under tso\nHint: one\nHint: two\n"
                 "Explain: Because.\n")
    x = parse_lesson(p, 3)
    assert (x.name, x.index, x.title, x.builtin, x.model) == ("my-lesson", 3, "Mine", "bias-unsynchronized", "tso")
    assert x.goal_text == "Reach it, on two lines." and x.hints == ("one", "two") and x.explain == "Because."
    assert x.goal.kind == "bad-outcome" and x.goal.model == "tso"


def test_a_litmus_lesson_file_and_its_goal_syntax(tmp_path: Path):
    p = tmp_path / "x.litmus"
    p.write_text("C x\n\n(*\n * Lesson: X\n * Goal: g\n * Check: final-state 0:r0=1 /\\ x=1 under sc\n *)\n\n"
                 "{}\n\nP0(int *x)\n{\n\tint r0;\n\n\tWRITE_ONCE(*x, 1);\n\tr0 = READ_ONCE(*x);\n}\n\n"
                 "exists (0:r0=1)\n")
    x = parse_lesson(p)
    assert x.builtin is None and x.scenario == p.read_text() and x.goal.prop_text == "0:r0=1 /\\ x=1"
    s = Session()
    s.load(x.text)
    s.lesson = x
    s.step(cpu=0)
    s.step(cpu=0)
    assert s.goal_message()["met"] is True


@pytest.mark.parametrize("check, words", [
    ("", "needs a `Check:` line"),
    ("Check: win", "unknown goal"),
    ("Check: reorder sideways", "reorder needs one of"),
    ("Check: unreachable", "needs the model"),
    ("Check: bad-outcome under arm", "unknown model"),
])
def test_a_bad_lesson_says_what_is_wrong(tmp_path: Path, check, words):
    p = tmp_path / "bad.lesson"
    p.write_text(f"Lesson: B\nScenario: placeholder\nGoal: g\n{check}\n")
    with pytest.raises(BadLesson, match=words):
        parse_lesson(p)


def test_an_unknown_lesson_names_the_lessons():
    with pytest.raises(LessonError, match="three-cpu-snapshot"):
        find_lesson("nope")
    with pytest.raises(PinraceError):
        Session().start_lesson("nope")


# ---- over the websocket and REST -------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def _until(ws, n: int, kinds: tuple) -> list[dict]:
    out = []
    while True:
        m = ws.receive_json()
        out.append(m)
        if m["type"] in kinds and m.get("re") == n:
            return out


def test_websocket_lesson_goal_after_every_state_and_after_a_check(client):
    with client.websocket_connect("/ws") as ws:
        assert "lesson" in ws.receive_json()["messages"]
        ws.send_json({"type": "lesson", "id": 1, "name": "three-cpu-snapshot"})
        out = _until(ws, 1, ("goal",))
        assert [m["type"] for m in out] == ["lesson", "scenario", "model", "state", "goal"]
        assert out[0]["lesson"]["name"] == "three-cpu-snapshot" and out[0]["lesson"]["count"] == len(COURSE)
        for i, cpu in enumerate((1, 0, 0, 2), start=2):
            ws.send_json({"type": "step", "id": i, "cpu": cpu})
            state, goal = _until(ws, i, ("goal",))
            assert state["type"] == "state" and goal["type"] == "goal"
        assert goal["met"] is True and goal["explain"]
        ws.send_json({"type": "lesson", "id": 9, "name": "barrier-posted-never"})
        assert _until(ws, 9, ("goal",))[-1]["met"] is False
        ws.send_json({"type": "explore", "id": 10})  # the lesson starts under tso
        out = _until(ws, 10, ("goal",))
        assert out[-2]["type"] == "result" and out[-1]["met"] is True and "tso" in out[-1]["why"]
        ws.send_json({"type": "lesson", "id": 11, "name": None})
        assert _until(ws, 11, ("lesson",))[-1]["lesson"] is None
        ws.send_json({"type": "step", "id": 12, "cpu": 0})
        assert [m["type"] for m in _until(ws, 12, ("state", "error"))] == ["state"]  # no goal any more
        ws.send_json({"type": "lesson", "id": 13, "name": 7})
        assert _until(ws, 13, ("error",))[-1]["error"]["code"] == "bad-message"
        ws.send_json({"type": "lesson", "id": 14, "name": "nope"})
        assert _until(ws, 14, ("error",))[-1]["error"]["code"] == "unknown-lesson"


def test_rest_lists_the_lessons_and_judges_a_run_and_a_check(client):
    ls = client.get("/api/lessons").json()
    assert [x["name"] for x in ls] == COURSE and ls[7]["check"] == {"kind": "bad-outcome", "model": "sc",
                                                                     "prop": None, "rule": None}
    one = client.get("/api/lessons/barrier-fix").json()
    assert "smp_wmb();" in one["text"] and len(one["hints"]) == 3
    assert client.get("/api/lessons/nope").status_code == 404
    r = client.post("/api/lesson-check", json={"lesson": "three-cpu-snapshot", "schedule": "1 0 0 2"}).json()
    assert r["met"] is True and r["explain"]
    r = client.post("/api/lesson-check", json={"lesson": "three-cpu-snapshot", "schedule": "0 0 1 2"}).json()
    assert r["met"] is False and r["explain"] is None
    fixed = one["text"].replace("smp_wmb();", "smp_mb__after_atomic();")
    r = client.post("/api/lesson-check", json={"lesson": "barrier-fix", "source": fixed}).json()
    assert r["met"] is True and r["observation"] == "Never"
    r = client.post("/api/lesson-check", json={"lesson": "barrier-fix"}).json()
    assert r["met"] is False and r["observation"] == "Sometimes"
    r = client.post("/api/lesson-check", json={"lesson": "barrier-posted-lkmm", "schedule": "0:3"}).json()
    assert r["met"] is True and r["step"] == 0
    bad = client.post("/api/lesson-check", json={"lesson": "nope"})
    assert bad.status_code == 404 and bad.json()["error"]["code"] == "unknown-lesson"

