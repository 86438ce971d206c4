"""The websocket session protocol through TestClient: every message type and its errors."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from pinrace.api.app import create_app
from pinrace.api.schemas import SB_SOURCE
from pinrace.api.session import Session

PAGE = """C page-pin
#define PAGE_PIN_BIAS 1024
#define PG_writeback 1
{ struct page page; }
P0(struct page *page) { atomic_add(PAGE_PIN_BIAS, &page->_refcount); r0 = READ_ONCE(page->flags); }
P1(struct page *page) { WRITE_ONCE(page->flags, 2); smp_mb(); r1 = atomic_read(&page->_refcount); }
exists (0:r0=0 /\\ 1:r1=1)
"""


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


class Ws:
    """A tiny client: send a message with an id, read replies until one of the wanted types."""

    def __init__(self, ws):
        self.ws = ws
        self.n = 0
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["protocol"] == 1 and "step" in hello["messages"]

    def ask(self, msg: dict, until=("state", "error")) -> list[dict]:
        self.n += 1
        msg = {**msg, "id": self.n}
        self.ws.send_json(msg)
        out = []
        while True:
            m = self.ws.receive_json()
            out.append(m)
            if m["type"] in until and m.get("re") == self.n:
                return out

    def one(self, msg: dict, until=("state", "error")) -> dict:
        return self.ask(msg, until)[-1]


@pytest.fixture
def ws(client):
    with client.websocket_connect("/ws") as w:
        yield Ws(w)


def test_load_sends_scenario_model_and_initial_state(ws):
    scen, model, st = ws.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
    assert scen["type"] == "scenario" and scen["name"] == "SB" and len(scen["cpus"]) == 2
    assert scen["cpus"][0]["code"][0]["text"] == "WRITE_ONCE(*x, 1)"
    assert model == {**model, "type": "model", "model": "tso", "stepping": True}
    assert st["position"] == 0 and st["timeline"] == [] and st["view"]["buffers"] == [[], []]
    assert [t["token"] for t in st["transitions"]] == ["0:0", "1:0"]
    assert st["transitions"][0]["label"] == "WRITE_ONCE(*x, 1)"
    assert st["verdict"]["final"] is False and st["verdict"]["condition"] == "exists (0:r0=0 /\\ 1:r0=0)"


def test_step_to_the_bad_outcome_then_undo_redo_jump(ws):
    ws.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
    st = None
    for tok in ("0:0", "1:0", "0:1", "1:1", "0:flush", "1:flush"):
        st = ws.one({"type": "step", "token": tok})
        assert st["type"] == "state" and st["cause"] == "step", st
    assert st["verdict"]["final"] and st["verdict"]["bad"] and st["view"]["status"] == "done"
    assert [e["token"] for e in st["timeline"]] == ["0:0", "1:0", "0:1", "1:1", "0:flush", "1:flush"]
    assert st["timeline"][4]["label"] == "(store buffer flush)" and st["can_undo"]
    assert "y: 0 → 1" in st["explanation"]
    u = ws.one({"type": "undo"})
    assert u["position"] == 5 and u["verdict"]["final"] is False and u["view"]["buffers"][1]
    r = ws.one({"type": "redo"})
    assert r["position"] == 6 and r["verdict"]["bad"]
    j = ws.one({"type": "jump", "index": 2})
    assert j["position"] == 2 and j["length"] == 6 and [e["applied"] for e in j["timeline"]][:3] == [True, True, False]
    # stepping the run's own next transition keeps the rest; another one cuts it
    k = ws.one({"type": "step", "cpu": 0})
    assert k["position"] == 3 and k["length"] == 6
    c = ws.one({"type": "step", "token": "0:flush"})
    assert c["position"] == 4 and c["length"] == 4
    e = ws.one({"type": "jump", "index": 9})
    assert e["type"] == "error" and e["error"]["rule"] == "out-of-range"


def test_step_refusals_name_the_rule_and_keep_the_session(ws):
    ws.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
    e = ws.one({"type": "step", "token": "1:flush"})
    assert e["type"] == "error" and e["request"] == "step"
    assert e["error"]["code"] == "bad-schedule" and e["error"]["rule"] == "not-enabled" and e["error"]["step"] == 0
    e = ws.one({"type": "step", "cpu": 5})
    assert e["error"]["rule"] == "no-such-cpu"
    e = ws.one({"type": "step", "cpu": 0, "token": "0:0"})
    assert e["error"]["code"] == "bad-message"
    e = ws.one({"type": "undo"})
    assert e["error"]["rule"] == "nothing-to-undo"
    assert ws.one({"type": "step", "cpu": 1})["position"] == 1


def test_move_from_to_and_schedule_and_refusal_keeps_old_run(ws):
    ws.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
    for tok in ("0:0", "1:0", "0:1", "1:1"):
        ws.one({"type": "step", "token": tok})
    m = ws.one({"type": "move", "from": 2, "to": 3})
    assert [e["token"] for e in m["timeline"]] == ["0:0", "1:0", "1:1", "0:1"] and m["cause"] == "move"
    e = ws.one({"type": "move", "from": 3, "to": 0})
    assert e["type"] == "error" and e["error"]["rule"] == "program-order"
    st = ws.one({"type": "state"})
    assert [x["token"] for x in st["timeline"]] == ["0:0", "1:0", "1:1", "0:1"]  # old run kept
    m = ws.one({"type": "move", "schedule": "1 0 1 0 1:flush"})
    assert [x["token"] for x in m["timeline"]] == ["1:0", "0:0", "1:1", "0:1", "1:flush"] and m["position"] == 5
    e = ws.one({"type": "move", "schedule": {"format": "pinrace-schedule", "version": 1,
                                             "steps": [{"cpu": 0, "choice": ["flush"]}]}})
    assert e["error"]["code"] == "bad-schedule" and e["error"]["step"] == 0
    e = ws.one({"type": "move", "from": 0})
    assert e["error"]["code"] == "bad-message"
    assert ws.one({"type": "undo"})["length"] == 4  # undo reverts the move


def test_model_switch_keeps_the_valid_prefix(ws):
    ws.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
    for tok in ("0:0", "0:flush", "1:0", "0:1"):
        ws.one({"type": "step", "token": tok})
    model, st = ws.ask({"type": "model", "model": "sc"})
    assert model["kept"] == 3 and model["dropped"] == ["0:flush"] and model["refused"] is None
    assert [x["token"] for x in st["timeline"]] == ["0:0", "1:0", "0:1"] and "buffers" not in st["view"]
    model, st = ws.ask({"type": "model", "model": "tso"})
    assert model["kept"] == 3 and st["view"]["buffers"] == [[{"location": "x", "value": 1}],
                                                            [{"location": "y", "value": 1}]]


def test_lkmm_steps_refuses_with_the_rule_and_explores(ws):
    ws.ask({"type": "load", "scenario": SB_SOURCE, "model": "sc"})
    ws.one({"type": "step", "cpu": 0})
    model, st = ws.ask({"type": "model", "model": "lkmm"})
    assert model["stepping"] is True and model["kept"] == 1 and model["dropped"] == []
    assert [x["token"] for x in st["timeline"]] == ["0:0:co=init"]  # the sc step, with its lkmm choice
    assert st["view"]["lkmm"]["executions"] == 4 and st["view"]["lkmm"]["cpus"][1]["can_read"]
    tokens = [t["token"] for t in st["transitions"]]
    # CPU1's load may run ahead of its store (nothing orders them) and take either x
    assert tokens == ["0:1:rf=init", "1:0:co=init", "1:1:rf=0.0", "1:1:rf=init"]
    st = ws.one({"type": "step", "token": "1:1:rf=init"})  # CPU1's load ahead of its own store
    assert st["view"]["last"]["reason"]["rule"] == "store→load"
    assert "store→load reordering" in st["explanation"]
    e = ws.one({"type": "step", "token": "1:1:rf=init"})
    assert e["type"] == "error" and e["error"]["code"] == "bad-schedule" and e["error"]["rule"] == "not-on-path"
    assert ws.one({"type": "undo"})["position"] == 1
    out = ws.ask({"type": "explore"}, until=("result", "error"))
    assert out[0]["type"] == "explore-started" and out[0]["model"] == "lkmm" and out[-1]["type"] == "result"
    assert out[-1]["result"]["counterexamples"][0]["schedule"]  # lkmm counterexamples are schedules too
    _, st = ws.ask({"type": "model", "model": "sc"})
    assert len(st["timeline"]) == 1  # the run came back


def test_lkmm_refusal_carries_the_axiom_and_cycle(ws):
    src = ("C SB+mbs\n{}\nP0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_mb(); r0 = READ_ONCE(*y); }\n"
           "P1(int *x, int *y) { WRITE_ONCE(*y, 1); smp_mb(); r0 = READ_ONCE(*x); }\nexists (0:r0=0 /\\ 1:r0=0)\n")
    ws.ask({"type": "load", "scenario": src, "model": "lkmm"})
    e = ws.one({"type": "step", "token": "0:2"})
    assert e["type"] == "error" and e["error"]["rule"] == "mb"
    why = e["error"]["why"]
    assert why["axiom"] == "happens-before" and why["by"]["text"] == "smp_mb()"
    assert [c["rel"] for c in why["cycle"]] == ["mb", "xo"] and "`smp_mb()` at line 3 orders these" in why["text"]
    for tok in ("0:0", "0:2:rf=init", "1:0"):
        assert ws.one({"type": "step", "token": tok})["type"] == "state"
    e = ws.one({"type": "step", "token": "1:2:rf=init"})
    assert e["error"]["rule"] == "propagation" and "→mb→ R x →fr→" in e["error"]["why"]["text"]


def test_explore_streams_progress_then_result(ws):
    ws.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
    out = ws.ask({"type": "explore", "budget": {"max_states": 10000}}, until=("result", "error"))
    kinds = [m["type"] for m in out]
    assert kinds[0] == "explore-started" and kinds[-1] == "result" and "progress" in kinds
    assert kinds.index("progress") < kinds.index("result")
    res = out[-1]["result"]
    assert res["observation"] == "Sometimes" and res["bad_reachable"] and res["counterexamples"][0]["schedule"]
    assert out[0]["budget"]["max_states"] == 10000


def test_page_state_in_every_state_message(ws):
    _, _, st = ws.ask({"type": "load", "scenario": PAGE, "model": "tso"})
    (page,) = st["view"]["pages"]
    assert page["refcount"] == 1 and page["bias"] == 1024 and page["mapcount_raw"] == 0
    flags = {f["name"]: f for f in page["flags"]}
    assert flags["PG_writeback"]["bit"] == 1 and not any(f["set"] for f in flags.values())
    st = ws.one({"type": "step", "cpu": 0})
    page = st["view"]["pages"][0]
    assert (page["pins"], page["references"]) == (1, 1) and "_refcount" in st["explanation"]
    assert st["view"]["cpus"][0]["pc"] == 1 and st["view"]["cpus"][0]["registers"] == {"r0": 0}
    ws.ask({"type": "load", "scenario": PAGE, "model": "sc"})
    st = ws.one({"type": "step", "cpu": 1})
    flags = {f["name"]: f["set"] for f in st["view"]["pages"][0]["flags"]}
    assert flags["PG_writeback"] and not flags["PG_dirty"]  # WRITE_ONCE(flags, 2) sets bit 1, named


def test_bad_messages_get_errors_and_session_stays_usable(ws):
    ws.ws.send_text("not json")
    assert ws.ws.receive_json()["error"]["code"] == "bad-json"
    ws.ws.send_text("[1, 2]")
    assert ws.ws.receive_json()["error"]["code"] == "bad-message"
    ws.ws.send_bytes(b"\x00\x01")
    assert ws.ws.receive_json()["error"]["code"] == "bad-message"
    assert ws.one({"type": "fly"})["error"]["code"] == "unknown-type"
    assert ws.one({"type": "step", "cpu": 0})["error"]["code"] == "no-scenario"
    assert ws.one({"type": "explore"}, until=("error",))["error"]["code"] == "no-scenario"
    assert ws.one({"type": "load"})["error"]["code"] == "bad-message"
    e = ws.one({"type": "load", "scenario": "C bad\n{}\nP0(int *x) {\n  WRITE_ONCE(*x 1);\n}\nexists (x=1)\n"})
    assert e["error"]["code"] == "syntax-error" and (e["error"]["line"], e["error"]["column"]) == (4, 17)
    assert ws.one({"type": "load", "scenario": "no-such-protocol"})["error"]["code"] == "unknown-protocol"
    assert ws.one({"type": "load", "scenario": SB_SOURCE, "model": "arm"})["error"]["code"] == "bad-message"
    assert ws.one({"type": "jump", "index": "two"})["error"]["code"] == "bad-message"
    assert ws.one({"type": "cancel"}, until=("error",))["error"]["code"] == "bad-message"
    ws.ws.send_text(json.dumps({"type": "ping", "pad": "x" * 300_000}))
    assert ws.ws.receive_json()["error"]["code"] == "too-large"
    assert ws.one({"type": "ping"}, until=("pong",))["type"] == "pong"
    assert ws.ask({"type": "load", "scenario": SB_SOURCE})[-1]["type"] == "state"


def test_flood_is_rate_limited_not_fatal(ws):
    for _ in range(400):
        ws.ws.send_text('{"type": "ping"}')
    kinds = [ws.ws.receive_json().get("error", {}).get("code", "pong") for _ in range(400)]
    assert "rate-limited" in kinds and "pong" in kinds
    import time

    time.sleep(0.2)
    assert ws.one({"type": "ping"}, until=("pong",))["type"] == "pong"


def test_session_is_usable_without_sockets():
    s = Session()
    s.load(SB_SOURCE, "sc")
    (st,) = s.step(cpu=0)
    assert st["position"] == 1 and st["verdict"]["final"] is False


def test_explore_uses_the_loop_bound_the_scenario_was_loaded_with(ws):
    loop = ("C loop\n{}\nP0(int *x) { int r0 = 0; while (r0 < 2) { r0 = r0 + 1; } WRITE_ONCE(*x, 1); }\n"
            "exists (x=1)\n")
    ws.ask({"type": "load", "scenario": loop, "model": "sc", "loop_bound": 1})
    res = ws.ask({"type": "explore"}, until=("result", "error"))[-1]["result"]
    assert res["observation"] == "Never"  # the bound cuts the loop before the store, as in `check`
    ws.ask({"type": "load", "scenario": loop, "model": "sc"})
    res = ws.ask({"type": "explore"}, until=("result", "error"))[-1]["result"]
    assert res["observation"] == "Always"
