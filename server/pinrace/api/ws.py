"""The websocket session protocol at /ws (docs/websocket.md): JSON messages in, JSON out.

Each connection owns one Session.  Messages are handled in order; quick ones (step,
undo, redo, jump, state, ping) run on the event loop, slower ones (load, model, move)
in a thread, explorations in the process pool (jobs.py) as a background task that
streams progress while the session keeps answering.  Every reply carries `re`, the
client's `id` when it sent one.  A malformed or unknown message gets an error reply
and the session stays usable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from fastapi import WebSocket, WebSocketDisconnect

from .. import __version__
from ..engine.models import MODELS
from ..errors import PinraceError
from ..limits import LIMITS
from . import work
from .jobs import JobRunner
from .scenario import precompile
from .schemas import DEFAULT_SECONDS, DEFAULT_STATES, MAX_SECONDS, MAX_STATES
from .session import Session

__all__ = ["serve_session", "PROTOCOL_VERSION", "MESSAGE_TYPES", "MAX_MESSAGE"]

log = logging.getLogger("pinrace.api")

PROTOCOL_VERSION = 1
MAX_MESSAGE = LIMITS.ws_message_chars  # characters in one client message (PINRACE_MAX_WS_MESSAGE_CHARS)
RATE = LIMITS.ws_rate  # messages per second a session may send, sustained (PINRACE_WS_RATE) ...
BURST = LIMITS.ws_burst  # ... and in a burst (PINRACE_WS_BURST)
# Messages cost their handling time too: a session that keeps the server busy more than this
# share of the time (loading the largest scenarios back to back) pays with refused messages.
CPU_SHARE = LIMITS.ws_cpu_share  # (PINRACE_WS_CPU_SHARE)
# Refusing costs the server a frame to read and an answer to write.  Within FLOOD_WINDOW seconds
# the first BURST refusals are answered, later ones silently dropped, and a client past
# FLOOD_DROPS refusals (far more than a client with a bug sends) is closed (1008).
FLOOD_WINDOW = 10.0
FLOOD_DROPS = int(5 * BURST)
TOKEN_CHARS = 16 * 1024  # a message costs a token per this many characters, beyond its first
_THREADED = ("load", "model", "move")  # handlers that run in a thread (their CPU is measured there)
_flooded: dict[str, float] = {}  # address -> until when its new connections start with an empty bucket
MESSAGE_TYPES = ("load", "model", "step", "undo", "redo", "jump", "move", "explore", "cancel", "state", "ping",
                 "lesson")


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
    if kind is float and (isinstance(v, bool) or not isinstance(v, (int, float))):
        raise _Bad(f"'{key}' must be a number")
    return v


class _Connection:
    def __init__(self, ws: WebSocket, runner: JobRunner):
        self.ws = ws
        self.runner = runner
        self.session = Session()
        self.client = ws.client.host if ws.client else "unknown"  # explorations count against this address
        self.send_lock = asyncio.Lock()
        self.explore_task: asyncio.Task | None = None
        self.job = None
        # an address just closed for flooding gets no fresh burst by reconnecting: it starts empty
        self.tokens = 0.0 if _flooded.get(self.client, 0.0) > time.monotonic() else BURST
        self.t_last = time.monotonic()
        self.drops, self.drop_window = 0, time.monotonic()
        self.thread_cpu = 0.0  # CPU seconds the current message used in worker threads
        self.closed = False

    async def send(self, msg: dict) -> None:
        if self.closed:
            return
        c0 = time.thread_time()
        text = json.dumps(msg, default=str)
        self._charge(time.thread_time() - c0)  # writing a large state or result is work too
        async with self.send_lock:
            try:
                await self.ws.send_text(text)
            except Exception:  # the client left mid-send
                self.closed = True

    async def error(self, re, request, err: dict) -> None:
        await self.send({"type": "error", "re": re, "request": request, "error": err})

    def _charge(self, cpu_seconds: float) -> None:
        """Take CPU time from the bucket: at CPU_SHARE of the time the refill is all used up.
        At most a minute's worth of refusals."""
        self.tokens = max(-60 * RATE, self.tokens - cpu_seconds * RATE / CPU_SHARE)

    async def _threaded(self, fn, *args):
        """`fn(*args)` in a thread, its CPU time added to this message's cost."""

        def run():
            c0 = time.thread_time()
            try:
                return fn(*args)
            finally:
                self.thread_cpu += time.thread_time() - c0

        return await asyncio.to_thread(run)

    def _rate_ok(self, cost: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.t_last) * RATE)
        self.t_last = now
        if self.tokens < 1:
            if now - self.drop_window > FLOOD_WINDOW:
                self.drops, self.drop_window = 0, now
            self.drops += 1
            return False
        self.tokens -= cost
        return True

    async def run(self) -> None:
        await self.send({"type": "hello", "protocol": PROTOCOL_VERSION, "version": __version__,
                         "models": list(MODELS), "messages": list(MESSAGE_TYPES)})
        try:
            while True:
                frame = await self.ws.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                text = frame.get("text")
                await self.handle(text if text is not None else frame.get("bytes") or b"")
                if self.drops > FLOOD_DROPS:
                    now = time.monotonic()
                    for a in [a for a, t in _flooded.items() if t < now]:  # forget old ones
                        del _flooded[a]
                    _flooded[self.client] = now + FLOOD_WINDOW
                    await self.ws.close(code=1008, reason="flooding: far more messages than the rate limit")
                    break
        except WebSocketDisconnect:
            pass
        finally:
            self.closed = True
            self.cancel_exploration()

    def cancel_exploration(self) -> None:
        if self.job is not None:
            self.job.cancel()
        if self.explore_task is not None and self.closed:
            self.explore_task.cancel()

    async def handle(self, text: str | bytes) -> None:
        # rate first, everything counted (binary and oversized frames too: large ones cost more)
        if not self._rate_ok(1.0 + len(text) // TOKEN_CHARS):
            if self.drops > BURST:
                return
            why = (f"more than {RATE:g} messages a second" if self.tokens > -1 else
                   f"this session kept the server busy more than {CPU_SHARE:.0%} of the time; messages are "
                   f"dropped for {(1 - self.tokens) / RATE:.1f} s more")
            await self.error(None, None, {"code": "rate-limited", "message": f"{why}: this one was dropped"})
            return
        if isinstance(text, bytes):
            await self.error(None, None, {"code": "bad-message", "message": "send JSON text frames"})
            return
        if len(text) > MAX_MESSAGE:
            await self.error(None, None, {"code": "too-large", "message": f"a message is at most {MAX_MESSAGE:,} "
                                          f"characters; this one has {len(text):,}"})
            return
        try:
            msg = json.loads(text)
        except ValueError as e:
            await self.error(None, None, {"code": "bad-json", "message": f"not JSON: {e}"})
            return
        except RecursionError:  # '[[[[...' nests past the decoder's depth: refuse, keep the session
            await self.error(None, None, {"code": "bad-json", "message": "the JSON nests too deeply"})
            return
        if not isinstance(msg, dict):
            await self.error(None, None, {"code": "bad-message", "message": "a message is a JSON object with 'type'"})
            return
        re, kind = msg.get("id"), msg.get("type")
        if kind not in MESSAGE_TYPES:
            await self.error(re, kind, {"code": "unknown-type", "message": f"unknown message type {kind!r} "
                                        f"(known: {', '.join(MESSAGE_TYPES)})"})
            return
        c0, self.thread_cpu = time.thread_time(), 0.0
        try:
            replies = await getattr(self, f"_on_{kind}")(msg)
        except PinraceError as e:
            await self.error(re, kind, e.to_dict())
            return
        except Exception:
            log.exception("websocket %s failed", kind)
            await self.error(re, kind, {"code": "internal-error", "message": "internal error (logged); "
                                        "the session is unchanged"})
            return
        finally:
            # CPU time, not wall time: a step must not cost more because others make the server slow.
            # Threaded handlers measure their thread; the others ran on this thread without awaiting.
            self._charge(self.thread_cpu if kind in _THREADED else time.thread_time() - c0)
        if (self.session.lesson is not None and kind != "lesson"
                and any(r.get("type") == "state" for r in replies or ())):
            replies = [*replies, self.session.goal_message()]  # a lesson's goal, judged on every new state
        for r in replies or ():
            r["re"] = re
            await self.send(r)

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
        self.thread_cpu += await precompile(self.runner, src, lb)  # a large text compiles out of process
        return await self._threaded(self.session.load, src, model, lb)

    def _check_model(self, model) -> None:
        if model is not None and model not in MODELS:
            raise _Bad(f"unknown model {model!r} (choose from {', '.join(MODELS)})")

    async def _on_model(self, msg):
        model = _field(msg, "model", str)
        self._check_model(model)
        return await self._threaded(self.session.set_model, model)

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
        ms = _field(b, "max_states", int, required=False) or DEFAULT_STATES
        secs = _field(b, "max_seconds", float, required=False) or DEFAULT_SECONDS
        if ms < 1 or secs <= 0:
            raise _Bad("budgets must be positive")
        budget = {"max_states": min(ms, MAX_STATES), "max_seconds": min(float(secs), MAX_SECONDS)}
        job = self.runner.submit(work.run_check, s.scenario.text, model, budget, s.loop_bound, progress=True,
                                 client=self.client)
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
                    g = await asyncio.to_thread(self.session.result_goal, model, out["result"], text)
                    await self.send({**g, "re": re})
        except asyncio.CancelledError:
            job.cancel()
        finally:
            if self.job is job:
                self.job = None


async def serve_session(ws: WebSocket, runner: JobRunner) -> None:
    """Run one websocket session until the client leaves; its exploration is cancelled then."""
    await ws.accept()
    await _Connection(ws, runner).run()
