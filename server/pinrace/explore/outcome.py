"""Results of an exploration: final states, the verdict in herd7's words, counterexamples."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.condition import holds
from ..engine.state import Transition

__all__ = ["FinalState", "Result", "verdict_of"]


@dataclass
class FinalState:
    """A distinct final state: the observed values, and a shortest schedule reaching it."""

    values: dict  # key ("0:r0", "x") -> value, in the program's observed order
    status: str  # done, deadlock, loop-bound
    schedule: list[Transition]
    executions: int = 1  # terminal states (sc/tso) or executions (lkmm) with these values
    satisfies: bool = False  # the condition's proposition holds here
    detail: dict = field(default_factory=dict)  # model-specific: lkmm's rf/co, etc.

    def herd_line(self, observed) -> str:
        return " ".join(f"{loc.herd()}={self.values[loc.key()]};" for loc in observed)


@dataclass
class Result:
    model: str
    name: str
    finals: list[FinalState]  # status == done, after the filter
    stuck: list[FinalState]  # deadlock and loop-bound ends
    states: int  # states (sc/tso) or candidate executions (lkmm) explored
    elapsed: float
    incomplete: str | None = None
    quantifier: str = "exists"
    condition_text: str = ""
    flags: list[str] = field(default_factory=list)
    invariant_violations: list[FinalState] = field(default_factory=list)

    @property
    def positive(self) -> int:
        return sum(f.executions if self.model == "lkmm" else 1 for f in self.finals if f.satisfies)

    @property
    def negative(self) -> int:
        return sum(f.executions if self.model == "lkmm" else 1 for f in self.finals if not f.satisfies)

    @property
    def observation(self) -> str:
        return verdict_of(self.positive, self.negative)

    @property
    def loop_cut(self) -> bool:
        """Whether the loop bound cut some run short (herd7's "Loop" before Ok/No)."""
        return "loop-bound" in self.flags or any(f.status == "loop-bound" for f in self.stuck)

    @property
    def ok(self) -> bool:
        """herd7's Ok/No: whether the test's condition is validated."""
        if self.quantifier == "exists":
            return self.positive > 0
        if self.quantifier == "~exists":
            return self.positive == 0
        return self.negative == 0  # forall

    @property
    def bad_reachable(self) -> bool:
        """For `exists`, the stated (bad) outcome is reachable; for forall/~exists, a violation."""
        if self.quantifier == "exists":
            return self.positive > 0
        if self.quantifier == "~exists":
            return self.positive > 0
        return self.negative > 0

    def counterexamples(self) -> list[FinalState]:
        want = self.quantifier != "forall"
        return [f for f in self.finals if f.satisfies == want]


def verdict_of(positive: int, negative: int) -> str:
    if positive == 0:
        return "Never"
    if negative == 0:
        return "Always"
    return "Sometimes"


def evaluate_final(program, values: dict) -> bool:
    cond = program.condition
    return holds(cond.prop, values) if cond is not None else False
