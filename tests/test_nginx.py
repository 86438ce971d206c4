"""The shipped nginx configuration (docs/deploy/nginx-pinrace.conf) in front of `pinrace serve`.

uvicorn has no deadline for a request's headers and no per-address connection limit, so a
public instance runs behind nginx; this runs the shipped file as it is (its timeouts shortened
to keep the test short, its ports free ones) and checks what it is there for.  Skipped when
nginx is not installed (`apt-get install nginx`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

if shutil.which("nginx") is None and os.environ.get("CI") == "true":  # .ci/run installs it
    raise RuntimeError("CI=true and nginx is not installed: the reverse-proxy tests cannot run")
pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")

SB = ("C SB\n{}\nP0(int *x, int *y) { WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\n"
      "P1(int *x, int *y) { WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }\nexists (0:r0=0 /\\ 1:r0=0)\n")
TIMEOUT = 2  # seconds, for client_header_timeout and client_body_timeout in the test


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def site_config(web: int, app: int) -> str:
    site = (ROOT / "docs" / "deploy" / "nginx-pinrace.conf").read_text()
    site = site.replace("listen 8080", f"listen 127.0.0.1:{web}").replace("server 127.0.0.1:8000;",
                                                                           f"server 127.0.0.1:{app};")
    for d, times in (("client_header_timeout", 2), ("client_body_timeout", 1)):
        site, n = re.subn(rf"{d} \d+s;", f"{d} {TIMEOUT}s;", site)
        assert n == times, d
    return site


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> str:
    d: Path = tmp_path_factory.mktemp("nginx")
    app_port, web_port = _free_port(), _free_port()
    env = {**os.environ, "PINRACE_WORKERS": "1", "PINRACE_SPARE_WORKERS": "1"}
    env.pop("PINRACE_ALLOWED_HOSTS", None)  # the default: loopback names and the bind address
    server = subprocess.Popen([sys.executable, "-m", "pinrace.cli", "serve", "--port", str(app_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    (d / "site.conf").write_text(site_config(web_port, app_port))
    temps = " ".join(f"{k}_temp_path {d}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (d / "nginx.conf").write_text(
        f"daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{ access_log off; {temps} include {d}/site.conf; }}\n")
    nginx = subprocess.Popen(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"http://127.0.0.1:{app_port}/api/health", server, "pinrace serve")
        _wait_for(f"http://127.0.0.1:{web_port}/api/health", nginx, "nginx")
        yield f"127.0.0.1:{web_port}"
    finally:
        for p in (nginx, server):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def post(web: str, path: str, body: dict, host: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://{web}{path}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", **({"host": host} if host else {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def closed_within(sock: socket.socket, seconds: float) -> bytes:
    """What the server sends before it closes `sock` (it must, within `seconds`)."""
    sock.settimeout(seconds)
    got = b""
    while True:
        chunk = sock.recv(4096)  # socket.timeout fails the test: the connection was held
        if not chunk:
            return got
        got += chunk


def test_a_check_through_nginx(web):
    status, body = post(web, "/api/check", {"scenario": SB, "model": "tso"})
    assert status == 200 and json.loads(body)["verdict"] == "reachable"


def test_slow_headers_are_cut_off_while_others_are_served(web):
    host, port = web.split(":")
    slow = []
    for _ in range(200):  # slowloris: requests whose headers never end
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow.append(s)
    status, _ = post(web, "/api/check", {"scenario": SB})
    assert status == 200  # served meanwhile
    for s in slow:
        got = closed_within(s, TIMEOUT + 10)
        assert got == b"" or got.startswith(b"HTTP/1.1 408")
        s.close()


def test_a_slow_body_is_cut_off_before_pinrace_sees_it(web):
    host, port = web.split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(b"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000\r\n\r\n{\"scenario\": ")
    got = closed_within(s, TIMEOUT + 10)
    assert got == b"" or got.startswith(b"HTTP/1.1 408")
    s.close()


def test_a_host_that_is_not_pinrace_gets_no_answer(web):
    """DNS rebinding: a page on rebind.evil.example whose name points at this address."""
    host, port = web.split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: rebind.evil.example\r\n\r\n")
    assert closed_within(s, 10) == b""  # 444: closed unanswered
    s.close()


def test_a_body_over_the_limit_is_413(web):
    status, _ = post(web, "/api/check", {"scenario": "x" * (2 << 20)})
    assert status == 413


def test_websockets_through_nginx_and_their_limit_per_address(web):
    from contextlib import ExitStack

    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with ExitStack() as stack:
        sockets = []
        for _ in range(16):
            ws = stack.enter_context(connect(f"ws://{web}/ws"))
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            sockets.append(ws)
        with pytest.raises(InvalidStatus) as e:
            with connect(f"ws://{web}/ws", open_timeout=10):
                pass
        assert e.value.response.status_code == 429
        sockets[0].send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(sockets[0].recv(timeout=10)) == {"type": "pong", "re": 1}
