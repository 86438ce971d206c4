"""The share link as an email block: wrapped at 72 columns, read back through any mail client.

    -----BEGIN PINRACE SCENARIO-----
    AbCd...
    -----END PINRACE SCENARIO-----

Reading ignores whitespace, line breaks, `> ` quote markers (any depth) and
quoted-printable soft breaks (a line-final `=`, which the link alphabet never uses).
"""

from __future__ import annotations

import re

from ..limits import LIMITS
from .link import LinkError, Shared, decode, encode

__all__ = ["BEGIN", "END", "WIDTH", "wrap", "unwrap", "to_block", "from_block", "find_block"]

BEGIN = "-----BEGIN PINRACE SCENARIO-----"
END = "-----END PINRACE SCENARIO-----"
WIDTH = 72

_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)*", re.M)
_BEGIN = re.compile(r"-----\s*BEGIN\s+PINRACE\s+SCENARIO\s*-----")
_END = re.compile(r"-----\s*END\s+PINRACE\s+SCENARIO\s*-----")


def wrap(token: str, width: int = WIDTH) -> str:
    """The link token between the markers, `width` characters a line."""
    lines = [token[i:i + width] for i in range(0, len(token), width)] or [""]
    return "\n".join([BEGIN, *lines, END])


def to_block(shared: Shared) -> str:
    return wrap(encode(shared))


def find_block(text: str) -> str | None:
    """The link token inside the first BEGIN/END block of `text`, or None when there is none."""
    most = 4 * LIMITS.link_chars  # quote markers and line breaks can multiply a link's size
    if len(text) > most:
        raise LinkError(f"the text is {len(text):,} characters long; pinrace reads at most {most:,}")
    clean = _QUOTE.sub("", text.replace("\r", ""))
    b = _BEGIN.search(clean)
    if not b:
        return None
    e = _END.search(clean, b.end())
    if not e:
        raise LinkError("the scenario block has a BEGIN line but no '-----END PINRACE SCENARIO-----': "
                        "it was cut off")
    inner = clean[b.end():e.start()]
    inner = re.sub(r"=[ \t]*\n", "", inner)  # quoted-printable soft line breaks
    return re.sub(r"\s+", "", inner)


def unwrap(text: str) -> str:
    """The link token from an email block; LinkError when there is no block."""
    tok = find_block(text)
    if tok is None:
        raise LinkError(f"no '{BEGIN}' block in the text")
    return tok


def from_block(text: str) -> Shared:
    """Decode the scenario in an email block."""
    return decode(unwrap(text))
