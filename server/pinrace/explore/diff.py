"""Before/after: the final states one version of a scenario allows and the other does not."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.ir import Program
from .budget import Budget
from .outcome import FinalState, Result
from .run import check

__all__ = ["Diff", "diff"]


@dataclass
class Diff:
    model: str
    common: list[str]  # the observed keys both versions share, on which states are compared
    removed: list[FinalState]  # allowed by old, not by new (a patch's intended effect)
    added: list[FinalState]  # allowed by new, not by old
    old: Result
    new: Result

    @property
    def incomplete(self) -> str | None:
        return self.old.incomplete or self.new.incomplete


def _project(f: FinalState, keys: list[str]) -> tuple:
    return tuple(f.values.get(k) for k in keys)


def diff(old: Program, new: Program, model: str, budget: Budget | None = None) -> Diff:
    """Compare the final states of two versions on the locations both observe."""
    r_old = check(old, model, budget)
    r_new = check(new, model, budget)
    new_keys = {loc.key() for loc in new.observed}
    keys = [loc.key() for loc in old.observed if loc.key() in new_keys]
    seen_old = {_project(f, keys) for f in r_old.finals}
    seen_new = {_project(f, keys) for f in r_new.finals}
    removed, added, seen = [], [], set()
    for f in r_old.finals:
        k = _project(f, keys)
        if k not in seen_new and k not in seen:
            seen.add(k)
            removed.append(f)
    for f in r_new.finals:
        k = _project(f, keys)
        if k not in seen_old and k not in seen:
            seen.add(k)
            added.append(f)
    return Diff(model, keys, removed, added, r_old, r_new)
