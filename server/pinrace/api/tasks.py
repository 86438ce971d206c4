"""REST answers computed in a worker process: replay, share, diagrams, herd7 export.

Each of these compiles scenario text and runs the engine over it (under lkmm, enumerating
the allowed executions first), so each is a worker job like an exploration (work.py): under
admission control, with the compile budget and the stepping budget, and answering plain
data the route returns as is.  Nothing here imports the web stack.
"""

from __future__ import annotations

from ..errors import PinraceError
from ..guard import guard
from ..limits import LIMITS
from .rawjson import raw
from .work import GUARD_MEMORY, _guarded, _too_long, compile_program, prepare_stepper

__all__ = ["replay_answer", "share_answer", "diagram_import_answer", "diagram_export_answer", "export_answer",
           "lesson_run_answer"]


def _machine(model: str, program, ctx):
    """A steppable model for `program`: sc and tso at once; lkmm prepared under the stepping budget."""
    return prepare_stepper(model, program, ctx)


@_guarded
def replay_answer(text: str, label: str, model: str, steps: list, loop_bound: int | None, offset: int, limit: int,
                  ctx) -> dict:
    """Replay `steps`: the resolved schedule, the verdict, and `limit` steps and states from step `offset`
    (every step is replayed; only the page is described, so the answer's size is bounded)."""
    from ..engine.view import describe
    from ..explore.replay import replay
    from ..formats.diagram import step_label
    from .views import explain, verdict

    machine = _machine(model, compile_program(text, loop_bound, ctx), ctx)
    states, taken = replay(machine, steps)
    n = len(taken)
    lo = min(offset, n)
    hi = min(n, lo + limit)
    views = {i: describe(machine, states[i], taken[i - 1] if i else None) for i in range(lo, hi + 1)}
    out_steps = []
    for i in range(lo, hi):
        t = taken[i]
        out_steps.append({"index": i, "token": t.token(), "cpu": t.cpu, "op": t.op, "label": step_label(machine, t),
                          "explanation": explain(machine, t, views[i], views[i + 1], states[i + 1])})
    return {"result": raw({"scenario": label, "model": model, "schedule": [t.token() for t in taken],
                           "steps": out_steps, "states": [views[i] for i in range(lo, hi + 1)],
                           "verdict": verdict(machine, states[-1]), "offset": lo, "total_steps": n,
                           "next_offset": hi if hi < n else None})}


@_guarded
def share_answer(text: str, builtin: str | None, model: str, schedule, loop_bound: int | None, base: str,
                 ctx) -> dict:
    """A link and email block for a scenario, model and schedule (the schedule replayed first)."""
    from ..formats.email import to_block
    from ..formats.link import LINK_VERSION, encode, link_url, make_shared

    program = compile_program(text, loop_bound, ctx)
    secs = LIMITS.default_seconds + LIMITS.overrun_seconds
    with guard(secs, LIMITS.memory_mb * GUARD_MEMORY, _too_long(f"replaying the schedule under {model}", secs,
                                                                "PINRACE_DEFAULT_SECONDS"), ctx.cancelled):
        shared = make_shared(text, model, schedule, builtin=builtin, loop_bound=loop_bound, program=program)
    token = encode(shared)
    return {"result": {"token": token, "fragment": f"#s={token}", "url": link_url(token, base),
                       "email": to_block(shared), "builtin": shared.builtin, "hash": shared.sha,
                       "length": len(token), "version": LINK_VERSION}}


@_guarded
def diagram_import_answer(text: str, model: str, diagram: str, complete: bool, loop_bound: int | None, ctx) -> dict:
    from ..formats.diagram_import import import_diagram

    machine = _machine(model, compile_program(text, loop_bound, ctx), ctx)
    return {"result": import_diagram(diagram, machine, complete=complete).to_dict()}


@_guarded
def diagram_export_answer(text: str, model: str, steps: list, width: int, loop_bound: int | None, ctx) -> dict:
    from ..explore.replay import replay
    from ..formats.diagram import export_diagram

    machine = _machine(model, compile_program(text, loop_bound, ctx), ctx)
    _, taken = replay(machine, steps)
    return {"result": {"diagram": export_diagram(machine, taken, width),
                       "schedule": " ".join(t.token() for t in taken)}}


@_guarded
def export_answer(text: str, loop_bound: int | None, ctx) -> dict:
    from ..formats.litmus_export import export_litmus

    prog = compile_program(text, loop_bound, ctx)
    try:
        return {"result": {"name": prog.name, "litmus": export_litmus(prog)}}
    except RecursionError:
        raise PinraceError("the scenario is too deeply nested to export") from None


@_guarded
def lesson_run_answer(lesson_name: str, text: str, model: str, steps: list, ctx) -> dict:
    """Judge a lesson's goal met by a run: `steps` replayed on `text` (the lesson's scenario or
    the learner's edit) under `model`, the goal judged on the run's end and timeline."""
    from ..explore.replay import replay
    from ..lessons import find_lesson, judge_run
    from .views import timeline_entry

    lesson = find_lesson(lesson_name)
    machine = _machine(model, compile_program(text, None, ctx), ctx)
    states, taken = replay(machine, steps)
    timeline = [dict(timeline_entry(machine, i, t, states[i + 1]), applied=True) for i, t in enumerate(taken)]
    return {"result": judge_run(lesson, machine, states[-1], timeline, text, model)}
