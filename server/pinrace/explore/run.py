"""One entry point for every face (CLI, REST, websocket, tests): check a program under a model."""

from __future__ import annotations

from collections.abc import Callable

from ..engine.ir import Program
from ..engine.models import MODELS, make_model
from .budget import Budget, Progress
from .outcome import Result

__all__ = ["check", "MODELS"]


def check(program: Program, model: str, budget: Budget | None = None,
          progress: Callable[[Progress], None] | None = None) -> Result:
    """Every final state of `program` under `model`, with the verdict and counterexamples."""
    if model == "lkmm":
        from ..engine.models.lkmm import check as lkmm_check

        return lkmm_check(program, budget=budget, progress=progress)
    from .search import explore

    return explore(make_model(model, program), budget=budget, progress=progress)
