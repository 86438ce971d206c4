"""Security headers, closed CORS and the websocket origin check of a public instance.

* Every HTTP response gets a strict Content-Security-Policy: scripts, styles and
  everything else from the app's own origin only, no inline script, no framing, no
  plugins; the websocket back to the same host is the only other connection allowed.
  The browser app (frontend/) is plain ES modules and a stylesheet, so it needs nothing
  more.  The OpenAPI pages (/docs, /redoc, apidocs.py) load Swagger UI and ReDoc from the
  app's own files and have no inline script either; their policy differs only where those
  libraries need it: inline styles (ReDoc writes its CSS into <style> elements at run
  time) and a worker from a blob: URL (ReDoc's search index).
* CORS is closed: no Access-Control-* header unless PINRACE_CORS_ORIGINS lists origins.
* Browsers do not apply CORS to websockets, so /ws checks Origin itself: a page on
  another site may not drive a session (absent Origin, as from non-browser clients, is
  fine: they could forge it anyway).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

__all__ = ["SecurityHeaders", "cors_origins", "origin_allowed", "CSP", "DOCS_PATHS"]

# a Host header is echoed into connect-src: only characters a host:port may have, so a forged
# header cannot add directives to its own response
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

DOCS_PATHS = ("/docs", "/redoc")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'{ws}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

_DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
             "font-src 'self'; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
             "form-action 'self'; frame-ancestors 'none'").encode("latin-1")

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
        csp = _DOCS_CSP if scope.get("path") in DOCS_PATHS else _csp(scope.get("headers", ()))

        async def with_headers(m):
            if m["type"] == "http.response.start":
                m = {**m, "headers": _merge(m.get("headers", []), [(b"content-security-policy", csp), *_FIXED])}
            await send(m)

        await self.app(scope, receive, with_headers)


def _merge(headers, extra) -> list:
    have = {k.lower() for k, _ in headers}
    return list(headers) + [(k, v) for k, v in extra if k not in have]
