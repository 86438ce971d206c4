"""Lessons: a scenario plus a goal the engine checks, hints and the thread's argument (docs/lessons.md).

A lesson is a handful of `Key: value` lines, either in the leading comment of a litmus file
in protocols/lessons/ (the lesson's scenario is that file) or in a companion `.lesson` file
there that names a built-in protocol with `Scenario:`.  Files are taken in name order; a
leading number (`03-`) orders them and is not part of the lesson's name.

Goals (the `Check:` line) are judged here, on the engine's own data, never by a client:

    bad-outcome [under MODEL]        the run ends in the scenario's bad outcome
    final-state PROP [under MODEL]   the run ends in a final state where PROP holds
    unreachable under MODEL          the exhaustive check under MODEL finds the bad outcome Never
    reorder RULE                     under lkmm, a step of the run is a RULE reordering (store→load, ...)
    fix under MODEL                  an edited protocol that keeps the test is Never under MODEL
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import PinraceError
from .library import LibraryError

__all__ = ["Lesson", "Goal", "LessonError", "lessons", "find_lesson", "lessons_dir", "parse_lesson",
           "judge_run", "judge_result", "keeps_test", "STATE_GOALS", "CHECK_GOALS"]

MODELS = ("sc", "tso", "lkmm")
STATE_GOALS = ("bad-outcome", "final-state", "reorder")  # judged on the run the learner built
CHECK_GOALS = ("unreachable", "fix")  # judged on an exhaustive check's result
KEYS = ("Lesson", "Scenario", "Model", "Goal", "Check", "Hint", "Explain", "Source")
_KEY = re.compile(r"^(" + "|".join(KEYS) + r"):\s*(.*)$")
_RULES = ("store→load", "load→load", "load→store", "store→store", "older-value", "co-earlier")


class LessonError(LibraryError):
    """An unknown lesson (a 404 over REST, like an unknown built-in)."""

    code = "unknown-lesson"


class BadLesson(PinraceError):
    code = "bad-lesson"


def lessons_dir() -> Path:
    from .library import protocols_dir

    return protocols_dir() / "lessons"


@dataclass(frozen=True)
class Goal:
    kind: str
    model: str | None = None  # the model the goal is judged under (None: any)
    prop: object = None  # final-state: the proposition (lang.ast)
    prop_text: str = ""
    rule: str | None = None  # reorder: the kind of reordering

    def to_dict(self) -> dict:
        return {"kind": self.kind, "model": self.model, "prop": self.prop_text or None, "rule": self.rule}


@dataclass(frozen=True)
class Lesson:
    name: str  # file stem without its order number: "three-cpu-snapshot"
    index: int  # 1-based place in the course
    title: str
    scenario: str  # the text a session loads: a built-in's name, or the litmus file's source
    builtin: str | None  # the built-in it names, or None for a litmus file of its own
    model: str  # the model the lesson starts under
    goal_text: str
    goal: Goal
    hints: tuple[str, ...]
    explain: str
    source_note: str = ""
    path: Path = field(default=Path(), compare=False)

    @property
    def text(self) -> str:
        """The scenario source the lesson is about (a built-in's text, or its own file's)."""
        if self.builtin:
            from .library import find

            return find(self.builtin).source
        return self.scenario

    def to_dict(self, count: int | None = None) -> dict:
        return {"name": self.name, "index": self.index, "count": count, "title": self.title,
                "scenario": self.builtin or self.name, "builtin": self.builtin, "model": self.model,
                "goal": self.goal_text, "check": self.goal.to_dict(), "hints": list(self.hints),
                "explain": self.explain, "source": self.source_note}


# ---- parsing ----------------------------------------------------------------------------------

def _comment_lines(text: str) -> list[str]:
    """The lines of a litmus file's leading `(* ... *)` comment, with ` * ` prefixes removed."""
    m = re.search(r"\(\*(.*?)\*\)", text, re.S)
    if not m:
        return []
    return [re.sub(r"^\s*\*?\s?", "", ln).rstrip() for ln in m.group(1).splitlines()]


def _fields(lines: list[str]) -> dict[str, list[str]]:
    """Key: value lines; a value continues on the following lines up to a blank line or the next key."""
    out: dict[str, list[str]] = {}
    key = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("#"):
            continue
        m = _KEY.match(line)
        if m:
            key = m.group(1)
            out.setdefault(key, []).append(m.group(2).strip())
        elif not line:
            key = None
        elif key is not None:
            out[key][-1] = (out[key][-1] + " " + line).strip()
    return out


def _under(text: str) -> tuple[str, str | None]:
    m = re.match(r"^(.*?)\s*\bunder\s+(\w+)\s*$", text)
    if not m:
        return text.strip(), None
    if m.group(2) not in MODELS:
        raise BadLesson(f"unknown model '{m.group(2)}' in Check: (choose from {', '.join(MODELS)})")
    return m.group(1).strip(), m.group(2)


def parse_goal(text: str) -> Goal:
    """`bad-outcome under sc`, `final-state 1:r0=1`, `unreachable under tso`, `reorder store→load`,
    `fix under lkmm`."""
    kind, _, rest = text.strip().partition(" ")
    rest, model = _under(rest)
    if kind == "bad-outcome":
        return Goal(kind, model)
    if kind == "final-state":
        from .lang.parser import parse_prop

        if not rest:
            raise BadLesson("final-state needs a proposition, e.g. `final-state 1:r0=1 /\\ page._refcount=1026`")
        return Goal(kind, model, parse_prop(rest), rest)
    if kind in CHECK_GOALS:
        if model is None:
            raise BadLesson(f"{kind} needs the model it is judged under: `{kind} under lkmm`")
        return Goal(kind, model)
    if kind == "reorder":
        rule = rest.replace("->", "→")
        if rule not in _RULES:
            raise BadLesson(f"reorder needs one of: {', '.join(_RULES)}")
        return Goal(kind, "lkmm", rule=rule)
    raise BadLesson(f"unknown goal '{kind}' in Check: (bad-outcome, final-state, unreachable, reorder, fix)")


def _name_and_order(path: Path) -> str:
    return re.sub(r"^\d+[-_]", "", path.stem)


def parse_lesson(path: Path, index: int = 0) -> Lesson:
    """A lesson from a `.lesson` file or a litmus file with lesson lines in its leading comment."""
    text = path.read_text()
    if path.suffix == ".litmus":
        f = _fields(_comment_lines(text))
        scenario, builtin = text, None
    else:
        f = _fields(text.splitlines())
        if not f.get("Scenario"):
            raise BadLesson(f"{path.name}: a .lesson file names its scenario with `Scenario: NAME`")
        builtin = f["Scenario"][0].split()[0]
        own = path.parent / (builtin if builtin.endswith(".litmus") else builtin + ".litmus")
        if own.exists() and own.parent == path.parent:
            scenario, builtin = own.read_text(), None
        else:
            from .library import find

            find(builtin)  # LibraryError when it is no built-in
            scenario = builtin
    for key in ("Lesson", "Goal", "Check"):
        if not f.get(key):
            raise BadLesson(f"{path.name}: a lesson needs a `{key}:` line")
    model = (f.get("Model") or ["sc"])[0]
    if model not in MODELS:
        raise BadLesson(f"{path.name}: unknown model '{model}' (choose from {', '.join(MODELS)})")
    try:
        goal = parse_goal(f["Check"][0])
    except PinraceError as e:
        raise BadLesson(f"{path.name}: {e}") from None
    return Lesson(name=_name_and_order(path), index=index, title=f["Lesson"][0], scenario=scenario,
                  builtin=builtin, model=model, goal_text=" ".join(f["Goal"]), goal=goal,
                  hints=tuple(f.get("Hint", [])), explain=" ".join(f.get("Explain", [])),
                  source_note=" ".join(f.get("Source", [])), path=path)


def _is_lesson_file(p: Path) -> bool:
    if p.suffix == ".lesson":
        return True
    # a litmus file is a lesson when its comment has a Lesson: line; else it is a companion's scenario
    return p.suffix == ".litmus" and bool(_fields(_comment_lines(p.read_text())).get("Lesson"))


@lru_cache(maxsize=4)
def _load(d: Path, stamp: tuple) -> tuple[Lesson, ...]:
    files = [p for p in sorted(d.glob("*")) if p.suffix in (".lesson", ".litmus") and _is_lesson_file(p)]
    return tuple(parse_lesson(p, i + 1) for i, p in enumerate(files))


def lessons() -> list[Lesson]:
    """Every lesson, in course order."""
    d = lessons_dir()
    if not d.is_dir():
        return []
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(d.glob("*")))
    return list(_load(d, stamp))


def find_lesson(name: str) -> Lesson:
    for ls in lessons():
        if ls.name == name:
            return ls
    raise LessonError(f"no lesson '{name}' (lessons: {', '.join(x.name for x in lessons())})")


# ---- judging -----------------------------------------------------------------------------------

def _answer(lesson: Lesson, met: bool, why: str, **more) -> dict:
    return {"lesson": lesson.name, "kind": lesson.goal.kind, "model": lesson.goal.model, "met": met, "why": why,
            **more}


def _env(machine, state) -> dict:
    """Every register and location of a state, keyed as conditions name them ("0:r0", "page._refcount")."""
    env = dict(machine.final_memory(state))
    for c in range(len(state.cpus)):
        for r, v in machine.registers(state, c).items():
            env[f"{c}:{r}"] = v
    return env


def judge_run(lesson: Lesson, machine, state, timeline: list[dict], scenario_text: str, model: str) -> dict:
    """Is the goal met by the run the learner built (its applied part ends in `state`)?"""
    from .api.views import verdict
    from .engine.condition import holds, render_prop

    g = lesson.goal
    if g.kind in CHECK_GOALS:
        if g.kind == "fix":
            if scenario_text == lesson.text:
                return _answer(lesson, False, f"Edit the protocol (Edit or paste a protocol), load your version, then "
                                              f"run the exhaustive check under {g.model}.")
            return _answer(lesson, False, f"Your version is loaded: now run the exhaustive check under {g.model} "
                                          f"(Explore) to see whether the bad outcome is Never.")
        return _answer(lesson, False, f"Run the exhaustive check under {g.model} (Explore) to show it.")
    if scenario_text != lesson.text:
        return _answer(lesson, False, "This is not the lesson's scenario (it was edited or another one was "
                                      "loaded): restart the lesson to judge it.")
    if g.model is not None and model != g.model:
        return _answer(lesson, False, f"The goal is judged under {g.model}; the run is under {model}: "
                                      f"switch the memory model to {g.model}.")
    if g.kind == "reorder":
        for t in timeline:
            r = t.get("reason") or {}
            if t.get("applied") and g.rule in (r.get("rules") or [r.get("rule")]):
                return _answer(lesson, True, f"Goal met: step {t['index'] + 1} ({t['label']}) ran as a "
                                             f"{r.get('text') or g.rule}", step=t["index"])
        return _answer(lesson, False, f"No step of the run so far is a {g.rule} reordering: look for an enabled "
                                      f"step marked ⚠ {g.rule}.")
    v = verdict(machine, state)
    if not v["final"]:
        return _answer(lesson, False, f"Not yet: {v['summary']}.")
    if g.kind == "bad-outcome":
        if v["bad"]:
            return _answer(lesson, True, f"Goal met: this final state is the bad outcome under {model} "
                                         f"({v['condition']} {'holds' if v['satisfies'] else 'fails'}).")
        said = "holds" if v["satisfies"] else "does not hold"
        return _answer(lesson, False, f"This final state is not the bad outcome ({v['condition']} {said}): "
                                      f"undo, jump or drag to try another interleaving.")
    ok = holds(g.prop, _env(machine, state))
    said = render_prop(g.prop)
    if ok:
        return _answer(lesson, True, f"Goal met: the run ends with {said} under {model}.")
    return _answer(lesson, False, f"This final state does not have {said}: undo, jump or drag to try another "
                                  f"interleaving.")


def keeps_test(original: str, edited: str) -> str | None:
    """None when `edited` keeps `original`'s test (same CPUs, initial state and condition, and every
    memory access of each CPU still there in order, so only barriers and the like were added or
    swapped); else why not, in words."""
    from .engine.ir import MEMORY_INSTRS
    from .library import load_program

    a, b = load_program(original), load_program(edited)
    from .api.scenario import condition_text

    if len(a.threads) != len(b.threads):
        return f"it has {len(b.threads)} CPUs; the lesson's test has {len(a.threads)}"
    if condition_text(a) != condition_text(b):
        return f"its condition is `{condition_text(b)}`; keep the lesson's `{condition_text(a)}`"
    if a.init_memory != b.init_memory:
        return "its initial state differs from the lesson's"
    for ta, tb in zip(a.threads, b.threads, strict=True):
        want = [i.origin.text for i in ta.code if isinstance(i, MEMORY_INSTRS)]
        have = iter(i.origin.text for i in tb.code if isinstance(i, MEMORY_INSTRS))
        for w in want:
            if not any(h == w for h in have):
                return f"CPU{ta.index} no longer does `{w}`: add barriers, do not remove the protocol's accesses"
    return None


def judge_result(lesson: Lesson, model: str, result: dict, scenario_text: str) -> dict:
    """Is the goal met by an exhaustive check's result (one entry of /api/check's `results`) of
    `scenario_text` under `model`?"""
    g = lesson.goal
    if g.kind not in CHECK_GOALS:
        return _answer(lesson, False, "This lesson's goal is met by a run, not by the exhaustive check: step, "
                                      "drag or load a counterexample.")
    if model != g.model:
        return _answer(lesson, False, f"That check ran under {model}; the goal asks for {g.model}.")
    if result.get("incomplete"):
        return _answer(lesson, False, f"The check stopped early ({result['incomplete']}): an incomplete search "
                                      f"shows nothing is unreachable.")
    n = (result.get("statistics") or {}).get("explored", result.get("explored"))
    never = not result.get("bad_reachable")
    if g.kind == "unreachable":
        if scenario_text != lesson.text:
            return _answer(lesson, False, "This is not the lesson's scenario (it was edited or another one was "
                                          "loaded): restart the lesson to judge it.")
        if never:
            return _answer(lesson, True, f"Goal met: the exhaustive check under {model} examined {n} "
                                         f"{'candidate executions' if model == 'lkmm' else 'states'} and the bad "
                                         f"outcome is Never.", observation=result.get("observation"))
        return _answer(lesson, False, f"The check under {model} reaches the bad outcome "
                                      f"({result.get('observation')}).", observation=result.get("observation"))
    if scenario_text == lesson.text:
        return _answer(lesson, False, f"That is the protocol as given: under {model} the bad outcome is "
                                      f"{'Never' if never else 'reachable'}. Edit it first.",
                       observation=result.get("observation"))
    try:
        why = keeps_test(lesson.text, scenario_text)
    except PinraceError as e:
        return _answer(lesson, False, f"Your version does not compile: {e}")
    if why:
        return _answer(lesson, False, f"Your version changes the test: {why}.")
    if never:
        return _answer(lesson, True, f"Goal met: with your change the bad outcome is Never under {model} "
                                     f"(the exhaustive check examined {n} "
                                     f"{'candidate executions' if model == 'lkmm' else 'states'}).",
                       observation=result.get("observation"))
    return _answer(lesson, False, f"Still reachable under {model} ({result.get('observation')}): the change does "
                                  f"not order what it must.", observation=result.get("observation"))
