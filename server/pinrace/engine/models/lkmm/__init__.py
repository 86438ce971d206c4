"""The Linux-kernel memory model (linux-kernel.cat + lock.cat) checked axiomatically, as herd7 does,
and stepped one operation at a time among the executions it allows (step.py)."""

from __future__ import annotations

from .check import check
from .step import LKMM, LkmmState, Refusal

__all__ = ["check", "LKMM", "LkmmState", "Refusal"]
