"""REST routes under /api: thin wrappers over the library, the engine and the worker pool."""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from .. import __version__
from ..engine.models import MODELS
from ..engine.view import describe
from ..errors import PinraceError, SourceError
from ..explore.replay import replay
from ..formats.diagram import step_label
from ..formats.schedule import schedule_from_json
from ..library import builtins, find
from . import work
from .problem import ApiError, error_responses
from .scenario import compile_cached, condition_text, precompile, resolve, stepper
from .schemas import (
    CheckRequest,
    CheckResponse,
    DiffRequest,
    DiffResponse,
    Health,
    HerdResult,
    Lesson,
    LessonCheckRequest,
    LessonInfo,
    LessonVerdict,
    LitmusRequest,
    Protocol,
    ProtocolSummary,
    ReplayRequest,
    ReplayResponse,
    ScenarioInfo,
    ScheduleObject,
    ScheduleStep,
)
from .session import MAX_RUN
from .views import explain, verdict

__all__ = ["router"]

router = APIRouter(prefix="/api")


def _runner(request: Request):
    return request.app.state.runner


def client_key(request: Request) -> str:
    """Whose share an exploration counts against: the peer address (behind a proxy, the proxy's,
    unless uvicorn runs with --proxy-headers and --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


# ---- health and protocols ---------------------------------------------------------------


@router.get("/health", response_model=Health, summary="Liveness and worker pool status")
def health(request: Request) -> Health:
    r = _runner(request)
    return Health(version=__version__, workers=r.workers, explorations=r.active)


def _scenarios(b) -> list[ScenarioInfo]:
    """A built-in's scenarios: the library's own list when it has one, else the file itself."""
    names = getattr(b, "scenarios", None) or [b.name]
    out = []
    for n in names:
        name = n if isinstance(n, str) else getattr(n, "name", str(n))
        try:
            prog = compile_cached(b.source if name == b.name else find(name).source)
            out.append(ScenarioInfo(name=name, test=prog.name, condition=condition_text(prog) or None,
                                    cpus=len(prog.threads)))
        except PinraceError as e:
            out.append(ScenarioInfo(name=name, error=e.to_dict()))
    return out


@router.get("/protocols", response_model=list[ProtocolSummary], summary="The built-in protocols")
def protocols() -> list[ProtocolSummary]:
    return [ProtocolSummary(name=b.name, description=b.description, scenarios=_scenarios(b)) for b in builtins()]


@router.get("/protocols/{name}", response_model=Protocol, responses=error_responses(404),
            summary="One built-in protocol with its source")
def protocol(name: str) -> Protocol:
    b = find(name)  # LibraryError -> 404
    src = b.source
    return Protocol(name=b.name, description=b.description, scenarios=_scenarios(b), source=src,
                    sha256=hashlib.sha256(src.encode()).hexdigest())


# ---- check --------------------------------------------------------------------------------


def _models(model: str) -> list[str]:
    return list(MODELS) if model == "all" else [model]


async def _compile(request: Request, text: str, loop_bound: int | None = None):
    await precompile(_runner(request), text, loop_bound)  # a large text compiles out of this process
    return await asyncio.to_thread(compile_cached, text, loop_bound)


def _merge(outs: dict[str, dict]) -> tuple[dict, dict]:
    results, errors = {}, {}
    for m, out in outs.items():
        if "error" in out:
            errors[m] = out
        else:
            results[m] = out["result"]
    if not results:
        # nothing ran: answer with the first model's error and its status
        first = next(iter(errors.values()))
        raise ApiError(first.get("status", 422), first["error"])
    return results, {m: e["error"] for m, e in errors.items()}


@router.post("/check", response_model=CheckResponse, responses=error_responses(404, 413, 422, 429, 503),
             summary="Exhaustively check a scenario under one model or all")
async def check(req: CheckRequest, request: Request) -> CheckResponse:
    """Every final state, the verdict, shortest counterexample schedules and statistics.

    `incomplete` names the budget that stopped a run (states, time, ...): the verdict is
    then only as good as the part explored.
    """
    sc = resolve(req.scenario)
    prog = await _compile(request, sc.text, req.loop_bound)
    runner = _runner(request)
    budget = req.budget.capped()
    models = _models(req.model)
    runner.admit(client_key(request), len(models))
    jobs = [runner.submit(work.run_check, sc.text, m, budget, req.loop_bound, client=client_key(request))
            for m in models]
    outs = dict(zip(models, await asyncio.gather(*(j.result() for j in jobs)), strict=True))
    results, errors = _merge(outs)
    incomplete = next((r["incomplete"] for r in results.values() if r["incomplete"]), None)
    if any(r["bad_reachable"] for r in results.values()):
        overall = "reachable"
    elif incomplete:
        overall = "incomplete"
    else:
        overall = "unreachable" if not errors else "error"
    return CheckResponse(scenario=sc.label, test=prog.name, condition=condition_text(prog), models=models,
                         verdict=overall, incomplete=incomplete, results=results, errors=errors)


# ---- replay -------------------------------------------------------------------------------


def _schedule_data(s):
    if isinstance(s, ScheduleObject):
        return s.model_dump()
    if isinstance(s, list):
        return [x.model_dump() if isinstance(x, ScheduleStep) else x for x in s]
    return s


def _replay(req: ReplayRequest) -> ReplayResponse:
    sc = resolve(req.scenario)
    prog = compile_cached(sc.text, req.loop_bound)
    machine = stepper(req.model, prog)
    steps = schedule_from_json(_schedule_data(req.schedule))
    if len(steps) > MAX_RUN:
        raise ApiError(413, {"code": "too-long", "message": f"a schedule has at most {MAX_RUN} steps"})
    states, taken = replay(machine, steps)
    views = [describe(machine, s, taken[i - 1] if i else None) for i, s in enumerate(states)]
    out_steps = []
    for i, t in enumerate(taken):
        why = explain(machine, t, views[i], views[i + 1], states[i + 1])
        out_steps.append({"index": i, "token": t.token(), "cpu": t.cpu, "op": t.op,
                          "label": step_label(machine, t), "explanation": why})
    return ReplayResponse(scenario=sc.label, model=req.model, schedule=[t.token() for t in taken], steps=out_steps,
                          states=views, verdict=verdict(machine, states[-1]))


@router.post("/replay", response_model=ReplayResponse, responses=error_responses(404, 413, 422),
             summary="Replay a schedule: every state, each step explained, and the verdict")
async def replay_route(req: ReplayRequest) -> ReplayResponse:
    """An invalid step answers 422 with `error.step` (0-based) and `error.rule` (why the engine refuses it)."""
    return await asyncio.to_thread(_replay, req)


# ---- litmus -------------------------------------------------------------------------------


@router.post("/litmus", response_model=HerdResult, responses={
    **error_responses(413, 422, 429, 503),
    200: {"content": {"text/plain": {"example": "Test SB Allowed\nStates 4\n0:r0=0; 1:r0=0;\n...\n"}},
          "description": "herd7's result as JSON, or herd7's own text with `Accept: text/plain`"}},
    summary="Run a litmus test: herd7's result as JSON or herd7's text")
async def litmus(req: LitmusRequest, request: Request):
    await _compile(request, req.source)
    job = _runner(request).submit(work.run_litmus, req.source, req.model, req.budget.capped(),
                                  client=client_key(request))
    out = await job.result()
    if "error" in out:
        raise ApiError(out.get("status", 422), out["error"])
    accept = request.headers.get("accept", "")
    if "text/plain" in accept and "application/json" not in accept:
        return PlainTextResponse(out["text"])
    return out["json"]


# ---- diff ---------------------------------------------------------------------------------


@router.post("/diff", response_model=DiffResponse, responses=error_responses(404, 413, 422, 429, 503),
             summary="Final states only one of two scenario versions allows")
async def diff(req: DiffRequest, request: Request) -> DiffResponse:
    """Compared on the observed locations both versions share; each state comes with a
    shortest schedule in the version that allows it."""
    old, new = resolve(req.old), resolve(req.new)
    for sc, which in ((old, "old"), (new, "new")):
        try:
            await _compile(request, sc.text)
        except SourceError as e:
            d = e.to_dict()
            d["message"] = f"{which}: {d['message']}"
            raise ApiError(422, d) from None
    runner = _runner(request)
    models = _models(req.model)
    runner.admit(client_key(request), len(models))
    jobs = [runner.submit(work.run_diff, old.text, new.text, m, req.budget.capped(), client=client_key(request))
            for m in models]
    outs = dict(zip(models, await asyncio.gather(*(j.result() for j in jobs)), strict=True))
    results, errors = _merge(outs)
    differ = any(r["only_old"] or r["only_new"] for r in results.values())
    return DiffResponse(old=old.label, new=new.label, differ=differ, results=results, errors=errors)



# ---- lessons (docs/lessons.md) ------------------------------------------------------------


@router.get("/lessons", response_model=list[LessonInfo], summary="The lessons, in course order")
def lesson_list() -> list[LessonInfo]:
    from ..lessons import lessons

    ls = lessons()
    return [LessonInfo(**x.to_dict(len(ls))) for x in ls]


@router.get("/lessons/{name}", response_model=Lesson, responses=error_responses(404),
            summary="One lesson with the scenario source it plays")
def lesson_one(name: str) -> Lesson:
    from ..lessons import find_lesson, lessons

    x = find_lesson(name)  # LessonError -> 404
    return Lesson(**x.to_dict(len(lessons())), text=x.text)


def _lesson_run(x, req: LessonCheckRequest) -> dict:
    from ..lessons import judge_run

    text = req.source or x.text
    model = req.model or x.goal.model or x.model
    prog = compile_cached(text)
    machine = stepper(model, prog)
    steps = schedule_from_json(_schedule_data(req.schedule)) if req.schedule is not None else []
    if len(steps) > MAX_RUN:
        raise ApiError(413, {"code": "too-long", "message": f"a schedule has at most {MAX_RUN} steps"})
    states, taken = replay(machine, steps)
    from .views import timeline_entry

    timeline = [dict(timeline_entry(machine, i, t, states[i + 1]), applied=True) for i, t in enumerate(taken)]
    return judge_run(x, machine, states[-1], timeline, text, model)


@router.post("/lesson-check", response_model=LessonVerdict, responses=error_responses(404, 413, 422, 429, 503),
             summary="Judge a lesson's goal: on a run (schedule), or on the exhaustive check of a protocol")
async def lesson_check(req: LessonCheckRequest, request: Request) -> LessonVerdict:
    """Goals met by a run (bad-outcome, final-state, reorder) replay `schedule`; goals met by the
    exhaustive check (unreachable, fix) run it under the goal's model on `source` (an edited
    protocol) or the lesson's own scenario.  The server judges; `why` says what is missing."""
    from ..lessons import CHECK_GOALS, find_lesson, judge_result

    x = find_lesson(req.lesson)
    text = req.source or x.text
    if x.goal.kind not in CHECK_GOALS:
        await _compile(request, text)
        out = await asyncio.to_thread(_lesson_run, x, req)
    else:
        model = req.model or x.goal.model
        await _compile(request, text)
        runner = _runner(request)
        runner.admit(client_key(request), 1)
        job = runner.submit(work.run_check, text, model, req.budget.capped(), client=client_key(request))
        res = await job.result()
        if "error" in res:
            raise ApiError(res.get("status", 422), res["error"])
        out = await asyncio.to_thread(judge_result, x, model, res["result"], text)
    return LessonVerdict(**out, explain=x.explain if out["met"] else None)
