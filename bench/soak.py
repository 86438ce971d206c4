"""Soak: well-behaved websocket sessions stepping while other clients abuse the server.

    python bench/soak.py                         # starts `pinrace serve` on a free port itself
    python bench/soak.py --sessions 20 --duration 20 --url ws://127.0.0.1:8000/ws

Each phase runs the well-behaved sessions of bench/ws_load.py (load a 3-CPU scenario under
tso, one step every --interval seconds, round trip = send to the reply with its id) for
--duration seconds, and prints their step latency:

* `quiet`: the well-behaved sessions alone;
* `abused`: the same, while abusive clients send garbage (non-JSON text, binary frames,
  nested JSON), oversized messages (over PINRACE_MAX_WS_MESSAGE_CHARS), floods far over
  PINRACE_WS_RATE without reading the replies, and explorations as fast as the
  per-client limit lets them (which keeps every worker process busy);
* `abused+big`: as `abused`, plus clients loading the largest scenario the limits allow,
  over and over (legal but costly: parsing is pure Python in the server process).

Abusers' messages and the refusals they got are counted too.  The figures in
docs/benchmarks.md (## Soak) come from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import time

from websockets.asyncio.client import connect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pinrace.limits import LIMITS  # noqa: E402
from ws_load import _free_port, _pct, session, start_server  # noqa: E402

_BIG_LINE = " WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y);"


def big(n: int) -> str:
    """The largest legal scenario: every CPU the limit allows, accesses up to the source limit.
    `n` makes each one new text, so the server's compile cache does not absorb it."""
    per_cpu = (LIMITS.source_chars - 400) // LIMITS.cpus // len(_BIG_LINE) - 2
    body = _BIG_LINE * min(per_cpu, LIMITS.ops_per_cpu // 2 - 2)
    return (f"C big{n}\n{{}}\n" + "".join(f"P{i}(int *x, int *y) {{{body} }}\n" for i in range(LIMITS.cpus))
            + "exists (0:r0=0)\n")


async def _drain(ws, counts: dict) -> None:
    try:
        async for raw in ws:
            if isinstance(raw, str):
                m = json.loads(raw)
                if m.get("type") == "error":
                    code = m["error"]["code"]
                    counts[code] = counts.get(code, 0) + 1
    except Exception:
        pass


async def abuser(url: str, kind: str, until: float, counts: dict, seed: int) -> None:
    """One abusive client of `kind` until `until` (monotonic); reconnects if the server drops it."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        try:
            async with connect(url, max_size=None, max_queue=None) as ws:
                reader = asyncio.create_task(_drain(ws, counts))
                await ws.send(json.dumps({"type": "load", "scenario": "C SB\n{}\nP0(int *x, int *y) { "
                                          "WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\nP1(int *x, int *y) { "
                                          "WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }\nexists (0:r0=0 /\\ 1:r0=0)\n"}))
                while time.monotonic() < until:
                    if kind == "garbage":
                        junk = rng.choice([bytes(rng.randrange(256) for _ in range(64)),
                                           "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(64)),
                                           "[" * 50_000, '{"type": 5}', '{"type": "step", "cpu": "x"}',
                                           '{"type": "move", "schedule": {"steps": 3}}'])
                        await ws.send(junk)
                        await asyncio.sleep(0.005)
                    elif kind == "oversized":
                        await ws.send('{"type":"load","scenario":"' + "x" * (LIMITS.ws_message_chars + 1000) + '"}')
                        await asyncio.sleep(0.02)
                    elif kind == "flood":
                        for _ in range(50):
                            await ws.send('{"type":"step","cpu":0}')
                        await asyncio.sleep(0.01)
                    elif kind == "explore":
                        await ws.send('{"type":"explore","budget":{"max_seconds":5}}')
                        await asyncio.sleep(0.05)
                        await ws.send('{"type":"cancel"}')
                    elif kind == "big":
                        await ws.send(json.dumps({"type": "load", "scenario": big(rng.randrange(10**9))}))
                        await asyncio.sleep(0.05)
                    counts["sent"] = counts.get("sent", 0) + 1
                reader.cancel()
        except Exception as e:
            counts[f"dropped:{type(e).__name__}"] = counts.get(f"dropped:{type(e).__name__}", 0) + 1
            await asyncio.sleep(0.1)


async def phase(url: str, sessions: int, duration: float, interval: float, abusers: dict[str, int]) -> dict:
    rtts: list[float] = []
    errors: dict = {}
    counts: dict = {}
    start_at = time.monotonic() + 2.0
    until = start_at + duration
    tasks = [session(url, duration, interval, rtts, errors, i, start_at) for i in range(sessions)]
    seed = 1000
    for kind, n in abusers.items():
        for _ in range(n):
            seed += 1
            tasks.append(abuser(url, kind, until, counts, seed))
    await asyncio.gather(*tasks)
    return {"rtts": rtts, "errors": errors, "abuse": counts}


PHASES = {
    "quiet": {},
    "abused": {"garbage": 4, "oversized": 2, "flood": 4, "explore": 2},
    "abused+big": {"garbage": 4, "oversized": 2, "flood": 4, "explore": 2, "big": 2},
    # one kind at a time (--phases garbage,flood,...): which abuse costs what
    "garbage": {"garbage": 4}, "oversized": {"oversized": 2}, "flood": {"flood": 4}, "explore": {"explore": 2},
    "big": {"big": 2},
}
DEFAULT_PHASES = "quiet,abused,abused+big"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", "-n", type=int, default=20)
    ap.add_argument("--duration", "-d", type=float, default=20.0, help="seconds of stepping per phase")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between a session's steps")
    ap.add_argument("--phases", default=DEFAULT_PHASES)
    ap.add_argument("--url", help="an already running server's websocket URL (default: start one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    proc = None
    if not args.url:
        port = _free_port()
        proc = start_server(port)
        args.url = f"ws://127.0.0.1:{port}/ws"
    results = {}
    try:
        for name in args.phases.split(","):
            results[name] = asyncio.run(phase(args.url, args.sessions, args.duration, args.interval, PHASES[name]))
            time.sleep(1.0)  # let cancelled explorations end before the next phase
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:  # still chewing on abusers' backlog: the figures are in
                proc.kill()
                proc.wait()
    if args.json:
        print(json.dumps({k: {"rtts_ms": [round(x * 1000, 2) for x in v["rtts"]], "errors": v["errors"],
                              "abuse": v["abuse"]} for k, v in results.items()}))
        return 0
    print(f"{args.sessions} well-behaved sessions, one step every {args.interval * 1000:g} ms, {args.duration:g} s "
          f"per phase; {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    print(f"{'phase':<12} {'abusers':<40} {'steps':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'errors':>6}")
    for name, r in results.items():
        ms = [x * 1000 for x in r["rtts"]]
        ab = ", ".join(f"{n} {k}" for k, n in PHASES[name].items()) or "none"
        print(f"{name:<12} {ab:<40} {len(ms):>6} {_pct(ms, 50):>7.1f} {_pct(ms, 95):>7.1f} {_pct(ms, 99):>7.1f} "
              f"{max(ms) if ms else float('nan'):>7.1f} {sum(r['errors'].values()):>6}")
    for name, r in results.items():
        if r["abuse"]:
            refused = {k: v for k, v in sorted(r["abuse"].items()) if k != "sent"}
            print(f"{name}: abusers sent {r['abuse'].get('sent', 0):,} messages; server answers: {refused}")
        if r["errors"]:
            print(f"{name}: well-behaved sessions' errors: {r['errors']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
