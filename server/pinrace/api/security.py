"""Security headers, closed CORS and the websocket origin check of a public instance.

* Every HTTP response gets a strict Content-Security-Policy: scripts, styles and
  everything else from the app's own origin only, no inline script, no framing, no
  plugins; the websocket back to the same host is the only other connection allowed.
  The browser app (frontend/) is plain ES modules and a stylesheet, so it needs nothing
  more.  The OpenAPI pages (/docs, /redoc) are FastAPI's: they load Swagger UI / ReDoc
  from a CDN and start it with one inline script, which is allowed by its SHA-256
  (computed from the page as served), never by 'unsafe-inline'.
* CORS is closed: no Access-Control-* header unless PINRACE_CORS_ORIGINS lists origins.
* Browsers do not apply CORS to websockets, so /ws checks Origin itself: a page on
  another site may not drive a session (absent Origin, as from non-browser clients, is
  fine: they could forge it anyway).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from urllib.parse import urlsplit

__all__ = ["SecurityHeaders", "cors_origins", "origin_allowed", "CSP", "DOCS_PATHS"]

# a Host header is echoed into connect-src: only characters a host:port may have, so a forged
# header cannot add directives to its own response
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)

DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")
_CDN = "https://cdn.jsdelivr.net"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'{ws}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

_DOCS_CSP = ("default-src 'self'; script-src 'self' " + _CDN + "{hashes}; "
             "style-src 'self' " + _CDN + " 'unsafe-inline' https://fonts.googleapis.com; "
             "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
             "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
             "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

_FIXED = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # share links live in the fragment; send nothing anyway
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers without CSP 2
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
]


def cors_origins(env: dict[str, str] | None = None) -> list[str]:
    """PINRACE_CORS_ORIGINS: comma-separated origins allowed to call the API from a browser (default none)."""
    raw = (os.environ if env is None else env).get("PINRACE_CORS_ORIGINS", "")
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]


def _host(headers) -> str | None:
    for k, v in headers:
        if k == b"host":
            h = v.decode("latin-1").strip()
            return h if _HOST.match(h) else None
    return None


def _csp(headers) -> bytes:
    host = _host(headers)
    ws = f" ws://{host} wss://{host}" if host else ""  # CSP 3 browsers take 'self' for ws too; older ones not
    return CSP.format(ws=ws).encode("latin-1")


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """May a websocket from page `origin` talk to this server (reached as `host`)?"""
    if origin is None:
        return True
    if origin.rstrip("/") in allowed:
        return True
    try:
        o = urlsplit(origin)
    except ValueError:
        return False
    return bool(host) and o.scheme in ("http", "https") and o.netloc.lower() == host.lower()


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response (never replacing one set by a route)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("path") in DOCS_PATHS:
            return await self._docs(scope, receive, send)
        csp = _csp(scope.get("headers", ()))

        async def with_headers(m):
            if m["type"] == "http.response.start":
                m = {**m, "headers": _merge(m.get("headers", []), [(b"content-security-policy", csp), *_FIXED])}
            await send(m)

        await self.app(scope, receive, with_headers)

    async def _docs(self, scope, receive, send):
        # buffer the (small) page to hash its inline script into the policy
        start: dict | None = None
        chunks: list[bytes] = []

        async def collect(m):
            nonlocal start
            if m["type"] == "http.response.start":
                start = m
                return
            if m["type"] == "http.response.body":
                chunks.append(m.get("body", b""))
                if m.get("more_body"):
                    return
                body = b"".join(chunks)
                hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                                 for s in _INLINE_SCRIPT.findall(body))
                csp = _DOCS_CSP.format(hashes=hashes).encode()
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": _merge(headers, [(b"content-security-policy", csp), *_FIXED])})
                await send({"type": "http.response.body", "body": body})
                return
            await send(m)

        await self.app(scope, receive, collect)


def _merge(headers, extra) -> list:
    have = {k.lower() for k, _ in headers}
    return list(headers) + [(k, v) for k, v in extra if k not in have]
