"""REST routes under /api: thin wrappers over the library, the engine and the worker pool."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from .. import __version__
from ..engine.models import MODELS
from ..errors import PinraceError
from ..library import builtins, find
from ..limits import LIMITS
from . import tasks, work
from .problem import ApiError, error_body, error_responses
from .routing import answers, client_key, json_response, one_job, schedule_steps
from .scenario import compile_cached, condition_text, resolve
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

__all__ = ["router"]

router = APIRouter(prefix="/api")


def _runner(request: Request):
    return request.app.state.runner


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


# ---- jobs -------------------------------------------------------------------------------


def _models(model: str) -> list[str]:
    return list(MODELS) if model == "all" else [model]


def _merge(outs: dict[str, dict]) -> tuple[dict, dict]:
    results, errors = {}, {}
    for m, out in outs.items():
        if "error" in out:
            errors[m] = out
        else:
            results[m] = out
    if not results:
        # nothing ran: answer with the first model's error and its status
        first = next(iter(errors.values()))
        raise ApiError(first.get("status", 422), first["error"])
    return results, {m: e["error"] for m, e in errors.items()}


# ---- check --------------------------------------------------------------------------------


@router.post("/check", response_model=CheckResponse, responses=error_responses(404, 413, 422, 429, 503),
             summary="Exhaustively check a scenario under one model or all")
async def check(req: CheckRequest, request: Request) -> CheckResponse:
    """Every final state, the verdict, shortest counterexample schedules and statistics.

    `incomplete` names the budget that stopped a run (states, time, ...): the verdict is
    then only as good as the part explored.
    """
    sc = resolve(req.scenario)
    runner = _runner(request)
    budget = req.budget.capped()
    models = _models(req.model)
    client = client_key(request)
    runner.admit(client, len(models))
    jobs = [runner.submit(work.run_check, sc.text, m, budget, req.loop_bound, client=client,
                          seconds=work.explore_seconds(budget), what=f"the {m} exploration") for m in models]
    outs = dict(zip(models, await answers(request, jobs), strict=True))
    done, errors = _merge(outs)
    first = next(iter(done.values()))
    incomplete = next((r["incomplete"] for r in done.values() if r["incomplete"]), None)
    if any(r["bad_reachable"] for r in done.values()):
        overall = "reachable"
    elif incomplete:
        overall = "incomplete"
    else:
        overall = "unreachable" if not errors else "error"
    # each model's result is JSON its worker made: spliced into the answer, not rebuilt here
    return json_response({"scenario": sc.label, "test": first["test"], "condition": first["condition"],
                          "models": models, "verdict": overall, "incomplete": incomplete,
                          "results": {m: r["result"] for m, r in done.items()},
                          "errors": {m: error_body(e)["error"] for m, e in errors.items()}})


# ---- replay -------------------------------------------------------------------------------


def _schedule_data(s):
    if isinstance(s, ScheduleObject):
        return s.model_dump()
    if isinstance(s, list):
        return [x.model_dump() if isinstance(x, ScheduleStep) else x for x in s]
    return s


@router.post("/replay", response_model=ReplayResponse, responses=error_responses(404, 413, 422, 429, 503),
             summary="Replay a schedule: every state, each step explained, and the verdict")
async def replay_route(req: ReplayRequest, request: Request) -> ReplayResponse:
    """An invalid step answers 422 with `error.step` (0-based) and `error.rule` (why the engine refuses it).

    The whole schedule is replayed; the answer carries the explanations and states of `limit`
    steps from `offset` (`next_offset` says where the next page starts)."""
    sc = resolve(req.scenario)
    steps = schedule_steps(_schedule_data(req.schedule))
    return json_response(await one_job(request, tasks.replay_answer, sc.text, sc.label, req.model, steps,
                                       req.loop_bound, req.offset, req.limit, what="the replay"))


# ---- litmus -------------------------------------------------------------------------------


@router.post("/litmus", response_model=HerdResult, responses={
    **error_responses(413, 422, 429, 503),
    200: {"content": {"text/plain": {"example": "Test SB Allowed\nStates 4\n0:r0=0; 1:r0=0;\n...\n"}},
          "description": "herd7's result as JSON, or herd7's own text with `Accept: text/plain`"}},
    summary="Run a litmus test: herd7's result as JSON or herd7's text")
async def litmus(req: LitmusRequest, request: Request):
    budget = req.budget.capped()
    job = _runner(request).submit(work.run_litmus, req.source, req.model, budget, client=client_key(request),
                                  seconds=work.explore_seconds(budget), what=f"the {req.model} exploration")
    (out,) = await answers(request, [job])
    if "error" in out:
        raise ApiError(out.get("status", 422), out["error"])
    accept = request.headers.get("accept", "")
    if "text/plain" in accept and "application/json" not in accept:
        return PlainTextResponse(out["text"])
    return json_response(out["json"])


# ---- diff ---------------------------------------------------------------------------------


@router.post("/diff", response_model=DiffResponse, responses=error_responses(404, 413, 422, 429, 503),
             summary="Final states only one of two scenario versions allows")
async def diff(req: DiffRequest, request: Request) -> DiffResponse:
    """Compared on the observed locations both versions share; each state comes with a
    shortest schedule in the version that allows it."""
    old, new = resolve(req.old), resolve(req.new)
    runner = _runner(request)
    models = _models(req.model)
    client = client_key(request)
    budget = req.budget.capped()
    runner.admit(client, len(models))
    jobs = [runner.submit(work.run_diff, old.text, new.text, m, budget, client=client,
                          seconds=work.explore_seconds(budget) + LIMITS.compile_seconds, what=f"the {m} diff")
            for m in models]
    outs = dict(zip(models, await answers(request, jobs), strict=True))
    done, errors = _merge(outs)
    return json_response({"old": old.label, "new": new.label, "differ": any(r["differ"] for r in done.values()),
                          "results": {m: r["result"] for m, r in done.items()},
                          "errors": {m: error_body(e)["error"] for m, e in errors.items()}})



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


@router.post("/lesson-check", response_model=LessonVerdict, responses=error_responses(404, 413, 422, 429, 503),
             summary="Judge a lesson's goal: on a run (schedule), or on the exhaustive check of a protocol")
async def lesson_check(req: LessonCheckRequest, request: Request) -> LessonVerdict:
    """Goals met by a run (bad-outcome, final-state, reorder) replay `schedule`; goals met by the
    exhaustive check (unreachable, fix) run it under the goal's model on `source` (an edited
    protocol) or the lesson's own scenario.  The server judges; `why` says what is missing.
    Both run in a worker, like a replay or a check."""
    import json

    from ..lessons import CHECK_GOALS, find_lesson, judge_result

    x = find_lesson(req.lesson)
    text = req.source or x.text
    if x.goal.kind not in CHECK_GOALS:
        model = req.model or x.goal.model or x.model
        steps = schedule_steps(_schedule_data(req.schedule)) if req.schedule is not None else []
        out = await one_job(request, tasks.lesson_run_answer, x.name, text, model, steps, what="the lesson's run")
    else:
        model = req.model or x.goal.model
        budget = req.budget.capped()
        runner = _runner(request)
        client = client_key(request)
        runner.admit(client, 1)
        job = runner.submit(work.run_check, text, model, budget, None, client=client,
                            seconds=work.explore_seconds(budget), what=f"the {model} exploration")
        (res,) = await answers(request, [job])
        if "error" in res:
            raise ApiError(res.get("status", 422), res["error"])
        out = judge_result(x, model, json.loads(res["result"]), text)
    return LessonVerdict(**out, explain=x.explain if out["met"] else None)
