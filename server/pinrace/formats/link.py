"""Share links: scenario + model + schedule as `#s=...` (deflate, base64url, version, checksum).

Layout of the bytes behind `s=`, before base64url (no padding):

    [version: 1 byte][raw deflate of the canonical JSON payload][CRC-32 of all before: 4 bytes]

The payload is canonical JSON (sorted keys, no spaces, UTF-8) with short keys:
`m` model, `s` schedule (space-separated step tokens), and either `t` (the scenario text,
for edited or user scenarios) or `b` + `h` (a built-in protocol's name and the first 12
hex digits of the SHA-256 of its text); `p` the page prelude's hash, `l` a loop bound.
Built-ins are loaded by hash from protocols/versions/<name>/<hash>.litmus, so an old link
loads the exact text it was made with after the protocol is edited (`snapshot_builtins`
keeps that archive).  Decoding checks length, alphabet, checksum, version, a size cap
on decompression and the payload's schema: a damaged link is refused, never loaded as
something else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.state import Transition
from ..errors import PinraceError, ScheduleError
from ..limits import LIMITS
from .json_checks import json_too_deep
from .schedule import format_schedule, parse_schedule, parse_token

__all__ = [
    "LINK_VERSION", "HASH_CHARS",
    "LinkError", "Shared", "Loaded",
    "encode", "decode", "extract", "text_hash", "make_shared", "load", "link_url",
    "versions_dir", "archived", "snapshot_builtins", "missing_from_archive",
]

LINK_VERSION = 1
# Limits (pinrace.limits): PINRACE_MAX_LINK_CHARS characters after `s=` (a 200,000-character
# scenario compresses well below), PINRACE_MAX_LINK_PAYLOAD_BYTES of decompressed JSON.
HASH_CHARS = 12  # hex digits of SHA-256 naming a built-in version
_MODELS = ("sc", "tso", "lkmm")
_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_KEYS = {"m", "s", "t", "b", "h", "p", "l"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
_HEX = re.compile("[0-9a-f]{" + str(HASH_CHARS) + "}")


class LinkError(PinraceError):
    """A link that cannot be loaded: damaged, truncated, too large, or from elsewhere."""

    code = "bad-link"


class LinkVersionError(LinkError):
    code = "link-version"


class LinkTooLarge(LinkError):
    code = "link-too-large"


class UnknownBuiltinVersion(LinkError):
    code = "unknown-builtin-version"


@dataclass(frozen=True)
class Shared:
    """What a link carries.  Exactly one of `text` or (`builtin`, `sha`) is set."""

    model: str = "sc"
    schedule: tuple = ()  # Transition | int (a bare CPU number: that CPU's next operation)
    text: str | None = None
    builtin: str | None = None
    sha: str | None = None
    prelude: str | None = None  # hash of the page prelude the scenario was made against
    loop_bound: int | None = None

    def to_json(self) -> dict:
        """The payload object (short keys), validated."""
        d: dict = {"m": self.model, "s": _schedule_text(self.schedule)}
        if self.text is not None:
            d["t"] = self.text
        if self.builtin is not None or self.sha is not None:
            d["b"], d["h"] = self.builtin, self.sha
        if self.prelude is not None:
            d["p"] = self.prelude
        if self.loop_bound is not None:
            d["l"] = self.loop_bound
        _validate(d)
        return d


def _schedule_text(steps) -> str:
    toks = []
    for i, st in enumerate(steps):
        if isinstance(st, bool) or not isinstance(st, (int, Transition)):
            raise LinkError(f"step {i}: {st!r} is not a transition or a CPU number")
        tok = str(st) if isinstance(st, int) else st.token()
        if not tok or any(c.isspace() for c in tok):
            raise LinkError(f"step {i}: {tok!r} cannot be written in a link")
        try:
            back = parse_token(tok, i)
        except ScheduleError:
            back = None
        if back != st:
            raise LinkError(f"step {i}: {tok!r} does not read back as the same step")
        toks.append(tok)
    return " ".join(toks)


def _canonical(d: dict) -> bytes:
    try:
        return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise LinkError("the scenario text is not valid Unicode (a lone surrogate?)") from None


def encode(shared: Shared) -> str:
    """The link token (the part after `#s=`)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = bytes([LINK_VERSION]) + comp.compress(_canonical(shared.to_json())) + comp.flush()
    raw = body + zlib.crc32(body).to_bytes(4, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def link_url(token: str, base: str = "") -> str:
    """`base#s=token` (base is the app's address, e.g. http://127.0.0.1:8000/)."""
    return f"{base}#s={token}"


def extract(text: str) -> str:
    """The token from a full URL, a `#s=` fragment, `s=...`, or the bare token."""
    if not isinstance(text, str):
        raise LinkError("a link is text")
    s = text.strip()
    m = re.search(r"(?:^|[#&?;])s=([^&#\s]*)", s)
    if m:
        return m.group(1)
    return s


def decode(text: str) -> Shared:
    """The Shared payload of a link; LinkError with a clear reason when it is not one."""
    tok = extract(text)
    if len(tok) > LIMITS.link_chars:
        raise LinkTooLarge(f"the link is {len(tok):,} characters long; pinrace reads links of at most "
                           f"{LIMITS.link_chars:,}")
    if not tok:
        raise LinkError("the link is empty: expected the text after '#s='")
    bad = _ALPHABET.match(tok).end()
    if bad < len(tok):
        raise LinkError(f"character {tok[bad]!r} at position {bad + 1} of the link is not one a pinrace link "
                        f"contains: the link was damaged in copying")
    if len(tok) % 4 == 1 or len(tok) < 8:
        raise LinkError("the link is truncated or damaged (its length is impossible)")
    raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != tok:
        raise LinkError("the link's last character is damaged")
    body, crc = raw[:-4], raw[-4:]
    if zlib.crc32(body).to_bytes(4, "big") != crc:
        raise LinkError("the link's checksum does not match: it was damaged or truncated in copying")
    version = body[0]
    if version != LINK_VERSION:
        raise LinkVersionError(f"the link has format version {version}; this pinrace reads version {LINK_VERSION} "
                               f"(was it made by a newer pinrace?)")
    d = zlib.decompressobj(-15)
    try:
        data = d.decompress(body[1:], LIMITS.link_payload_bytes + 1)
    except zlib.error:
        raise LinkError("the link's compressed data is damaged") from None
    if len(data) > LIMITS.link_payload_bytes or d.unconsumed_tail:
        raise LinkTooLarge(f"the link expands to more than {LIMITS.link_payload_bytes:,} bytes; refused")
    if not d.eof or d.unused_data:
        raise LinkError("the link's compressed data is damaged or truncated")
    if json_too_deep(data, 1):  # the payload is one flat object: '[[[[' is never a link
        raise LinkError("the link's payload is not a pinrace link (it nests)")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LinkError("the link's payload is not valid JSON") from None
    _validate(obj)
    _check_limits(obj)
    if _canonical(obj) != data:
        raise LinkError("the link's payload is not in canonical form")
    return _from_json(obj)


def _validate(d) -> None:
    if not isinstance(d, dict):
        raise LinkError("the link's payload is not an object")
    extra = set(d) - _KEYS
    if extra:
        raise LinkError(f"the link's payload has unknown fields {sorted(extra)}")
    if d.get("m") not in _MODELS:
        raise LinkError(f"the link names an unknown model {d.get('m')!r} (models: {', '.join(_MODELS)})")
    if not isinstance(d.get("s"), str):
        raise LinkError("the link's schedule is missing")
    has_t, has_b = "t" in d, "b" in d or "h" in d
    if has_t == has_b:
        raise LinkError("the link must carry either the scenario text or a built-in's name and hash")
    if has_t and not isinstance(d["t"], str):
        raise LinkError("the link's scenario text is not text")
    if has_b and not (isinstance(d.get("b"), str) and _NAME.fullmatch(d["b"])):
        raise LinkError(f"the link's built-in name {d.get('b')!r} is not a protocol name")
    for k in ("h", "p"):
        if (k in d or (k == "h" and has_b)) and not (isinstance(d.get(k), str) and _HEX.fullmatch(d[k])):
            raise LinkError(f"the link's hash {d.get(k)!r} is not {HASH_CHARS} hex digits")
    if "l" in d and (isinstance(d["l"], bool) or not isinstance(d["l"], int) or not 0 <= d["l"] <= 1000):
        raise LinkError("the link's loop bound must be an integer from 0 to 1000")


def _check_limits(d: dict) -> None:
    """The limits a scenario, a loop bound and a schedule have anywhere else, applied as the link is read
    (not later, when what it carries is loaded)."""
    if "t" in d and len(d["t"]) > LIMITS.source_chars:
        raise LinkTooLarge(f"the link's scenario is {len(d['t']):,} characters long; the limit is "
                           f"{LIMITS.source_chars:,} (PINRACE_MAX_SOURCE_CHARS)")
    if "l" in d and d["l"] > LIMITS.loop_bound:
        raise LinkError(f"the link's loop bound is {d['l']}; the limit is {LIMITS.loop_bound} (PINRACE_MAX_LOOP_BOUND)")
    steps = d["s"].count(" ") + 1 if d["s"].strip() else 0
    if steps > LIMITS.run_steps:
        raise LinkTooLarge(f"the link's schedule has {steps:,} steps; the limit is {LIMITS.run_steps:,} "
                           f"(PINRACE_MAX_RUN_STEPS)")


def _from_json(d: dict) -> Shared:
    try:
        steps = tuple(parse_schedule(d["s"]))
    except ScheduleError as e:
        raise LinkError(f"the link's schedule is not readable: {e}") from None
    return Shared(model=d["m"], schedule=steps, text=d.get("t"), builtin=d.get("b"), sha=d.get("h"),
                  prelude=d.get("p"), loop_bound=d.get("l"))


# ---- built-in versions ------------------------------------------------------------------


def text_hash(text: str) -> str:
    """The first HASH_CHARS hex digits of SHA-256 over the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def versions_dir() -> Path:
    from ..library import protocols_dir

    return protocols_dir() / "versions"


_PRELUDE_DIR = "_prelude"


def _version_path(name: str, sha: str) -> Path:
    if name == _PRELUDE_DIR:
        return versions_dir() / _PRELUDE_DIR / f"{sha}.h"
    return versions_dir() / name / f"{sha}.litmus"


def _read(p: Path) -> str:
    with open(p, encoding="utf-8", newline="") as f:
        return f.read()


def archived(name: str, sha: str) -> str | None:
    """The archived text of built-in `name` at version `sha`, or None."""
    p = _version_path(name, sha)
    if not p.is_file():
        return None
    text = _read(p)
    if text_hash(text) != sha:
        raise LinkError(f"the archived {p.name} of '{name}' does not match its hash (the archive was edited)")
    return text


def _write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def snapshot_builtins() -> list[Path]:
    """Archive the current text of every built-in (and the prelude) by hash; the new files."""
    from ..library import builtins, protocols_dir

    new = []
    for b in builtins():
        text = _read(b.path)
        p = _version_path(b.name, text_hash(text))
        if not p.exists():
            _write(p, text)
            new.append(p)
    pre = protocols_dir() / "prelude.h"
    if pre.is_file():
        text = _read(pre)
        p = _version_path(_PRELUDE_DIR, text_hash(text))
        if not p.exists():
            _write(p, text)
            new.append(p)
    return new


def missing_from_archive() -> list[str]:
    """Built-ins (and the prelude) whose current text is not archived: run snapshot_builtins."""
    from ..library import builtins, protocols_dir

    out = []
    for b in builtins():
        h = text_hash(_read(b.path))
        if archived(b.name, h) is None:
            out.append(f"{b.name} ({h})")
    pre = protocols_dir() / "prelude.h"
    if pre.is_file():
        h = text_hash(_read(pre))
        if archived(_PRELUDE_DIR, h) is None:
            out.append(f"prelude.h ({h})")
    return out


# ---- making and loading links -----------------------------------------------------------


def _current_prelude() -> str:
    from ..library import protocols_dir

    p = protocols_dir() / "prelude.h"
    return _read(p) if p.is_file() else ""


def _builtin_by_hash(text: str, name: str | None) -> tuple[str, str] | None:
    """(name, hash) when `text` is a built-in's current or archived text."""
    from ..library import builtins

    h = text_hash(text)
    names = [name] if name else [b.name for b in builtins()]
    for n in names:
        for b in builtins():
            if b.name == n and text_hash(_read(b.path)) == h:
                return n, h
        if _version_path(n, h).is_file():
            return n, h
    return None


def make_shared(text: str, model: str = "sc", schedule: str | list | tuple = (), builtin: str | None = None,
                loop_bound: int | None = None, check: bool = True, program=None) -> Shared:
    """A Shared for scenario `text`: by name and hash when it is a built-in's text, else inline.

    With `check`, the schedule is replayed first and stored compactly: under sc and tso a
    bare CPU number for each operation, `CPU:flush` for a flush; under lkmm each step keeps
    its op and choice (an op may run ahead of program order). A schedule that does not
    replay raises ScheduleError naming the step.  `program` is `text` already compiled
    (with the page prelude and `loop_bound`), when the caller has it.
    """
    if model not in _MODELS:
        raise LinkError(f"unknown model {model!r} (models: {', '.join(_MODELS)})")
    steps = parse_schedule(schedule) if isinstance(schedule, str) else list(schedule)
    if check:
        from ..engine.models import make_model
        from ..explore.replay import replay
        from ..lang.compile import compile_source

        prog = program
        if prog is None:
            pre = _current_prelude()
            prog = compile_source(text, loop_bound=loop_bound, prelude=pre or None)
        _, taken = replay(make_model(model, prog), steps)
        steps = list(taken) if model == "lkmm" else [t.cpu if t.op is not None and not t.choice else t
                                                     for t in taken]
    ref = _builtin_by_hash(text, builtin)
    pre = _current_prelude()
    prelude = text_hash(pre) if pre else None
    if ref:
        return Shared(model, tuple(steps), None, ref[0], ref[1], prelude, loop_bound)
    return Shared(model, tuple(steps), text, None, None, prelude, loop_bound)


@dataclass
class Loaded:
    """A decoded link resolved to scenario text, ready to compile."""

    text: str
    label: str
    model: str
    schedule: list
    builtin: str | None = None
    sha: str | None = None
    prelude: str | None = None  # the prelude text to compile with, when it differs from the current one
    loop_bound: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def schedule_text(self) -> str:
        return " ".join(str(s) if isinstance(s, int) else s.token() for s in self.schedule)

    def program(self):
        from ..lang.compile import compile_source

        pre = self.prelude if self.prelude is not None else _current_prelude()
        return compile_source(self.text, loop_bound=self.loop_bound, prelude=pre or None)

    def to_dict(self) -> dict:
        return {"scenario": self.text, "label": self.label, "model": self.model,
                "schedule": self.schedule_text, "builtin": self.builtin, "hash": self.sha,
                "loop_bound": self.loop_bound, "prelude": self.prelude, "warnings": self.warnings}


def load(link: str | Shared) -> Loaded:
    """Decode a link (or take a Shared) and find its scenario text."""
    from ..library import builtins, litmus_name

    sh = decode(link) if isinstance(link, str) else link
    warnings: list[str] = []
    if sh.text is not None:
        text, label = sh.text, litmus_name(sh.text)
    else:
        text = archived(sh.builtin, sh.sha)
        if text is None:
            cur = next((b for b in builtins() if b.name == sh.builtin), None)
            if cur is not None and text_hash(_read(cur.path)) == sh.sha:
                text = _read(cur.path)
            else:
                known = sorted(p.stem for p in (versions_dir() / sh.builtin).glob("*.litmus")) \
                    if (versions_dir() / sh.builtin).is_dir() else []
                what = f"versions {', '.join(known)}" if known else "no version of it"
                raise UnknownBuiltinVersion(
                    f"the link refers to version {sh.sha} of built-in '{sh.builtin}', which this pinrace does not "
                    f"have ({what}{'; it has no such built-in' if cur is None and not known else ''})")
        cur = next((b for b in builtins() if b.name == sh.builtin), None)
        if cur is None or text_hash(_read(cur.path)) != sh.sha:
            warnings.append(f"built-in '{sh.builtin}' has changed since this link was made; "
                            f"loading the version the link was made with ({sh.sha})")
        label = sh.builtin
    prelude = None
    if sh.prelude is not None:
        cur_pre = _current_prelude()
        if not cur_pre or text_hash(cur_pre) != sh.prelude:
            prelude = archived(_PRELUDE_DIR, sh.prelude)
            if prelude is None:
                warnings.append(f"the page prelude ({sh.prelude}) this link was made with is not archived; "
                                f"using the current one")
            else:
                warnings.append("the page prelude has changed since this link was made; using the archived one")
    return Loaded(text, label, sh.model, list(sh.schedule), sh.builtin, sh.sha, prelude, sh.loop_bound, warnings)



def schedule_text(steps) -> str:
    """Text form of a schedule that may hold bare CPU numbers."""
    return " ".join(str(s) if isinstance(s, int) else s.token() for s in steps) if steps else format_schedule([])


if __name__ == "__main__":  # python -m pinrace.formats.link  (the same as `pinrace share --snapshot`)
    for _p in snapshot_builtins():
        print(f"archived {_p}")
    _missing = missing_from_archive()
    raise SystemExit(1 if _missing else 0)
