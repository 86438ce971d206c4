/*
 * pinrace page API prelude: the kernel's struct page helpers, written in pinrace's own
 * litmus language.  Every scenario can call these functions and use these #defines; a
 * scenario that defines a function or #define of the same name replaces the prelude's.
 *
 * struct page as pinrace models it (declare `struct page page;` in the init block):
 *   page._refcount  atomic_t, initially 1 (one ordinary reference)
 *   page._mapcount  atomic_t, -1 based: initially 0, i.e. mapped once
 *   page.flags      one word of PG_* bits: bit operations on different flags touch one location
 *   page._pincount  atomic_t, the separate pin count of large folios, initially 0
 *
 * Which kernel each helper follows: the page names (get_page(), lock_page(),
 * wait_on_page_writeback(), end_page_writeback(), ...) are Linux v5.0, the release the
 * thread was written against; the folio names (folio_lock(), folio_end_writeback(), ...)
 * and FOLL_PIN (pin_user_pages(), page_maybe_dma_pinned()) follow v6.8.  Each helper
 * names the function and file it models.
 *
 * Ordering follows Documentation/atomic_t.txt and Documentation/atomic_bitops.txt:
 * value-returning RMWs (atomic_*_return, atomic_dec_and_test, test_and_set_bit, xchg)
 * are fully ordered; atomic_add(), atomic_inc(), set_bit(), clear_bit() are unordered;
 * test_and_set_bit_lock() is ACQUIRE when it takes the bit and clear_bit_unlock() is
 * RELEASE.  A wait that finds the bit already clear is one plain test_bit() and orders
 * nothing; only a wait that sleeps is ordered, by its wake-up (__wait_bit_clear()).
 */

/* include/linux/page-flags.h (v6.8): enum pageflags.  engine/view.py names flag bits from PG_* */
#define PG_locked 0
#define PG_writeback 1
#define PG_referenced 2
#define PG_uptodate 3
#define PG_dirty 4
#define PG_head 6

/* The thread's proposal (Jan Kara, 14 Jan 2019) and upstream include/linux/mm.h (v5.7+). */
#define PAGE_PIN_BIAS 1024
#define GUP_PIN_COUNTING_BIAS (1U << 10)

/*
 * Whether the backing device needs stable pages during writeback (the BDI's
 * BDI_CAP_STABLE_WRITES in v5.0, SB_I_STABLE_WRITES today).  A scenario overrides it
 * with `#define PINRACE_STABLE_WRITES 0` to model a device that does not.
 */
#define PINRACE_STABLE_WRITES 1

/* ---- reference and map counts: include/linux/page_ref.h, include/linux/mm.h ---------- */

/* page_ref_count(): atomic_read(&page->_refcount) */
static inline int page_ref_count(struct page *page)
{
	return atomic_read(&page->_refcount);
}

/* page_count(): the head page's reference count (no compound pages here) */
static inline int page_count(struct page *page)
{
	return atomic_read(&page->_refcount);
}

/* page_mapcount(): _mapcount is -1 based */
static inline int page_mapcount(struct page *page)
{
	return atomic_read(&page->_mapcount) + 1;
}

/*
 * page_dup_rmap(page, false) (v5.0 include/linux/rmap.h): atomic_inc(&page->_mapcount),
 * unordered; fork's copy_one_pte() (v5.0 mm/memory.c) calls it right after get_page(),
 * under the page-table lock and without the page lock.  Small pages only (compound false).
 */
static inline void page_dup_rmap(struct page *page)
{
	atomic_inc(&page->_mapcount);
}

/* get_page() -> page_ref_inc(): atomic_inc(), unordered */
static inline void get_page(struct page *page)
{
	atomic_inc(&page->_refcount);
}

/* put_page() -> put_page_testzero() -> page_ref_dec_and_test(): fully ordered (freeing not modelled) */
static inline void put_page(struct page *page)
{
	atomic_dec_and_test(&page->_refcount);
}

/*
 * try_get_page() (v5.1, 88b1a17dfc3e, include/linux/mm.h): no atomic check-and-add:
 *	if (WARN_ON_ONCE(page_ref_count(page) <= 0)) return false;
 *	page_ref_inc(page);
 * The sign bit is the guard: a count that already wrapped is refused, with 2^31 of headroom.
 */
static inline int try_get_page(struct page *page)
{
	if (atomic_read(&page->_refcount) <= 0)
		return 0;
	atomic_inc(&page->_refcount);
	return 1;
}

/* ---- PG_writeback: include/linux/page-flags.h, mm/page-writeback.c, mm/filemap.c ----- */

/* PageWriteback(): test_bit(), a plain (ONCE) read of the flags word */
static inline int PageWriteback(struct page *page)
{
	return test_bit(PG_writeback, &page->flags);
}

/* SetPageWriteback(): set_bit(), unordered */
static inline void SetPageWriteback(struct page *page)
{
	set_bit(PG_writeback, &page->flags);
}

/* TestSetPageWriteback(): test_and_set_bit(), fully ordered; returns the old bit */
static inline int TestSetPageWriteback(struct page *page)
{
	return test_and_set_bit(PG_writeback, &page->flags);
}

/* test_set_page_writeback() (v5.0 mm/page-writeback.c), without the xarray tagging */
static inline int test_set_page_writeback(struct page *page)
{
	return test_and_set_bit(PG_writeback, &page->flags);
}

/*
 * end_page_writeback() (v5.0 mm/filemap.c): test_clear_page_writeback() is
 * TestClearPageWriteback(), fully ordered; then smp_mb__after_atomic() and the wake-up.
 */
static inline void end_page_writeback(struct page *page)
{
	test_and_clear_bit(PG_writeback, &page->flags);
	smp_mb__after_atomic();
}

/*
 * wait_on_page_writeback() (v5.0 mm/page-writeback.c):
 *	if (PageWriteback(page)) wait_on_page_bit(page, PG_writeback);
 * A clear bit is one plain test_bit(): nothing is ordered after it.  A set bit sleeps in
 * wait_on_page_bit_common() until end_page_writeback() wakes the task; the wake-up
 * (try_to_wake_up() and schedule() are full barriers) orders what follows after the
 * clearing, which __wait_bit_clear() stands for: an acquire read that must see it clear.
 */
static inline void wait_on_page_writeback(struct page *page)
{
	if (PageWriteback(page))
		__wait_bit_clear(PG_writeback, &page->flags);
}

/*
 * wait_for_stable_page() (v5.0 mm/page-writeback.c): waits for writeback only when the
 * backing device requires stable pages.
 */
static inline void wait_for_stable_page(struct page *page)
{
	if (PINRACE_STABLE_WRITES)
		wait_on_page_writeback(page);
}

/* ---- PG_dirty: include/linux/page-flags.h, mm/page-writeback.c (v5.0) ------------------- */

/* PageDirty(): test_bit() */
static inline int PageDirty(struct page *page)
{
	return test_bit(PG_dirty, &page->flags);
}

/* TestSetPageDirty() / TestClearPageDirty(): test_and_set_bit() / test_and_clear_bit(), fully ordered */
static inline int TestSetPageDirty(struct page *page)
{
	return test_and_set_bit(PG_dirty, &page->flags);
}

static inline int TestClearPageDirty(struct page *page)
{
	return test_and_clear_bit(PG_dirty, &page->flags);
}

/*
 * set_page_dirty() for a file page: __set_page_dirty_nobuffers() (v5.0) is
 * TestSetPageDirty() plus the mapping's dirty tag and accounting; returns 1 when it dirtied
 */
static inline int set_page_dirty(struct page *page)
{
	return !TestSetPageDirty(page);
}

/*
 * clear_page_dirty_for_io() (v5.0 mm/page-writeback.c), called with the page locked:
 *	if (page_mkclean(page)) set_page_dirty(page);
 *	if (TestClearPageDirty(page)) { ...accounting...; return 1; }
 * page_mkclean() write-protects and cleans every PTE that maps the page, moving a dirty
 * PTE's bit to PG_dirty first; the PTEs are not modelled (a CPU store through the mapping
 * would fault and dirty the page again).  A device writing a pinned page goes through no
 * PTE, so page_mkclean() neither sees its writes nor stops the next one: what is left is
 * TestClearPageDirty(), fully ordered.
 */
static inline int clear_page_dirty_for_io(struct page *page)
{
	return TestClearPageDirty(page);
}

/* ---- the page lock: include/linux/pagemap.h, mm/filemap.c ---------------------------- */

/*
 * trylock_page() (v5.0 include/linux/pagemap.h): !test_and_set_bit_lock(PG_locked, ...),
 * and test_and_set_bit_lock() (include/asm-generic/bitops/lock.h) reads first:
 *	if (READ_ONCE(*p) & mask) return 1;
 *	old = atomic_long_fetch_or_acquire(mask, p);
 * so a trylock that finds the page locked is a plain read, unordered, with no RMW; one that
 * gets to the RMW is ACQUIRE (and fails there only if the bit was set in between).
 */
static inline int trylock_page(struct page *page)
{
	if (test_bit(PG_locked, &page->flags))
		return 0;
	return !test_and_set_bit_lock(PG_locked, &page->flags);
}

/*
 * lock_page() (v5.0): if (!trylock_page(page)) __lock_page(page); __lock_page() sleeps in
 * wait_on_page_bit_common() until test_and_set_bit_lock() takes the bit: ACQUIRE once taken.
 */
static inline void lock_page(struct page *page)
{
	__lock_bit(PG_locked, &page->flags);
}

/* unlock_page() (v5.0): clear_bit_unlock_is_negative_byte(PG_locked, ...), then the wake-up: RELEASE */
static inline void unlock_page(struct page *page)
{
	clear_bit_unlock(PG_locked, &page->flags);
}

/* set_page_dirty_lock() (v5.0 mm/page-writeback.c): lock_page(); set_page_dirty(); unlock_page() */
static inline int set_page_dirty_lock(struct page *page)
{
	int ret;

	lock_page(page);
	ret = set_page_dirty(page);
	unlock_page(page);
	return ret;
}

/* PageLocked(): test_bit(PG_locked, &page->flags) */
static inline int PageLocked(struct page *page)
{
	return test_bit(PG_locked, &page->flags);
}

/* ---- FOLL_PIN, upstream since v5.7: mm/gup.c, include/linux/mm.h --------------------- */

/* try_grab_page(page, FOLL_PIN) on a small page: page_ref_add(page, GUP_PIN_COUNTING_BIAS) */
static inline void pin_user_pages(struct page *page)
{
	atomic_add(GUP_PIN_COUNTING_BIAS, &page->_refcount);
}

static inline void pin_user_page(struct page *page)
{
	atomic_add(GUP_PIN_COUNTING_BIAS, &page->_refcount);
}

/* unpin_user_page() -> gup_put_folio(folio, 1, FOLL_PIN) -> folio_put_refs(): fully ordered */
static inline void unpin_user_page(struct page *page)
{
	atomic_sub_and_test(GUP_PIN_COUNTING_BIAS, &page->_refcount);
}

/*
 * page_maybe_dma_pinned() on a small page:
 * ((unsigned int)page_ref_count(compound_head(page))) >= GUP_PIN_COUNTING_BIAS.
 * False positives (1024 or more ordinary references) are accepted; false negatives not.
 * The unsigned comparison is written out: a negative (wrapped) count reads as pinned.
 */
static inline int page_maybe_dma_pinned(struct page *page)
{
	int ref = atomic_read(&page->_refcount);

	return ref < 0 || ref >= GUP_PIN_COUNTING_BIAS;
}

/* ---- folio names current kernels use for the same operations ------------------------- */

static inline int folio_ref_count(struct page *folio)
{
	return atomic_read(&folio->_refcount);
}

static inline int folio_mapcount(struct page *folio)
{
	return atomic_read(&folio->_mapcount) + 1;
}

static inline void folio_get(struct page *folio)
{
	atomic_inc(&folio->_refcount);
}

static inline void folio_put(struct page *folio)
{
	atomic_dec_and_test(&folio->_refcount);
}

static inline int folio_test_writeback(struct page *folio)
{
	return test_bit(PG_writeback, &folio->flags);
}

/* __folio_start_writeback(): folio_test_set_writeback(), fully ordered */
static inline int folio_start_writeback(struct page *folio)
{
	return test_and_set_bit(PG_writeback, &folio->flags);
}

/*
 * folio_end_writeback() (v6.8 mm/filemap.c): __folio_end_writeback() clears the bit with
 * folio_xor_flags_has_waiters(folio, 1 << PG_writeback), xor_unlock_is_negative_byte():
 * RELEASE only, and no smp_mb__after_atomic() since about v6.7 (v5.0's end_page_writeback()
 * was fully ordered); then folio_wake_bit().
 */
static inline void folio_end_writeback(struct page *folio)
{
	atomic_fetch_xor_release(1 << PG_writeback, &folio->flags);
}

/*
 * folio_wait_writeback() (v6.8 mm/page-writeback.c):
 *	while (folio_test_writeback(folio)) folio_wait_bit(folio, PG_writeback);
 * A clear bit orders nothing.  A sleeper is ordered by the wake-up: since v5.9
 * (2a9127fcf229) wake_page_function() releases wait->flags once the bit is clear and the
 * waiter reads them with smp_load_acquire().
 */
static inline void folio_wait_writeback(struct page *folio)
{
	if (folio_test_writeback(folio))
		__wait_bit_clear(PG_writeback, &folio->flags);
}

/* folio_wait_stable() (v6.8): folio_wait_writeback() only when the mapping has stable writes */
static inline void folio_wait_stable(struct page *folio)
{
	if (PINRACE_STABLE_WRITES)
		folio_wait_writeback(folio);
}

/*
 * folio_clear_dirty_for_io() (v6.8 mm/page-writeback.c), the folio locked: folio_mkclean()
 * (PTEs not modelled, as for clear_page_dirty_for_io()), then folio_test_clear_dirty(),
 * fully ordered
 */
static inline int folio_clear_dirty_for_io(struct page *folio)
{
	return test_and_clear_bit(PG_dirty, &folio->flags);
}

/* folio_trylock() (v6.8): !test_and_set_bit_lock(PG_locked, ...), which reads first as trylock_page() */
static inline int folio_trylock(struct page *folio)
{
	if (test_bit(PG_locked, &folio->flags))
		return 0;
	return !test_and_set_bit_lock(PG_locked, &folio->flags);
}

/* folio_lock() (v6.8): folio_trylock() or __folio_lock(), which sleeps until it takes the bit: ACQUIRE */
static inline void folio_lock(struct page *folio)
{
	__lock_bit(PG_locked, &folio->flags);
}

/* folio_unlock() (v6.8): folio_xor_flags_has_waiters(folio, 1 << PG_locked): RELEASE, as clear_bit_unlock() */
static inline void folio_unlock(struct page *folio)
{
	clear_bit_unlock(PG_locked, &folio->flags);
}

/* folio_test_large() (v6.8 include/linux/page-flags.h): folio_test_head(), a test_bit() of PG_head */
static inline int folio_test_large(struct page *folio)
{
	return test_bit(PG_head, &folio->flags);
}

/*
 * folio_maybe_dma_pinned() (v6.8 include/linux/mm.h): a large folio counts its pins
 * exactly in _pincount (v5.7, 47e29d32afba, "mm/gup: page->hpage_pinned_refcount: exact
 * pin counts for huge pages"); a small one is page_maybe_dma_pinned()'s bias check.
 */
static inline int folio_maybe_dma_pinned(struct page *folio)
{
	int ref;

	if (folio_test_large(folio))
		return atomic_read(&folio->_pincount) > 0;
	ref = atomic_read(&folio->_refcount);
	return ref < 0 || ref >= GUP_PIN_COUNTING_BIAS;
}

/*
 * try_grab_folio(page, 1, FOLL_PIN) (v6.8 mm/gup.c), GUP-fast's pin: try_get_folio() takes
 * one reference with folio_ref_try_add_rcu(), atomic_add_unless(&_refcount, 1, 0) (fully
 * ordered when it adds, nothing when the folio is being freed); then a large folio adds
 * the pin to _pincount, a small one the rest of the bias to _refcount; then
 * smp_mb__after_atomic() before GUP-fast re-checks the PTE (088b8aa537c2).
 * Returns 1 when pinned, 0 when the reference could not be taken.
 */
static inline int try_grab_folio(struct page *folio)
{
	if (!atomic_add_unless(&folio->_refcount, 1, 0))
		return 0;
	if (folio_test_large(folio))
		atomic_add(1, &folio->_pincount);
	else
		atomic_add(GUP_PIN_COUNTING_BIAS - 1, &folio->_refcount);
	smp_mb__after_atomic();
	return 1;
}
