"""Security headers on every answer, closed CORS, the websocket origin check, no eval/pickle of input."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import ROOT
from pinrace.api.app import create_app
from pinrace.api.schemas import SB_SOURCE
from pinrace.api.security import origin_allowed


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def _csp(r) -> dict[str, list[str]]:
    out = {}
    for part in r.headers["content-security-policy"].split(";"):
        name, *values = part.split()
        out[name] = values
    return out


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/protocols", "/api/nope", "/app.js"])
def test_every_answer_has_the_headers(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    csp = _csp(r)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]  # no inline script or style
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["connect-src"] == ["'self'", "ws://testserver", "wss://testserver"]


def test_errors_and_refusals_carry_them_too(client):
    r = client.post("/api/check", content=b"x" * (2 << 20), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "content-security-policy" in r.headers
    r = client.post("/api/check", json={"scenario": "C x\n{}\nP0(int *x) { oops }\nexists (x=1)\n"})
    assert r.status_code == 422 and "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_a_forged_host_cannot_add_directives(client):
    r = client.get("/api/health", headers={"host": "evil; script-src *"})
    assert "evil" not in r.headers["content-security-policy"]
    assert _csp(r)["script-src"] == ["'self'"]


def test_frontend_needs_no_inline_script():
    html = (ROOT / "frontend" / "index.html").read_text()
    for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
        assert "src=" in m.group(1) and not m.group(2).strip(), "inline script: the CSP would block it"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler: the CSP would block it"


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_pages_need_no_inline_script_and_nothing_from_outside(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = _csp(r)
    assert csp["script-src"] == ["'self'"]  # no CDN, no hash, no 'unsafe-inline'
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    # only this origin: no host anywhere in the policy
    assert all(v in ("'self'", "'none'", "'unsafe-inline'", "data:", "blob:") for vs in csp.values() for v in vs)
    for m in re.finditer(rb"<script\b([^>]*)>(.*?)</script>", r.content, re.S | re.I):
        assert b"src=" in m.group(1) and not m.group(2).strip(), "inline script: the CSP would block it"
    assert int(r.headers["content-length"]) == len(r.content)


def test_cors_is_closed_by_default(client):
    r = client.options("/api/check", headers={"origin": "https://evil.example",
                                              "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    r = client.post("/api/check", json={"scenario": SB_SOURCE}, headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_opens_only_to_configured_origins(monkeypatch):
    monkeypatch.setenv("PINRACE_CORS_ORIGINS", "https://ok.example")
    c = TestClient(create_app(frontend=None))
    r = c.get("/api/health", headers={"origin": "https://ok.example"})
    assert r.headers["access-control-allow-origin"] == "https://ok.example"
    r = c.get("/api/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_websocket_from_another_site_is_refused(client):
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect("/ws", headers={"origin": "https://evil.example"}) as ws:
            ws.receive_json()
    assert e.value.code == 1008
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "hello"
    assert origin_allowed(None, "h:1", []) and not origin_allowed("null", "h:1", [])
    assert origin_allowed("https://ok.example", "h:1", ["https://ok.example"])


def test_internal_errors_never_show_a_traceback(client, monkeypatch):
    from pinrace.api import rest

    def boom(*a, **k):
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(rest, "builtins", boom)
    c = TestClient(client.app, raise_server_exceptions=False)
    r = c.get("/api/protocols")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal-error"
    assert "secret" not in r.text and "Traceback" not in r.text


def test_no_eval_exec_or_pickle_of_input():
    """User input is parsed by lark and json only; the process pool pickles its own job arguments
    (strings, numbers and dicts), never an object a client sent."""
    # the builtins eval/exec/compile (not methods such as re.compile or JobRunner.compile)
    bad = re.compile(r"(?<![\w.])(?<!def )(eval|exec|compile)\s*\(|\bpickle\.loads?\b|\bmarshal\.loads?\b|"
                     r"yaml\.load\(|shell\s*=\s*True|os\.system\(|__import__\(")
    hits = []
    for p in (ROOT / "server").rglob("*.py"):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if bad.search(line):
                hits.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, hits
