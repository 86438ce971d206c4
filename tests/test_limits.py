"""One test per limit (pinrace.limits, docs/limits.md): the clear error or `incomplete:` verdict,
and another client served normally right after the abusive request."""

from __future__ import annotations

import base64
import json
import time
import zlib

import pytest
from fastapi.testclient import TestClient

from pinrace.api.app import create_app
from pinrace.api.jobs import JobRunner
from pinrace.api.schemas import SB_SOURCE
from pinrace.errors import LimitExceeded
from pinrace.explore.budget import Budget
from pinrace.formats import link
from pinrace.library import load_program
from pinrace.limits import LIMITS, Limits, LimitsError

# four CPUs of three write/read/write rounds: ~70,000 states a second, far more in all
BIG = ("C big\n{}\n" + "\n".join(
    f"P{i}(int *x, int *y) {{ " + " ".join(f"WRITE_ONCE(*x, {i * 10 + k}); r{k} = READ_ONCE(*y); WRITE_ONCE(*y, {k});"
                                           for k in range(3)) + " }" for i in range(4)) + "\nexists (0:r0=0)\n")


@pytest.fixture(scope="module")
def app():
    return create_app(JobRunner(workers=2, per_client=2))


@pytest.fixture(scope="module")
def abuser(app):
    with TestClient(app, client=("203.0.113.66", 4000)) as c:  # runs the app's lifespan
        yield c


@pytest.fixture(scope="module")
def other(app, abuser):
    # another address on the same running app: what every other visitor sees meanwhile
    return TestClient(app, client=("198.51.100.7", 5000))


def still_serving(c: TestClient) -> None:
    """A normal request from another client succeeds, quickly."""
    t0 = time.monotonic()
    r = c.post("/api/check", json={"scenario": SB_SOURCE, "model": "tso"})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "reachable"
    assert time.monotonic() - t0 < 20


def idle(runner, seconds: float = 60) -> None:
    """Wait until earlier tests' jobs are gone, so the next job runs on a regular worker (not the
    spare, which stops long jobs after a second and queues them again)."""
    deadline = time.monotonic() + seconds
    while runner.active and time.monotonic() < deadline:
        time.sleep(0.1)


def err(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert e["code"] == code, e
    assert "Traceback" not in r.text
    return e


def threads(n: int, body: str = "WRITE_ONCE(*x, 1);") -> str:
    return "C many\n{}\n" + "".join(f"P{i}(int *x) {{ {body} }}\n" for i in range(n)) + "exists (x=1)\n"


# ---- configuration ---------------------------------------------------------------------------


def test_limits_come_from_the_environment():
    lim = Limits.from_env({"PINRACE_MAX_CPUS": "4", "PINRACE_MAX_SECONDS": "2.5", "PINRACE_MAX_BODY_BYTES": "1_000"})
    assert (lim.cpus, lim.max_seconds, lim.body_bytes) == (4, 2.5, 1000)
    assert Limits.from_env({}) == Limits()
    for bad in ("many", "-1", "0"):
        with pytest.raises(LimitsError, match="PINRACE_MAX_CPUS"):
            Limits.from_env({"PINRACE_MAX_CPUS": bad})
    # a default over its cap is brought down to it, not silently cut per request
    assert Limits.from_env({"PINRACE_MAX_SECONDS": "5"}).default_seconds == 5
    assert {v for v, _, _ in LIMITS.table()} >= {"PINRACE_MAX_SOURCE_CHARS", "PINRACE_MAX_WS_MESSAGE_CHARS"}


def test_every_limit_is_documented():
    from conftest import ROOT

    doc = (ROOT / "docs" / "limits.md").read_text()
    for var, _, _value in Limits().table():
        assert var in doc, var


# ---- scenario text: size, CPUs, operations, loop bound ----------------------------------------


def test_source_size(abuser, other):
    r = abuser.post("/api/check", json={"scenario": "C x\n" + " " * LIMITS.source_chars})
    e = err(r, 422, "bad-request")
    assert "scenario" in e["message"]
    still_serving(other)


def test_cpus(abuser, other):
    e = err(abuser.post("/api/check", json={"scenario": threads(LIMITS.cpus + 1)}), 422, "limit-exceeded")
    assert "PINRACE_MAX_CPUS" in e["message"]
    assert (e["line"], e["column"]) == (3 + LIMITS.cpus, 1)  # the first CPU over the limit
    assert load_program(threads(LIMITS.cpus))  # exactly at the limit is fine
    still_serving(other)


def test_operations_per_cpu(abuser, other):
    # each helper calls the one below twice: 2**20 operations if nothing stopped it
    fns = ["void f0(int *x) { WRITE_ONCE(*x, 1); }"] + [f"void f{i}(int *x) {{ f{i - 1}(x); f{i - 1}(x); }}"
                                                        for i in range(1, 16)]
    src = "C blow\n{}\n" + "\n".join(fns) + "\nP0(int *x) { f15(x); }\nexists (x=1)\n"
    t0 = time.monotonic()
    e = err(abuser.post("/api/check", json={"scenario": src}), 422, "limit-exceeded")
    assert time.monotonic() - t0 < 10
    assert "PINRACE_MAX_OPS_PER_CPU" in e["message"] and e["line"] == 3 and e["column"] > 0
    still_serving(other)


def test_loop_bound(abuser, other):
    src = SB_SOURCE.replace("{}\n", "#define PINRACE_LOOP_BOUND 100000\n{}\n", 1)
    e = err(abuser.post("/api/check", json={"scenario": src}), 422, "limit-exceeded")
    assert "PINRACE_MAX_LOOP_BOUND" in e["message"] and e["line"] == 2
    e = err(abuser.post("/api/check", json={"scenario": SB_SOURCE, "loop_bound": LIMITS.loop_bound + 1}),
            422, "bad-request")
    assert "loop_bound" in e["message"]
    still_serving(other)


def test_nesting_is_a_source_error_not_a_crash(abuser, other):
    src = "C d\n{}\nP0(int *x) { " + "{" * 5000 + "}" * 5000 + " }\nexists (x=1)\n"
    with pytest.raises(LimitExceeded):
        load_program(src)
    err(abuser.post("/api/check", json={"scenario": src}), 422, "limit-exceeded")
    still_serving(other)


# ---- explorations: states, time, memory, concurrency ------------------------------------------


def test_explored_states(abuser, other):
    r = abuser.post("/api/check", json={"scenario": BIG, "budget": {"max_states": 50}})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["verdict"] == "incomplete" and d["incomplete"] == "states"
    assert d["results"]["sc"]["verdict"] == "incomplete"
    big = abuser.post("/api/check", json={"scenario": SB_SOURCE, "budget": {"max_states": 10**12}})
    assert big.status_code == 200  # asking for more than the cap is capped, not refused
    still_serving(other)


def test_exploration_wall_time(abuser, other):
    t0 = time.monotonic()
    r = abuser.post("/api/check", json={"scenario": BIG, "budget": {"max_seconds": 0.5}})
    assert r.status_code == 200, r.text
    assert r.json()["incomplete"] == "time"
    assert time.monotonic() - t0 < 10
    still_serving(other)


def test_worker_memory_budget():
    assert Budget(max_memory_mb=1).exceeded(0) == "memory"
    assert Budget().exceeded(0) is None


def test_a_worker_that_dies_is_a_503_and_the_next_request_is_served(app, abuser, other):
    import os
    import signal

    idle(app.state.runner)
    with abuser.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "load", "scenario": BIG})
        while ws.receive_json()["type"] != "state":
            pass
        ws.send_json({"type": "explore", "budget": {"max_seconds": 20}})
        assert ws.receive_json()["type"] == "explore-started"
        assert ws.receive_json()["type"] == "progress"  # the worker is running it
        # what the kernel's OOM killer would do to the worker process
        for pid in app.state.runner.pids():
            os.kill(pid, signal.SIGKILL)
        msg = ws.receive_json()
        while msg["type"] == "progress":
            msg = ws.receive_json()
        assert msg["type"] == "error" and msg["error"]["code"] == "worker-died", msg
    still_serving(other)  # a fresh pool answers the next request


def test_concurrent_explorations_per_client(app, abuser, other):
    with abuser.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "load", "scenario": BIG})
        while ws.receive_json()["type"] != "state":
            pass
        ws.send_json({"type": "explore", "budget": {"max_seconds": 20}})
        assert ws.receive_json()["type"] == "explore-started"
        # one running for this address; `all` would need three more: over the share of 2
        e = err(abuser.post("/api/check", json={"scenario": SB_SOURCE, "model": "all"}), 429, "too-many-explorations")
        assert "PINRACE_MAX_EXPLORATIONS_PER_CLIENT" in e["message"]
        still_serving(other)  # another address is not affected
        ws.send_json({"type": "cancel"})
        while (m := ws.receive_json())["type"] != "result":
            pass
        assert m["result"]["incomplete"] == "cancelled"
    still_serving(abuser)


def test_concurrent_explorations_overall():
    runner = JobRunner(workers=1, max_pending=1, per_client=5)
    with TestClient(create_app(runner, frontend=None)) as c:
        with c.websocket_connect("/ws") as ws:
            ws.receive_json()
            ws.send_json({"type": "load", "scenario": BIG})
            while ws.receive_json()["type"] != "state":
                pass
            ws.send_json({"type": "explore", "budget": {"max_seconds": 20}})
            assert ws.receive_json()["type"] == "explore-started"
            other = TestClient(c.app, client=("198.51.100.8", 1))
            e = err(other.post("/api/check", json={"scenario": SB_SOURCE}), 503, "busy")
            assert "PINRACE_MAX_EXPLORATIONS" in e["message"]
            ws.send_json({"type": "cancel"})
            while ws.receive_json()["type"] != "result":
                pass
        r = c.post("/api/check", json={"scenario": SB_SOURCE})
        assert r.status_code == 200


# ---- requests and websocket messages --------------------------------------------------------


def test_request_body_size(abuser, other):
    body = json.dumps({"scenario": "x" * (LIMITS.body_bytes + 10)})
    r = abuser.post("/api/check", content=body, headers={"content-type": "application/json"})
    e = err(r, 413, "too-large")
    assert f"{LIMITS.body_bytes:,}" in e["message"]
    still_serving(other)


def _ws_state(ws) -> dict:
    ws.send_json({"type": "state", "id": "s"})
    m = ws.receive_json()
    assert m["type"] == "state"
    return {k: v for k, v in m.items() if k not in ("cause", "re")}


def _loaded(ws):
    assert ws.receive_json()["type"] == "hello"
    ws.send_json({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
    while ws.receive_json()["type"] != "state":
        pass
    for cpu in (0, 1):  # a run in progress: it must survive every refusal below
        ws.send_json({"type": "step", "cpu": cpu})
        assert ws.receive_json()["type"] == "state"


def test_websocket_message_size(abuser, other):
    with abuser.websocket_connect("/ws") as ws:
        _loaded(ws)
        before = _ws_state(ws)
        ws.send_text(json.dumps({"type": "load", "scenario": "x" * LIMITS.ws_message_chars}))
        m = ws.receive_json()
        assert m["type"] == "error" and m["error"]["code"] == "too-large"
        assert _ws_state(ws) == before  # the run in progress survives
        ws.send_json({"type": "step", "cpu": 0})
        assert ws.receive_json()["type"] == "state"
    still_serving(other)


def test_websocket_messages_per_second(abuser, other):
    with abuser.websocket_connect("/ws") as ws:
        _loaded(ws)
        before = _ws_state(ws)
        n = int(LIMITS.ws_burst) + 50
        for _ in range(n):
            ws.send_text('{"type": "ping"}')
        codes = [ws.receive_json() for _ in range(n)]
        limited = [m for m in codes if m["type"] == "error" and m["error"]["code"] == "rate-limited"]
        assert limited and "messages a second" in limited[0]["error"]["message"]
        time.sleep(3 / LIMITS.ws_rate + 0.1)  # the bucket refills
        assert _ws_state(ws) == before
    still_serving(other)


def test_websocket_deep_json_is_refused_not_fatal(abuser):
    with abuser.websocket_connect("/ws") as ws:
        _loaded(ws)
        ws.send_text("[" * 100_000)
        m = ws.receive_json()
        assert m["type"] == "error" and m["error"]["code"] == "bad-json"
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_run_length(abuser, other):
    r = abuser.post("/api/replay", json={"scenario": SB_SOURCE, "schedule": " ".join(["0"] * (LIMITS.run_steps + 1))})
    err(r, 413, "too-long")
    still_serving(other)


# ---- links --------------------------------------------------------------------------------


def _token(payload: bytes) -> str:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = bytes([link.LINK_VERSION]) + comp.compress(payload) + comp.flush()
    return base64.urlsafe_b64encode(body + zlib.crc32(body).to_bytes(4, "big")).rstrip(b"=").decode()


def test_decoded_link_size(abuser, other):
    # a few kB of link that would inflate to 4 MB: refused before it is inflated
    bomb = _token(b'{"m":"sc","s":"","t":"' + b"A" * (4 * LIMITS.link_payload_bytes) + b'"}')
    assert len(bomb) < LIMITS.link_chars
    e = err(abuser.post("/api/share/decode", json={"link": bomb}), 422, "link-too-large")
    assert f"{LIMITS.link_payload_bytes:,}" in e["message"]
    # (GET ?s= is capped by the same number, and before that by the HTTP server's request-line limit)
    long = "A" * (LIMITS.link_chars + 1)
    err(abuser.post("/api/share/decode", json={"link": "#s=" + long}), 422, "link-too-large")
    still_serving(other)


def test_websocket_server_time_share(abuser, other, monkeypatch):
    """Messages that keep the server busy (loading the largest scenarios back to back) cost more
    than their count: past PINRACE_WS_CPU_SHARE the session's next messages are refused."""
    monkeypatch.setattr(LIMITS, "ws_cpu_share", 1e-4)  # any load past the free 50 ms exhausts the bucket
    src = threads(LIMITS.cpus, " ".join(f"WRITE_ONCE(*x, {k}); r{k % 8} = READ_ONCE(*x);" for k in range(150)))
    with abuser.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "load", "scenario": src + "\n" * 3})  # new text: not in the compile cache
        while (m := ws.receive_json())["type"] not in ("state", "error"):
            pass
        ws.send_json({"type": "ping"})
        m = ws.receive_json()
        assert m["type"] == "error" and m["error"]["code"] == "rate-limited", m
        assert "busy" in m["error"]["message"]
    still_serving(other)


def test_websocket_flood_is_disconnected(app, abuser, other):
    """Refusing costs too: a client that keeps sending far past the rate is closed (1008), and
    reconnecting does not buy it a fresh burst."""
    from starlette.websockets import WebSocketDisconnect

    from pinrace.api import ws as ws_mod

    flooder = TestClient(app, client=("192.0.2.99", 7))  # its own address: the mark lasts 10 s
    try:
        with flooder.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "hello"
            # the burst is answered, then refusals: past flood_drops of them (the margin covers the refill
            # while the server works through the messages) the connection is closed
            for _ in range(LIMITS.flood_drops + int(LIMITS.ws_burst) + 600):
                ws.send_text("{}")
            with pytest.raises(WebSocketDisconnect) as e:
                while True:
                    ws.receive_json()
            assert e.value.code == 1008
        with flooder.websocket_connect("/ws") as ws:  # no fresh burst of 200: refused at once
            assert ws.receive_json()["type"] == "hello"
            for _ in range(50):
                ws.send_text('{"type": "ping"}')
            replies = [ws.receive_json() for _ in range(50)]
            assert any(m["type"] == "error" and m["error"]["code"] == "rate-limited" for m in replies)
        with abuser.websocket_connect("/ws") as ws:  # another address is not marked
            assert ws.receive_json()["type"] == "hello"
            ws.send_text('{"type": "ping"}')
            assert ws.receive_json()["type"] == "pong"
    finally:
        ws_mod._flooded.pop("192.0.2.99", None)
    still_serving(other)


def test_large_scenarios_compile_in_a_worker_with_their_positions(abuser, other):
    """Every text compiles in a worker process (never in the server's); its errors keep line and column."""
    chars = 20_000
    body = " WRITE_ONCE(*x, 1);" * (chars // 19 + 10)
    bad = "C big\n{}\nP0(int *x) {" + body + " oops }\nexists (x=1)\n"
    e = err(abuser.post("/api/check", json={"scenario": bad}), 422, "syntax-error")
    assert e["line"] == 3 and e["column"] > chars
    with abuser.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "load", "scenario": bad})
        m = ws.receive_json()
        assert m["type"] == "error" and m["error"]["code"] == "syntax-error" and m["error"]["line"] == 3
        ws.send_json({"type": "load", "scenario": bad.replace(" oops", "")})
        while (m := ws.receive_json())["type"] not in ("state", "error"):
            pass
        assert m["type"] == "state"
    still_serving(other)
