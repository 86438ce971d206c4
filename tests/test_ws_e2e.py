"""End to end against a real `pinrace serve` (uvicorn) on 127.0.0.1 with the `websockets` client."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from websockets.asyncio.client import connect

from pinrace.api.schemas import SB_SOURCE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slow_source(cpus: int = 4, ops: int = 3) -> str:
    """A generated store-buffering web: `cpus` CPUs, each with `ops` WRITE_ONCE/READ_ONCE pairs."""
    locs = "abcd"
    threads = []
    for i in range(cpus):
        body = " ".join(f"WRITE_ONCE(*{locs[(i + k) % 4]}, {i + 1}); r{k} = READ_ONCE(*{locs[(i + k + 1) % 4]});"
                        for k in range(ops))
        threads.append(f"P{i}(int *a, int *b, int *c, int *d) {{ {body} }}")
    return "C slow\n{}\n" + "\n".join(threads) + "\nexists (0:r0=0 /\\ 1:r0=0)\n"


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pinrace.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    yield {"http": base, "ws": f"ws://127.0.0.1:{port}/ws"}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.n = 0

    @classmethod
    async def open(cls, url):
        ws = await connect(url)
        c = cls(ws)
        assert json.loads(await ws.recv())["type"] == "hello"
        return c

    async def send(self, msg: dict) -> int:
        self.n += 1
        await self.ws.send(json.dumps({**msg, "id": self.n}))
        return self.n

    async def ask(self, msg: dict, until=("state", "error")) -> list[dict]:
        i = await self.send(msg)
        out = []
        while True:
            m = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            out.append(m)
            if m["type"] in until and m.get("re") == i:
                return out


def run(coro):
    return asyncio.run(coro)


def test_step_undo_move_explore_over_a_real_socket(server):
    async def go():
        c = await Client.open(server["ws"])
        out = await c.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
        assert [m["type"] for m in out] == ["scenario", "model", "state"]
        st = None
        for tok in ("0:0", "1:0", "0:1", "1:1", "0:flush", "1:flush"):
            (st,) = await c.ask({"type": "step", "token": tok})
        assert st["verdict"]["final"] and st["verdict"]["bad"] and st["verdict"]["values"] == {"0:r0": 0, "1:r0": 0}
        (u,) = await c.ask({"type": "undo"})
        assert u["position"] == 5 and not u["verdict"]["final"]
        (m,) = await c.ask({"type": "move", "from": 1, "to": 0})
        assert [e["token"] for e in m["timeline"]][:2] == ["1:0", "0:0"]
        (ref,) = await c.ask({"type": "move", "from": 4, "to": 0})
        assert ref["type"] == "error" and ref["error"]["rule"] == "not-enabled"
        out = await c.ask({"type": "explore"}, until=("result", "error"))
        kinds = [x["type"] for x in out]
        assert kinds[0] == "explore-started" and kinds[-1] == "result"
        assert "progress" in kinds[1:-1]
        assert out[-1]["result"]["observation"] == "Sometimes"
        await c.ws.close()

    run(go())


def test_cli_rest_and_websocket_agree(server, tmp_path):
    path = tmp_path / "sb.litmus"
    path.write_text(SB_SOURCE)

    def key(r: dict) -> tuple:
        return (r["observation"], r["positive"], r["negative"], r["bad_reachable"] if "bad_reachable" in r else None,
                sorted(json.dumps(s["values"], sort_keys=True) for s in r["states"]))

    for model in ("sc", "tso"):
        cli = subprocess.run([sys.executable, "-m", "pinrace.cli", "check", str(path), "--model", model, "--json"],
                             capture_output=True, text=True, timeout=120)
        assert cli.returncode == (1 if model == "tso" else 0), cli.stderr
        c_res = json.loads(cli.stdout)["results"][model]
        rest = httpx.post(f"{server['http']}/api/check", json={"scenario": SB_SOURCE, "model": model}, timeout=60)
        r_res = rest.json()["results"][model]

        async def ws_check(model=model):
            c = await Client.open(server["ws"])
            await c.ask({"type": "load", "scenario": SB_SOURCE, "model": model})
            out = await c.ask({"type": "explore"}, until=("result", "error"))
            await c.ws.close()
            return out[-1]["result"]

        w_res = run(ws_check())
        assert key(c_res)[:3] == key(r_res)[:3] == key(w_res)[:3]
        assert key(c_res)[4] == key(r_res)[4] == key(w_res)[4]
        assert r_res["bad_reachable"] == w_res["bad_reachable"] == (cli.returncode == 1)
        assert r_res["counterexamples"] == w_res["counterexamples"]


def test_steps_are_answered_while_an_exploration_runs(server):
    async def go():
        a = await Client.open(server["ws"])
        b = await Client.open(server["ws"])
        src = slow_source()
        await a.ask({"type": "load", "scenario": src, "model": "tso"})
        await b.ask({"type": "load", "scenario": src, "model": "tso"})
        t0 = time.monotonic()
        explore_id = await a.send({"type": "explore", "budget": {"max_seconds": 3}})
        step_a = await a.send({"type": "step", "cpu": 0})
        order = []
        b_task = asyncio.create_task(b.ask({"type": "step", "cpu": 1}))
        while True:
            m = json.loads(await asyncio.wait_for(a.ws.recv(), 60))
            if m.get("re") == step_a and m["type"] == "state":
                order.append("step-a")
            if m.get("re") == explore_id and m["type"] == "progress":
                order.append("progress")
            if m.get("re") == explore_id and m["type"] in ("result", "error"):
                order.append("result")
                assert m["type"] == "result", m
                break
            if b_task.done() and "step-b" not in order:
                order.append("step-b")
        elapsed = time.monotonic() - t0
        (sb,) = await b_task
        assert sb["type"] == "state" and sb["position"] == 1
        if "step-b" not in order:  # b's reply came while we were blocked on a's socket
            order.insert(order.index("result"), "step-b")
        assert elapsed >= 1.0, "the exploration should take at least a second"
        assert order.index("step-a") < order.index("result")
        assert order.index("step-b") < order.index("result")
        assert order.index("progress") < order.index("result")
        await a.ws.close()
        await b.ws.close()

    run(go())


def test_the_other_session_answers_fast_while_one_explores(server):
    async def go():
        a = await Client.open(server["ws"])
        b = await Client.open(server["ws"])
        await a.ask({"type": "load", "scenario": slow_source(), "model": "tso"})
        await b.ask({"type": "load", "scenario": SB_SOURCE, "model": "tso"})
        await a.send({"type": "explore", "budget": {"max_seconds": 3}})
        got_result = asyncio.Event()

        async def drain():
            while True:
                m = json.loads(await a.ws.recv())
                if m["type"] in ("result", "error") and m.get("re") == 2:
                    got_result.set()
                    return

        d = asyncio.create_task(drain())
        await asyncio.sleep(0.5)
        (st,) = await b.ask({"type": "step", "cpu": 0})
        assert st["type"] == "state" and not got_result.is_set()
        await d
        await a.ws.close()
        await b.ws.close()

    run(go())


def test_leaving_cancels_the_exploration(server):
    async def go():
        a = await Client.open(server["ws"])
        await a.ask({"type": "load", "scenario": slow_source(4, 4), "model": "tso"})
        out = await a.ask({"type": "explore", "budget": {"max_seconds": 30}}, until=("explore-started",))
        assert out[-1]["budget"]["max_seconds"] == 30
        await asyncio.sleep(0.5)
        assert httpx.get(f"{server['http']}/api/health").json()["explorations"] >= 1
        await a.ws.close()
        deadline = time.monotonic() + 10
        while httpx.get(f"{server['http']}/api/health").json()["explorations"] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert httpx.get(f"{server['http']}/api/health").json()["explorations"] == 0

    run(go())


def test_cancel_message_ends_the_run_as_cancelled(server):
    async def go():
        a = await Client.open(server["ws"])
        await a.ask({"type": "load", "scenario": slow_source(4, 4), "model": "tso"})
        eid = await a.send({"type": "explore", "budget": {"max_seconds": 30}})
        await asyncio.sleep(0.5)
        out = await a.ask({"type": "cancel"}, until=("cancelling",))
        assert out[-1]["type"] == "cancelling"
        while True:
            m = json.loads(await asyncio.wait_for(a.ws.recv(), 20))
            if m.get("re") == eid and m["type"] == "result":
                break
        assert m["cancelled"] and m["result"]["incomplete"] == "cancelled"
        await a.ws.close()

    run(go())
