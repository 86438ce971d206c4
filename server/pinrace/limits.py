"""Every limit a public pinrace instance enforces, in one place, each set by a PINRACE_* variable.

Why one module at the package root (not under api/): the compiler (CPUs, operations per
CPU, loop bound, macro expansion) and the link decoder enforce limits too, and they must not
import the web layer.  Modules read `LIMITS.<name>` where they enforce it, at that moment:
nothing keeps a copy, so a test changes one with `monkeypatch.setattr(LIMITS, name, value)`
(the exploration workers, being other processes, keep the values of the environment).

Values are read once, at import, from the environment (the exploration workers are
spawned with the server's environment, so they see the same values).  A variable that
is set but not a usable value stops the server at start-up with a message naming it,
rather than silently running unlimited.  docs/limits.md lists them all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

__all__ = ["Limits", "LIMITS", "LimitsError", "ENV"]


class LimitsError(ValueError):
    """A PINRACE_* variable that is not a usable limit."""


def _limit(default, var: str, what: str, *, zero_ok: bool = False):
    # zero would disable the service and a negative number is a typo: only a few limits give 0 a
    # meaning ("automatic")
    return field(default=default, metadata={"var": var, "what": what, "zero_ok": zero_ok})


@dataclass
class Limits:
    """The limits, each a field whose metadata names its environment variable and what it bounds.

    A plain dataclass (no pydantic): the CLI imports it, and must start without the web stack."""

    # ---- scenario text -------------------------------------------------------------------
    source_chars: int = _limit(200_000, "PINRACE_MAX_SOURCE_CHARS", "characters of scenario text")
    cpus: int = _limit(16, "PINRACE_MAX_CPUS", "CPUs (threads P0..Pn) in a scenario")
    ops_per_cpu: int = _limit(2_000, "PINRACE_MAX_OPS_PER_CPU",
                              "compiled operations of one CPU, after inlining helpers")
    loop_bound: int = _limit(64, "PINRACE_MAX_LOOP_BOUND", "times each loop may go round")
    macro_nodes: int = _limit(100_000, "PINRACE_MAX_MACRO_EXPANSION",
                              "expression nodes the #define expansions of one scenario may produce")
    compile_seconds: float = _limit(10.0, "PINRACE_MAX_COMPILE_SECONDS",
                                    "wall-clock seconds one compile may take (in a worker process)")
    # ---- explorations --------------------------------------------------------------------
    max_states: int = _limit(2_000_000, "PINRACE_MAX_STATES",
                             "states (sc, tso) or candidate executions (lkmm) one exploration examines")
    default_states: int = _limit(500_000, "PINRACE_DEFAULT_STATES", "the state budget when a request names none")
    max_seconds: float = _limit(30.0, "PINRACE_MAX_SECONDS", "wall-clock seconds of one exploration")
    default_seconds: float = _limit(10.0, "PINRACE_DEFAULT_SECONDS", "the time budget when a request names none")
    memory_mb: float = _limit(512.0, "PINRACE_MAX_MEMORY_MB", "resident MiB of one worker process")
    overrun_seconds: float = _limit(5.0, "PINRACE_OVERRUN_SECONDS",
                                    "seconds a job may run past its time budget before its worker is stopped")
    workers: int = _limit(0, "PINRACE_WORKERS", "worker processes for explorations and compiles (0: the CPU "
                          "count, at least 2)", zero_ok=True)
    spare_workers: int = _limit(1, "PINRACE_SPARE_WORKERS", "more worker processes, kept for clients that have "
                                "nothing running", zero_ok=True)
    explorations: int = _limit(0, "PINRACE_MAX_EXPLORATIONS",
                               "jobs running or queued on the server (0: 32 per worker)", zero_ok=True)
    explorations_per_client: int = _limit(4, "PINRACE_MAX_EXPLORATIONS_PER_CLIENT",
                                          "jobs (compiles, explorations, replays) running or queued for one "
                                          "client address")
    # ---- requests and connections ---------------------------------------------------------
    body_bytes: int = _limit(1024 * 1024, "PINRACE_MAX_BODY_BYTES", "bytes in one HTTP request body")
    body_seconds: float = _limit(10.0, "PINRACE_BODY_SECONDS", "seconds a client may take to send a request body")
    json_depth: int = _limit(32, "PINRACE_MAX_JSON_DEPTH", "nesting of arrays and objects in a request or message")
    connections_per_client: int = _limit(16, "PINRACE_MAX_CONNECTIONS_PER_CLIENT",
                                         "websockets open and HTTP requests in progress for one client address")
    keepalive_seconds: float = _limit(5.0, "PINRACE_KEEPALIVE_SECONDS",
                                      "seconds an idle keep-alive HTTP connection stays open")
    replay_states: int = _limit(200, "PINRACE_MAX_REPLAY_STATES", "states (and steps) in one /api/replay answer")
    # ---- websocket -------------------------------------------------------------------------
    ws_message_chars: int = _limit(256 * 1024, "PINRACE_MAX_WS_MESSAGE_CHARS", "characters in one websocket message")
    ws_rate: float = _limit(100.0, "PINRACE_WS_RATE", "websocket messages per second one session may send, sustained")
    ws_burst: float = _limit(200.0, "PINRACE_WS_BURST", "websocket messages one session may send in a burst")
    ws_cpu_share: float = _limit(0.1, "PINRACE_WS_CPU_SHARE",
                                 "share of the server's time one websocket session may keep it busy")
    ws_flood_seconds: float = _limit(10.0, "PINRACE_WS_FLOOD_SECONDS",
                                     "window in which a session's refused messages are counted as a flood")
    ws_idle_seconds: float = _limit(1800.0, "PINRACE_WS_IDLE_SECONDS",
                                    "seconds a websocket may stay silent before the server closes it")
    run_steps: int = _limit(10_000, "PINRACE_MAX_RUN_STEPS", "steps in one schedule or interactive run")
    undo_history: int = _limit(500, "PINRACE_MAX_UNDO", "undo snapshots a session keeps")
    # ---- links ----------------------------------------------------------------------------
    link_chars: int = _limit(100_000, "PINRACE_MAX_LINK_CHARS", "characters of a share link's token (after '#s=')")
    link_payload_bytes: int = _limit(512 * 1024, "PINRACE_MAX_LINK_PAYLOAD_BYTES", "bytes a share link decompresses to")

    def __post_init__(self) -> None:
        # a default above its cap would be cut silently: bring it down to the cap instead
        self.default_states = min(self.default_states, self.max_states)
        self.default_seconds = min(self.default_seconds, self.max_seconds)

    # ---- derived ----------------------------------------------------------------------------
    @property
    def flood_drops(self) -> int:
        """Refused websocket messages within ws_flood_seconds past which the connection is closed (1008):
        five bursts, far more than a client with a bug sends."""
        return int(5 * self.ws_burst)

    # ---- reading ----------------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The limits set by `env` (default: the process environment); LimitsError names a bad variable."""
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            var = f.metadata["var"]
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            kind = float if isinstance(f.default, float) else int
            try:
                v = kind(raw.strip().replace("_", ""))
            except ValueError:
                raise LimitsError(f"{var}={raw!r} is not a number") from None
            if not math.isfinite(v):  # NaN compares false with everything: it would disable the limit
                raise LimitsError(f"{var}={raw!r}: a limit must be a finite number")
            if v < 0 or (v == 0 and not f.metadata["zero_ok"]):
                raise LimitsError(f"{var}={raw!r}: a limit must be positive" if not f.metadata["zero_ok"]
                                  else f"{var}={raw!r}: it must be 0 or more")
            values[f.name] = v
        return cls(**values)

    def table(self) -> list[tuple[str, str, object]]:
        """(variable, what, value) for every limit: what `docs/limits.md` and the tests list."""
        return [(f.metadata["var"], f.metadata["what"], getattr(self, f.name)) for f in fields(self)]


# field name -> (environment variable, what it bounds)
ENV: dict[str, tuple[str, str]] = {f.name: (f.metadata["var"], f.metadata["what"]) for f in fields(Limits)}

LIMITS = Limits.from_env()
