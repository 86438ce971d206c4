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


def dumps(obj) -> str:
    """`obj` as strict JSON text, Raw values (and anything with a `json` text attribute that is a list,
    i.e. a Timeline) spliced in as they are."""
    parts: list[str] = []
    nonce = secrets.token_hex(8)  # a client's text cannot guess it: placeholders never collide

    def swap(v):
        if isinstance(v, Raw):
            parts.append(v)
        elif isinstance(v, list) and isinstance(getattr(v, "json", None), str):
            parts.append(v.json)
        elif isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        elif isinstance(v, (list, tuple)):
            return [swap(x) for x in v]
        else:
            return v
        return f"{nonce}:{len(parts) - 1}"

    text = json.dumps(swap(obj), default=str, allow_nan=False)
    for i, part in enumerate(parts):
        text = text.replace(json.dumps(f"{nonce}:{i}"), part, 1)
    return text
