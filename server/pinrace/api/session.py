"""One interactive session: a scenario, a model, a run (schedule) and a position in it.

Pure logic, no sockets: every command returns the messages to send, or raises a
PinraceError the websocket layer turns into an error message (the session is unchanged
then).  The run is the schedule the user built; the position (cursor) says how much of
it is applied, so undo/redo/jump move through it and a step away from the run's next
transition cuts the rest (like an editor).  Undo and redo restore snapshots of
(run, position): they undo steps, jumps and moves alike.
"""

from __future__ import annotations

import json

from ..engine.ir import Program
from ..engine.state import State, Transition
from ..engine.view import describe
from ..errors import PinraceError, ScheduleError, SourceError
from ..explore.replay import replay, resolve
from ..formats.schedule import parse_token, schedule_from_json
from ..limits import LIMITS
from .graph import execution_graph, graph_with_cycle
from .scenario import Scenario, StepUnsupported, compile_cached, condition_text, stepper
from .scenario import resolve as resolve_scenario
from .views import changed_keys, explain, moves, op_role, scenario_words, timeline_entry, verdict

__all__ = ["Session", "NoScenario", "Timeline"]


class NoScenario(PinraceError):
    code = "no-scenario"


class BadMessage(PinraceError):
    code = "bad-message"


_Snap = tuple  # (run, states, cursor)


def _graph_on_refusal(fn):
    """Under lkmm a refused step or move carries `why.graph`: the execution so far with the cycle
    the step would close drawn on it (graph.graph_with_cycle)."""

    def wrapper(self, *args, **kw):
        try:
            return fn(self, *args, **kw)
        except ScheduleError as e:
            why = getattr(e, "why", None)
            if isinstance(why, dict) and why.get("cycle") and self.machine is not None and self.states:
                why["graph"] = graph_with_cycle(self.machine, self.states[self.cursor], why)
            raise

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


class Timeline(list):
    """A state message's `timeline`: the list of entries, and the same as JSON text, ready.

    A 10,000-step run's timeline is ~1 MB of JSON, sent with every state message.  Each entry
    is built and serialized once (Session keeps them while the run's prefix stays), so a state
    message costs joining strings, not 10,000 step labels and a large json.dumps.
    """

    __slots__ = ("json",)

    def __init__(self, entries: list, json_text: str):
        super().__init__(entries)
        self.json = json_text


class Session:
    def __init__(self):
        self.scenario: Scenario | None = None
        self.program: Program | None = None
        self.model = "sc"
        self.machine = None  # None when the model cannot step this scenario (see unsupported)
        self.unsupported: str | None = None  # why, in the engine's words
        self.loop_bound: int | None = None  # the load's bound: explorations must use it too
        self.run: tuple[Transition, ...] = ()
        self.states: tuple[State, ...] = ()
        self.cursor = 0
        self._undo: list[_Snap] = []
        self._redo: list[_Snap] = []
        self.lesson = None  # the lesson being played (lessons.Lesson), or None
        self.lesson_met = False  # whether its goal was met at least once in this session
        # timeline entries of the run so far: (transition, state after it, entry applied/not, their JSON)
        self._tl: list[tuple] = []
        self._tl_of: tuple = ((), ())  # the (run, states) _tl was checked against last

    # ---- helpers ----------------------------------------------------------------------
    def _need_program(self) -> None:
        if self.program is None:
            raise NoScenario("load a scenario first: {\"type\": \"load\", \"scenario\": NAME or SOURCE}")

    def _need_machine(self) -> None:
        self._need_program()
        if self.machine is None:
            why = self.unsupported or f"{self.model} cannot step this scenario"
            raise StepUnsupported(f"{why}: send {{\"type\": \"explore\"}}, or set another model")

    def _snap(self) -> _Snap:
        return (self.run, self.states, self.cursor)

    def _push(self) -> None:
        self._undo.append(self._snap())
        del self._undo[:-LIMITS.undo_history]
        self._redo.clear()

    def _restore(self, s: _Snap) -> None:
        self.run, self.states, self.cursor = s

    def _replay(self, steps: list) -> tuple[tuple[Transition, ...], tuple[State, ...]]:
        if len(steps) > LIMITS.run_steps:
            raise ScheduleError(f"a run has at most {LIMITS.run_steps} steps", LIMITS.run_steps, "too-long")
        states, taken = replay(self.machine, steps)
        return tuple(taken), tuple(states)

    # ---- messages ---------------------------------------------------------------------
    def scenario_message(self) -> dict:
        prog = self.program
        cpus = []
        for th in prog.threads:
            cpus.append({"cpu": th.index, "name": th.name or f"P{th.index}", "registers": list(th.registers),
                         "code": [{"op": pc, "text": ins.origin.text, "line": ins.origin.line,
                                   "call": ins.origin.call, "kind": type(ins).__name__,
                                   "role": op_role(ins, th.registers)}
                                  for pc, ins in enumerate(th.code)]})
        return {"type": "scenario", "name": prog.name, "label": self.scenario.label,
                "builtin": self.scenario.builtin, "condition": condition_text(prog),
                "source": self.scenario.text, "cpus": cpus, **scenario_words(self.scenario.text, prog)}

    def state_message(self, cause: str, explanation: str | None = None, view: dict | None = None) -> dict:
        m = self.machine
        s = self.states[self.cursor]
        last = self.run[self.cursor - 1] if self.cursor else None
        if view is None:
            view = describe(m, s, last)
        before = describe(m, self.states[self.cursor - 1]) if self.cursor else None
        return {
            "type": "state",
            "cause": cause,
            "model": self.model,
            "position": self.cursor,
            "length": len(self.run),
            "view": view,
            "transitions": moves(m, s),
            "timeline": self.timeline(),
            "verdict": verdict(m, s),
            "explanation": explanation,
            "changed": changed_keys(before, view) if before is not None else [],
            "can_undo": bool(self._undo),
            "can_redo": bool(self._redo),
            **({"graph": execution_graph(m, s)} if getattr(m, "reorders", False) else {}),
        }

    def timeline(self) -> Timeline:
        """The run as timeline entries, `applied` up to the cursor; built once per step of the run."""
        run, states = self.run, self.states
        if self._tl_of[0] is not run or self._tl_of[1] is not states:
            keep = 0  # entries still right: same step, same state after it (the same object)
            for i, e in enumerate(self._tl[:len(run)]):
                if e[0] != run[i] or e[1] is not states[i + 1]:
                    break
                keep = i + 1
            del self._tl[keep:]
            m = self.machine
            for i in range(keep, len(run)):
                base = timeline_entry(m, i, run[i], states[i + 1], states[i])
                on, off = dict(base, applied=True), dict(base, applied=False)
                self._tl.append((run[i], states[i + 1], on, off, json.dumps(on), json.dumps(off)))
            self._tl_of = (run, states)
        c, tl = self.cursor, self._tl
        entries = [e[2] for e in tl[:c]] + [e[3] for e in tl[c:]]
        text = "[" + ",".join([e[4] for e in tl[:c]] + [e[5] for e in tl[c:]]) + "]"
        return Timeline(entries, text)

    def model_message(self, kept: int, dropped: list[str], refused: dict | None) -> dict:
        return {"type": "model", "model": self.model, "stepping": self.machine is not None,
                "kept": kept, "dropped": dropped, "refused": refused}

    # ---- commands ---------------------------------------------------------------------
    def load(self, scenario: str, model: str | None = None, loop_bound: int | None = None, *,
             program: Program | None = None, machine=None, unsupported: str | None = None) -> list[dict]:
        """Load a scenario (a built-in's name or source text).  `program` is its text compiled, and
        `machine` / `unsupported` the model prepared for it, when the caller had a worker do that
        (the server never compiles a client's text itself); else they are made here."""
        sc = resolve_scenario(scenario)
        prog = program if program is not None else compile_cached(sc.text, loop_bound)
        self.scenario, self.program, self.loop_bound = sc, prog, loop_bound
        self.run, self.states, self.cursor = (), (), 0
        self._undo.clear()
        self._redo.clear()
        self.machine = None
        out = [self.scenario_message()]
        out += self.set_model(model or self.model, cause="load", machine=machine, unsupported=unsupported)
        return out

    def set_model(self, model: str, cause: str = "model", machine=None, unsupported: str | None = None) -> list[dict]:
        """Switch models, keeping the longest prefix of the run the new model accepts.

        Store-buffer flushes are dropped when the new model has no store buffers.  `machine` (or
        `unsupported`, why the model cannot step the scenario) comes prepared from a worker for
        lkmm; otherwise the model is made here.
        """
        self._need_program()
        if machine is not None or unsupported is not None:
            self.unsupported = unsupported
        else:
            try:
                machine = stepper(model, self.program)
                self.unsupported = None
            except StepUnsupported as e:
                if model not in ("sc", "tso", "lkmm"):
                    raise
                machine, self.unsupported = None, str(e)
        old_run, old_cursor = self.run, self.cursor
        self.model, self.machine = model, machine
        self._tl, self._tl_of = [], ((), ())  # another model: other labels and reasons
        if machine is None:
            # keep the run as it was, to replay when a stepping model comes back
            return [self.model_message(len(old_run), [], None)]
        has_flush = getattr(machine, "buffered_stores", False)
        s = machine.initial()
        taken, states, dropped = [], [s], []
        refused = None
        new_cursor = 0
        for i, t in enumerate(old_run):
            if t.op is None and t.choice == ("flush",) and not has_flush:
                dropped.append(t.token())
                continue
            if t.op is not None and t.choice and not getattr(machine, "reorders", False):
                t = Transition(t.cpu, t.op)  # lkmm's rf=/co= choices mean nothing to sc and tso
            try:
                t2 = resolve(machine, s, t, len(taken))
                s = machine.step(s, t2)
            except (ScheduleError, SourceError) as e:
                refused = (e.to_dict() if isinstance(e, ScheduleError)
                           else ScheduleError(str(e), len(taken), "runtime").to_dict())
                dropped += [u.token() for u in old_run[i:]]
                break
            taken.append(t2)
            states.append(s)
            if i < old_cursor:
                new_cursor = len(taken)
        self.run, self.states, self.cursor = tuple(taken), tuple(states), new_cursor
        self._undo.clear()
        self._redo.clear()
        return [self.model_message(len(taken), dropped, refused), self.state_message(cause)]

    @_graph_on_refusal
    def step(self, cpu: int | None = None, token: str | None = None) -> list[dict]:
        """Run CPU `cpu`'s next operation, or the named transition `token` ("0:3", "1:flush")."""
        self._need_machine()
        if (cpu is None) == (token is None):
            raise BadMessage("step needs exactly one of 'cpu' (a number) or 'token' (like \"0:3\" or \"1:flush\")")
        if self.cursor >= LIMITS.run_steps:
            raise ScheduleError(f"a run has at most {LIMITS.run_steps} steps", self.cursor, "too-long")
        want = cpu if token is None else parse_token(token, self.cursor)
        m, s = self.machine, self.states[self.cursor]
        t = resolve(m, s, want, self.cursor)
        try:
            s2 = m.step(s, t)
        except SourceError as e:
            raise ScheduleError(str(e), self.cursor, "runtime") from None
        self._push()
        if self.cursor < len(self.run) and self.run[self.cursor] == t:
            self.cursor += 1
        else:
            self.run = self.run[: self.cursor] + (t,)
            self.states = self.states[: self.cursor + 1] + (s2,)
            self.cursor += 1
        before = describe(m, s)
        after = describe(m, s2, t)
        return [self.state_message("step", explain(m, t, before, after, s2), after)]

    def undo(self) -> list[dict]:
        self._need_machine()
        if not self._undo:
            raise ScheduleError("nothing to undo", None, "nothing-to-undo")
        self._redo.append(self._snap())
        self._restore(self._undo.pop())
        return [self.state_message("undo")]

    def redo(self) -> list[dict]:
        self._need_machine()
        if not self._redo:
            raise ScheduleError("nothing to redo", None, "nothing-to-redo")
        self._undo.append(self._snap())
        self._restore(self._redo.pop())
        return [self.state_message("redo")]

    def jump(self, index: int) -> list[dict]:
        """Show the state after the first `index` steps of the run (0 is the initial state)."""
        self._need_machine()
        if not 0 <= index <= len(self.run):
            raise ScheduleError(f"no step {index}: the run has {len(self.run)} steps (jump to 0..{len(self.run)})",
                                index, "out-of-range")
        self._push()
        self.cursor = index
        return [self.state_message("jump")]

    @_graph_on_refusal
    def move(self, src: int | None = None, dst: int | None = None, schedule=None) -> list[dict]:
        """Reorder the run: move step `src` to position `dst`, or take the client's schedule.

        The new run is replayed from the start; a refusal names the step and the engine's
        rule and leaves the old run in place.  A move between CPUs that changes what a
        later read sees may change a CPU's path through branches: then each moved CPU
        step is re-resolved as "that CPU's next operation".  A move that changes a CPU's
        own order is refused (rule program-order).
        """
        self._need_machine()
        if schedule is not None:
            if src is not None or dst is not None:
                raise BadMessage("move takes either 'from' and 'to', or 'schedule'")
            try:
                steps = schedule_from_json(schedule)
            except ScheduleError:
                raise
            except (TypeError, ValueError, AttributeError) as e:
                raise BadMessage(f"'schedule' is not a schedule: {e}") from None
            run, states = self._replay(steps)
        else:
            if src is None or dst is None:
                raise BadMessage("move needs 'from' and 'to' (step indices), or 'schedule'")
            n = len(self.run)
            for name, v in (("from", src), ("to", dst)):
                if not 0 <= v < n:
                    raise ScheduleError(f"'{name}' {v} is not a step of the run (0..{n - 1})", v, "out-of-range")
            new = list(self.run)
            t = new.pop(src)
            new.insert(dst, t)
            self._check_program_order(t, src, dst)
            try:
                run, states = self._replay(new)
            except ScheduleError as strict:
                relaxed = [u.cpu if u.op is not None else u for u in new]
                if getattr(self.machine, "reorders", False):
                    # lkmm: keep each step's op, let its read/coherence choice default afresh
                    relaxed = [Transition(u.cpu, u.op) for u in new]
                try:
                    run, states = self._replay(relaxed)
                except ScheduleError:
                    raise strict from None
        self._push()
        at_end = self.cursor == len(self.run)
        self.run, self.states = run, states
        self.cursor = len(run) if at_end else min(self.cursor, len(run))
        return [self.state_message("move")]

    def _check_program_order(self, t: Transition, src: int, dst: int) -> None:
        if t.op is None or getattr(self.machine, "reorders", False):
            return  # lkmm runs a CPU's operations out of order where nothing orders them: replay decides
        lo, hi = (dst, src) if dst < src else (src + 1, dst + 1)
        for i in range(lo, hi):
            u = self.run[i]
            if u.cpu == t.cpu and u.op is not None:
                raise ScheduleError(
                    f"{t.token()} cannot move {'before' if dst < src else 'after'} {u.token()}: CPU{t.cpu} runs "
                    f"its operations in program order under {self.model}", dst, "program-order")

    # ---- lessons (docs/lessons.md) ------------------------------------------------------
    def start_lesson(self, name: str | None) -> list[dict]:
        """Play lesson `name` (load its scenario under its model), or stop playing with None.
        While a lesson is played, goal_message() judges every state and result."""
        from ..lessons import find_lesson, lessons

        if name is None:
            self.lesson, self.lesson_met = None, False
            return [{"type": "lesson", "lesson": None}]
        lesson = find_lesson(name)  # LessonError names the lessons
        out = self.load(lesson.scenario, lesson.model)
        self.lesson, self.lesson_met = lesson, False
        info = {"type": "lesson", "lesson": lesson.to_dict(len(lessons()))}
        return [info, *out, self.goal_message()]

    def _goal(self, judged: dict) -> dict:
        self.lesson_met = self.lesson_met or judged["met"]
        return {"type": "goal", **judged, "done": self.lesson_met,
                "explain": self.lesson.explain if judged["met"] else None}

    def goal_message(self) -> dict:
        """The lesson's goal judged on the run as it stands (the applied part of it)."""
        from ..lessons import judge_run

        lesson = self.lesson
        if self.machine is None or not self.states:
            return self._goal({"lesson": lesson.name, "kind": lesson.goal.kind, "model": lesson.goal.model,
                               "met": False, "why": self.unsupported or "nothing to judge yet"})
        timeline = self.timeline()  # the entries kept for state messages: built once per step
        return self._goal(judge_run(lesson, self.machine, self.states[self.cursor], timeline,
                                    self.scenario.text, self.model))

    def result_goal(self, model: str, result: dict, text: str) -> dict:
        """The lesson's goal judged on an exhaustive check of `text` under `model`."""
        from ..lessons import judge_result

        return self._goal(judge_result(self.lesson, model, result, text))

    def current(self) -> list[dict]:
        self._need_machine()
        return [self.state_message("state")]
