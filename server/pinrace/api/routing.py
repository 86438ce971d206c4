"""What the REST routes share: whose request it is, and running its jobs until they answer or the client leaves."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import Response

from . import work
from .problem import ApiError
from .rawjson import dumps

__all__ = ["client_key", "answers", "one_job", "ClientGone", "json_response", "schedule_steps"]


def client_key(request: Request) -> str:
    """Whose share a job counts against: the peer address (behind a proxy, the proxy's,
    unless uvicorn runs with --proxy-headers and --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


class ClientGone(Exception):
    """The client closed the connection while its jobs ran: they were cancelled; nobody reads an answer."""


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away.  Once the body is read, the server's next message for this
    request is http.disconnect: when the client closes the connection, or when the answer is sent."""
    while True:
        msg = await request.receive()
        if msg["type"] == "http.disconnect":
            return


async def answers(request: Request, jobs: list) -> list[dict]:
    """The jobs' answers; if the client leaves first, the jobs are cancelled (they stop within
    ~50 ms and free their workers) and ClientGone ends the request."""
    pending = asyncio.ensure_future(asyncio.gather(*(j.result() for j in jobs)))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({pending, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if pending.done():
        return pending.result()
    for j in jobs:
        j.cancel()
    pending.cancel()
    raise ClientGone


def answer(out: dict) -> dict:
    """A one-job route's answer, or its error with the job's status."""
    if "error" in out:
        raise ApiError(out.get("status", 422), out["error"])
    return out["result"]


async def one_job(request: Request, fn, *args, what: str) -> dict:
    """Run `fn(*args)` in a worker for this client (stepping budget), cancelled if the client leaves."""
    job = request.app.state.runner.submit(fn, *args, client=client_key(request), seconds=work.prepare_seconds(),
                                          what=what)
    (out,) = await answers(request, [job])
    return answer(out)




def json_response(obj, status: int = 200) -> Response:
    """An answer whose values may be Raw JSON made in a worker: spliced, not parsed and validated again
    (the route's response_model stays its documentation; the worker built it to that shape)."""
    return Response(content=dumps(obj), status_code=status, media_type="application/json")


def schedule_steps(data) -> list:
    """A request's schedule as steps, its length checked before it is parsed (413 `too-long` past
    PINRACE_MAX_RUN_STEPS): a megabyte of '0 ' is half a million tokens, counted at C speed here
    rather than parsed one by one."""
    from ..formats.schedule import schedule_from_json
    from ..limits import LIMITS

    if isinstance(data, str):
        n = len(data.replace(",", " ").split())
    elif isinstance(data, dict):
        n = len(data.get("steps") or ()) if isinstance(data.get("steps"), list) else 0
    else:
        n = len(data) if isinstance(data, list) else 0
    if n > LIMITS.run_steps:
        raise ApiError(413, {"code": "too-long", "message": f"a schedule has at most {LIMITS.run_steps:,} steps "
                             "(PINRACE_MAX_RUN_STEPS)"})
    return schedule_from_json(data)
