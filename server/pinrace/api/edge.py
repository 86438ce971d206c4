"""What every request meets before a route sees it: the Host check, connections per client, the body guard.

* Host allow-list (PINRACE_ALLOWED_HOSTS): a page on rebind.evil.example whose DNS name
  was pointed at 127.0.0.1 reaches this server with `Host: rebind.evil.example`.  Only the
  names the server is meant to be reached by are served (default: the loopback names and
  the address it binds to); anything else is a 400 (HTTP) or a refused websocket, so
  DNS rebinding cannot reach the API or open a session.
* Connections per client address (PINRACE_MAX_CONNECTIONS_PER_CLIENT): websockets open
  and HTTP requests in progress.  Past that: 429 `too-many-connections`, a refused websocket.
* The body guard reads a request's whole body before the app does: at most
  PINRACE_MAX_BODY_BYTES (413 `too-large`, chunked bodies included, before anything is
  parsed), within PINRACE_BODY_SECONDS (408 `too-slow`: a client trickling a body holds
  nothing for long), nested at most PINRACE_MAX_JSON_DEPTH deep (422, checked on the text:
  Python's parser recurses), and with no lone surrogate in any string (422 naming the field:
  text a file could not hold).

These are ASGI middlewares (no BaseHTTPMiddleware): they see websockets too, and stream answers
through untouched.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable

from fastapi.responses import JSONResponse

from ..formats.json_checks import json_too_deep, lone_surrogate, may_hold_surrogates
from ..limits import LIMITS
from .problem import error_body

__all__ = ["HostAllowList", "PerClient", "BodyGuard", "allowed_hosts", "LOOPBACK_NAMES"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def allowed_hosts(bind: str | None = None, env: dict[str, str] | None = None) -> list[str]:
    """PINRACE_ALLOWED_HOSTS (comma-separated names; `*` allows any), else the loopback names and `bind`."""
    raw = (os.environ if env is None else env).get("PINRACE_ALLOWED_HOSTS", "")
    names = [h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip()]
    if names:
        return names
    extra = [bind.lower()] if bind and bind not in ("0.0.0.0", "::") else []
    return [*LOOPBACK_NAMES, *extra]


def _hostname(value: str) -> str:
    """`name:port` / `[v6]:port` / `name` -> the name, lower case, without a trailing dot."""
    v = value.strip().lower()
    if v.startswith("["):
        return v[1:v.find("]")] if "]" in v else v
    if v.count(":") == 1:
        v = v.split(":", 1)[0]
    return v.rstrip(".")


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


async def _refuse(scope, receive, send, status: int, code: str, message: str, headers: Iterable = ()) -> None:
    """An HTTP error answer, or for a websocket the refusal of its handshake (the client sees 403)."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect: the handshake, then its refusal
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    resp = JSONResponse(error_body({"code": code, "message": message}), status, headers=dict(headers))
    await send({"type": "http.response.start", "status": status, "headers": resp.raw_headers})
    await send({"type": "http.response.body", "body": resp.body})


class HostAllowList:
    """Refuse requests and websockets whose Host is not one this server is reached by."""

    def __init__(self, app, hosts: list[str]):
        self.app = app
        self.any = "*" in hosts
        self.hosts = set(hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or self.any:
            return await self.app(scope, receive, send)
        host = _header(scope, b"host")
        if host is None or _hostname(host) not in self.hosts:
            return await _refuse(scope, receive, send, 400, "bad-host",
                                 f"this server does not answer to the host name {host!r}"[:200]
                                 + " (PINRACE_ALLOWED_HOSTS)")
        return await self.app(scope, receive, send)


class PerClient:
    """At most `limit` websockets open plus HTTP requests in progress per client address."""

    def __init__(self, app, limit: int | None = None):
        self.app = app
        self.limit = limit
        self.open: dict[str, int] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        client = scope["client"][0] if scope.get("client") else "unknown"
        limit = self.limit or LIMITS.connections_per_client
        n = self.open.get(client, 0)
        if n >= limit:
            return await _refuse(scope, receive, send, 429, "too-many-connections",
                                 f"this address has {n} connections in use; the limit is {limit} "
                                 "(PINRACE_MAX_CONNECTIONS_PER_CLIENT)", [("retry-after", "1")])
        self.open[client] = n + 1
        try:
            return await self.app(scope, receive, send)
        finally:
            left = self.open.get(client, 1) - 1
            if left > 0:
                self.open[client] = left
            else:
                self.open.pop(client, None)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


class BodyGuard:
    """Read the body first, bounded in size, time, nesting and Unicode; then hand it to the app."""

    def __init__(self, app, limit: int | None = None):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit or LIMITS.body_bytes
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            return await _refuse(scope, receive, send, 413, "too-large", f"request bodies are at most {limit:,} bytes",
                                 [("connection", "close")])
        try:
            async with asyncio.timeout(LIMITS.body_seconds):
                body, tail = await self._read(receive, limit)
            self._check(scope, body)
        except TimeoutError:
            return await _refuse(scope, receive, send, 408, "too-slow", f"the request body did not arrive within "
                                 f"{LIMITS.body_seconds:g} s (PINRACE_BODY_SECONDS)", [("connection", "close")])
        except _Refused as e:
            close = [("connection", "close")] if e.status == 413 else []
            return await _refuse(scope, receive, send, e.status, e.code, e.message, close)
        if tail is not None:  # the client left while sending: nobody to answer
            return
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then what the server says next: http.disconnect

        return await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive, limit: int) -> tuple[bytes, dict | None]:
        chunks, total = [], 0
        while True:
            m = await receive()
            if m["type"] == "http.disconnect":
                return b"", m
            chunk = m.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise _Refused(413, "too-large", f"request bodies are at most {limit:,} bytes")
            chunks.append(chunk)
            if not m.get("more_body"):
                return b"".join(chunks), None

    @staticmethod
    def _check(scope, body: bytes) -> None:
        if not body:
            return
        ctype = (_header(scope, b"content-type") or "application/json").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            return  # the route refuses what it cannot read
        if json_too_deep(body, LIMITS.json_depth):
            raise _Refused(422, "bad-request", f"the JSON nests more than {LIMITS.json_depth} deep "
                           "(PINRACE_MAX_JSON_DEPTH)")
        if not may_hold_surrogates(body):
            return  # (the common case: one search, no parse)
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return  # not JSON: FastAPI says so (400)
        where = lone_surrogate(value)
        if where is not None:
            raise _Refused(422, "bad-request", f"{where}: the text is not valid Unicode (a lone surrogate, "
                           "as JSON can spell with \\ud800): text a file could not hold")
