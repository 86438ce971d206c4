"""Memory models: each one module with the same small protocol (initial, enabled, step)."""

from __future__ import annotations

from ..ir import Program

MODELS = ("sc", "tso", "lkmm")

__all__ = ["MODELS", "make_model"]


def make_model(name: str, program: Program, budget=None):
    """The model called `name` instantiated for `program` (`budget` bounds lkmm's enumeration)."""
    if name == "sc":
        from .sc import SC

        return SC(program)
    if name == "tso":
        from .tso import TSO

        return TSO(program)
    if name == "lkmm":
        from .lkmm import LKMM

        return LKMM(program, budget)
    raise ValueError(f"unknown model '{name}' (choose from {', '.join(MODELS)})")
