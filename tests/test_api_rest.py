"""REST API through TestClient: every endpoint, its errors, and the JSON error envelope."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from pinrace import library
from pinrace.api.app import create_app
from pinrace.api.schemas import SB_SOURCE
from pinrace.limits import LIMITS

SB_MB = SB_SOURCE.replace("WRITE_ONCE(*x, 1);", "WRITE_ONCE(*x, 1); smp_mb();").replace(
    "WRITE_ONCE(*y, 1);", "WRITE_ONCE(*y, 1); smp_mb();")
BAD_SYNTAX = "C bad\n{}\nP0(int *x) {\n  WRITE_ONCE(*x 1);\n}\nexists (x=1)\n"
# three CPUs with a few accesses each: large enough that a 5-state budget cuts it short
WIDE = ("C wide\n{}\n" + "\n".join(
    f"P{i}(int *x, int *y) {{ WRITE_ONCE(*x, {i + 1}); r0 = READ_ONCE(*y); WRITE_ONCE(*y, {i + 1}); }}"
    for i in range(3)) + "\nexists (0:r0=0)\n")


@pytest.fixture(scope="module")
def protocols(tmp_path_factory):
    """A protocols/ directory with one built-in (SB with a Description line)."""
    d = tmp_path_factory.mktemp("protocols")
    real = library.protocols_dir() / "prelude.h"
    if real.exists():
        shutil.copy(real, d / "prelude.h")  # keep the page prelude identical for other tests
    (d / "sb-demo.litmus").write_text(SB_SOURCE.replace("C SB\n", "C SB\n/*\n * Description: store buffering\n */\n"))
    return d


@pytest.fixture(scope="module")
def client(protocols):
    mp = pytest.MonkeyPatch()
    mp.setenv("PINRACE_PROTOCOLS", str(protocols))
    with TestClient(create_app()) as c:
        yield c
    mp.undo()


def _err(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert e["code"] == code, e
    assert {"code", "message", "line", "column"} <= set(e)
    assert "Traceback" not in r.text
    return e


# ---- health, docs, frontend ---------------------------------------------------------


def test_health(client):
    d = client.get("/api/health").json()
    assert d["status"] == "ok" and d["workers"] >= 1 and d["explorations"] >= 0


def test_openapi_lists_every_endpoint_with_examples(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/health", "/api/protocols", "/api/protocols/{name}", "/api/check", "/api/replay",
                 "/api/litmus", "/api/diff"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    for name in ("CheckRequest", "CheckResponse", "ReplayRequest", "ReplayResponse", "LitmusRequest",
                 "DiffRequest", "DiffResponse", "ErrorResponse", "ProtocolSummary"):
        assert name in schemas, name
    for name, body in schemas.items():  # every request body carries an example for /docs
        if name.endswith("Request"):
            assert body.get("examples") or any("examples" in f for f in body.get("properties", {}).values()), name
    assert schemas["ErrorResponse"].get("examples")
    assert "text/plain" in spec["paths"]["/api/litmus"]["post"]["responses"]["200"]["content"]
    assert client.get("/docs").status_code == 200


def test_frontend_is_served_at_root(client):
    r = client.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()


# ---- protocols ----------------------------------------------------------------------


def test_protocols_list_and_detail(client):
    items = client.get("/api/protocols").json()
    (p,) = [x for x in items if x["name"] == "sb-demo"]
    assert p["description"] == "store buffering"
    assert p["scenarios"][0]["test"] == "SB" and p["scenarios"][0]["cpus"] == 2
    d = client.get("/api/protocols/sb-demo").json()
    assert "WRITE_ONCE(*x, 1)" in d["source"] and len(d["sha256"]) == 64


def test_unknown_protocol_is_404(client):
    e = _err(client.get("/api/protocols/nope"), 404, "unknown-protocol")
    assert "sb-demo" in e["message"]  # names the built-ins


# ---- check --------------------------------------------------------------------------


def test_check_source_under_tso_finds_store_buffering(client):
    d = client.post("/api/check", json={"scenario": SB_SOURCE, "model": "tso"}).json()
    assert d["verdict"] == "reachable" and d["incomplete"] is None and d["test"] == "SB"
    r = d["results"]["tso"]
    assert r["observation"] == "Sometimes" and r["positive"] == 1 and r["negative"] == 3
    (ce,) = r["counterexamples"]
    assert ce["values"] == {"0:r0": 0, "1:r0": 0}
    assert "CPU0" in ce["diagram"] and "CPU1" in ce["diagram"]
    assert r["statistics"]["final_states"] == 4 and r["statistics"]["explored"] > 0
    assert all(s["schedule"] for s in r["states"])


def test_check_builtin_by_name_under_sc_is_unreachable(client):
    d = client.post("/api/check", json={"scenario": "sb-demo", "model": "sc"}).json()
    assert d["scenario"] == "sb-demo" and d["verdict"] == "unreachable"
    assert d["results"]["sc"]["counterexamples"] == []


def test_check_all_models(client):
    d = client.post("/api/check", json={"scenario": SB_SOURCE, "model": "all"}).json()
    assert d["models"] == ["sc", "tso", "lkmm"]
    assert d["results"]["sc"]["observation"] == "Never"
    assert d["results"]["tso"]["observation"] == "Sometimes"
    assert d["results"]["lkmm"]["observation"] == "Sometimes"  # SB is allowed by the LKMM
    assert not d.get("errors")


def test_check_budget_is_capped_and_reports_incomplete(client):
    d = client.post("/api/check", json={"scenario": WIDE, "model": "tso", "budget": {"max_states": 5}}).json()
    assert d["incomplete"] == "states" and d["results"]["tso"]["incomplete"] == "states"
    assert d["verdict"] in ("incomplete", "reachable")
    from pinrace.api.schemas import BudgetIn

    assert BudgetIn(max_states=10**12, max_seconds=10**6).capped() == {"max_states": LIMITS.max_states,
                                                                      "max_seconds": LIMITS.max_seconds}


def test_check_errors(client):
    e = _err(client.post("/api/check", json={"scenario": BAD_SYNTAX}), 422, "syntax-error")
    assert (e["line"], e["column"]) == (4, 17)
    _err(client.post("/api/check", json={"scenario": "no-such-protocol"}), 404, "unknown-protocol")
    e = _err(client.post("/api/check", json={"scenario": SB_SOURCE, "model": "arm"}), 422, "bad-request")
    assert "model" in e["message"]
    _err(client.post("/api/check", json={"scenario": SB_SOURCE, "budget": {"max_states": 0}}), 422, "bad-request")
    _err(client.post("/api/check", json={"scenario": ""}), 422, "bad-request")
    _err(client.post("/api/check", content=b"{not json", headers={"content-type": "application/json"}),
         422, "bad-request")
    prim = "C p\n{}\nP0(int *x) { FROB(x); }\nexists (x=1)\n"
    e = _err(client.post("/api/check", json={"scenario": prim}), 422, "unknown-primitive")
    assert e["line"] == 3


def test_check_lkmm_alone(client):
    r = client.post("/api/check", json={"scenario": SB_SOURCE, "model": "lkmm"})
    assert r.status_code == 200 and r.json()["results"]["lkmm"]["observation"] == "Sometimes"


# ---- replay -------------------------------------------------------------------------


def test_replay_text_schedule_gives_every_state_and_explanations(client):
    d = client.post("/api/replay", json={"scenario": SB_SOURCE, "model": "tso",
                                         "schedule": "0 1 0 1 0:flush 1:flush"}).json()
    assert d["schedule"] == ["0:0", "1:0", "0:1", "1:1", "0:flush", "1:flush"]
    assert len(d["states"]) == 7 and len(d["steps"]) == 6
    assert d["states"][1]["buffers"][0] == [{"location": "x", "value": 1}]
    assert "store buffer" in d["steps"][0]["explanation"]
    assert d["steps"][2]["label"].endswith("READ_ONCE(*y)") and "returned 0" in d["steps"][2]["explanation"]
    assert d["steps"][4]["label"] == "(store buffer flush)"
    v = d["verdict"]
    assert v["final"] and v["satisfies"] and v["bad"] and v["values"] == {"0:r0": 0, "1:r0": 0}


def test_replay_json_schedule_object_and_list(client):
    obj = {"format": "pinrace-schedule", "version": 1,
           "steps": [{"cpu": 0, "op": 0}, {"cpu": 0, "op": 1}, {"cpu": 1, "op": 0}, {"cpu": 1, "op": 1}]}
    d = client.post("/api/replay", json={"scenario": SB_SOURCE, "model": "sc", "schedule": obj}).json()
    assert d["verdict"] == {**d["verdict"], "final": True, "satisfies": False, "bad": False}
    assert d["verdict"]["values"] == {"0:r0": 0, "1:r0": 1}
    d2 = client.post("/api/replay", json={"scenario": SB_SOURCE, "model": "sc", "schedule": [0, "0:1", 1, 1]}).json()
    assert d2["schedule"] == d["schedule"]
    partial = client.post("/api/replay", json={"scenario": SB_SOURCE, "schedule": "0"}).json()
    assert partial["verdict"]["final"] is False and partial["verdict"]["satisfies"] is None


def test_replay_invalid_step_names_step_and_rule(client):
    e = _err(client.post("/api/replay", json={"scenario": SB_SOURCE, "model": "tso", "schedule": "0 1:flush"}),
             422, "bad-schedule")
    assert e["step"] == 1 and e["rule"] == "not-enabled" and "1:flush" in e["message"]
    e = _err(client.post("/api/replay", json={"scenario": SB_SOURCE, "schedule": "0 0 0"}), 422, "bad-schedule")
    assert e["step"] == 2 and e["rule"] == "blocked"
    e = _err(client.post("/api/replay", json={"scenario": SB_SOURCE, "schedule": "7"}), 422, "bad-schedule")
    assert e["rule"] == "no-such-cpu"
    e = _err(client.post("/api/replay", json={"scenario": SB_SOURCE, "schedule": "0 x"}), 422, "bad-schedule")
    assert e["step"] == 1
    bad_version = {"format": "pinrace-schedule", "version": 99, "steps": []}
    _err(client.post("/api/replay", json={"scenario": SB_SOURCE, "schedule": bad_version}), 422, "bad-schedule")


def test_replay_under_lkmm_steps_and_refuses_with_the_rule(client):
    r = client.post("/api/replay", json={"scenario": SB_SOURCE, "model": "lkmm", "schedule": "0:1:rf=init 1 1 0"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["schedule"][0] == "0:1:rf=init" and d["verdict"]["final"]
    assert d["states"][1]["last"]["reason"]["rule"] == "store→load" and "lkmm" in d["states"][0]
    mb = SB_SOURCE.replace("WRITE_ONCE(*x, 1);", "WRITE_ONCE(*x, 1); smp_mb();")
    e = _err(client.post("/api/replay", json={"scenario": mb, "model": "lkmm", "schedule": "0:2"}), 422,
             "bad-schedule")
    assert e["rule"] == "mb" and e["why"]["axiom"] == "happens-before" and e["why"]["cycle"]


# ---- litmus -------------------------------------------------------------------------


def test_litmus_json_and_text(client):
    d = client.post("/api/litmus", json={"source": SB_SOURCE, "model": "tso"}).json()
    assert d["schema"] == 1 and d["observation"] == "Sometimes" and len(d["states"]) == 4
    r = client.post("/api/litmus", json={"source": SB_SOURCE, "model": "tso"}, headers={"accept": "text/plain"})
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("Test SB Allowed\nStates 4\n") and "Observation SB Sometimes 1 3" in r.text


def test_litmus_errors(client):
    e = _err(client.post("/api/litmus", json={"source": BAD_SYNTAX}), 422, "syntax-error")
    assert e["line"] == 4
    _err(client.post("/api/litmus", json={"source": SB_SOURCE, "model": "all"}), 422, "bad-request")


# ---- diff ---------------------------------------------------------------------------


def test_diff_shows_what_a_barrier_removes(client):
    d = client.post("/api/diff", json={"old": SB_SOURCE, "new": SB_MB, "model": "tso"}).json()
    assert d["differ"] is True
    r = d["results"]["tso"]
    (gone,) = r["only_old"]
    assert gone["values"] == {"0:r0": 0, "1:r0": 0} and gone["satisfies"] and gone["schedule"]
    assert r["only_new"] == [] and r["old_observation"] == "Sometimes" and r["new_observation"] == "Never"
    # the schedule replays in the old version to that very state
    rep = client.post("/api/replay", json={"scenario": SB_SOURCE, "model": "tso",
                                           "schedule": " ".join(gone["schedule"])}).json()
    assert rep["verdict"]["values"] == gone["values"]


def test_diff_same_scenario_does_not_differ(client):
    d = client.post("/api/diff", json={"old": SB_SOURCE, "new": "sb-demo", "model": "sc"}).json()
    assert d["differ"] is False and d["new"] == "sb-demo"


def test_diff_errors_name_the_side(client):
    e = _err(client.post("/api/diff", json={"old": SB_SOURCE, "new": BAD_SYNTAX}), 422, "syntax-error")
    assert e["message"].startswith("new:") and e["line"] == 4


# ---- envelope for everything else ---------------------------------------------------


def test_oversized_body_is_413(client):
    big = "x" * (2 * 1024 * 1024)
    _err(client.post("/api/check", json={"scenario": big}), 413, "too-large")


def test_unknown_api_route_and_method(client):
    _err(client.get("/api/nothing-here"), 404, "not-found")
    _err(client.get("/api/check"), 405, "method-not-allowed")


def test_bug_is_500_without_a_stack_trace(protocols, monkeypatch):
    import pinrace.api.rest as rest

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(rest, "schedule_steps", boom)  # a fault in the server process itself
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        r = c.post("/api/replay", json={"scenario": SB_SOURCE, "schedule": "0"})
    e = _err(r, 500, "internal-error")
    assert "secret" not in r.text and "RuntimeError" not in r.text
    assert e["message"]


def test_every_documented_request_example_is_answered(monkeypatch):
    # the examples name the real built-ins: a client on the project's own protocols/
    monkeypatch.delenv("PINRACE_PROTOCOLS", raising=False)
    with TestClient(create_app()) as client:
        _answer_every_example(client)


def _answer_every_example(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    tried = 0
    for path, ops in spec["paths"].items():
        body = ops.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json")
        if not body:
            continue
        ref = body["schema"].get("$ref", "").rsplit("/", 1)[-1]
        for example in schemas.get(ref, {}).get("examples", []):
            r = client.post(path, json=example)
            assert r.status_code == 200, (path, example, r.text)
            tried += 1
    assert tried >= 9


def test_lkmm_counterexample_comes_with_its_schedule_and_diagram(monkeypatch):
    monkeypatch.delenv("PINRACE_PROTOCOLS", raising=False)
    with TestClient(create_app()) as client:
        d = client.post("/api/check", json={"scenario": "bias-barrier-posted", "model": "lkmm"}).json()
    (ce,) = d["results"]["lkmm"]["counterexamples"]
    assert ce["schedule"] and "CPU0" in ce["diagram"] and "CPU1" in ce["diagram"]
    assert "atomic_add(PAGE_PIN_BIAS" in ce["diagram"]
