"""Errors as the API answers them: {"error": {"code", "message", "line", "column", ...}}.

(Refusals before a route runs — Host, connections, body size, time and nesting — are edge.py's.)

User errors are 4xx with a position when there is one; pinrace's own faults are 500
with a generic message and the traceback in the server log only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import EngineFault, PinraceError, ScheduleError, SourceError
from ..library import LibraryError
from .jobs import Busy, TooMany
from .scenario import RemoteError, StepUnsupported

__all__ = ["ApiError", "install", "error_body", "error_responses"]

log = logging.getLogger("pinrace.api")

_HTTP_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed", 408: "too-slow", 413: "too-large",
               415: "unsupported-media-type", 422: "bad-request", 429: "too-many-requests", 503: "busy"}


class ApiError(Exception):
    """An error the routes raise with an explicit status and body."""

    def __init__(self, status: int, body: dict):
        self.status = status
        self.body = body


def error_body(d: dict) -> dict:
    """The envelope, with line and column always present (null when there is no position)."""
    # 0 is the engine's "no position" (lines and columns count from 1)
    body = {"code": d.get("code", "error"), "message": d.get("message", ""),
            "line": d.get("line") or None, "column": d.get("column") or None}
    for k in ("step", "rule", "detail", "why"):  # why: an lkmm refusal's axiom, edges and cycle
        if d.get(k) is not None:
            body[k] = d[k]
    return {"error": body}


def error_responses(*codes: int) -> dict:
    """OpenAPI `responses` entries for the given error statuses."""
    from .schemas import ErrorResponse

    if 422 in codes:  # a body that is not JSON at all is a 400 (FastAPI's), one over the limit a 413 (edge.py)
        codes = tuple(sorted({400, 413, *codes}))
    text = {400: "the body is not JSON, or the Host is not one this server answers to",
            404: "unknown built-in protocol",
            408: "the body did not arrive in time", 413: "request too large",
            422: "bad scenario, schedule or request, or a job over its budget (over-budget)",
            429: "this client already runs its share of jobs, or has too many connections",
            503: "too many jobs running (busy), or the job's worker process died (worker-died)"}
    return {c: {"model": ErrorResponse, "description": text.get(c, "error")} for c in codes}


def _status(e: PinraceError) -> int:
    if isinstance(e, RemoteError):
        return e.status
    if isinstance(e, LibraryError):
        return 404
    if isinstance(e, TooMany):
        return 429
    if isinstance(e, Busy):
        return 503
    if isinstance(e, EngineFault):
        return 500
    if isinstance(e, (SourceError, ScheduleError, StepUnsupported)):
        return 422
    return 422


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the JSON envelope."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, e: ApiError):
        return JSONResponse(error_body(e.body), status_code=e.status)

    from .routing import ClientGone

    @app.exception_handler(ClientGone)
    async def _gone(request: Request, e: ClientGone):
        return Response(status_code=204)  # nobody is there to read it; its jobs were cancelled

    @app.exception_handler(PinraceError)
    async def _pinrace(request: Request, e: PinraceError):
        status = _status(e)
        if status == 500:
            log.error("engine fault: %s", e)
            return JSONResponse(error_body({"code": e.code, "message": "internal error in pinrace (logged)"}), 500)
        return JSONResponse(error_body(e.to_dict()), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        detail = [{"loc": [str(x) for x in err.get("loc", ())], "msg": str(err.get("msg", "")),
                   "type": str(err.get("type", ""))} for err in e.errors()]
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(x for x in first["loc"] if x != "body")
        msg = f"{where}: {first['msg']}" if where else first["msg"]
        return JSONResponse(error_body({"code": "bad-request", "message": msg, "detail": detail}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        code = _HTTP_CODES.get(e.status_code, "http-error")
        return JSONResponse(error_body({"code": code, "message": str(e.detail)}), e.status_code,
                            headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body({"code": "internal-error", "message": "internal error in pinrace (logged)"}),
                            500)
