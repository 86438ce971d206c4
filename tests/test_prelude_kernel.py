"""The page prelude orders each helper as the kernel release it names (protocols/prelude.h).

Each test cites the source it follows and shows the ordering where it matters: the helper's
events and tags, and a small scenario whose lkmm verdict depends on exactly that ordering.
"""

from __future__ import annotations

import pytest

from pinrace.engine.ir import ACQUIRE, MB, NORETURN, ONCE, RELEASE, Branch, Load, Rmw
from pinrace.explore.run import check
from pinrace.library import load_program


def _events(src: str, cpu: int = 0) -> list[tuple[str, str, str]]:
    """(primitive, tag, kind) of CPU `cpu`'s loads and RMWs, branches as ("if", "", "")."""
    out = []
    for i in load_program(src).threads[cpu].code:
        if isinstance(i, (Load, Rmw)):
            out.append((i.origin.primitive, i.tag, "wait" if i.await_ is not None else type(i).__name__))
        elif isinstance(i, Branch) and not i.back:
            out.append(("if", "", ""))
    return out


def _one(call: str) -> str:
    return f"C h\n{{ struct page page; }}\nP0(struct page *page) {{ int r; r = 0; {call}; }}\nexists (0:r=0)\n"


def _verdicts(src: str) -> tuple[str, str, str]:
    prog = load_program(src)
    return tuple(check(prog, m).observation for m in ("sc", "tso", "lkmm"))


def test_wait_on_page_writeback_is_a_plain_test_then_a_sleep_v5_0():
    # v5.0 mm/page-writeback.c: if (PageWriteback(page)) wait_on_page_bit(page, PG_writeback);
    assert _events(_one("wait_on_page_writeback(page)")) == [
        ("test_bit", ONCE, "Load"), ("if", "", ""), ("__wait_bit_clear", ACQUIRE, "wait")]
    # a wait that finds PG_writeback already clear orders nothing: the data read may be stale
    src = """C wait-clear
{ struct page page = { .flags = 2 }; int data = 0; }
P0(struct page *page, int *data) { int r0; wait_on_page_writeback(page); r0 = READ_ONCE(*data); }
P1(struct page *page, int *data) { WRITE_ONCE(*data, 1); end_page_writeback(page); }
exists (0:r0=0)
"""
    # sc/tso: a P0 that finds the bit set sleeps until end_page_writeback(), after the data;
    # lkmm lets the plain test see the clear bit while the data read is still stale
    assert _verdicts(src) == ("Never", "Never", "Sometimes")


def test_a_wait_that_sleeps_is_ordered_by_the_wake_up():
    # the same helper when P0 must sleep: it returns only after seeing the bit clear, and the
    # wake-up orders the data read after end_page_writeback()
    src = """C wait-sleeps
{ struct page page = { .flags = 2 }; int data = 0; }
P0(struct page *page, int *data) { int r0; __wait_bit_clear(PG_writeback, &page->flags); r0 = READ_ONCE(*data); }
P1(struct page *page, int *data) { WRITE_ONCE(*data, 1); end_page_writeback(page); }
exists (0:r0=0)
"""
    assert _verdicts(src) == ("Never", "Never", "Never")


def test_trylock_page_reads_first_and_fails_without_ordering_v5_0():
    # include/asm-generic/bitops/lock.h test_and_set_bit_lock(): if (READ_ONCE(*p) & mask) return 1;
    assert _events(_one("r = trylock_page(page)")) == [
        ("test_bit", ONCE, "Load"), ("if", "", ""), ("test_and_set_bit_lock", ACQUIRE, "Rmw")]
    # P1 locks the page after publishing data; P0's failed trylock is a plain read: it may see
    # the lock and still read the old data under lkmm (with an ACQUIRE RMW it could not)
    src = """C trylock-fail
{ struct page page; int data = 0; }
P0(struct page *page, int *data) { int r0; int r1; r0 = trylock_page(page); r1 = READ_ONCE(*data); }
P1(struct page *page, int *data) { WRITE_ONCE(*data, 1); smp_mb(); lock_page(page); }
exists (0:r0=0 /\\ 0:r1=0)
"""
    assert _verdicts(src) == ("Never", "Never", "Sometimes")


def test_end_page_writeback_v5_0_is_fully_ordered_and_folio_end_writeback_v6_8_is_release_only():
    # v5.0 mm/filemap.c end_page_writeback(): TestClearPageWriteback(); smp_mb__after_atomic();
    # v6.8 __folio_end_writeback(): folio_xor_flags_has_waiters(folio, 1 << PG_writeback) (RELEASE)
    assert _events(_one("end_page_writeback(page)")) == [("test_and_clear_bit", MB, "Rmw")]
    assert _events(_one("folio_end_writeback(page)")) == [("atomic_fetch_xor_release", RELEASE, "Rmw")]
    sb = """C end-wb-sb
{ struct page page = { .flags = 2 }; int y = 0; }
P0(struct page *page, int *y) { int r0; WRITE_ONCE(*y, 1); smp_mb(); r0 = PageWriteback(page); }
P1(struct page *page, int *y) { int r1; END(page); r1 = READ_ONCE(*y); }
exists (0:r0=1 /\\ 1:r1=0)
"""
    assert _verdicts(sb.replace("END", "end_page_writeback")) == ("Never", "Never", "Never")
    # a release does not order the later read: store buffering is back under lkmm; on x86 the
    # xor is a locked instruction, a full barrier
    assert _verdicts(sb.replace("END", "folio_end_writeback")) == ("Never", "Never", "Sometimes")


def test_try_get_page_is_a_plain_check_then_an_increment_v5_1():
    # 88b1a17dfc3e include/linux/mm.h: if (WARN_ON_ONCE(page_ref_count(page) <= 0)) return false;
    #                                  page_ref_inc(page);
    assert _events(_one("r = try_get_page(page)")) == [
        ("atomic_read", ONCE, "Load"), ("if", "", ""), ("atomic_inc", NORETURN, "Rmw")]


def test_set_page_dirty_lock_takes_the_page_lock_around_test_set_page_dirty_v5_0():
    # v5.0 mm/page-writeback.c set_page_dirty_lock(): lock_page(); set_page_dirty(); unlock_page();
    assert _events(_one("r = set_page_dirty_lock(page)")) == [
        ("__lock_bit", ACQUIRE, "wait"), ("test_and_set_bit", MB, "Rmw"), ("clear_bit_unlock", RELEASE, "Rmw")]


@pytest.mark.parametrize("helper", ["wait_on_page_writeback", "folio_wait_writeback"])
def test_waits_on_a_clear_bit_do_not_block(helper):
    src = (f"C w\n{{ struct page page; }}\n"
           f"P0(struct page *page) {{ int r0; {helper}(page); r0 = 1; }}\nexists (0:r0=1)\n")
    assert _verdicts(src) == ("Always", "Always", "Always")


def test_fork_dup_rmap_and_clear_page_dirty_for_io_v5_0():
    # include/linux/rmap.h page_dup_rmap(page, false): atomic_inc(&page->_mapcount), unordered
    assert _events(_one("page_dup_rmap(page)")) == [("atomic_inc", NORETURN, "Rmw")]
    # mm/page-writeback.c clear_page_dirty_for_io(): page_mkclean() (PTEs not modelled), TestClearPageDirty()
    assert _events(_one("r = clear_page_dirty_for_io(page)")) == [("test_and_clear_bit", MB, "Rmw")]
    assert _events(_one("r = folio_clear_dirty_for_io(page)")) == [("test_and_clear_bit", MB, "Rmw")]
    src = "C dirty\n{ struct page page = { .flags = 16 }; }\n" \
          "P0(struct page *page) { int r0; int r1; r0 = clear_page_dirty_for_io(page); r1 = PageDirty(page); }\n" \
          "exists (0:r0=1 /\\ 0:r1=0)\n"
    assert _verdicts(src) == ("Always", "Always", "Always")


def test_folio_maybe_dma_pinned_reads_pincount_for_a_large_folio_v6_8():
    # include/linux/mm.h: if (folio_test_large(folio)) return atomic_read(&folio->_pincount) > 0;
    loads = [i.origin.text for i in load_program(_one("r = folio_maybe_dma_pinned(page)")).threads[0].code
             if isinstance(i, Load)]
    assert loads == ["test_bit(PG_head, &folio->flags)", "atomic_read(&folio->_pincount)",
                     "atomic_read(&folio->_refcount)"]
    for flags, ref, pins, want in ((64, 5000, 0, 0), (64, 1, 1, 1), (0, 1025, 0, 1), (0, 1023, 0, 0)):
        src = f"C f\n{{ struct page f = {{ ._refcount = {ref}, .flags = {flags}, ._pincount = {pins} }}; }}\n" \
              "P0(struct page *f) { int r0; r0 = folio_maybe_dma_pinned(f); }\nexists (0:r0=1)\n"
        assert _verdicts(src) == (("Always",) if want else ("Never",)) * 3, (flags, ref, pins)


def test_try_grab_folio_pins_a_large_folio_exactly_v6_8():
    # mm/gup.c try_grab_folio(): try_get_folio() (atomic_add_unless(), fully ordered), then
    # _pincount + 1 for a large folio or the rest of the bias for a small one, smp_mb__after_atomic()
    assert _events(_one("r = try_grab_folio(page)")) == [
        ("atomic_add_unless", MB, "Rmw"), ("if", "", ""), ("test_bit", ONCE, "Load"), ("if", "", ""),
        ("atomic_add", NORETURN, "Rmw"), ("atomic_add", NORETURN, "Rmw")]
    for flags, ref, want in ((64, 5, "f._refcount=6 /\\ f._pincount=1"), (0, 5, "f._refcount=1029 /\\ f._pincount=0"),
                             (64, 0, "f._refcount=0 /\\ f._pincount=0")):
        src = f"C g\n{{ struct page f = {{ ._refcount = {ref}, .flags = {flags} }}; }}\n" \
              f"P0(struct page *f) {{ int r0; r0 = try_grab_folio(f); }}\nforall (0:r0={int(ref > 0)} /\\ {want})\n"
        assert _verdicts(src) == ("Always",) * 3, (flags, ref)
