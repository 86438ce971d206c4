"""Fuzzing, bounded so the suite stays fast: the parser, the link/email/diagram decoders, the
websocket protocol (hypothesis) and the REST API against its own OpenAPI schema (schemathesis).

The number of examples comes from PINRACE_FUZZ_EXAMPLES (default: a few dozen per test);
scripts/fuzz_long.sh runs the same tests with thousands and a fixed seed.  A hang shows as
a hypothesis deadline error when PINRACE_FUZZ_DEADLINE_MS is set (the long run sets it),
else as the pytest timeout.
"""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinrace.api.app import create_app
from pinrace.api.jobs import JobRunner
from pinrace.api.schemas import SB_SOURCE
from pinrace.engine.models import make_model
from pinrace.errors import PinraceError
from pinrace.formats.diagram_import import import_diagram, parse_diagram
from pinrace.formats.email import find_block, from_block, to_block
from pinrace.formats.link import Shared, decode, encode, load
from pinrace.formats.schedule import parse_schedule
from pinrace.library import load_program

EXAMPLES = int(os.environ.get("PINRACE_FUZZ_EXAMPLES", "0") or 0)
_DEADLINE = os.environ.get("PINRACE_FUZZ_DEADLINE_MS")
DEADLINE = int(_DEADLINE) if _DEADLINE else None


def fuzz(default: int):
    """Hypothesis settings: `default` examples in the suite, PINRACE_FUZZ_EXAMPLES in a long run."""
    return settings(max_examples=EXAMPLES or default, deadline=DEADLINE, derandomize=not EXAMPLES,
                    suppress_health_check=list(HealthCheck), database=None)


# ---- scenario text ------------------------------------------------------------------------

PAGE = """C page-pin
#define PAGE_PIN_BIAS 1024
{ struct page page; int x = 0; }
static int helper(int *x) { int v = READ_ONCE(*x); if (v > 0) return v; return 0; }
P0(struct page *page, int *x) { atomic_add(PAGE_PIN_BIAS, &page->_refcount); r0 = READ_ONCE(page->flags); }
P1(struct page *page, int *x) { WRITE_ONCE(page->flags, 2); smp_mb(); r1 = atomic_read(&page->_refcount);
  while (r1 < 3) { r1 = helper(x); } }
exists (0:r0=0 /\\ 1:r1=1)
"""
SEEDS = [SB_SOURCE, PAGE]
TOKENS = ["C ", "T", "\n", " ", "{", "}", "(", ")", ";", ",", "*", "&", "->", ".", "=", "==", "!=", "<", "+",
          "-", "<<", "/\\", "\\/", "~", "!", "P0", "P1", "P17", "(int *x)", "(struct page *page)", "int ",
          "r0", "1:r0", "x", "y", "0", "1", "-1", "0x10", "99999999999999999999", "WRITE_ONCE(*x, 1)",
          "READ_ONCE(*y)", "smp_mb()", "atomic_add(1, &page->_refcount)", "spin_lock(l)", "if", "else",
          "while", "for", "goto", "L:", "return", "exists", "forall", "filter", "locations [x]", "~exists",
          "#define ", "PINRACE_LOOP_BOUND", "struct page page;", "static int f(int *x)", "f(x)", "(*", "*)",
          "/*", "*/", "//", "\"", "'", "\t", "\x00", "é", "\u202e"]

token_text = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@st.composite
def mutated(draw, seeds=tuple(SEEDS)):
    """A valid scenario with a few characters inserted, deleted or replaced."""
    s = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(s)))
        op = draw(st.sampled_from(["ins", "del", "rep", "dup"]))
        piece = draw(st.sampled_from(TOKENS) | st.text(max_size=3))
        if op == "ins":
            s = s[:i] + piece + s[i:]
        elif op == "del":
            s = s[:i] + s[i + draw(st.integers(1, 12)):]
        elif op == "rep":
            s = s[:i] + piece + s[i + 1:]
        else:
            j = draw(st.integers(i, min(len(s), i + 40)))
            s = s[:j] + s[i:j] * draw(st.integers(1, 8)) + s[j:]
    return s


scenario_text = st.one_of(mutated(), token_text, st.text(max_size=200))


@fuzz(150)
@given(scenario_text)
def test_parser_raises_only_pinrace_errors(src):
    try:
        load_program(src)
    except PinraceError:
        pass


# ---- links, email blocks, schedules, diagrams ------------------------------------------------

_SHARED = Shared("tso", (0, 1), SB_SOURCE)
_TOKEN = encode(_SHARED)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def damaged_token(draw):
    tok = list(_TOKEN)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tok) - 1))
        tok[i] = draw(st.sampled_from(_B64 + "=+/ #"))
    cut = draw(st.integers(0, len(tok)))
    return "".join(tok[:cut] if draw(st.booleans()) else tok)


link_text = st.one_of(damaged_token(), st.text(_B64, max_size=300), st.text(max_size=120),
                      st.sampled_from(["#s=", "s=", "https://x/#s=", "?s=&s="]).flatmap(
                          lambda p: damaged_token().map(lambda t: p + t)))


@fuzz(150)
@given(link_text)
def test_link_decoder_raises_only_pinrace_errors(text):
    for fn in (decode, load):
        try:
            fn(text)
        except PinraceError:
            pass


def test_link_round_trip_still_decodes():
    assert decode(_TOKEN) == decode(encode(decode(_TOKEN)))


_BLOCK = to_block(_SHARED)


@st.composite
def damaged_block(draw):
    lines = _BLOCK.splitlines()
    i = draw(st.integers(0, len(lines) - 1))
    lines[i] = draw(st.sampled_from(["", "> " + lines[i], lines[i][:-3], lines[i] + "x", ">>>"]))
    return "\n".join(lines)


@fuzz(100)
@given(st.one_of(damaged_block(), st.text(max_size=300), link_text.map(lambda t: "pinrace-link:\n" + t)))
def test_email_block_decoder_raises_only_pinrace_errors(text):
    for fn in (find_block, from_block):
        try:
            fn(text)
        except PinraceError:
            pass


@fuzz(100)
@given(st.lists(st.sampled_from(["0", "1", "2", "0:0", "1:flush", "0:", ":1", "x", "-1", "1:1:1", "0:99",
                                 "99999999999999999999", "\n", ","]), max_size=20).map(" ".join))
def test_schedule_parser_raises_only_pinrace_errors(text):
    try:
        parse_schedule(text)
    except PinraceError:
        pass


_MACHINE = make_model("sc", load_program(PAGE))
DIAGRAM_TOKENS = ["CPU0", "CPU1", "CPU2", " | ", "|", "\n", "> ", "    ", "atomic_add(PAGE_PIN_BIAS, &page->_refcount)",
                  "r0 = READ_ONCE(page->flags)", "WRITE_ONCE(page->flags, 2)", "smp_mb()", "GUP()", "PUP()",
                  "page_pinned(page)", "r1 = atomic_read(&page->_refcount)", "...", "-----", "(", ")", "x"]


@fuzz(100)
@given(st.lists(st.sampled_from(DIAGRAM_TOKENS), max_size=60).map("".join) | st.text(max_size=200),
       st.booleans())
def test_diagram_import_raises_only_pinrace_errors(text, complete):
    try:
        parse_diagram(text)
    except PinraceError:
        pass
    try:
        import_diagram(text, _MACHINE, complete=complete)
    except PinraceError:
        pass


# ---- the websocket protocol ------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(JobRunner(workers=1))) as c:
        yield c


def _msg():
    ints = st.integers(-3, 12)
    return st.one_of(
        st.builds(lambda c: {"type": "step", "cpu": c}, ints),
        st.builds(lambda t: {"type": "step", "token": t}, st.sampled_from(["0:0", "0:1", "1:0", "1:flush",
                                                                          "0:flush", "2:0", "x", "0:99"])),
        st.just({"type": "step"}), st.just({"type": "step", "cpu": 0, "token": "0:0"}),
        st.just({"type": "undo"}), st.just({"type": "redo"}), st.just({"type": "state"}),
        st.just({"type": "ping"}), st.just({"type": "cancel"}),
        st.builds(lambda i: {"type": "jump", "index": i}, ints),
        st.builds(lambda a, b: {"type": "move", "from": a, "to": b}, ints, ints),
        st.builds(lambda s: {"type": "move", "schedule": s},
                  st.lists(st.sampled_from([0, 1, "0:0", "1:0", "0:flush", "1:flush", 7]), max_size=8)),
        st.builds(lambda m: {"type": "model", "model": m}, st.sampled_from(["sc", "tso", "lkmm", "arm", 3])),
        st.builds(lambda s: {"type": "load", "scenario": s}, st.sampled_from([SB_SOURCE, PAGE, "no-such", "",
                                                                              SB_SOURCE + "\ud800"])
                  | mutated()),
        st.builds(lambda k, v: {"type": "step", k: v}, st.sampled_from(["cpu", "token", "index"]),
                  st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=5),
                            st.lists(st.integers(), max_size=2))),
        st.builds(lambda t: {"type": t}, st.text(max_size=8)),
        st.sampled_from(["not json", "[]", "3", "null", '{"type": null}', "[" * 5000, "{}"]),
    )


_VOLATILE = ("cause", "explanation", "re", "view")  # the view is the same state, described after `cause`


def _stable(state: dict) -> dict:
    return {k: v for k, v in state.items() if k not in _VOLATILE}


def _check_state(m: dict) -> None:
    assert 0 <= m["position"] <= m["length"], m
    assert len(m["timeline"]) == m["length"]
    assert sum(e["applied"] for e in m["timeline"]) == m["position"]
    assert [e["index"] for e in m["timeline"]] == list(range(m["length"]))


class _Conv:
    def __init__(self, ws):
        self.ws, self.n = ws, 0
        assert ws.receive_json()["type"] == "hello"

    def ask(self, msg) -> list[dict]:
        """Send `msg`, then a ping; every reply up to the ping's pong."""
        self.n += 1
        self.ws.send_text(msg if isinstance(msg, str) else json.dumps({**msg, "id": self.n}))
        sync = f"sync-{self.n}"
        self.ws.send_text(json.dumps({"type": "ping", "id": sync}))
        out = []
        while True:
            m = self.ws.receive_json()
            if m["type"] == "pong" and m.get("re") == sync:
                return out
            out.append(m)


@fuzz(40)
@given(st.sampled_from(["sc", "tso"]), st.lists(_msg(), max_size=25))
def test_websocket_random_sequences_keep_the_session_consistent(client, model, msgs):
    with client.websocket_connect("/ws") as ws:
        c = _Conv(ws)
        replies = c.ask({"type": "load", "scenario": SB_SOURCE, "model": model})
        last = _stable(next(m for m in replies if m["type"] == "state"))
        for msg in msgs:
            replies = c.ask(msg)
            for m in replies:
                assert m["type"] != "error" or m["error"]["code"] != "internal-error", (msg, m)
                if m["type"] == "state":
                    _check_state(m)
            states = [m for m in replies if m["type"] == "state"]
            if states:
                last = _stable(states[-1])
            elif any(m["type"] == "error" for m in replies) and last is not None:
                # a refused message leaves the session exactly as it was
                now = c.ask({"type": "state"})
                if now and now[-1]["type"] == "state":
                    assert _stable(now[-1]) == last, msg
            elif any(m["type"] == "model" and not m["stepping"] for m in replies):
                last = None  # a model that cannot step: no state until one that can
            elif any(m["type"] == "scenario" for m in replies):
                last = None


# ---- REST against the OpenAPI schema (schemathesis) -------------------------------------------

schemathesis = pytest.importorskip("schemathesis")


class _QuickRunner(JobRunner):
    """Explorations capped at 2 s and 20,000 states: fuzzing the API, not the checker."""

    def submit(self, fn, *args, **kw):
        args = tuple({**a, "max_seconds": min(a["max_seconds"], 2.0), "max_states": min(a["max_states"], 20_000)}
                     if isinstance(a, dict) and "max_seconds" in a else a for a in args)
        return super().submit(fn, *args, **kw)


_runner = _QuickRunner(workers=2, per_client=10_000)
_app = create_app(_runner)
# a request over PINRACE_MAX_BODY_BYTES is refused with 413 before it is read: a rejection too
_CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "404", "405", "413", "415", "422", "429"]}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", _app, config=_CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _stop_pool():
    yield
    _runner.shutdown()


from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

# Not checked: "schema-valid data is accepted".  The schema says a scenario is a string; whether the
# string is a scenario that compiles is the checker's to say, with a 422 and the line and column.
_SEMANTIC = [positive_data_acceptance]


@schema.parametrize()
@fuzz(12)
def test_api_matches_its_schema_and_never_fails(case):
    r = case.call_and_validate(excluded_checks=_SEMANTIC)
    assert r.status_code < 500, r.text
    assert "Traceback" not in r.text
