"""The Linux-kernel memory model (linux-kernel.cat + lock.cat) checked axiomatically, as herd7 does."""

from __future__ import annotations

from .check import check

__all__ = ["check", "LKMM"]


class LKMM:
    """The lkmm model bound to a program (the stepping API comes later); use `check` for verdicts."""

    name = "lkmm"

    def __init__(self, program):
        self.program = program
