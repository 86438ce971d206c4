"""`pinrace check`, `replay`, `protocols` and `docs`: output, JSON and exit codes."""

from __future__ import annotations

import json

from pinrace import docsgen
from pinrace.cli import main

FN = "thread-false-negative"


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_protocols_lists_names_and_descriptions(capsys):
    rc, out, _ = _run(capsys, "protocols")
    assert rc == 0 and FN in out and "bias-barrier-posted" in out
    rc, out, _ = _run(capsys, "protocols", "--json")
    items = {d["name"]: d["description"] for d in json.loads(out)}
    assert items[FN].startswith("the thread's CPU0/CPU1/CPU2")


def test_check_reachable_prints_verdict_states_and_annotated_counterexample(capsys):
    rc, out, _ = _run(capsys, "check", FN, "--model", "sc")
    assert rc == 1
    assert "under sc: Sometimes" in out and "* 0:r0=0; [page._refcount]=1026;" in out
    assert f"pinrace replay {FN} --model sc --schedule '1:0 0:1 0:2 2:0'" in out
    # the page state after each step of the interleaving
    assert "page: _refcount=2 (0 pins × 1024 + 2 refs) _mapcount=0 flags=0x0 []" in out
    assert "returns page_pinned(page)=0" in out
    assert "page: _refcount=1026 (1 pin × 1024 + 2 refs)" in out


def test_check_unreachable_exits_0_and_tso_shows_buffers(capsys):
    rc, out, _ = _run(capsys, "check", "bias-barrier-posted", "--model", "tso")
    assert rc == 0 and "under tso: Never" in out
    rc, out, _ = _run(capsys, "check", "bias-unsynchronized-full", "--model", "tso")
    assert rc == 1 and "buf0: data=1" in out
    assert "invariant no_dma_under_unpinned_writeback: VIOLATED" in out
    assert "shortest violation of no_dma_under_unpinned_writeback" in out


def test_check_all_prints_a_verdict_matrix(capsys):
    rc, out, _ = _run(capsys, "check", "bias-barrier-posted", "--model", "all")
    lines = out.splitlines()
    head = lines.index(next(ln for ln in lines if ln.startswith("model ")))
    rows = {ln.split()[0]: ln.split()[1] for ln in lines[head + 1:head + 4]}
    assert rows["sc"] == "Never" and rows["tso"] == "Never"
    assert rows["lkmm"] in ("Sometimes", "n/a")
    assert rc == (1 if rows["lkmm"] == "Sometimes" else 0)


def test_check_json_carries_verdicts_and_invariants(capsys):
    rc, out, _ = _run(capsys, "check", "pin-overflow", "--model", "sc", "--json")
    d = json.loads(out)
    r = d["results"]["sc"]
    assert rc == 1 and r["observation"] == "Sometimes" and r["bad_reachable"]
    assert [v["invariant"] for v in r["invariant_violations"]] == ["page.refcount-nonnegative"]


def test_check_input_errors_exit_2(capsys, tmp_path):
    rc, _, err = _run(capsys, "check", "no-such-protocol")
    assert rc == 2 and "neither a file nor a built-in" in err
    bad = tmp_path / "bad.litmus"
    bad.write_text("C bad\n{}\nP0(int *x) { frobnicate(x); }\nexists (true)\n")
    rc, _, err = _run(capsys, "check", str(bad))
    assert rc == 2 and "3:" in err and "frobnicate" in err


def test_check_incomplete_exits_3(capsys):
    rc, out, _ = _run(capsys, "check", "gup-fast-trylock", "--max-states", "5")
    assert rc == 3 and "incomplete" in out


def test_replay_of_the_thread_counterexample_shows_every_state(capsys):
    rc, out, _ = _run(capsys, "replay", FN, "--schedule", "1:0 0:1 0:2 2:0")
    assert rc == 0
    blocks = out.split("\nstep ")
    assert len(blocks) == 5 and blocks[0].startswith("initial state")
    assert "page: _refcount=1026 = 1 pin × 1024 + 2 refs; _mapcount=0 (mapcount 1); flags=0x0 []" in blocks[0]
    assert blocks[1].startswith("1 (1:0): CPU1") and "_refcount=2 = 0 pins × 1024 + 2 refs" in blocks[1]
    assert "atomic_read(&page->_refcount) -> 2" in blocks[2]
    assert "atomic_read(&page->_mapcount) -> 0; page_pinned(page) returned 0" in blocks[3]
    assert "CPU0: r0=0; done" in blocks[3]
    assert "_refcount=1026 = 1 pin × 1024 + 2 refs" in blocks[4]
    assert "CPU0: r0=—; next: atomic_read(&page->_refcount)" in blocks[1]  # not written yet
    # the last line is the verdict: whether the condition holds and whether that is the bad outcome
    assert out.rstrip().endswith("status: done\nverdict: the bad outcome is reached: "
                                 "exists (0:r0=0 /\\ [page._refcount]=1026) holds in this final state")


def test_replay_of_an_unfinished_run_says_so_last(capsys):
    rc, out, _ = _run(capsys, "replay", FN, "--schedule", "1:0")
    assert rc == 0
    assert out.rstrip().endswith("verdict: not final yet: the condition is judged when every CPU is done")


def test_a_test_without_a_condition_is_forall_true_as_in_herd7(capsys, tmp_path):
    f = tmp_path / "nocond.litmus"
    f.write_text("C nocond\n{}\nP0(int *x) {\n\tWRITE_ONCE(*x, 1);\n}\n")
    rc, out, _ = _run(capsys, "litmus", str(f))
    assert "Condition forall (true)" in out and "Observation nocond Always 1 0" in out


def test_text_that_is_not_a_litmus_test_says_so_in_words(capsys, tmp_path):
    f = tmp_path / "hello.litmus"
    f.write_text("hello\nworld\n")
    rc, _, err = _run(capsys, "check", str(f))
    assert rc == 2 and "this is not a litmus test: a litmus test starts with `C name`" in err
    assert "expected one of: c" not in err


def test_replay_json_has_values_returns_and_tso_buffers(capsys):
    rc, out, _ = _run(capsys, "replay", FN, "--schedule", "1:0 0:1 0:2 2:0", "--json")
    d = json.loads(out)
    states = d["states"]
    assert [s["pages"][0]["refcount"] for s in states] == [1026, 2, 2, 2, 1026]
    assert [s["pages"][0]["pins"] for s in states] == [1, 0, 0, 0, 1]
    assert all(s["pages"][0]["mapcount_raw"] == 0 for s in states)
    assert states[2]["last"]["value"] == 2
    assert states[3]["last"]["returns"] == [{"call": "page_pinned(page)", "value": 0}]
    rc, out, _ = _run(capsys, "replay", "bias-barrier-herd", "--model", "tso", "--schedule", "1 0", "--json")
    d = json.loads(out)
    assert d["states"][-1]["buffers"] == [[], []]
    rc, out, _ = _run(capsys, "replay", "bias-unsynchronized-full", "--model", "tso", "--schedule", "0 0", "--json")
    assert json.loads(out)["states"][-1]["buffers"][0] == [{"location": "data", "value": 1}]


def test_replay_bad_schedule_exits_2(capsys):
    rc, _, err = _run(capsys, "replay", FN, "--schedule", "1 1")
    assert rc == 2 and "CPU1" in err


def test_docs_are_generated_from_the_code(tmp_path, monkeypatch):
    text = docsgen.primitives_md()
    assert "| `atomic_add` | 2 | rmw (op +) | NORETURN | lock add |" in text
    assert "| `test_and_set_bit_lock` |" in text and "ACQUIRE" in text
    monkeypatch.setattr(docsgen, "_lkmm_available", lambda: False)
    monkeypatch.setattr(docsgen, "_MODELS", ("sc", "tso", "lkmm"))
    from pinrace import library

    one = tmp_path / "protocols"
    one.mkdir()
    (one / "prelude.h").write_text(library.prelude())
    (one / "bias-barrier-posted.litmus").write_text(library.find("bias-barrier-posted").source)
    monkeypatch.setenv("PINRACE_PROTOCOLS", str(one))
    md = docsgen.protocols_md()
    assert "| Never | Never | n/a | hold / hold |" in md
    docs = tmp_path / "docs"
    monkeypatch.setattr(docsgen, "generate", lambda: {docs / "x.md": "x\n"})
    assert docsgen.run(check=True) == 1 and not (docs / "x.md").exists()
    assert docsgen.run() == 0 and (docs / "x.md").read_text() == "x\n"
    assert docsgen.run(check=True) == 0
