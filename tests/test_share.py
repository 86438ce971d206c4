"""Share links and email blocks: round trips, damage refused, size caps, built-in versions, CLI and REST."""

from __future__ import annotations

import argparse
import base64
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from pinrace.engine.models import make_model
from pinrace.engine.state import Transition
from pinrace.errors import PinraceError, ScheduleError
from pinrace.explore.replay import replay
from pinrace.formats import link
from pinrace.formats.email import BEGIN, END, from_block, to_block, unwrap, wrap
from pinrace.formats.link import LinkError, Shared, decode, encode, load, make_shared, text_hash
from pinrace.library import builtins, find, load_program
from pinrace.limits import LIMITS

FIXTURES = ROOT / "tests" / "fixtures"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

FALSE_NEGATIVE = """C fixture-false-negative

(* Jan Kara's unsynchronized bias: a page_pinned() snapshot, PUP on CPU1, GUP on CPU2. *)

{
	struct page page = { ._refcount = 1026, ._mapcount = 0 };
}

#define PAGE_PIN_BIAS 1024

int page_pinned(struct page *page)
{
	return (atomic_read(&page->_refcount) - (atomic_read(&page->_mapcount) + 1)) > PAGE_PIN_BIAS;
}

void put_user_page(struct page *page)
{
	atomic_add(-PAGE_PIN_BIAS, &page->_refcount);
}

void get_user_pages(struct page *page)
{
	atomic_add(PAGE_PIN_BIAS, &page->_refcount);
}

P0(struct page *page)
{
	int r0;

	r0 = page_pinned(page);
}

P1(struct page *page)
{
	put_user_page(page);
}

P2(struct page *page)
{
	get_user_pages(page);
}

exists (0:r0=0 /\\ page._refcount=1026)
"""

# ---- strategies -----------------------------------------------------------------------------

_choice = st.one_of(st.integers(0, 99), st.from_regex(r"[a-z][a-z0-9_=]{0,6}", fullmatch=True))
_transition = st.one_of(
    st.builds(Transition, st.integers(0, 7), st.integers(0, 200), st.just(())),
    st.builds(Transition, st.integers(0, 7), st.integers(0, 200), st.tuples(_choice)),
    st.builds(Transition, st.integers(0, 7), st.just(None), st.just(("flush",))),
)
_step = st.one_of(_transition, st.integers(0, 7))
_hex = st.from_regex(r"[0-9a-f]{12}", fullmatch=True)


@st.composite
def shared(draw) -> Shared:
    model = draw(st.sampled_from(["sc", "tso", "lkmm"]))
    schedule = tuple(draw(st.lists(_step, max_size=40)))
    bound = draw(st.none() | st.integers(0, LIMITS.loop_bound))
    prelude = draw(st.none() | _hex)
    if draw(st.booleans()):
        text = draw(st.text(max_size=400))
        return Shared(model, schedule, text, None, None, prelude, bound)
    name = draw(st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True))
    return Shared(model, schedule, None, name, draw(_hex), prelude, bound)


# ---- round trips and damage ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(shared())
def test_decode_encode_round_trips(x):
    assert decode(encode(x)) == x
    assert decode("http://example.org/#s=" + encode(x)) == x


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shared(), st.data())
def test_any_single_character_edit_or_truncation_is_refused(x, data):
    tok = encode(x)
    kind = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
    i = data.draw(st.integers(0, len(tok) - 1))
    ch = data.draw(st.sampled_from(ALPHABET + "=+/ .%~"))
    if kind == "replace":
        assume(ch != tok[i])
        bad = tok[:i] + ch + tok[i + 1:]
    elif kind == "insert":
        bad = tok[:i] + ch + tok[i:]
    elif kind == "delete":
        bad = tok[:i] + tok[i + 1:]
    else:
        bad = tok[:i]
    try:
        got = decode(bad)
    except LinkError:
        return
    assert got == x  # never something else


def test_every_single_substitution_of_one_link_is_refused():
    tok = encode(make_shared(FALSE_NEGATIVE, "sc", "1 0 0 2"))
    for i in range(len(tok)):
        for ch in "A_9-z":
            if ch == tok[i]:
                continue
            with pytest.raises(LinkError):
                decode(tok[:i] + ch + tok[i + 1:])


def test_committed_version_1_link_still_loads():
    line = next(ln for ln in (FIXTURES / "link_v1.txt").read_text().splitlines() if ln and not ln.startswith("#"))
    loaded = load(line)
    assert loaded.model == "tso"
    assert loaded.schedule_text == "1 1:flush 1 0 0"
    assert loaded.text.startswith("C SB+page-pin\n")
    assert loaded.builtin is None
    prog = loaded.program()
    states, _ = replay(make_model("tso", prog), loaded.schedule)
    assert len(states) == 6


def test_clear_messages_for_bad_links():
    tok = encode(make_shared(FALSE_NEGATIVE, "sc", "1 0 0 2"))
    with pytest.raises(LinkError, match="checksum|damaged|truncated"):
        decode(tok[:-3])
    with pytest.raises(LinkError, match="position 5"):
        decode(tok[:4] + "!" + tok[5:])
    with pytest.raises(LinkError, match="empty"):
        decode("#s=")
    with pytest.raises(link.LinkTooLarge):
        decode("A" * (LIMITS.link_chars + 1))
    assert isinstance(LinkError("x"), PinraceError) and LinkError.code == "bad-link"


def _forge(payload: bytes, version: int = 1) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = bytes([version]) + c.compress(payload) + c.flush()
    raw = body + zlib.crc32(body).to_bytes(4, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_decompression_bomb_is_refused_without_inflating_it():
    tok = _forge(b'{"m":"sc","s":"","t":"' + b"a" * 50_000_000 + b'"}')
    assert len(tok) < LIMITS.link_chars
    with pytest.raises(link.LinkTooLarge):
        decode(tok)


def test_future_versions_and_foreign_payloads_are_refused():
    with pytest.raises(link.LinkVersionError, match="version 2"):
        decode(_forge(b'{"m":"sc","s":"","t":"x"}', version=2))
    with pytest.raises(LinkError, match="unknown fields"):
        decode(_forge(b'{"m":"sc","s":"","t":"x","z":1}'))
    with pytest.raises(LinkError, match="canonical"):
        decode(_forge(b'{"s":"", "m":"sc","t":"x"}'))
    with pytest.raises(LinkError, match="model"):
        decode(_forge(b'{"m":"arm","s":"","t":"x"}'))


def test_share_replays_and_compacts_the_schedule():
    sh = make_shared(FALSE_NEGATIVE, "sc", "1:0 0:1 0:2 2:0")
    assert sh.schedule == (1, 0, 0, 2)
    with pytest.raises(ScheduleError):
        make_shared(FALSE_NEGATIVE, "sc", "1 1")


# ---- email blocks ---------------------------------------------------------------------------------


def test_email_block_wraps_at_72_and_survives_mail_clients():
    sh = make_shared(FALSE_NEGATIVE, "tso", "1 0 0 2")
    block = to_block(sh)
    lines = block.splitlines()
    assert lines[0] == BEGIN and lines[-1] == END
    assert all(len(ln) <= 72 for ln in lines)
    assert from_block(block) == sh
    quoted = "\r\n".join("> > " + ln for ln in lines)
    assert from_block("On Tue, someone wrote:\n" + quoted + "\n> > thanks") == sh
    messy = "\n".join(ln[:30] + "\n   " + ln[30:] if len(ln) > 30 and "PINRACE" not in ln else ln for ln in lines)
    assert from_block(">" + messy.replace("\n", "\n>")) == sh
    qp = "\n".join(ln[:40] + "=\n" + ln[40:] if "PINRACE" not in ln else ln for ln in lines)
    assert from_block(qp) == sh
    with pytest.raises(LinkError, match="no '-----BEGIN"):
        unwrap("nothing here")
    with pytest.raises(LinkError, match="cut off"):
        unwrap(block.rsplit("\n", 1)[0])
    assert wrap("abc") == f"{BEGIN}\nabc\n{END}"


# ---- built-ins by name and hash; the archive ------------------------------------------------------


def _twenty_steps(text: str, model: str) -> list:
    machine = make_model(model, load_program(text))
    s, out, k = machine.initial(), [], 0
    while len(out) < 20:
        moves = machine.enabled(s)
        if not moves:
            break
        t = moves[k % len(moves)]
        k += 1
        s = machine.step(s, t)
        out.append(t)
    return out


@pytest.mark.parametrize("b", builtins(), ids=lambda b: b.name)
def test_each_current_builtin_is_archived_by_hash(b):
    h = text_hash(b.path.read_text())
    assert link.archived(b.name, h) == b.path.read_text(), (
        f"protocols/versions/{b.name}/{h}.litmus is missing: run `pinrace share --snapshot` after editing "
        f"protocols/{b.name}.litmus")


def test_nothing_is_missing_from_the_archive():
    assert link.missing_from_archive() == [], "run `pinrace share --snapshot` and commit protocols/versions/"


@pytest.mark.parametrize("b", builtins(), ids=lambda b: b.name)
def test_builtin_links_with_twenty_steps_are_short(b):
    steps = _twenty_steps(b.source, "tso")
    sh = make_shared(b.source, "tso", steps, builtin=b.name)
    assert sh.builtin == b.name and sh.text is None
    assert len(encode(sh)) < 200


@pytest.fixture()
def library(tmp_path, monkeypatch):
    d = tmp_path / "protocols"
    d.mkdir()
    (d / "bias-unsynchronized.litmus").write_text(FALSE_NEGATIVE)
    monkeypatch.setenv("PINRACE_PROTOCOLS", str(d))
    return d


def test_old_links_load_the_text_they_were_made_with(library):
    assert link.missing_from_archive() == [f"bias-unsynchronized ({text_hash(FALSE_NEGATIVE)})"]
    assert link.snapshot_builtins()
    assert link.missing_from_archive() == []
    assert link.snapshot_builtins() == []  # idempotent
    sh = make_shared(FALSE_NEGATIVE, "sc", _twenty_steps(FALSE_NEGATIVE, "sc"), builtin="bias-unsynchronized")
    tok = encode(sh)
    assert sh.text is None and len(tok) < 200
    edited = FALSE_NEGATIVE.replace("1026", "1027")
    (library / "bias-unsynchronized.litmus").write_text(edited)
    old = load(tok)
    assert old.text == FALSE_NEGATIVE and old.warnings
    # the edited protocol is a new version: until it is archived only the current file has it
    new_tok = encode(make_shared(edited, "sc", "0", builtin="bias-unsynchronized"))
    assert load(new_tok).text == edited and not load(new_tok).warnings
    (library / "bias-unsynchronized.litmus").unlink()
    assert load(tok).text == FALSE_NEGATIVE  # the archive outlives the file
    with pytest.raises(link.UnknownBuiltinVersion, match="does not have"):
        load(new_tok)


def test_a_file_identical_to_a_builtin_travels_by_name(library):
    link.snapshot_builtins()
    sh = make_shared(FALSE_NEGATIVE, "sc", "")
    assert sh.builtin == "bias-unsynchronized" and sh.text is None


def test_edited_sixty_line_protocol_travels_inside_the_link_under_2000(library):
    text = FALSE_NEGATIVE.replace("P2(struct page *page)\n{\n\tget_user_pages(page);\n}",
                                  "P2(struct page *page)\n{\n\tint r2;\n\n\tget_user_pages(page);\n"
                                  "\tsmp_mb();\n\tr2 = page_pinned(page);\n\tput_user_page(page);\n"
                                  "\tget_user_pages(page);\n\tsmp_mb();\n\tr2 = page_pinned(page);\n}")
    text += "\n".join(f"(* review note {i}: the snapshot races with a concurrent pin *)" for i in range(10)) + "\n"
    assert 55 <= len(text.splitlines()) <= 65
    sh = make_shared(text, "tso", _twenty_steps(text, "tso"), builtin="bias-unsynchronized")
    assert sh.text == text
    assert len(encode(sh)) < 2000


def test_an_archive_file_that_was_edited_is_refused(library):
    link.snapshot_builtins()
    h = text_hash(FALSE_NEGATIVE)
    p = library / "versions" / "bias-unsynchronized" / f"{h}.litmus"
    p.write_text(FALSE_NEGATIVE + "\n")
    with pytest.raises(LinkError, match="does not match its hash"):
        link.archived("bias-unsynchronized", h)


# ---- CLI and REST ---------------------------------------------------------------------------------


def _cli(argv):
    from pinrace.cli_share import add_commands

    ap = argparse.ArgumentParser()
    add_commands(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


def test_cli_share_and_unshare(tmp_path, capsys):
    f = tmp_path / "fn.litmus"
    f.write_text(FALSE_NEGATIVE)
    assert _cli(["share", str(f), "--schedule", "1 0 0 2", "--model", "sc"]) == 0
    url = capsys.readouterr().out.strip()
    assert "#s=" in url
    assert _cli(["unshare", url]) == 0
    out = capsys.readouterr()
    assert out.out == FALSE_NEGATIVE and "schedule '1 0 0 2'" in out.err
    assert _cli(["share", str(f), "--schedule", "1 0 0 2", "--email"]) == 0
    block = capsys.readouterr().out
    (tmp_path / "mail.txt").write_text("\n".join("> " + ln for ln in block.splitlines()))
    assert _cli(["decode", str(tmp_path / "mail.txt"), "--json"]) == 0
    assert '"schedule": "1 0 0 2"' in capsys.readouterr().out


@pytest.fixture()
def client():
    from fastapi.testclient import TestClient

    from pinrace.api.app import create_app
    from pinrace.api.jobs import JobRunner

    app = create_app(JobRunner(workers=1, spares=0), frontend=None)
    return TestClient(app)


def test_rest_share_and_decode(client):
    r = client.post("/api/share", json={"scenario": FALSE_NEGATIVE, "model": "sc", "schedule": "1 0 0 2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fragment"] == "#s=" + body["token"] and BEGIN in body["email"]
    r = client.get("/api/share/decode", params={"s": body["token"]})
    assert r.status_code == 200
    assert r.json()["scenario"] == FALSE_NEGATIVE and r.json()["schedule"] == "1 0 0 2"
    r = client.post("/api/share/decode", json={"link": body["email"]})
    assert r.json()["model"] == "sc"
    r = client.get("/api/share/decode", params={"s": body["token"][:-2]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad-link"
    r = client.post("/api/share", json={"scenario": FALSE_NEGATIVE, "schedule": "1 1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad-schedule"


def test_fixture_file_is_committed():
    assert Path(FIXTURES / "link_v1.txt").is_file()


def test_lkmm_links_replay_first_and_keep_each_steps_choice():
    src = find("bias-barrier-posted").source
    with pytest.raises(PinraceError):
        make_shared(src, "lkmm", "9:99 7", builtin="bias-barrier-posted")
    sched = "0:3:rf=init 1:1:rf=init 1:7:rf=init 0:0:rf=init 1:9:rf=init"
    back = load(encode(make_shared(src, "lkmm", sched, builtin="bias-barrier-posted")))
    assert " ".join(t.token() for t in back.schedule) == sched  # the op ran ahead of program order
