"""Websocket load: N sessions each sending one step every 100 ms; prints round-trip percentiles.

    python bench/ws_load.py                       # starts `pinrace serve` on a free port itself
    python bench/ws_load.py --sessions 100 --duration 30 --url ws://127.0.0.1:8000/ws

Each session loads a scenario under tso, then every --interval seconds sends one step
(a random enabled transition; a jump back to 0 when the run has ended) and waits for
its reply.  The client runs in this process, the server in its own.  Round-trip time is
from send to the reply carrying the step's id.  Errors are error replies, timeouts and
dropped connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from websockets.asyncio.client import connect

SCENARIO = """C page-pin-sb
#define PAGE_PIN_BIAS 1024
#define PG_writeback 1
{ struct page page; }
P0(struct page *page) { atomic_add(PAGE_PIN_BIAS, &page->_refcount); smp_wmb(); r0 = READ_ONCE(page->flags); }
P1(struct page *page) { WRITE_ONCE(page->flags, 2); smp_mb(); r1 = atomic_read(&page->_refcount); }
P2(struct page *page) { WRITE_ONCE(page->_mapcount, 1); r2 = READ_ONCE(page->flags); }
exists (0:r0=0 /\\ 1:r1=1)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "pinrace.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


async def session(url: str, duration: float, interval: float, rtts: list, errors: dict, seed: int,
                  start_at: float, local_addr: str | None = None) -> None:
    """One well-behaved session; `local_addr` is the address it connects from (a client of its own)."""
    rng = random.Random(seed)
    kw = {"local_addr": (local_addr, 0)} if local_addr else {}
    try:
        async with connect(url, max_size=2**24, **kw) as ws:
            json.loads(await ws.recv())  # hello
            await ws.send(json.dumps({"type": "load", "scenario": SCENARIO, "model": "tso", "id": 0}))
            state = None
            while state is None:
                m = json.loads(await ws.recv())
                if m["type"] == "state":
                    state = m
                elif m["type"] == "error":
                    errors["load"] = errors.get("load", 0) + 1
                    return
            await asyncio.sleep(max(0.0, start_at - time.monotonic()) + rng.random() * interval)
            end = start_at + duration
            n = 0
            while time.monotonic() < end:
                n += 1
                moves = state["transitions"]
                msg = ({"type": "step", "token": rng.choice(moves)["token"], "id": n} if moves
                       else {"type": "jump", "index": 0, "id": n})
                t0 = time.monotonic()
                await ws.send(json.dumps(msg))
                while True:
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if reply.get("re") == n:
                        break
                rtts.append(time.monotonic() - t0)
                if reply["type"] == "error":
                    code = reply["error"]["code"]
                    errors[code] = errors.get(code, 0) + 1
                else:
                    state = reply
                await asyncio.sleep(max(0.0, t0 + interval - time.monotonic()))
    except TimeoutError:
        errors["timeout"] = errors.get("timeout", 0) + 1
    except Exception as e:  # a dropped connection counts, it does not stop the run
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


async def main_async(args) -> dict:
    rtts: list[float] = []
    errors: dict = {}
    start_at = time.monotonic() + 2.0  # let every session connect and load first
    await asyncio.gather(*(session(args.url, args.duration, args.interval, rtts, errors, i, start_at)
                           for i in range(args.sessions)))
    return {"rtts": rtts, "errors": errors}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", "-n", type=int, default=100)
    ap.add_argument("--duration", "-d", type=float, default=30.0, help="seconds of stepping")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between a session's steps")
    ap.add_argument("--url", help="an already running server's websocket URL (default: start one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    proc = None
    if not args.url:
        port = _free_port()
        proc = start_server(port)
        args.url = f"ws://127.0.0.1:{port}/ws"
    try:
        t0 = time.monotonic()
        try:  # the client shares the machine: a faster loop of its own measures the server, not itself
            import uvloop

            res = uvloop.run(main_async(args))
        except ImportError:
            res = asyncio.run(main_async(args))
        wall = time.monotonic() - t0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
    rtts = res["rtts"]
    ms = [x * 1000 for x in rtts]
    report = {
        "sessions": args.sessions, "duration_s": args.duration, "interval_s": args.interval,
        "steps": len(ms), "steps_per_s": round(len(ms) / args.duration, 1) if args.duration else None,
        "p50_ms": round(_pct(ms, 50), 2), "p95_ms": round(_pct(ms, 95), 2), "p99_ms": round(_pct(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else None, "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        "errors": res["errors"], "wall_s": round(wall, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['sessions']} sessions x {args.duration:g} s, one step every {args.interval * 1000:g} ms: "
              f"{report['steps']} steps ({report['steps_per_s']}/s)")
        print(f"round trip: p50 {report['p50_ms']} ms  p95 {report['p95_ms']} ms  p99 {report['p99_ms']} ms  "
              f"max {report['max_ms']} ms")
        print(f"errors: {sum(res['errors'].values())} {res['errors'] or ''}".rstrip())
    return 0 if not res["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
