"""Checks on JSON that must happen before (or right after) it is parsed: nesting and lone surrogates.

Python's json module recurses once per nested array or object: `[` × 100,000 ends in a
RecursionError.  `json_depth` measures the nesting of JSON text without parsing it, so
every reader (request bodies, websocket messages, share links) refuses deep text first.

JSON can also spell a lone UTF-16 surrogate (`"\\ud800"`), which decodes to a Python str
that cannot be encoded as UTF-8: every later `.encode()` of it fails.  `lone_surrogate`
finds one in a parsed value, with where it is, so the value is refused where it enters.
"""

from __future__ import annotations

import re
from itertools import accumulate

__all__ = ["json_depth", "lone_surrogate"]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_depth(data: bytes | str) -> int:
    """How deeply arrays and objects nest in JSON text (strings skipped), without parsing it."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    # drop strings (escapes included), keep only brackets, then the running depth's maximum
    bare = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not bare:
        return 0
    return max(accumulate(1 if c in b"[{" else -1 for c in bare))


def lone_surrogate(value, path: str = "") -> str | None:
    """The path (`schedule[3]`, `scenario`) of the first string, key included, holding a lone
    surrogate in a parsed JSON value, or None.  Iterative: the value may nest as deep as allowed."""
    stack = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return p or "(the value)"
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and _SURROGATE.search(k):
                    return f"{p}.{k.encode('utf-8', 'backslashreplace').decode()}" if p else "(a key)"
                stack.append((x, f"{p}.{k}" if p else str(k)))
        elif isinstance(v, list):
            stack.extend((x, f"{p}[{i}]") for i, x in enumerate(v))
    return None
