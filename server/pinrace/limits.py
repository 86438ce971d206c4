"""Every limit a public pinrace instance enforces, in one place, each set by a PINRACE_* variable.

Why one module at the package root (not under api/): the compiler (CPUs, operations per
CPU, loop bound) and the link decoder enforce limits too, and they must not import the
web layer.  The modules that enforce a limit keep their old constant names (MAX_SOURCE,
MAX_BODY, MAX_RUN, ...) as aliases of the values here, so nothing is defined twice.

Values are read once, at import, from the environment (the exploration workers are
spawned with the server's environment, so they see the same values).  A variable that
is set but not a positive number stops the server at start-up with a message naming it,
rather than silently running unlimited.  docs/limits.md lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

__all__ = ["Limits", "LIMITS", "LimitsError", "ENV"]


class LimitsError(ValueError):
    """A PINRACE_* variable that is not a usable limit."""


# field name -> (environment variable, what it bounds); the defaults are the dataclass defaults
ENV: dict[str, tuple[str, str]] = {
    "source_chars": ("PINRACE_MAX_SOURCE_CHARS", "characters of scenario text"),
    "cpus": ("PINRACE_MAX_CPUS", "CPUs (threads P0..Pn) in a scenario"),
    "ops_per_cpu": ("PINRACE_MAX_OPS_PER_CPU", "compiled operations of one CPU, after inlining helpers"),
    "loop_bound": ("PINRACE_MAX_LOOP_BOUND", "times each loop may go round"),
    "max_states": ("PINRACE_MAX_STATES", "states (sc, tso) or candidate executions (lkmm) one exploration examines"),
    "default_states": ("PINRACE_DEFAULT_STATES", "the state budget when a request names none"),
    "max_seconds": ("PINRACE_MAX_SECONDS", "wall-clock seconds of one exploration"),
    "default_seconds": ("PINRACE_DEFAULT_SECONDS", "the time budget when a request names none"),
    "memory_mb": ("PINRACE_MAX_MEMORY_MB", "resident MiB of an exploration worker"),
    "explorations": ("PINRACE_MAX_EXPLORATIONS", "explorations running or queued on the server (0: 8 per worker)"),
    "explorations_per_client": ("PINRACE_MAX_EXPLORATIONS_PER_CLIENT",
                                "explorations running or queued for one client address"),
    "body_bytes": ("PINRACE_MAX_BODY_BYTES", "bytes in one HTTP request body"),
    "ws_message_chars": ("PINRACE_MAX_WS_MESSAGE_CHARS", "characters in one websocket message"),
    "ws_rate": ("PINRACE_WS_RATE", "websocket messages per second one session may send, sustained"),
    "ws_burst": ("PINRACE_WS_BURST", "websocket messages one session may send in a burst"),
    "ws_cpu_share": ("PINRACE_WS_CPU_SHARE", "share of the server's time one websocket session may keep it busy"),
    "link_chars": ("PINRACE_MAX_LINK_CHARS", "characters of a share link's token (after '#s=')"),
    "link_payload_bytes": ("PINRACE_MAX_LINK_PAYLOAD_BYTES", "bytes a share link decompresses to"),
    "run_steps": ("PINRACE_MAX_RUN_STEPS", "steps in one schedule or interactive run"),
    "undo_history": ("PINRACE_MAX_UNDO", "undo snapshots a session keeps"),
}


@dataclass(frozen=True)
class Limits:
    source_chars: int = 200_000
    cpus: int = 16
    ops_per_cpu: int = 2_000
    loop_bound: int = 64
    max_states: int = 2_000_000
    default_states: int = 500_000
    max_seconds: float = 30.0
    default_seconds: float = 10.0
    memory_mb: float = 2048.0
    explorations: int = 0
    explorations_per_client: int = 4
    body_bytes: int = 1024 * 1024
    ws_message_chars: int = 256 * 1024
    ws_rate: float = 100.0
    ws_burst: float = 200.0
    ws_cpu_share: float = 0.25
    link_chars: int = 100_000
    link_payload_bytes: int = 512 * 1024
    run_steps: int = 10_000
    undo_history: int = 500

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Limits:
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            var = ENV[f.name][0]
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            kind = float if isinstance(f.default, float) else int
            try:
                v = kind(raw.replace("_", ""))
            except ValueError:
                raise LimitsError(f"{var}={raw!r} is not a number") from None
            # 0 only means something for `explorations` (automatic); elsewhere it would disable the service
            if v < 0 or (v == 0 and f.name != "explorations"):
                raise LimitsError(f"{var}={raw!r}: a limit must be positive")
            values[f.name] = v
        lim = cls(**values)
        if lim.default_states > lim.max_states or lim.default_seconds > lim.max_seconds:
            # a default above its cap would be cut silently: keep them consistent instead
            lim = cls(**{**values, "default_states": min(lim.default_states, lim.max_states),
                         "default_seconds": min(lim.default_seconds, lim.max_seconds)})
        return lim

    def table(self) -> list[tuple[str, str, object]]:
        """(variable, what, value) for every limit: what `docs/limits.md` and the tests list."""
        return [(ENV[f.name][0], ENV[f.name][1], getattr(self, f.name)) for f in fields(self)]


LIMITS = Limits.from_env()
