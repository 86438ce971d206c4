"""FastAPI application factory: REST under /api, the websocket at /ws, the browser app at /.

Routes are thin; all semantics come from the engine.  Explorations run in a process pool
(jobs.py) started with the app and stopped with it.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import __version__
from . import problem
from .jobs import JobRunner
from .rest import router
from .share import router as share_router
from .ws import serve_session

__all__ = ["create_app", "FRONTEND"]

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"

_DESCRIPTION = """Check and step page-pin races in the Linux kernel under sc, x86-TSO and the LKMM.

A scenario is a built-in protocol name (`GET /api/protocols`) or scenario source text (the
LKMM litmus format, extended for struct page). Errors are JSON:
`{"error": {"code", "message", "line", "column"}}`, with `step` and `rule` for schedules.
Interactive stepping is on the websocket at `/ws` (see docs/websocket.md).
"""


def create_app(runner: JobRunner | None = None, frontend: Path | None = FRONTEND) -> FastAPI:
    """The web app.  `runner` is the exploration pool (one is made when None)."""
    runner = runner or JobRunner()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runner.warm()
        try:
            yield
        finally:
            runner.shutdown()

    app = FastAPI(title="pinrace", version=__version__, description=_DESCRIPTION, lifespan=lifespan)
    app.state.runner = runner
    problem.install(app)
    app.add_middleware(problem.BodyLimit)
    app.include_router(router)
    app.include_router(share_router)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await serve_session(websocket, runner)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def api_fallback(request: Request, rest: str):
        # an /api path no route takes: 405 when another method would, else 404 (never the frontend)
        for route in [*router.routes, *share_router.routes]:
            if isinstance(route, APIRoute) and route.matches(request.scope)[0] == Match.PARTIAL:
                raise StarletteHTTPException(405, f"{request.method} is not allowed on {request.url.path}")
        raise StarletteHTTPException(404, f"no API endpoint {request.url.path} (see /docs)")

    if frontend is not None and frontend.is_dir():
        app.mount("/", StaticFiles(directory=frontend, html=True), name="frontend")  # last: catches the rest
    return app
