"""The built-in protocol library: every file loads, describes itself, and keeps its verdicts."""

from __future__ import annotations

import importlib.util

import pytest

from pinrace.engine.models import make_model
from pinrace.explore.invariants import check_invariants, check_with_invariants
from pinrace.explore.run import check
from pinrace.library import builtins, find, load_program, prelude

HAS_LKMM = importlib.util.find_spec("pinrace.engine.models.lkmm") is not None

# name -> (sc, tso, lkmm)
EXPECTED = {
    "thread-false-negative": ("Sometimes", "Sometimes", "Sometimes"),
    "placeholder": ("Sometimes", "Sometimes", "Sometimes"),
    "bias-unsynchronized": ("Sometimes", "Sometimes", "Sometimes"),
    "bias-unsynchronized-full": ("Sometimes", "Sometimes", "Sometimes"),
    "bias-page-lock": ("Never", "Never", "Never"),
    "page-lock-stable-writes": ("Sometimes", "Sometimes", "Sometimes"),
    # lkmm: Never with the doorbell (writel(), smp_wmb()) before the DMA: see test_gup_fast_needs_its_doorbell
    "gup-fast-trylock": ("Never", "Never", "Never"),
    "bias-barrier-posted": ("Never", "Never", "Sometimes"),
    "bias-barrier-herd": ("Never", "Never", "Sometimes"),
    "bias-barrier-fixed": ("Never", "Never", "Never"),
    "bias-barrier-posted-full": ("Never", "Never", "Sometimes"),
    "bias-barrier-fixed-full": ("Never", "Never", "Never"),
    "foll-pin": ("Sometimes", "Sometimes", "Sometimes"),
    "bias-false-positive": ("Sometimes", "Sometimes", "Sometimes"),
    "pin-overflow": ("Sometimes", "Sometimes", "Sometimes"),
    "anon-rmap-before": ("Never", "Never", "Sometimes"),
    "anon-rmap-after": ("Never", "Never", "Never"),
    # issue 20: the thread's arguments and upstream's answers (tests/test_scenarios_thread.py)
    "dirty-mkclean-vs-unpin": ("Sometimes", "Sometimes", "Sometimes"),
    "fork-copy-pte-false-negative": ("Sometimes", "Sometimes", "Sometimes"),
    "anon-one-pin-one-map": ("Sometimes", "Sometimes", "Sometimes"),
    "mixed-put-page-put-user-page": ("Sometimes", "Sometimes", "Sometimes"),
    # lkmm: smp_wmb() orders no load after the unordered atomic_add() pin (bias-barrier-posted's shape)
    "stable-page-recheck": ("Never", "Never", "Sometimes"),
    "separate-pin-bit": ("Sometimes", "Sometimes", "Sometimes"),
    "folio-pincount": ("Never", "Never", "Never"),
    "longterm-file-refused": ("Never", "Never", "Never"),
}
# scenarios with invariants (named, or the built-in refcount one): name -> those violated under sc and tso
INVARIANTS = {
    "bias-unsynchronized-full": {"no_dma_under_unpinned_writeback"},
    "bias-barrier-posted-full": set(),
    "bias-barrier-fixed-full": set(),
    "gup-fast-trylock": set(),
    "pin-overflow": {"page.refcount-nonnegative"},
    "dirty-mkclean-vs-unpin": {"no_dma_during_io"},
    "mixed-put-page-put-user-page": {"page.refcount-nonnegative"},
    "stable-page-recheck": set(),
    "longterm-file-refused": set(),
}


def test_every_builtin_is_listed_and_described():
    names = {b.name for b in builtins()}
    assert set(EXPECTED) <= names
    for b in builtins():
        assert b.description, f"{b.name}: no ' * Description: ' line"
        text = b.source
        assert "Source:" in text, f"{b.name}: no source citation"
        assert text.startswith(f"C {b.name}\n"), f"{b.name}: test name differs from the file name"


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("model", ["sc", "tso"])
def test_builtin_verdicts(name, model):
    prog = load_program(find(name).source)
    want = EXPECTED[name][0 if model == "sc" else 1]
    res = check(prog, model)
    assert res.observation == want
    assert not res.incomplete


@pytest.mark.skipif(not HAS_LKMM, reason="the lkmm model is not installed")
@pytest.mark.parametrize("name", sorted(n for n, v in EXPECTED.items() if v[2] is not None))
def test_builtin_core_verdicts_under_lkmm(name):
    prog = load_program(find(name).source)
    assert check(prog, "lkmm").observation == EXPECTED[name][2]


@pytest.mark.skipif(not HAS_LKMM, reason="the lkmm model is not installed")
def test_gup_fast_needs_its_doorbell():
    # the DMA runs after gup_fast_pin() returns, outside any if: without writel()'s barrier
    # nothing orders the unordered atomic_add() pin before the device's writes under the LKMM
    src = find("gup-fast-trylock").source
    assert "\tsmp_wmb();\n\tdma = 1;" in src
    assert check(load_program(src.replace("\tsmp_wmb();\n\tdma = 1;", "\tdma = 1;")), "lkmm").observation \
        == "Sometimes"


def _loop_free(prog) -> bool:
    return not any(getattr(i, "back", False) for t in prog.threads for i in t.code)


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if not n.endswith("-full")))
def test_core_scenarios_are_loop_free(name):
    assert _loop_free(load_program(find(name).source))


@pytest.mark.parametrize("name", sorted(INVARIANTS))
@pytest.mark.parametrize("model", ["sc", "tso"])
def test_full_scenario_invariants(name, model):
    prog = load_program(find(name).source)
    res = check_with_invariants(prog, model)
    assert {f.detail["invariant"] for f in res.invariant_violations} == INVARIANTS[name]
    for f in res.invariant_violations:  # each violation replays to a state that breaks it
        m = make_model(model, prog)
        s = m.initial()
        for t in f.schedule:
            s = m.step(s, t)
        assert s is not None


def test_unsynchronized_bias_shows_the_false_negative_under_sc():
    for name in ("thread-false-negative", "bias-unsynchronized"):
        res = check(load_program(find(name).source), "sc")
        assert res.bad_reachable, name
        assert res.counterexamples()[0].schedule


def test_page_lock_scheme_never_shows_it():
    for name in ("bias-page-lock", "gup-fast-trylock"):
        for model in ("sc", "tso"):
            res = check_with_invariants(load_program(find(name).source), model)
            assert not res.bad_reachable and not res.invariant_violations, (name, model)


def test_barrier_as_posted_is_never_under_sc_and_tso():
    prog = load_program(find("bias-barrier-posted").source)
    assert check(prog, "sc").observation == "Never"
    assert check(prog, "tso").observation == "Never"


def test_thread_false_negative_counterexample_is_pup_snapshot_gup():
    prog = load_program(find("thread-false-negative").source)
    ce = check(prog, "sc").counterexamples()[0]
    assert [t.cpu for t in ce.schedule] == [1, 0, 0, 2]


def test_full_scenario_retry_loop_waits_instead_of_spinning():
    # GUP that finds PG_writeback backs off and sleeps in wait_on_page_writeback(): with
    # the writeback side stalled before end_page_writeback(), CPU0 is blocked, not looping.
    prog = load_program(find("bias-barrier-posted-full").source)
    res = check(prog, "sc")
    assert not any(f.status == "loop-bound" for f in res.stuck)
    assert not any(f.status == "deadlock" for f in res.stuck)


def test_invariant_syntax_errors_name_the_invariant():
    from pinrace.errors import ConditionError

    src = find("bias-barrier-fixed-full").source.replace("1:wb_unpinned=1", "1:nope=1")
    with pytest.raises(ConditionError, match="no register 'nope'"):
        load_program(src)


def test_builtin_refcount_invariant_applies_to_every_page():
    prog = load_program(find("pin-overflow").source)
    viol, cut = check_invariants(make_model("sc", prog))
    assert cut is None
    assert [f.detail["invariant"] for f in viol] == ["page.refcount-nonnegative"]
    assert viol[0].values["page._refcount"] < 0


def test_prelude_is_present_and_cites_the_kernel():
    text = prelude()
    for name in ("page_ref_count", "page_mapcount", "get_page", "put_page", "PageWriteback", "SetPageWriteback",
                 "TestSetPageWriteback", "end_page_writeback", "lock_page", "trylock_page", "unlock_page",
                 "wait_on_page_writeback", "wait_for_stable_page", "pin_user_pages", "unpin_user_page",
                 "page_maybe_dma_pinned", "folio_maybe_dma_pinned", "folio_lock", "folio_wait_stable",
                 "page_dup_rmap", "clear_page_dirty_for_io", "folio_clear_dirty_for_io", "folio_test_large",
                 "try_grab_folio"):
        assert f" {name}(" in text, name
    assert "Documentation/atomic_t.txt" in text and "GUP_PIN_COUNTING_BIAS (1U << 10)" in text
