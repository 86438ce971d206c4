"""FastAPI application factory: REST under /api, the websocket at /ws, the browser app at /.

Routes are thin; all semantics come from the engine.  Explorations run in a process pool
(jobs.py) started with the app and stopped with it.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import __version__, assets
from . import apidocs, problem
from .edge import BodyGuard, HostAllowList, PerClient, allowed_hosts
from .jobs import JobRunner
from .rest import router
from .security import SecurityHeaders, cors_origins, origin_allowed
from .share import router as share_router
from .ws import serve_session

__all__ = ["create_app"]

_DESCRIPTION = """Check and step page-pin races in the Linux kernel under sc, x86-TSO and the LKMM.

A scenario is a built-in protocol name (`GET /api/protocols`) or scenario source text (the
LKMM litmus format, extended for struct page). Errors are JSON:
`{"error": {"code", "message", "line", "column"}}`, with `step` and `rule` for schedules.
Interactive stepping is on the websocket at `/ws` (see docs/websocket.md).
"""


def create_app(runner: JobRunner | None = None, frontend: Path | Literal["shipped"] | None = "shipped",
               bind: str | None = None) -> FastAPI:
    """The web app.  `runner` is the worker pool (one is made when None); `frontend` the
    browser app's folder: the one pinrace ships by default (AssetMissing when it is not there),
    None for an API-only app; `bind` the address the server listens on, which the Host
    allow-list accepts besides the loopback names."""
    if frontend == "shipped":
        frontend = assets.frontend_dir()
    elif frontend is not None and not (frontend / "index.html").is_file():
        raise assets.AssetMissing(f"no browser app in {frontend} (no index.html)")
    runner = runner or JobRunner()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runner.warm()
        try:
            yield
        finally:
            runner.shutdown()

    # /docs and /redoc are apidocs' pages (Swagger UI and ReDoc from files pinrace ships), not FastAPI's CDN ones
    app = FastAPI(title="pinrace", version=__version__, description=_DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.runner = runner
    problem.install(app)
    # outermost last: every answer carries the security headers; a wrong Host is refused before
    # anything else; then connections per client; the body is read (bounded) before any route
    app.add_middleware(BodyGuard)
    origins = cors_origins()
    if origins:  # closed unless PINRACE_CORS_ORIGINS names who may call the API from a browser
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["content-type", "accept"])
    app.add_middleware(PerClient)
    app.add_middleware(HostAllowList, hosts=allowed_hosts(bind))
    app.add_middleware(SecurityHeaders)
    app.include_router(router)
    app.include_router(share_router)
    apidocs.install(app)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), origins):
            await websocket.close(code=1008, reason="cross-origin websocket refused (PINRACE_CORS_ORIGINS)")
            return
        await serve_session(websocket, runner)

    @app.api_route("/api/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                   include_in_schema=False)
    async def api_fallback(request: Request, rest: str):
        # an /api path no route takes: 405 when another method would, else 404 (never the frontend)
        allowed = sorted({m for route in [*router.routes, *share_router.routes] if isinstance(route, APIRoute)
                          and route.matches(request.scope)[0] == Match.PARTIAL for m in route.methods})
        if allowed:  # RFC 9110: a 405 names the methods that would work
            raise StarletteHTTPException(405, f"{request.method} is not allowed on {request.url.path}",
                                         headers={"Allow": ", ".join(allowed)})
        raise StarletteHTTPException(404, f"no API endpoint {request.url.path} (see /docs)")

    if frontend is not None:
        app.mount("/", StaticFiles(directory=frontend, html=True), name="frontend")  # last: catches the rest
    return app
