"""The websocket session protocol at /ws (docs/websocket.md): JSON messages in, JSON out.

Each connection owns one Session.  Messages are handled in order; quick ones (step,
undo, redo, jump, state, ping) run on the event loop, slower ones (move, a switch to sc
or tso) in a thread; loading compiles in a worker process (and under lkmm prepares stepping
there), explorations run in the worker pool as a background task that streams progress
while the session keeps answering.  Every reply carries `re`, the client's `id` when it
sent one.  A malformed or unknown message gets an error reply and the session stays usable.

Rate, burst and server-time share are per client address, shared by its connections:
opening more websockets (at most PINRACE_MAX_CONNECTIONS_PER_CLIENT) buys no more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time

from fastapi import WebSocket, WebSocketDisconnect

from .. import __version__
from ..engine.models import MODELS
from ..errors import PinraceError
from ..formats.json_checks import json_too_deep, lone_surrogate, may_hold_surrogates
from ..limits import LIMITS
from . import work
from .jobs import JobRunner
from .rawjson import dumps
from .scenario import resolve, session_program
from .session import Session

__all__ = ["serve_session", "PROTOCOL_VERSION", "MESSAGE_TYPES", "dumps"]

log = logging.getLogger("pinrace.api")

PROTOCOL_VERSION = 1
TOKEN_CHARS = 16 * 1024  # a message costs a token per this many characters, beyond its first
_THREADED = ("load", "model", "move")  # handlers whose CPU is measured in their threads and jobs
_flooded: dict[str, float] = {}  # address -> until when its new connections start with an empty bucket
MESSAGE_TYPES = ("load", "model", "step", "undo", "redo", "jump", "move", "explore", "cancel", "state", "ping",
                 "lesson")


class _NotJson(ValueError):
    pass


def _no_constant(name: str):
    raise _NotJson(f"{name} is not a number JSON has")


class _Bucket:
    """One client address's token bucket: messages cost tokens, CPU time costs tokens."""

    def __init__(self, client: str):
        now = time.monotonic()
        # an address just closed for flooding gets no fresh burst by reconnecting: it starts empty
        self.tokens = 0.0 if _flooded.get(client, 0.0) > now else LIMITS.ws_burst
        self.t_last = now
        self.drops, self.drop_window = 0, now
        self.users = 0

    def charge(self, cpu_seconds: float) -> None:
        """Take CPU time from the bucket: at PINRACE_WS_CPU_SHARE of the time the refill is all used
        up.  At most a minute's worth of refusals."""
        rate = LIMITS.ws_rate
        self.tokens = max(-60 * rate, self.tokens - cpu_seconds * rate / LIMITS.ws_cpu_share)

    def take(self, cost: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(LIMITS.ws_burst, self.tokens + (now - self.t_last) * LIMITS.ws_rate)
        self.t_last = now
        if self.tokens < 1:
            if now - self.drop_window > LIMITS.ws_flood_seconds:
                self.drops, self.drop_window = 0, now
            self.drops += 1
            return False
        self.tokens -= cost
        return True


_buckets: dict[str, _Bucket] = {}


class _Bad(PinraceError):
    code = "bad-message"


def _field(msg: dict, key: str, kind, required: bool = True, default=None):
    v = msg.get(key, default)
    if v is None:
        if required:
            raise _Bad(f"'{msg.get('type')}' needs '{key}'")
        return default
    if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise _Bad(f"'{key}' must be an integer, not {json.dumps(v)[:40]}")
    if kind is str and not isinstance(v, str):
        raise _Bad(f"'{key}' must be a string")
    if kind is float and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
        raise _Bad(f"'{key}' must be a finite number")
    return v


class _Connection:
    def __init__(self, ws: WebSocket, runner: JobRunner):
        self.ws = ws
        self.runner = runner
        self.session = Session()
        self.client = ws.client.host if ws.client else "unknown"  # jobs and the bucket count against this address
        self.send_lock = asyncio.Lock()
        self.explore_task: asyncio.Task | None = None
        self.job = None
        self.bucket = _buckets.get(self.client) or _buckets.setdefault(self.client, _Bucket(self.client))
        self.bucket.users += 1
        self.thread_cpu = 0.0  # CPU seconds the current message used in worker threads and receiving jobs
        self.closed = False

    def _text(self, msg: dict) -> str:
        try:
            return dumps(msg)
        except ValueError:  # a value JSON cannot carry (NaN): pinrace's bug, never non-JSON on the wire
            log.exception("websocket reply is not JSON")
            return dumps({"type": "error", "re": msg.get("re") if isinstance(msg.get("re"), (str, int)) else None,
                          "request": None, "error": {"code": "internal-error", "message": "internal error (logged)"}})

    async def send(self, msg: dict) -> None:
        """Write one reply (not a handler's: progress, results, refusals); its serialization is charged."""
        if self.closed:
            return
        c0 = time.thread_time()
        text = self._text(msg)
        self.bucket.charge(time.thread_time() - c0)  # writing a large result is work too
        await self._write(text)

    async def _write(self, text: str) -> None:
        async with self.send_lock:
            try:
                await self.ws.send_text(text)
            except Exception:  # the client left mid-send
                self.closed = True

    async def error(self, re, request, err: dict) -> None:
        await self.send({"type": "error", "re": re, "request": request, "error": err})

    async def _threaded(self, fn, *args, **kw):
        """`fn(*args)` in a thread, its CPU time added to this message's cost."""

        def run():
            c0 = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                self.thread_cpu += time.thread_time() - c0

        return await asyncio.to_thread(run)

    async def run(self) -> None:
        await self.send({"type": "hello", "protocol": PROTOCOL_VERSION, "version": __version__,
                         "models": list(MODELS), "messages": list(MESSAGE_TYPES)})
        try:
            while True:
                try:
                    async with asyncio.timeout(LIMITS.ws_idle_seconds):
                        frame = await self.ws.receive()
                except TimeoutError:  # a silent session holds memory and a connection slot: end it
                    await self.ws.close(code=1001, reason=f"idle for {LIMITS.ws_idle_seconds:g} s "
                                        "(PINRACE_WS_IDLE_SECONDS)")
                    break
                if frame["type"] == "websocket.disconnect":
                    break
                text = frame.get("text")
                await self.handle(text if text is not None else frame.get("bytes") or b"")
                if self.bucket.drops > LIMITS.flood_drops:
                    now = time.monotonic()
                    for a in [a for a, t in _flooded.items() if t < now]:  # forget old ones
                        del _flooded[a]
                    _flooded[self.client] = now + LIMITS.ws_flood_seconds
                    await self.ws.close(code=1008, reason="flooding: far more messages than the rate limit")
                    break
        except WebSocketDisconnect:
            pass
        finally:
            self.closed = True
            self.cancel_exploration()
            self.bucket.users -= 1
            if self.bucket.users <= 0 and _buckets.get(self.client) is self.bucket:
                del _buckets[self.client]

    def cancel_exploration(self) -> None:
        if self.job is not None:
            self.job.cancel()
        if self.explore_task is not None and self.closed:
            self.explore_task.cancel()

    async def handle(self, text: str | bytes) -> None:
        # rate first, everything counted (binary and oversized frames too: large ones cost more)
        b = self.bucket
        if not b.take(1.0 + len(text) // TOKEN_CHARS):
            if b.drops > LIMITS.ws_burst:
                return
            why = (f"more than {LIMITS.ws_rate:g} messages a second" if b.tokens > -1 else
                   f"this address kept the server busy more than {LIMITS.ws_cpu_share:.0%} of the time; messages "
                   f"are dropped for {(1 - b.tokens) / LIMITS.ws_rate:.1f} s more")
            await self.error(None, None, {"code": "rate-limited", "message": f"{why}: this one was dropped"})
            return
        if isinstance(text, bytes):
            await self.error(None, None, {"code": "bad-message", "message": "send JSON text frames"})
            return
        if len(text) > LIMITS.ws_message_chars:
            await self.error(None, None, {"code": "too-large", "message": f"a message is at most "
                                          f"{LIMITS.ws_message_chars:,} characters; this one has {len(text):,}"})
            return
        if json_too_deep(text, LIMITS.json_depth):  # before parsing: the parser recurses
            await self.error(None, None, {"code": "bad-json", "message": f"the JSON nests too deeply (more than "
                                          f"{LIMITS.json_depth}, PINRACE_MAX_JSON_DEPTH)"})
            return
        try:
            msg = json.loads(text, parse_constant=_no_constant)
        except _NotJson as e:
            await self.error(None, None, {"code": "bad-message", "message": f"{e}: numbers are finite"})
            return
        except (ValueError, RecursionError) as e:
            await self.error(None, None, {"code": "bad-json", "message": f"not JSON: {e}"})
            return
        where = lone_surrogate(msg) if may_hold_surrogates(text) else None
        if where is not None:
            await self.error(None, None, {"code": "bad-message", "message": f"{where}: the text is not valid "
                                          "Unicode (a lone surrogate)"})
            return
        if not isinstance(msg, dict):
            await self.error(None, None, {"code": "bad-message", "message": "a message is a JSON object with 'type'"})
            return
        re, kind = msg.get("id"), msg.get("type")
        if kind not in MESSAGE_TYPES:
            await self.error(re, kind, {"code": "unknown-type", "message": f"unknown message type {kind!r} "
                                        f"(known: {', '.join(MESSAGE_TYPES)})"})
            return
        # CPU time, not wall time: a step must not cost more because others make the server slow.
        # Threaded handlers measure their thread (and the job they waited for); the others run on this
        # thread without awaiting, so one reading before and one after the replies are serialized
        # covers the handler and the writing (a clock reading is a system call: two per message).
        c0, self.thread_cpu = time.thread_time(), 0.0
        try:
            replies = await getattr(self, f"_on_{kind}")(msg)
        except PinraceError as e:
            replies = [{"type": "error", "request": kind, "error": e.to_dict()}]
        except Exception:
            log.exception("websocket %s failed", kind)
            replies = [{"type": "error", "request": kind, "error": {
                "code": "internal-error", "message": "internal error (logged); the session is unchanged"}}]
        if (self.session.lesson is not None and kind != "lesson"
                and any(r.get("type") == "state" for r in replies or ())):
            replies = [*replies, self.session.goal_message()]  # a lesson's goal, judged on every new state
        if kind in _THREADED:
            c0 = time.thread_time()  # (others' coroutines ran on this thread while it waited)
        texts = []
        for r in replies or ():
            r["re"] = re
            texts.append(self._text(r))
        self.bucket.charge(self.thread_cpu + time.thread_time() - c0)
        for t in texts:
            await self._write(t)

    # ---- handlers ------------------------------------------------------------------
    async def _on_ping(self, msg):
        return [{"type": "pong"}]

    async def _on_load(self, msg):
        src = msg.get("scenario", msg.get("source"))
        if not isinstance(src, str):
            raise _Bad("'load' needs 'scenario': a built-in protocol name or scenario source")
        model = _field(msg, "model", str, required=False)
        lb = _field(msg, "loop_bound", int, required=False)
        if lb is not None and not 0 <= lb <= LIMITS.loop_bound:
            raise _Bad(f"'loop_bound' must be between 0 and {LIMITS.loop_bound} (PINRACE_MAX_LOOP_BOUND)")
        self._check_model(model)
        sc = resolve(src)
        # compiled (and under lkmm, prepared) in a worker job: never in this process
        prog, machine, unsupported, cpu = await session_program(self.runner, sc, model or self.session.model, lb,
                                                                self.client)
        self.thread_cpu += cpu
        return await self._threaded(self.session.load, src, model, lb, program=prog, machine=machine,
                                    unsupported=unsupported)

    def _check_model(self, model) -> None:
        if model is not None and model not in MODELS:
            raise _Bad(f"unknown model {model!r} (choose from {', '.join(MODELS)})")

    async def _on_model(self, msg):
        model = _field(msg, "model", str)
        self._check_model(model)
        s = self.session
        if model == "lkmm" and s.program is not None:  # enumerating its executions: a worker job
            _, machine, unsupported, cpu = await session_program(self.runner, s.scenario, model, s.loop_bound,
                                                                 self.client)
            self.thread_cpu += cpu
            return await self._threaded(s.set_model, model, machine=machine, unsupported=unsupported)
        return await self._threaded(s.set_model, model)

    async def _on_step(self, msg):
        cpu = _field(msg, "cpu", int, required=False)
        token = _field(msg, "token", str, required=False)
        return self.session.step(cpu, token)

    async def _on_undo(self, msg):
        return self.session.undo()

    async def _on_redo(self, msg):
        return self.session.redo()

    async def _on_jump(self, msg):
        return self.session.jump(_field(msg, "index", int))

    async def _on_state(self, msg):
        return self.session.current()

    async def _on_move(self, msg):
        src = _field(msg, "from", int, required=False)
        dst = _field(msg, "to", int, required=False)
        sched = msg.get("schedule")
        return await self._threaded(self.session.move, src, dst, sched)

    async def _on_lesson(self, msg):
        name = msg.get("name")
        if name is not None and not isinstance(name, str):
            raise _Bad("'lesson' takes 'name': a lesson's name, or null to stop")
        return await self._threaded(self.session.start_lesson, name)

    async def _on_cancel(self, msg):
        if self.job is None:
            raise _Bad("no exploration is running") from None
        self.job.cancel()
        return [{"type": "cancelling"}]

    async def _on_explore(self, msg):
        s = self.session
        s._need_program()
        if self.explore_task is not None and not self.explore_task.done():
            raise PinraceError("an exploration is already running in this session: send {\"type\": \"cancel\"} "
                               "first") from None
        model = _field(msg, "model", str, required=False) or s.model
        self._check_model(model)
        b = msg.get("budget") or {}
        if not isinstance(b, dict):
            raise _Bad("'budget' is an object: {\"max_states\": N, \"max_seconds\": S}")
        ms = _field(b, "max_states", int, required=False)
        secs = _field(b, "max_seconds", float, required=False)
        if (ms is not None and ms < 1) or (secs is not None and secs <= 0):
            raise _Bad("budgets are positive: max_states at least 1, max_seconds more than 0")
        budget = {"max_states": min(ms or LIMITS.default_states, LIMITS.max_states),
                  "max_seconds": min(float(secs or LIMITS.default_seconds), LIMITS.max_seconds)}
        job = self.runner.submit(work.run_check, s.scenario.text, model, budget, s.loop_bound, progress=True,
                                 client=self.client, seconds=work.explore_seconds(budget),
                                 what=f"the {model} exploration")
        self.job = job
        re = msg.get("id")
        self.explore_task = asyncio.create_task(self._stream(job, re, model, s.scenario.text))
        return [{"type": "explore-started", "model": model, "budget": budget}]

    async def _stream(self, job, re, model, text=None) -> None:
        try:
            async for ev in job.events():
                ev["re"] = re
                await self.send(ev)
            out = await job.result()
            if "error" in out:
                await self.error(re, "explore", out["error"])
            else:
                await self.send({"type": "result", "re": re, "model": model, "cancelled": job.cancelled,
                                 "result": out["result"]})
                if self.session.lesson is not None:  # a lesson's goal, judged on the check's result
                    g = await asyncio.to_thread(self._result_goal, model, out["result"], text)
                    await self.send({**g, "re": re})
        except asyncio.CancelledError:
            job.cancel()
        finally:
            if self.job is job:
                self.job = None


    def _result_goal(self, model: str, result, text) -> dict:
        # the worker sends the result as JSON text (rawjson.Raw): the lesson judges the data
        return self.session.result_goal(model, json.loads(result) if isinstance(result, str) else result, text)


async def serve_session(ws: WebSocket, runner: JobRunner) -> None:
    """Run one websocket session until the client leaves; its exploration is cancelled then."""
    await ws.accept()
    await _Connection(ws, runner).run()
