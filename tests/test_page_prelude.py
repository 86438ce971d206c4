"""The page API prelude and the language features it relies on (struct page, waits, loops)."""

from __future__ import annotations

from pinrace.engine.ir import ACQUIRE, MB, NORETURN, RELEASE, Load, Rmw
from pinrace.engine.models import make_model
from pinrace.engine.view import describe, page_view
from pinrace.explore.run import check
from pinrace.library import load_program


def _ops(src: str, cpu: int = 0) -> list:
    prog = load_program(src)
    return [i for i in prog.threads[cpu].code if isinstance(i, (Load, Rmw))]


def test_struct_page_defaults_and_overrides():
    prog = load_program("C p\n{ struct page page; struct page q = { ._refcount = 2 }; q->_mapcount = 3; }\n"
                        "P0(struct page *page) { int r0; r0 = page_count(page); }\nexists (0:r0=1)\n")
    mem = prog.init_memory
    assert (mem["page._refcount"], mem["page._mapcount"], mem["page.flags"], mem["page._pincount"]) == (1, 0, 0, 0)
    assert mem["q._refcount"] == 2 and mem["q._mapcount"] == 3
    assert check(prog, "sc").observation == "Always"


def test_page_api_orderings_follow_the_kernel_documentation():
    src = """C orders
{ struct page page; }
P0(struct page *page) { int a; int b;
  get_page(page); put_page(page); SetPageWriteback(page); a = TestSetPageWriteback(page);
  b = trylock_page(page); unlock_page(page); pin_user_pages(page); unpin_user_page(page); }
exists (0:a=0)
"""
    tags = [(i.origin.primitive, i.tag) for i in _ops(src)]
    # trylock_page() reads before its RMW (asm-generic test_and_set_bit_lock(): tests/test_prelude_kernel.py)
    assert tags == [("atomic_inc", NORETURN), ("atomic_dec_and_test", MB), ("set_bit", NORETURN),
                    ("test_and_set_bit", MB), ("test_bit", "ONCE"), ("test_and_set_bit_lock", ACQUIRE),
                    ("clear_bit_unlock", RELEASE), ("atomic_add", NORETURN), ("atomic_sub_and_test", MB)]


def test_page_bits_share_one_flags_word_and_are_named_by_pg_defines():
    src = """C bits
{ struct page page; }
P0(struct page *page) { int r0; int r1; lock_page(page); r0 = TestSetPageWriteback(page); r1 = PageLocked(page); }
exists (0:r0=0 /\\ 0:r1=1 /\\ page.flags=3)
"""
    prog = load_program(src)
    assert check(prog, "sc").observation == "Always"
    m = make_model("sc", prog)
    s = m.initial()
    for t in [m.enabled(s)[0]]:
        s = m.step(s, t)
    pv = page_view(m, m.memory(s), "page")
    assert {f["name"]: f["set"] for f in pv["flags"]}["PG_locked"] is True
    assert {f["name"]: f["set"] for f in pv["flags"]}["PG_writeback"] is False


def test_page_maybe_dma_pinned_is_the_unsigned_bias_check():
    for ref, want in ((1023, 0), (1024, 1), (2047, 1), (-5, 1)):
        src = f"C dp\n{{ struct page page = {{ ._refcount = {ref} }}; }}\n" \
              "P0(struct page *page) { int r0; r0 = page_maybe_dma_pinned(page); }\nexists (0:r0=1)\n"
        assert check(load_program(src), "sc").observation == ("Always" if want else "Never"), ref


def test_wait_for_stable_page_waits_only_with_stable_writes():
    base = """C stable
{ struct page page = { .flags = 2 }; }
P0(struct page *page) { int r0; wait_for_stable_page(page); r0 = 1; }
exists (0:r0=1)
"""
    res = check(load_program(base), "sc")
    assert res.finals == [] and [f.status for f in res.stuck] == ["deadlock"]
    res = check(load_program(base.replace("C stable\n", "C stable\n#define PINRACE_STABLE_WRITES 0\n")), "sc")
    assert res.observation == "Always"


def test_scenario_functions_and_defines_replace_the_prelude():
    src = """C own
#define PAGE_PIN_BIAS 16
{ struct page page; }
int page_count(struct page *page) { return 42; }
P0(struct page *page) { int r0; int r1; r0 = page_count(page); r1 = PAGE_PIN_BIAS; }
exists (0:r0=42 /\\ 0:r1=16)
"""
    assert check(load_program(src), "sc").observation == "Always"


def test_prelude_operations_point_at_the_scenario_call():
    src = "C site\n{ struct page page; }\nP0(struct page *page) {\n  int r0;\n  r0 = page_mapcount(page);\n}\n" \
          "exists (0:r0=1)\n"
    (ld,) = _ops(src)
    assert ld.origin.line == 5 and ld.origin.text == "atomic_read(&page->_mapcount)"


def test_prelude_errors_point_at_the_scenario_call():
    import pytest

    from pinrace.errors import SourceError

    src = "C bad\n{ int x; }\nP0(int *x) {\n  lock_page(x);\n}\nexists (true)\n"
    with pytest.raises(SourceError) as e:
        load_program(src)
    assert e.value.line == 4 and "lock_page() of the page prelude" in e.value.reason


def test_while_one_ends_with_loop_bound():
    src = "C spin\n#define PINRACE_LOOP_BOUND 2\n{ struct page page; }\n" \
          "P0(struct page *page) { while (1) { if (!trylock_page(page)) continue; unlock_page(page); } }\n" \
          "exists (true)\n"
    for model in ("sc", "tso"):
        res = check(load_program(src), model)
        assert res.finals == [] and {f.status for f in res.stuck} == {"loop-bound"}


def test_goto_retry_and_for_loops_respect_the_bound():
    src = """C retry
{ struct page page; }
P0(struct page *page) { int n = 0; int i;
retry:
  n++;
  if (n < 10) goto retry;
  for (i = 0; i < 2; i++) get_page(page);
}
exists (true)
"""
    res = check(load_program(src), "sc")  # default bound 4: the goto loop is cut
    assert [f.status for f in res.stuck] == ["loop-bound"]
    res = check(load_program(src, loop_bound=12), "sc")
    assert res.finals and res.finals[0].status == "done"


def test_all_cpus_waiting_is_a_deadlock():
    src = """C abba
{ struct page a; struct page b; }
P0(struct page *a, struct page *b) { lock_page(a); lock_page(b); unlock_page(b); unlock_page(a); }
P1(struct page *a, struct page *b) { lock_page(b); lock_page(a); unlock_page(a); unlock_page(b); }
exists (true)
"""
    for model in ("sc", "tso"):
        res = check(load_program(src), model)
        assert "deadlock" in {f.status for f in res.stuck}
        assert res.finals  # the runs that do not interleave badly finish


def test_a_waiting_cpu_is_not_runnable_until_its_condition_can_hold():
    src = """C waiter
{ struct page page = { .flags = 2 }; }
P0(struct page *page) { wait_on_page_writeback(page); get_page(page); }
P1(struct page *page) { end_page_writeback(page); }
exists (page._refcount=2)
"""
    prog = load_program(src)
    m = make_model("sc", prog)
    s = m.initial()
    s = m.step(s, m.enabled(s)[0])  # P0's PageWriteback() test finds the bit set: now it sleeps
    assert [t.cpu for t in m.enabled(s)] == [1]
    assert "waits" in describe(m, s)["cpus"][0]["blocked"]
    s = m.step(s, m.enabled(s)[0])
    assert [t.cpu for t in m.enabled(s)] == [0]
    assert check(prog, "sc").observation == "Always"
