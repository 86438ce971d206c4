"""Sequential consistency: every operation acts on memory at once, in some interleaving."""

from __future__ import annotations

from ..machine import Machine

__all__ = ["SC"]


class SC(Machine):
    """Interleavings of whole operations; barriers are no-ops, RCU and locks still exclude."""

    name = "sc"
