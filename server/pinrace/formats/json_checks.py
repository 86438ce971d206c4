"""Checks on JSON that must happen before (or right after) it is parsed: nesting and lone surrogates.

Python's json module recurses once per nested array or object: `[` × 100,000 ends in a
RecursionError.  `json_too_deep` bounds the nesting of JSON text without parsing it, so
every reader (request bodies, websocket messages, share links) refuses deep text first.

JSON can also spell a lone UTF-16 surrogate (`"\\ud800"`), which decodes to a Python str
that cannot be encoded as UTF-8: every later `.encode()` of it fails.  `lone_surrogate`
finds one in a parsed value, with where it is, so the value is refused where it enters.
"""

from __future__ import annotations

import re

__all__ = ["json_too_deep", "lone_surrogate", "may_hold_surrogates"]

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def may_hold_surrogates(text: bytes | str) -> bool:
    """Whether JSON text spells a surrogate (`\\ud800` .. `\\udfff`) anywhere: one C-speed search, so
    only such text (rare: attacks, or emoji written as escapes) is parsed and walked for lone ones.
    UTF-8 cannot carry a surrogate otherwise."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")  # byte for byte: only the ASCII escape matters
    return _SURROGATE_ESCAPE.search(text) is not None


def _outside_strings(data: bytes) -> bytes:
    """The text outside JSON strings: escapes dropped (an escaped backslash first, then an escaped
    quote), then every other piece between quotes.  All C-speed passes (a regex over a megabyte
    string, or over many small ones, took 100-200 ms)."""
    return b"".join(data.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2])


def json_too_deep(data: bytes | str, limit: int) -> bool:
    """Whether arrays and objects in JSON text nest more than `limit` deep (strings skipped), without
    parsing it.  Each round removes the innermost bracket pairs at C speed, so the cost is at most
    `limit` passes over the text whatever it holds (a Python loop over a megabyte of '[' took 200 ms)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    bare = _outside_strings(data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not bare:
            return False
        # the pairs adjacent now become a mark first, so removing one does not make the next level
        # adjacent within the same round (bytes.replace: C speed, where re.sub took 200 ms a megabyte)
        marked = bare.replace(b"[]", b"0").replace(b"{}", b"0").replace(b"[}", b"0").replace(b"{]", b"0")
        shorter = marked.replace(b"0", b"")
        if len(shorter) == len(bare):
            return True  # no pair left to remove: unbalanced, or deeper than this
        bare = shorter
    return bool(bare)


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
