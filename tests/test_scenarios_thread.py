"""The thread's arguments, one built-in each (issue 20): what each scenario's author predicted holds.

Each test names the argument it checks.  Variants are made from the built-in's own text with
one edit, so a test fails if the built-in drifts from what its prose says.
"""

from __future__ import annotations

from pinrace.explore.invariants import check_with_invariants
from pinrace.explore.run import check
from pinrace.library import find, load_program

MODELS = ("sc", "tso", "lkmm")


def _src(name: str) -> str:
    return find(name).source


def _edit(src: str, old: str, new: str) -> str:
    assert old in src, old
    return src.replace(old, new)


def _cond(src: str, cond: str) -> str:
    """`src` with its final condition replaced by `cond` (invariants dropped)."""
    head = src[:src.index("\nexists (")]
    return f"{head}\n{cond}\n"


def _verdicts(src: str) -> tuple[str, ...]:
    prog = load_program(src)
    return tuple(check(prog, m).observation for m in MODELS)


# ---- dirty-mkclean-vs-unpin: the corruption that started the thread -------------------------

def test_writeback_writes_a_half_done_dma_and_the_unpin_dirties_it_again():
    src = _src("dirty-mkclean-vs-unpin")
    ce = check(load_program(src), "sc").counterexamples()[0]
    # writeback cleaned the page, the I/O read the first of the device's two writes, and the
    # driver's set_page_dirty_lock() found the page clean: the filesystem is handed a dirty page
    assert (ce.values["1:r1"], ce.values["1:r2"], ce.values["0:r0"]) == (1, 1, 1)
    # whenever the unpin found the page clean, the page ends dirty (PG_dirty, 16): written again later
    assert _verdicts(_cond(src, "forall (0:r0=1 => page.flags=16)")) == ("Always",) * 3


def test_set_page_dirty_lock_at_unpin_keeps_the_last_write_and_dirtying_earlier_loses_it():
    src = _src("dirty-mkclean-vs-unpin")
    lost = "exists (page.flags=0 /\\ data=2 /\\ ~(1:r2=2))"  # ends clean, the last write never written
    assert _verdicts(_cond(src, lost)) == ("Never",) * 3
    # a driver that dirties the page while its DMA still runs: writeback may clean it in
    # between, write the half-done page, and leave it clean with the device's last write
    early = _edit(src, "\tWRITE_ONCE(*data, 1);\n\tWRITE_ONCE(*data, 2);\n",
                  "\tWRITE_ONCE(*data, 1);\n\tr0 = set_page_dirty_lock(page);\n\tWRITE_ONCE(*data, 2);\n")
    early = _edit(early, "\tr0 = set_page_dirty_lock(page);\n\tput_page(page);", "\tput_page(page);")
    assert _verdicts(_cond(early, lost)) == ("Sometimes",) * 3


def test_dma_and_io_overlap_is_an_invariant_violation_under_sc_and_tso():
    prog = load_program(_src("dirty-mkclean-vs-unpin"))
    for model in ("sc", "tso"):
        res = check_with_invariants(prog, model)
        assert {f.detail["invariant"] for f in res.invariant_violations} == {"no_dma_during_io"}


# ---- fork-copy-pte-false-negative: two reads, two counters, fork in between ---------------

def test_fork_between_the_two_reads_gives_1026_minus_2():
    src = _src("fork-copy-pte-false-negative")
    for model in MODELS:
        bad = check(load_program(src), model).counterexamples()
        assert [(f.values["0:r1"], f.values["0:r2"]) for f in bad] == [(1026, 2)], model
    # the page lock CPU0 holds does not stop it: fork runs while PG_locked is set
    ce = check(load_program(src), "sc").counterexamples()[0]
    assert [t.cpu for t in ce.schedule][:3] == [0, 0, 1]


def test_upstream_refcount_only_check_has_no_false_negative_under_fork():
    src = _edit(_src("fork-copy-pte-false-negative"), "\tr0 = (r1 - r2) > PAGE_PIN_BIAS;\n",
                "\tr0 = page_maybe_dma_pinned(page);\n")
    assert _verdicts(src) == ("Never",) * 3


# ---- anon-one-pin-one-map: the off-by-one --------------------------------------------------

def test_anon_page_with_one_pin_and_one_map_reads_1025_minus_1():
    src = _src("anon-one-pin-one-map")
    for model in MODELS:
        bad = check(load_program(src), model).counterexamples()
        # 1025 - 1 = 1024, not > 1024; page_maybe_dma_pinned() (>= 1024, no mapcount) sees the pin
        assert {(f.values["1:r1"], f.values["1:r2"], f.values["1:r4"]) for f in bad} == {(1025, 1, 1)}, model


def test_a_file_page_or_greater_or_equal_gives_never():
    src = _src("anon-one-pin-one-map")
    file_page = _edit(src, "struct page page = { ._refcount = 1 };", "struct page page = { ._refcount = 2 };")
    assert _verdicts(file_page) == ("Never",) * 3  # the page cache's reference makes it 1026 - 1
    ge = _edit(src, "\tr3 = (r1 - r2) > PAGE_PIN_BIAS;\n", "\tr3 = (r1 - r2) >= PAGE_PIN_BIAS;\n")
    assert _verdicts(ge) == ("Never",) * 3


# ---- mixed-put-page-put-user-page: releases that do not match ------------------------------

def test_put_user_page_of_a_plain_reference_hides_a_held_pin():
    src = _src("mixed-put-page-put-user-page")
    # CPU0's pin is never released, yet every run ends at 2 + 1024 + 1 - 1024 = 3: "not pinned"
    assert _verdicts(_cond(src, "forall (page._refcount=3)")) == ("Always",) * 3
    # released with put_page(), the same protocol never misses the pin
    matched = _edit(src, "\tget_page(page);\n\tput_user_page(page);", "\tget_page(page);\n\tput_page(page);")
    assert _verdicts(matched) == ("Never",) * 3


def test_put_user_page_first_drives_the_count_below_zero():
    prog = load_program(_src("mixed-put-page-put-user-page"))
    res = check_with_invariants(prog, "sc")
    f = next(f for f in res.invariant_violations if f.detail["invariant"] == "page.refcount-nonnegative")
    assert f.values["page._refcount"] == 3 - 1024


def test_a_pin_released_with_put_page_leaves_the_bias_and_the_page_is_never_freed():
    src = """C pin-put-page
{ struct page page = { ._refcount = 2 }; }
P0(struct page *page) { atomic_add(PAGE_PIN_BIAS, &page->_refcount); put_page(page); }
P1(struct page *page) { atomic_dec(&page->_mapcount); put_page(page); put_page(page); }
forall (page._refcount=1023)
"""
    # the unmap and the page cache drop their references: 1023 of the bias stay, never 0
    assert _verdicts(src) == ("Always",) * 3


# ---- stable-page-recheck: Jerome's back-off ------------------------------------------------

def test_the_recheck_makes_the_retry_wait_for_the_end_of_writeback():
    src = _src("stable-page-recheck")
    assert _verdicts(_cond(src, "exists (0:r4=1)")) == ("Never",) * 3
    # without it, on a device without stable pages, the retry finds writeback still running
    bare = _edit(src, "\t\tif (PageWriteback(page))\n\t\t\twait_on_page_writeback(page);\n", "")
    assert _verdicts(_cond(bare, "exists (0:r4=1)")) == ("Sometimes",) * 3


def test_the_first_pass_is_still_the_smp_wmb_store_buffering_race_under_lkmm():
    src = _src("stable-page-recheck")
    bad = check(load_program(src), "lkmm").counterexamples()
    assert bad and all(f.values["0:r0"] == 0 for f in bad)  # GUP saw no writeback, writeback no pin
    fixed = _edit(src, "\tsmp_wmb();\n\tr0 = PageWriteback(page);",
                  "\tsmp_mb__after_atomic();\n\tr0 = PageWriteback(page);")
    assert _verdicts(fixed) == ("Never",) * 3


# ---- separate-pin-bit: John's page bit -----------------------------------------------------

def test_one_word_needs_no_barrier_until_an_unpin_clears_the_bit():
    src = _src("separate-pin-bit")
    no_unpin = _edit(src, "\tr0 = PageWriteback(page);\n\tClearPageDmaPinned(page);", "\tr0 = PageWriteback(page);")
    assert _verdicts(no_unpin) == ("Never",) * 3


def test_the_bit_in_a_word_of_its_own_is_store_buffering_again():
    # the same bit kept in another word of struct page (as page->dma_pinned_flags later was;
    # _pincount stands in for it here): no barrier between each side's RMW and its read
    src = _src("separate-pin-bit").replace("&page->flags);", "&page->_pincount);")
    src = _edit(src, "\tr0 = PageWriteback(page);\n\tClearPageDmaPinned(page);", "\tr0 = PageWriteback(page);")
    assert _verdicts(src) == ("Never", "Never", "Sometimes")


def test_an_atomic_count_beside_the_bit_does_not_close_the_race():
    src = _src("separate-pin-bit")
    src = _edit(src, "\tSetPageDmaPinned(page);\n\tr0 = PageWriteback(page);\n\tClearPageDmaPinned(page);",
                "\tatomic_inc(&page->_pincount);\n\tSetPageDmaPinned(page);\n\tr0 = PageWriteback(page);\n"
                "\tif (atomic_dec_and_test(&page->_pincount))\n\t\tClearPageDmaPinned(page);")
    src = _edit(src, "\tSetPageDmaPinned(page);\n\tr1 = PageWriteback(page);",
                "\tatomic_inc(&page->_pincount);\n\tSetPageDmaPinned(page);\n\tr1 = PageWriteback(page);")
    # CPU0's count drops to 0, CPU1 counts and sets the bit, CPU0's clear_bit() lands last
    assert check(load_program(src), "sc").observation == "Sometimes"


# ---- folio-pincount: exact pins for large folios -------------------------------------------

def test_a_large_folio_pin_is_one_reference_and_one_pincount():
    src = _src("folio-pincount")
    assert _verdicts(_cond(src, "forall (folio._refcount=1026 /\\ folio._pincount=1)")) == ("Always",) * 3


def test_no_false_positive_at_1025_references():
    src = _src("folio-pincount")
    # the unmap side, run before the pin, sees 0 pins with 1025 references on the folio
    assert _verdicts(_cond(src, "exists (0:r0=0 /\\ 1:r4=0)")) == ("Sometimes",) * 3
    # a small folio with the same count: the bias rule says pinned whenever it looks
    small = _edit(src, "struct page folio = { ._refcount = 1025, .flags = 64 };",
                  "struct page folio = { ._refcount = 1025 };")
    assert _verdicts(_cond(small, "forall (1:r4=1)")) == ("Always",) * 3


# ---- longterm-file-refused: v6.5 ------------------------------------------------------------

def test_file_pin_refused_anon_pin_allowed_in_every_run():
    src = _src("longterm-file-refused")
    assert _verdicts(_cond(src, "forall (0:r0=-14 /\\ 0:r1=1 /\\ anon._refcount=1025 /\\ file._refcount=2)")) \
        == ("Always",) * 3


def test_without_the_refusal_writeback_races_the_long_term_dma():
    src = _edit(_src("longterm-file-refused"), "\treturn !vma_needs_dirty_tracking;", "\treturn 1;")
    assert _verdicts(src) == ("Sometimes",) * 3
    res = check_with_invariants(load_program(src), "sc")
    assert {f.detail["invariant"] for f in res.invariant_violations} == {"no_dma_during_io"}


# ---- pin-overflow's upstream note: try_get_page() overshoots too ---------------------------

def test_try_get_page_guard_is_not_atomic_but_a_negative_count_reads_as_pinned():
    src = """C try-get-page-overshoot
{ struct page page = { ._refcount = 2147483647 }; }
P0(struct page *page) { int r0; r0 = try_get_page(page); }
P1(struct page *page) { int r1; int r2; int r3; r1 = try_get_page(page); r2 = page_maybe_dma_pinned(page);
  r3 = try_get_page(page); }
exists (0:r0=1 /\\ 1:r1=1 /\\ 1:r2=1 /\\ 1:r3=0)
"""
    # both pass the check at INT_MAX and the count wraps into the sign bit: the next call is
    # refused and the unsigned comparison reads the count as pinned
    assert check(load_program(src), "sc").observation == "Sometimes"
