"""JSON text made once, where the data is, and spliced into answers unparsed (no web imports:
the workers use it too).

A check's result, a replay's states, a long run's timeline can be megabytes.  The worker that
computed one serializes it there (`Raw`), so the server neither unpickles a large dict nor
validates and re-serializes it on its event loop: it copies bytes.  `dumps` writes an answer
whose values may be `Raw` (or a session Timeline, which carries its JSON text): strict JSON
(no NaN), with each Raw put in place of a placeholder no client text can collide with.
"""

from __future__ import annotations

import json
import secrets

__all__ = ["Raw", "dumps", "raw"]


class Raw(str):
    """A JSON value's text, ready to be spliced into an answer."""


def raw(value) -> Raw:
    """`value` serialized once, strictly (a NaN here is pinrace's bug: it raises ValueError)."""
    return Raw(json.dumps(value, allow_nan=False, separators=(",", ":")))


# placeholders carry this process's random nonce: a client's text cannot spell one (drawn once,
# not per answer: getrandom() on every websocket reply showed up in the profile)
_NONCE = secrets.token_hex(8)


def _ready(v) -> str | None:
    if isinstance(v, Raw):
        return v
    if isinstance(v, list) and isinstance(getattr(v, "json", None), str):
        return v.json  # a Timeline
    return None


def dumps(obj) -> str:
    """`obj` as strict JSON text, Raw values (and Timelines, lists with their JSON text) spliced in as
    they are.  They are looked for two levels deep: a reply's `result` or `timeline`, an answer's
    `results[model]`; most replies have none and are plain json.dumps."""
    parts: list[str] = []

    def swap(v, depth: int):
        ready = _ready(v)
        if ready is not None:
            parts.append(ready)
            return f"{_NONCE}:{len(parts) - 1}"
        if depth and isinstance(v, dict):
            return {k: swap(x, depth - 1) for k, x in v.items()}
        return v

    top = _ready(obj)
    if top is not None:
        return top
    text = json.dumps(swap(obj, 2), default=str, allow_nan=False)
    for i, part in enumerate(parts):
        text = text.replace(json.dumps(f"{_NONCE}:{i}"), part, 1)
    return text
