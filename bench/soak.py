"""Soak: every attack of issue 14 at once against `pinrace serve`, while well-behaved clients work.

    python bench/soak.py                         # starts `pinrace serve` (2 workers) and nginx itself
    python bench/soak.py --phases quiet,attack --duration 30 --no-nginx

The server runs as a public instance would: `pinrace serve` with PINRACE_WORKERS=2 and default
limits, behind docs/deploy/nginx-pinrace.conf when nginx is installed (slow clients are nginx's
to cut off: uvicorn has no header deadline).  Clients are told apart by address: the attacker
connects from 127.0.0.66-69, ten well-behaved users from 127.0.0.10-19 (all loopback).

Well-behaved clients, in every phase: 20 websocket sessions (two per user) stepping a 3-CPU
scenario under tso, one step every 100 ms, waiting for each reply (round trip = send to reply);
and a REST client checking a small scenario (SB under tso) every 500 ms (latency = request to
answer).  Every answer any client gets is counted; any 5xx is reported.

Phases:

* `quiet`: the well-behaved clients alone;
* `attack`: every attack class of issue 14 at once, from four attacker addresses (REST attacks,
  heavy websocket work, websocket floods, slow clients: one address would mostly meet its
  share's 429s), in a process of their own: symmetry and #define bombs, the largest legal
  scenarios loaded over and over, NaN budgets, lkmm runs that ignore their budget, lkmm
  stepping preparation, sessions asking for a 10,000-step run's state, connection floods,
  10,000-step replays, slowloris on headers and bodies, 500-inputs (lone surrogates,
  5,000-digit literals, deep JSON, '[' links, lkmm recursion), DNS-rebinding Hosts, chunked
  bodies over the limit, clients leaving their explorations, websocket garbage, floods,
  oversized messages and explorations;
* `deaths`: explorations from an attacker while the largest worker process is killed (SIGKILL,
  as the OOM killer would) every 5 s: only the killed jobs fail (worker-died, the 503s of this
  phase), every other job finishes.

The server's memory is the resident size of `pinrace serve` and all its worker processes,
sampled every 250 ms.  SOAK_DEBUG=1 prints each check slower than a second.  docs/benchmarks.md
(## Soak) records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pinrace.limits import LIMITS  # noqa: E402
from ws_load import _free_port, _pct, session  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# the attacker's addresses: REST attacks, heavy websocket work, websocket floods, slow clients
# (each group has its own share of jobs and connections; one address would mostly meet 429s)
ATTACKERS = {"rest": "127.0.0.66", "ws": "127.0.0.67", "flood": "127.0.0.68", "slow": "127.0.0.69",
             "deaths": "127.0.0.70"}
USERS = [f"127.0.0.{10 + i}" for i in range(10)]
SB = ("C SB\n{}\nP0(int *x, int *y) { WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\n"
      "P1(int *x, int *y) { WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }\nexists (0:r0=0 /\\ 1:r0=0)\n")
_BIG_LINE = " WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y);"


# ---- the scenarios attacks send ----------------------------------------------------------------


def big(n: int) -> str:
    """The largest legal scenario: every CPU the limit allows, accesses up to the source limit.
    `n` makes each one new text, so no compile cache absorbs it."""
    per_cpu = (LIMITS.source_chars - 400) // LIMITS.cpus // len(_BIG_LINE) - 2
    body = _BIG_LINE * min(per_cpu, LIMITS.ops_per_cpu // 2 - 2)
    return (f"C big{n}\n{{}}\n" + "".join(f"P{i}(int *x, int *y) {{{body} }}\n" for i in range(LIMITS.cpus))
            + "exists (0:r0=0)\n")


def symmetric(n: int = 12) -> str:
    return ("C symmetric\n{}\n" + "".join(f"P{i}(int *x) {{ r0 = READ_ONCE(*x); }}\n" for i in range(n))
            + "exists (" + " /\\ ".join(f"{i}:r0=0" for i in range(n)) + ")\n")


def define_bomb(levels: int, base: str) -> str:
    defs = f"#define A0 {base}\n" + "".join(f"#define A{i} (A{i - 1}+A{i - 1})\n" for i in range(1, levels + 1))
    return f"C bomb\n{defs}{{}}\nP0(int *x) {{ int r0 = 1; WRITE_ONCE(*x, A{levels}); }}\nexists (x=1)\n"


def fences(cpus: int = 16) -> str:
    """1,900 smp_mb() per CPU in about a thousand characters (helpers calling helpers twice)."""
    helpers = "static void f0(void) { smp_mb(); }\n" + "".join(
        f"static void f{i}(void) {{ f{i - 1}(); f{i - 1}(); }}\n" for i in range(1, 11))
    calls = "f10(); f9(); f8(); f6(); f5(); f3(); f2();"
    return ("C fences\n{}\n" + helpers + "".join(f"P{i}(int *x) {{ WRITE_ONCE(*x, {i}); {calls} }}\n"
                                                  for i in range(cpus)) + "exists (x=1)\n")


# four CPUs of three write/read/write rounds: explorations that run until their budget
EXPLORER = ("C explorer\n{}\n" + "\n".join(
    f"P{i}(int *x, int *y) {{ " + " ".join(f"WRITE_ONCE(*x, {i * 10 + k}); r{k} = READ_ONCE(*y); WRITE_ONCE(*y, {k});"
                                           for k in range(3)) + " }" for i in range(4)) + "\nexists (0:r0=0)\n")


def long_run() -> tuple[str, str]:
    """A scenario and a 10,000-step schedule for it: 5 CPUs of 2,000 writes (helpers calling helpers
    twice keep the text short)."""
    helpers = "static void w0(int *x) { WRITE_ONCE(*x, 1); }\n" + "".join(
        f"static void w{i}(int *x) {{ w{i - 1}(x); w{i - 1}(x); }}\n" for i in range(1, 11))
    calls = "w10(x); w9(x); w8(x); w7(x); w6(x); w4(x);"  # 1024 + 512 + 256 + 128 + 64 + 16 = 2,000
    src = "C long\n{}\n" + helpers + "".join(f"P{i}(int *x) {{ {calls} }}\n" for i in range(5)) + "exists (x=1)\n"
    return src, " ".join(str(i // 2000) for i in range(10_000))


def link_token(payload: bytes) -> str:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = bytes([1]) + comp.compress(payload) + comp.flush()
    return base64.urlsafe_b64encode(body + zlib.crc32(body).to_bytes(4, "big")).rstrip(b"=").decode()


# ---- servers -------------------------------------------------------------------------------------


def start_pinrace(port: int) -> subprocess.Popen:
    env = {**os.environ, "PINRACE_WORKERS": "2"}
    env.pop("PINRACE_ALLOWED_HOSTS", None)
    proc = subprocess.Popen([sys.executable, "-m", "pinrace.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    _wait(f"http://127.0.0.1:{port}/api/health", proc)
    return proc


def start_nginx(web: int, app: int) -> tuple[subprocess.Popen, Path]:
    d = Path(tempfile.mkdtemp(prefix="pinrace-soak-nginx-"))
    site = (ROOT / "docs" / "deploy" / "nginx-pinrace.conf").read_text()
    site = site.replace("listen 8080", f"listen 127.0.0.1:{web}").replace("server 127.0.0.1:8000;",
                                                                           f"server 127.0.0.1:{app};")
    (d / "site.conf").write_text(site)
    temps = " ".join(f"{k}_temp_path {d}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # the main context as the shipped file asks for it: connections for many slow clients
    (d / "nginx.conf").write_text(
        f"daemon off; master_process off; worker_rlimit_nofile 8192; pid {d}/nginx.pid; error_log {d}/error.log;\n"
        f"events {{ worker_connections 4096; }}\nhttp {{ access_log off; {temps} include {d}/site.conf; }}\n")
    proc = subprocess.Popen(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait(f"http://127.0.0.1:{web}/api/health", proc)
    return proc, d


def _wait(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_mib(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            pass
    return total / (1 << 20)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used (descendants that ended excluded)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def workers(server_pid: int) -> list[int]:
    out = []
    for p in tree(server_pid)[1:]:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
            out.append(p)
    return out


# ---- attacks (run in a process of their own) --------------------------------------------------------


class Tally:
    """What the attacker's requests got: (attack, answer) -> count; answers are HTTP statuses, websocket
    error codes, 'closed' (the server closed the connection) and exception names."""

    def __init__(self):
        self.c: Counter = Counter()

    def add(self, attack: str, outcome) -> None:
        self.c[(attack, str(outcome))] += 1


def _client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=120, transport=httpx.AsyncHTTPTransport(
        local_address=ATTACKERS["rest"], retries=0, limits=httpx.Limits(max_connections=8, keepalive_expiry=2.0)))


async def _post(t: Tally, attack: str, http: httpx.AsyncClient, path: str, body=None, **kw) -> None:
    try:
        r = await http.post(path, json=body, **kw) if body is not None else await http.post(path, **kw)
        t.add(attack, r.status_code)
    except httpx.HTTPError as e:
        t.add(attack, type(e).__name__)


async def _ws(url: str, group: str = "ws"):
    return await connect(url, max_size=2**25, max_queue=None, local_addr=(ATTACKERS[group], 0), open_timeout=30)


async def _drain(ws, t: Tally, attack: str, want: tuple = ()) -> dict | None:
    """Read replies until one whose type is in `want` (returned) or the connection ends; count errors."""
    try:
        async for raw in ws:
            if isinstance(raw, str):
                m = json.loads(raw)
                if m.get("type") == "error":
                    t.add(attack, m["error"]["code"])
                if m.get("type") in want:
                    return m
    except Exception as e:
        t.add(attack, type(e).__name__)
    return None


async def _looping(attack: str, t: Tally, until: float, fn, pause: float = 0.0) -> None:
    """Run `fn()` over and over until `until`; a failure is counted, not fatal."""
    while time.monotonic() < until:
        try:
            await fn()
        except Exception as e:
            t.add(attack, type(e).__name__)
            await asyncio.sleep(0.2)
        await asyncio.sleep(pause)


async def attack_rest(base: str, t: Tally, until: float) -> None:
    """The REST attacks, one loop each."""
    long_src, long_sched = long_run()
    async with _client(base) as http:
        async def symmetry():
            await _post(t, "symmetry", http, "/api/check", {"scenario": symmetric(12),
                                                            "budget": {"max_states": 1000, "max_seconds": 2}})

        async def defines():
            await _post(t, "define", http, "/api/check", {"scenario": define_bomb(59, "1")})
            await _post(t, "define", http, "/api/check", {"scenario": define_bomb(59, "r0")})

        async def nan():
            body = '{"scenario": %s, "budget": {"max_seconds": NaN}}' % json.dumps(SB)  # noqa: UP031
            await _post(t, "nan", http, "/api/check", content=body, headers={"content-type": "application/json"})

        async def lkmm_budget():
            await _post(t, "lkmm-budget", http, "/api/check", {"scenario": fences(16), "model": "lkmm",
                                                               "budget": {"max_seconds": 1}})

        async def lkmm_prep():
            await _post(t, "lkmm-prep", http, "/api/replay", {"scenario": "gup-fast-trylock", "model": "lkmm",
                                                             "schedule": "0"})
            await _post(t, "lkmm-prep", http, "/api/share", {"scenario": "bias-barrier-posted-full", "model": "lkmm",
                                                            "schedule": "0"})

        async def replay_size():
            await _post(t, "replay-10k", http, "/api/replay", {"scenario": long_src, "schedule": long_sched})

        async def bad_inputs():
            for path, body in (
                    ("/api/replay", '{"scenario": "bias-unsynchronized", "schedule": "0 \\ud800"}'),
                    ("/api/diagram/export", '{"scenario": "bias-unsynchronized", "schedule": "\\udfff"}'),
                    ("/api/check", json.dumps({"scenario": SB.replace("1);", "9" * 5000 + ");", 1)})),
                    ("/api/export/litmus", json.dumps({"scenario": SB.replace("1);", "9" * 5000 + ");", 1)})),
                    ("/api/check", "[" * 100_000),
                    ("/api/share/decode", json.dumps({"link": link_token(b"[" * 100_000)})),
                    ("/api/check", json.dumps({"scenario": "C w\n{}\nP0(int *x) { " + "WRITE_ONCE(*x, 1); " * 1000
                                               + "}\nexists (x=1)\n", "model": "lkmm"}))):
                await _post(t, "500-inputs", http, path, content=body, headers={"content-type": "application/json"})

        async def rebinding():
            try:
                r = await http.get("/api/health", headers={"host": "rebind.evil.example"})
                t.add("dns-rebinding", r.status_code)
            except httpx.HTTPError:
                t.add("dns-rebinding", "closed")

        async def chunked():
            async def body():
                for _ in range(40):
                    yield b"x" * 65536

            await _post(t, "chunked-2MiB", http, "/api/check", content=body(),
                        headers={"content-type": "application/json"})

        async def leave():
            # start an exploration and leave: the server cancels it
            try:
                await http.post("/api/check", json={"scenario": EXPLORER, "budget": {"max_seconds": 20}},
                                timeout=0.5)
            except httpx.TimeoutException:
                t.add("client-leaves", "left")

        await asyncio.gather(*(_looping(name, t, until, fn, pause) for name, fn, pause in (
            ("symmetry", symmetry, 0.2), ("define", defines, 0.2), ("nan", nan, 0.05),
            ("lkmm-budget", lkmm_budget, 0.0), ("lkmm-prep", lkmm_prep, 0.0), ("replay-10k", replay_size, 0.2),
            ("500-inputs", bad_inputs, 0.1), ("dns-rebinding", rebinding, 0.05), ("chunked-2MiB", chunked, 0.2),
            ("client-leaves", leave, 0.5))))


async def attack_ws(url: str, t: Tally, until: float) -> None:
    """The websocket attacks: state of a 10,000-step run, big loads, define bombs, NaN, lkmm loads,
    a connection flood, garbage, floods, oversized messages and explorations."""
    rng = random.Random(67)
    long_src, long_sched = long_run()

    async def state_spam():  # a session holding a 10,000-step run asking for its state
        async with await _ws(url) as ws:
            reader = asyncio.create_task(_drain(ws, t, "state-10k"))
            await ws.send(json.dumps({"type": "load", "scenario": long_src}))
            await ws.send(json.dumps({"type": "move", "schedule": long_sched}))
            while time.monotonic() < until:
                await ws.send('{"type": "state"}')
                await asyncio.sleep(0.05)
            reader.cancel()

    async def big_load():
        async with await _ws(url) as ws:
            reader = asyncio.create_task(_drain(ws, t, "big-load"))
            while time.monotonic() < until:
                await ws.send(json.dumps({"type": "load", "scenario": big(rng.randrange(10**9))}))
                await asyncio.sleep(0.5)
            reader.cancel()

    async def odd_loads():
        async with await _ws(url) as ws:
            reader = asyncio.create_task(_drain(ws, t, "ws-bombs"))
            while time.monotonic() < until:
                for msg in ({"type": "load", "scenario": define_bomb(59, "r0")},
                            {"type": "load", "scenario": "gup-fast-trylock", "model": "lkmm"},
                            {"type": "load", "scenario": SB}):
                    await ws.send(json.dumps(msg))
                await ws.send('{"type": "explore", "budget": {"max_seconds": NaN}}')
                await ws.send('{"type": "explore", "budget": {"max_seconds": 1e999}}')
                await asyncio.sleep(0.3)
            reader.cancel()

    async def connection_flood():  # open websockets far past the per-address limit, hold them a second
        socks = []
        try:
            for _ in range(40):
                try:
                    socks.append(await _ws(url, "flood"))
                    t.add("connections", "opened")
                except Exception as e:
                    t.add("connections", type(e).__name__)
            await asyncio.sleep(1.0)
        finally:
            for s in socks:
                await s.close()
        await asyncio.sleep(2.0)

    async def garbage_flood():
        async with await _ws(url, "flood") as ws:
            reader = asyncio.create_task(_drain(ws, t, "ws-garbage"))
            while time.monotonic() < until:
                for junk in (bytes(rng.randrange(256) for _ in range(64)), "[" * 50_000, '{"type": 5}',
                             '{"type":"step","cpu":"x"}', "x" * (LIMITS.ws_message_chars + 1000)):
                    await ws.send(junk)
                for _ in range(50):
                    await ws.send('{"type":"step","cpu":0}')
                await asyncio.sleep(0.02)
            reader.cancel()

    async def explore():
        async with await _ws(url) as ws:
            reader = asyncio.create_task(_drain(ws, t, "ws-explore"))
            await ws.send(json.dumps({"type": "load", "scenario": EXPLORER}))
            while time.monotonic() < until:
                await ws.send('{"type":"explore","budget":{"max_seconds":30}}')
                await asyncio.sleep(3)
                await ws.send('{"type":"cancel"}')
            reader.cancel()

    await asyncio.gather(*(_looping(name, t, until, fn) for name, fn in (
        ("state-10k", state_spam), ("state-10k", state_spam), ("big-load", big_load), ("ws-bombs", odd_loads),
        ("connections", connection_flood), ("ws-garbage", garbage_flood), ("ws-explore", explore))))


async def attack_slow(host: str, port: int, t: Tally, until: float, headers: int, bodies: int) -> None:
    """Slowloris: connections that send their headers (or their body) a byte at a time."""

    async def one(kind: str):
        while time.monotonic() < until:
            try:
                r, w = await asyncio.open_connection(host, port, local_addr=(ATTACKERS["slow"], 0))
            except OSError as e:
                t.add(f"slow-{kind}", type(e).__name__)
                await asyncio.sleep(1)
                continue
            head = b"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if kind == "body":
                head += b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            try:
                w.write(head)
                closed = False
                while time.monotonic() < until and not closed:
                    w.write(b"x" if kind == "body" else b"X-a: b\r\n")  # a byte (a line) every 5 s
                    await w.drain()
                    try:
                        await asyncio.wait_for(r.read(4096), 5)  # the end, or an answer (408) then the end
                        closed = True
                    except TimeoutError:
                        pass  # still held: send the next one
                if closed:
                    t.add(f"slow-{kind}", "closed")
            except OSError:
                t.add(f"slow-{kind}", "closed")
            w.close()

    await asyncio.gather(*(one("headers") for _ in range(headers)), *(one("body") for _ in range(bodies)))


async def _attacks(base: str, url: str, host: str, port: int, until: float, slow: tuple[int, int]) -> Counter:
    t = Tally()
    await asyncio.gather(attack_rest(base, t, until), attack_ws(url, t, until),
                         attack_slow(host, port, t, until, *slow), return_exceptions=True)
    return t.c


def _attack_process(base, url, host, port, until_wall, slow, out) -> None:
    # an attacker's own CPU is not the server's: here the two share the machine's cores, so the
    # attack generator runs niced (as the server's workers do), not ahead of the server
    os.nice(10)
    until = time.monotonic() + (until_wall - time.time())
    try:
        out.put(dict(asyncio.run(_attacks(base, url, host, port, until, slow))))
    except BaseException as e:
        out.put({("attacker", f"crashed: {type(e).__name__}: {e}"): 1})


async def attack_explorations(url: str, t: Tally, until: float) -> None:
    """For `deaths`: the attacker's explorations, as many as its share allows, over and over."""

    async def one():
        async with await _ws(url, "deaths") as ws:
            await ws.send(json.dumps({"type": "load", "scenario": EXPLORER}))
            while time.monotonic() < until:
                await ws.send('{"type":"explore","budget":{"max_seconds":4}}')
                m = await _drain(ws, t, "explorations", want=("result", "error"))
                if m is None:
                    return
                if m["type"] == "result":
                    t.add("explorations", "result")

    await asyncio.gather(*(_looping("explorations", t, until, one) for _ in range(4)))


def _deaths_process(url, until_wall, out) -> None:
    os.nice(10)
    t = Tally()
    until = time.monotonic() + (until_wall - time.time())
    try:
        asyncio.run(attack_explorations(url, t, until))
    except BaseException as e:
        t.add("attacker", f"crashed: {type(e).__name__}: {e}")
    out.put(dict(t.c))


# ---- the well-behaved clients -----------------------------------------------------------------------


async def checker(base: str, until: float, lat: list, statuses: Counter) -> None:
    """A small REST check every 500 ms, from each user's address in turn."""
    # keep-alive shorter than the server's 5 s, as browsers do: a connection reused just as the
    # server closes it fails the request (httpx's default is 5 s too: a race of the client's)
    clients = [httpx.AsyncClient(base_url=base, timeout=60, transport=httpx.AsyncHTTPTransport(
        local_address=a, limits=httpx.Limits(keepalive_expiry=2.0))) for a in USERS]
    try:
        i = 0
        while time.monotonic() < until:
            t0 = time.monotonic()
            try:
                r = await clients[i % len(clients)].post("/api/check", json={"scenario": SB, "model": "tso"})
                statuses[r.status_code] += 1
                if r.status_code == 200:
                    lat.append(time.monotonic() - t0)
                if os.environ.get("SOAK_DEBUG") and time.monotonic() - t0 > 1:
                    print(f"check {i} took {time.monotonic() - t0:.2f} s at {t0 - (until - 30):.1f}", file=sys.stderr)
            except httpx.HTTPError as e:
                statuses[type(e).__name__] += 1
                if os.environ.get("SOAK_DEBUG"):
                    print(f"check {i} from {USERS[i % len(USERS)]}: {e!r} after {time.monotonic() - t0:.3f} s",
                          file=sys.stderr)
            i += 1
            await asyncio.sleep(max(0.0, t0 + 0.5 - time.monotonic()))
    finally:
        for c in clients:
            await c.aclose()


async def memory(pid: int, until: float, samples: list) -> None:
    while time.monotonic() < until:
        samples.append(rss_mib(tree(pid)))
        await asyncio.sleep(0.25)


async def killer(pid: int, until: float, killed: list) -> None:
    """What the kernel's OOM killer does: every 5 s, the largest worker process goes."""
    while time.monotonic() < until - 5:
        await asyncio.sleep(5)
        ws = workers(pid)
        if ws:
            biggest = max(ws, key=lambda p: rss_mib([p]))
            os.kill(biggest, signal.SIGKILL)
            killed.append(biggest)


async def phase(name: str, base: str, url: str, server_pid: int, duration: float, interval: float,
                sessions: int, slow: tuple[int, int], nginx_pid: int | None = None) -> dict:
    rtts: list[float] = []
    errors: dict = {}
    lat: list[float] = []
    statuses: Counter = Counter()
    mem: list[float] = []
    killed: list[int] = []
    start_at = time.monotonic() + 3.0
    until = start_at + duration
    q = multiprocessing.get_context("spawn").Queue()
    proc = None
    host, port = base.split("//", 1)[1].split(":")
    if name == "attack":
        proc = multiprocessing.get_context("spawn").Process(
            target=_attack_process, args=(base, url, host, int(port), time.time() + 3.0 + duration, slow, q))
    elif name == "deaths":
        proc = multiprocessing.get_context("spawn").Process(
            target=_deaths_process, args=(url, time.time() + 3.0 + duration, q))
    if proc is not None:
        proc.start()
    cpu0 = {"server": cpu_seconds([server_pid]), "workers": cpu_seconds(workers(server_pid)),
            "nginx": cpu_seconds([nginx_pid]) if nginx_pid else 0.0, "clients": cpu_seconds([os.getpid()])}
    load0 = os.getloadavg()[0]
    tasks = [session(url, duration, interval, rtts, errors, i, start_at, USERS[i % len(USERS)])
             for i in range(sessions)]
    tasks += [checker(base, until, lat, statuses), memory(server_pid, until + 2, mem)]
    if name == "deaths":
        tasks.append(killer(server_pid, until, killed))
    await asyncio.gather(*tasks)
    cpu = {"server": cpu_seconds([server_pid]) - cpu0["server"],
           "workers": cpu_seconds(workers(server_pid)) - cpu0["workers"],  # (killed ones not counted)
           "nginx": (cpu_seconds([nginx_pid]) - cpu0["nginx"]) if nginx_pid else 0.0,
           "clients": cpu_seconds([os.getpid()]) - cpu0["clients"],
           "attacker": cpu_seconds([proc.pid]) if proc is not None else 0.0}
    load = (load0, os.getloadavg()[0])
    attacks: dict = {}
    if proc is not None:
        try:
            attacks = q.get(timeout=120)
        except Exception:
            attacks = {("attacker", "no report"): 1}
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    return {"rtts": rtts, "errors": errors, "checks": lat, "statuses": statuses, "memory": mem,
            "attacks": attacks, "killed": len(killed), "cpu": cpu, "load": load}


# ---- report -------------------------------------------------------------------------------------------


def _fivexx(res: dict) -> int:
    """5xx answers to anyone, and websocket errors that are a 503's (worker-died: a killed job's)."""
    n = sum(v for k, v in res["statuses"].items() if isinstance(k, int) and k >= 500)
    n += sum(v for (a, o), v in res["attacks"].items() if (o.isdigit() and int(o) >= 500) or o == "worker-died")
    return n


def report(results: dict, args, nginx: bool) -> str:
    lines = [f"{args.sessions} websocket sessions (one step every {args.interval * 1000:g} ms) and one small check "
             f"every 500 ms from {len(USERS)} well-behaved addresses; {args.duration:g} s a phase; pinrace serve "
             f"with 2 workers{' behind nginx' if nginx else ' (no nginx: slow clients reach uvicorn)'}; "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}", ""]
    lines.append("| phase | checks | check p50 ms | check p99 ms | check max ms | steps | step p50 ms | step p99 ms "
                 "| step max ms | memory max MiB | 5xx |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        ck = [x * 1000 for x in r["checks"]]
        st = [x * 1000 for x in r["rtts"]]
        lines.append(f"| {name} | {len(ck)} | {_pct(ck, 50):.0f} | {_pct(ck, 99):.0f} | {max(ck, default=0):.0f} | "
                     f"{len(st):,} | {_pct(st, 50):.1f} | {_pct(st, 99):.1f} | {max(st, default=0):.1f} | "
                     f"{max(r['memory'], default=0):.0f} | {_fivexx(r)} |")
    for name, r in results.items():
        lines.append("")
        bad = {k: v for k, v in r["statuses"].items() if k != 200}
        lines.append(f"{name}: well-behaved clients' errors: steps {r['errors'] or 'none'}, checks {bad or 'none'}"
                     + (f"; workers killed: {r['killed']}" if r["killed"] else ""))
        cpu = ", ".join(f"{k} {'n/a (some were killed)' if k == 'workers' and r['killed'] else f'{v:.1f}'}"
                        for k, v in r["cpu"].items())
        lines.append(f"  CPU seconds: {cpu}; machine load average {r['load'][0]:.1f} -> {r['load'][1]:.1f}")
        if r["attacks"]:
            per: dict = {}
            for (a, o), v in sorted(r["attacks"].items()):
                per.setdefault(a, []).append(f"{o} ×{v:,}")
            for a, outs in per.items():
                lines.append(f"  {a}: {', '.join(outs)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", "-n", type=int, default=20)
    ap.add_argument("--duration", "-d", type=float, default=30.0, help="seconds a phase")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between a session's steps")
    ap.add_argument("--phases", default="quiet,attack,deaths")
    ap.add_argument("--slow-headers", type=int, default=1000, help="slowloris connections sending headers")
    ap.add_argument("--slow-bodies", type=int, default=200, help="slowloris connections sending a body")
    ap.add_argument("--no-nginx", action="store_true", help="attack uvicorn directly")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    app_port = _free_port()
    server = start_pinrace(app_port)
    nginx = None
    use_nginx = not args.no_nginx and shutil.which("nginx") is not None
    try:
        port = app_port
        if use_nginx:
            port = _free_port()
            nginx, _ = start_nginx(port, app_port)
        base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
        time.sleep(5.0)  # the worker processes start and parse the grammar and the prelude first
        results = {}
        for name in args.phases.split(","):
            results[name] = asyncio.run(phase(name, base, url, server.pid, args.duration, args.interval,
                                              args.sessions, (args.slow_headers, args.slow_bodies),
                                              nginx.pid if nginx is not None else None))
            time.sleep(3.0)  # cancelled explorations end, slow connections time out
    finally:
        for p in (nginx, server):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
    if args.json:
        print(json.dumps({k: {**v, "statuses": {str(s): n for s, n in v["statuses"].items()},
                              "attacks": {f"{a}: {o}": n for (a, o), n in v["attacks"].items()}}
                          for k, v in results.items()}, default=str))
    else:
        print(report(results, args, use_nginx))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
