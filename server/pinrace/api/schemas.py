"""Pydantic models of every REST request and response (and the websocket's client messages)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..limits import LIMITS

__all__ = [
    "BudgetIn", "ErrorBody", "ErrorResponse", "Health", "ScenarioInfo", "ProtocolSummary", "Protocol",
    "CheckRequest", "CheckResponse", "HerdResult", "ModelResult", "ReplayRequest", "ReplayResponse",
    "ReplayStep", "Verdict", "LitmusRequest", "DiffRequest", "DiffResponse", "DiffModelResult",
    "ScheduleObject", "ScheduleStep", "SB_SOURCE", "LessonInfo", "Lesson", "LessonGoal", "LessonCheckRequest",
    "LessonVerdict",
]

SB_SOURCE = ("C SB\n{}\nP0(int *x, int *y) { WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\n"
             "P1(int *x, int *y) { WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }\nexists (0:r0=0 /\\ 1:r0=0)\n")

Model = Literal["sc", "tso", "lkmm"]
ModelOrAll = Literal["sc", "tso", "lkmm", "all"]
Value = int | str
ScenarioText = Field(min_length=1, max_length=LIMITS.source_chars,
                     description="a built-in protocol name (GET /api/protocols) or scenario source text",
                     examples=[SB_SOURCE])


class BudgetIn(BaseModel):
    """Bounds on one exploration: finite positive numbers; the server caps both (PINRACE_MAX_STATES,
    PINRACE_MAX_SECONDS) and fills in its defaults for what is left out."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"max_states": 100000,
                                                                               "max_seconds": 5}]})
    max_states: int | None = Field(None, ge=1, description=f"distinct states explored (cap {LIMITS.max_states:,})")
    # allow_inf_nan: NaN compares false with everything, so `NaN <= 0` would pass and `min(NaN, cap)` is NaN
    max_seconds: float | None = Field(None, gt=0, allow_inf_nan=False,
                                      description=f"wall-clock seconds (cap {LIMITS.max_seconds:g})")

    def capped(self) -> dict:
        return {"max_states": min(self.max_states or LIMITS.default_states, LIMITS.max_states),
                "max_seconds": min(self.max_seconds or LIMITS.default_seconds, LIMITS.max_seconds)}


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable: syntax-error, unknown-protocol, bad-schedule, unsupported, ...")
    message: str
    line: int | None = Field(None, description="1-based source line, for errors in scenario text")
    column: int | None = None
    step: int | None = Field(None, description="0-based schedule step, for schedule errors")
    rule: str | None = Field(None, description="why the engine refuses the step: blocked, not-enabled, ...")
    detail: list[dict] | None = Field(None, description="per-field problems of a malformed request")


class ErrorResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": {"code": "syntax-error", "message": "expected ';'", "line": 3, "column": 41}},
        {"error": {"code": "bad-schedule", "message": "1:flush is not enabled here (enabled: 0:0, 1:0)",
                   "line": None, "column": None, "step": 0, "rule": "not-enabled"}}]})
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    workers: int
    explorations: int = Field(description="explorations running or queued now")


class ScenarioInfo(BaseModel):
    name: str
    test: str | None = Field(None, description="the test's own name (its `C name` line)")
    condition: str | None = None
    cpus: int | None = None
    error: ErrorBody | None = Field(None, description="set when the built-in does not compile")


class ProtocolSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "bias-barrier-posted", "description": "Jerome Glisse's bias + smp_wmb(), as posted",
        "scenarios": [{"name": "bias-barrier-posted", "test": "bias-barrier-posted",
                       "condition": "exists (0:r0=0 /\\ 1:r1=0)", "cpus": 2}]}]})
    name: str
    description: str
    scenarios: list[ScenarioInfo]


class Protocol(ProtocolSummary):
    source: str
    sha256: str


class ScheduleStep(BaseModel):
    model_config = ConfigDict(strict=True)  # requests: `false` is not a CPU number
    cpu: int = Field(ge=0)
    op: int | None = Field(None, ge=0, description="operation index in the CPU's code; absent for a model's move")
    choice: list[Value] = Field(default_factory=list, description='a model\'s extra decision, e.g. ["flush"]')


class ScheduleObject(BaseModel):
    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [{
        "format": "pinrace-schedule", "version": 1,
        "steps": [{"cpu": 0, "op": 0}, {"cpu": 1, "op": 0}, {"cpu": 1, "choice": ["flush"]}]}]})
    format: Literal["pinrace-schedule"] = "pinrace-schedule"
    version: int = 1
    steps: list[ScheduleStep | int | str] = Field(max_length=LIMITS.run_steps)


Schedule = str | ScheduleObject | Annotated[list[ScheduleStep | int | str], Field(max_length=LIMITS.run_steps)]


# ---- check ----------------------------------------------------------------------------


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"scenario": SB_SOURCE, "model": "tso", "budget": {"max_states": 100000, "max_seconds": 5}},
        {"scenario": "bias-barrier-posted", "model": "all"}]})
    scenario: str = ScenarioText
    model: ModelOrAll = "sc"
    budget: BudgetIn = Field(default_factory=BudgetIn)
    loop_bound: int | None = Field(None, ge=0, le=LIMITS.loop_bound, description="times each loop may go round")


class FinalStateOut(BaseModel):
    values: dict[str, Value]
    satisfies: bool
    executions: int
    schedule: list[str]


class StuckOut(BaseModel):
    status: str
    values: dict[str, Value]
    schedule: list[str]


class HerdResult(BaseModel):
    """formats.herd.herd_json: herd7's result as JSON, every final state with a schedule."""

    model_config = ConfigDict(extra="allow")
    schema_: int = Field(alias="schema")
    test: str
    model: str
    kind: str
    condition: str
    ok: bool
    observation: Literal["Never", "Sometimes", "Always"]
    positive: int
    negative: int
    states: list[FinalStateOut]
    stuck: list[StuckOut]
    flags: list[str]
    explored: int
    elapsed_s: float
    incomplete: str | None


class Counterexample(BaseModel):
    values: dict[str, Value]
    schedule: list[str] = Field(description="a shortest schedule reaching it: POST /api/replay replays it")
    diagram: str | None = Field(None, description="the interleaving as CPU columns, for email (sc, tso)")


class Statistics(BaseModel):
    explored: int
    final_states: int
    stuck_states: int
    elapsed_s: float


class ModelResult(HerdResult):
    bad_reachable: bool
    verdict: Literal["reachable", "unreachable", "incomplete"]
    counterexamples: list[Counterexample]
    statistics: Statistics
    invariant_violations: list[dict] = Field(default_factory=list)


class CheckResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "scenario": "SB", "test": "SB", "condition": "exists (0:r0=0 /\\ 1:r0=0)", "models": ["tso"],
        "verdict": "reachable", "incomplete": None, "errors": {},
        "results": {"tso": {"schema": 1, "test": "SB", "model": "tso", "kind": "Allowed",
                            "condition": "exists (0:r0=0 /\\ 1:r0=0)", "ok": True, "observation": "Sometimes",
                            "positive": 1, "negative": 3, "states": [], "stuck": [], "flags": [],
                            "explored": 21, "elapsed_s": 0.001, "incomplete": None, "bad_reachable": True,
                            "verdict": "reachable",
                            "counterexamples": [{"values": {"0:r0": 0, "1:r0": 0},
                                                 "schedule": ["0:0", "1:0", "0:1", "1:flush", "1:1", "0:flush"],
                                                 "diagram": "CPU0 | CPU1\n..."}],
                            "statistics": {"explored": 21, "final_states": 4, "stuck_states": 0,
                                           "elapsed_s": 0.001}}}}]})
    scenario: str
    test: str
    condition: str
    models: list[str]
    verdict: Literal["reachable", "unreachable", "incomplete", "error"] = Field(
        description="reachable if any model reaches the bad outcome; incomplete if a budget cut a run short")
    incomplete: str | None = Field(description="the first budget that stopped a run, if any")
    results: dict[str, ModelResult]
    errors: dict[str, ErrorBody] = Field(default_factory=dict, description="models that could not run")


# ---- replay ---------------------------------------------------------------------------


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"scenario": SB_SOURCE, "model": "tso", "schedule": "0 1 0:1 1:1 0:flush 1:flush"},
        {"scenario": SB_SOURCE, "model": "sc",
         "schedule": {"format": "pinrace-schedule", "version": 1,
                      "steps": [{"cpu": 0, "op": 0}, {"cpu": 1, "op": 0}]}}]})
    scenario: str = ScenarioText
    model: Model = "sc"
    schedule: Schedule = Field(description='text ("0 1 0:flush"), the JSON schedule object, or a list of steps')
    loop_bound: int | None = Field(None, ge=0, le=LIMITS.loop_bound)
    offset: int = Field(0, ge=0, description="the first step whose explanation and states the answer carries")
    limit: int = Field(LIMITS.replay_states, ge=0, le=LIMITS.replay_states,
                       description=f"how many steps (and their states) the answer carries, at most "
                                   f"{LIMITS.replay_states} (PINRACE_MAX_REPLAY_STATES): ask again from "
                                   f"`next_offset` for the rest")


class ReplayStep(BaseModel):
    index: int
    token: str
    cpu: int
    op: int | None
    label: str = Field(description="what the step does, in the scenario's words (formats.diagram.step_label)")
    explanation: str = Field(description="what changed: registers, memory, store buffers, page fields")


class Verdict(BaseModel):
    """Whether the current state is final and, if so, whether it is the bad outcome."""

    final: bool = Field(description="every CPU is done (and, under tso, every buffer drained)")
    status: str = Field(description="running, done, deadlock or loop-bound")
    values: dict[str, Value] = Field(description="the observed locations now")
    satisfies: bool | None = Field(description="the condition's proposition holds (final states only)")
    bad: bool | None = Field(description="this final state is the bad outcome (violates a forall)")
    filtered: bool = Field(False, description="the scenario's filter excludes this final state")
    condition: str


class ReplayResponse(BaseModel):
    scenario: str
    model: str
    schedule: list[str] = Field(description="the resolved schedule (bare CPU numbers become CPU:OP), all of it")
    steps: list[ReplayStep] = Field(description="steps offset .. offset + limit - 1")
    states: list[dict[str, Any]] = Field(description="engine.view.describe() of the states after `offset` .. "
                                                     "`offset + len(steps)` steps (the first is the initial state "
                                                     "when offset is 0)")
    verdict: Verdict = Field(description="of the state after the whole schedule")
    offset: int = Field(0, description="the index of the first step (and state) in this answer")
    total_steps: int = Field(0, description="steps in the schedule")
    next_offset: int | None = Field(None, description="where the next page starts, or null when this is the last")


# ---- litmus ---------------------------------------------------------------------------


class LitmusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"source": SB_SOURCE,
                                                                               "model": "tso"}]})
    source: str = Field(min_length=1, max_length=LIMITS.source_chars, description="an LKMM litmus test")
    model: Model = "sc"
    budget: BudgetIn = Field(default_factory=BudgetIn)


# ---- diff -----------------------------------------------------------------------------


class DiffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{
        "old": SB_SOURCE, "new": SB_SOURCE.replace("WRITE_ONCE(*x, 1);", "WRITE_ONCE(*x, 1); smp_mb();"),
        "model": "tso"}]})
    old: str = ScenarioText
    new: str = ScenarioText
    model: ModelOrAll = "sc"
    budget: BudgetIn = Field(default_factory=BudgetIn)


class DiffState(BaseModel):
    values: dict[str, Value] = Field(description="the final state, on the locations both versions observe")
    satisfies: bool
    schedule: list[str] = Field(description="a shortest schedule reaching it in the version that allows it")


class DiffModelResult(BaseModel):
    model: str
    compared_on: list[str]
    only_old: list[DiffState] = Field(description="final states the old version allows and the new one does not")
    only_new: list[DiffState]
    old_observation: str
    new_observation: str
    incomplete: str | None


class DiffResponse(BaseModel):
    old: str
    new: str
    differ: bool = Field(description="some model allows a final state only one version allows")
    results: dict[str, DiffModelResult]
    errors: dict[str, ErrorBody] = Field(default_factory=dict)


# ---- lessons --------------------------------------------------------------------------


class LessonGoal(BaseModel):
    kind: Literal["bad-outcome", "final-state", "unreachable", "reorder", "fix"]
    model: str | None = Field(None, description="the model the goal is judged under (null: any)")
    prop: str | None = Field(None, description="final-state: the proposition the final state must satisfy")
    rule: str | None = Field(None, description="reorder: the kind of reordering (store→load, ...)")


class LessonInfo(BaseModel):
    name: str = Field(description="the lesson's name, as in `#lesson=NAME` links")
    index: int = Field(description="its place in the course, from 1")
    count: int | None = None
    title: str
    scenario: str = Field(description="the built-in protocol it plays, or the lesson's own name")
    builtin: str | None
    model: str = Field(description="the model it starts under")
    goal: str = Field(description="what the learner must do, in words")
    check: LessonGoal = Field(description="the goal the server checks")
    hints: list[str] = Field(description="shown one at a time, in order")
    explain: str = Field(description="the thread's argument, shown once the goal is met")
    source: str = Field(description="where in the thread it comes from")


class Lesson(LessonInfo):
    text: str = Field(description="the scenario source the lesson plays")


class LessonCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"lesson": "three-cpu-snapshot", "schedule": "1 0 0 2"},
        {"lesson": "barrier-posted-never"}]})
    lesson: str = Field(description="the lesson's name (GET /api/lessons)")
    model: Model | None = Field(None, description="the model to play under (default: the goal's, else the lesson's)")
    schedule: Schedule | None = Field(None, description="the run, for goals met by a run (bad-outcome, "
                                                         "final-state, reorder)")
    source: str | None = Field(None, min_length=1, max_length=LIMITS.source_chars,
                               description="an edited protocol (fix goals); default: the lesson's scenario")
    budget: BudgetIn = Field(default_factory=BudgetIn)


class LessonVerdict(BaseModel):
    lesson: str
    kind: str
    model: str | None = Field(description="the model the goal is judged under")
    met: bool = Field(description="whether the goal is met")
    why: str = Field(description="why, or what is missing, in words")
    explain: str | None = Field(None, description="the thread's argument, when the goal is met")
    observation: str | None = Field(None, description="the exhaustive check's herd7 observation, for check goals")
    step: int | None = Field(None, description="reorder: the step that is the reordering")
