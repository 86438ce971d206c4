"""Diagrams in the thread's style: export, import (quote markers and all), round trips, refusals."""

from __future__ import annotations

import pytest

from conftest import ROOT, shared_or_skip
from pinrace.engine.condition import holds
from pinrace.engine.models import make_model
from pinrace.explore.run import check
from pinrace.explore.search import observe
from pinrace.formats.diagram import export_diagram, render_interleaving, step_label
from pinrace.formats.diagram_import import ALIASES, DiagramError, import_diagram, parse_diagram
from pinrace.library import builtins, load_program
from test_share import FALSE_NEGATIVE

SEED = ROOT.parent / "shared" / "seed" / "linux-mm-2019-01-15-put_user_page-thread.txt"
THREAD_PROTOCOL = ROOT / "protocols" / "thread-false-negative.litmus"

# Jerome Glisse's diagram, verbatim from the seed thread, with its quote markers.
SEED_DIAGRAM = """\
> >>> Racing PUP are as likely to cause issues:
> >>>
> >>> CPU0                        | CPU1       | CPU2
> >>>                             |            |
> >>>                             | PUP()      |
> >>>     page_pinned(page)       |            |
> >>>       (page_count(page) -   |            |
> >>>        page_mapcount(page)) |            |
> >>>                             |            | GUP()
> >>>
> >>> So here the refcount snap-shot does not include the second GUP and
"""


def _protocol() -> str:
    """The real protocol once it exists; until then the fixture with the thread's call names."""
    return THREAD_PROTOCOL.read_text() if THREAD_PROTOCOL.is_file() else FALSE_NEGATIVE


def _final(machine, schedule):
    s = machine.initial()
    for t in schedule:
        s = machine.step(s, t)
    return s


def test_the_embedded_diagram_is_the_seed_verbatim():
    shared_or_skip(SEED, "the seed thread")
    assert SEED_DIAGRAM in SEED.read_text()


@pytest.mark.parametrize("model", ["sc", "tso"])
def test_seed_diagram_imports_and_reproduces_the_false_negative(model):
    prog = load_program(_protocol())
    machine = make_model(model, prog)
    imp = import_diagram(SEED_DIAGRAM, machine)
    drawn = [r for r in imp.rows if r["kind"] != "setup"]
    assert [r["cpu"] for r in drawn] == [1, 0, 2]
    assert drawn[1]["kind"] == "call" and len(drawn[1]["steps"]) >= 2  # the snapshot reads twice
    assert drawn[1]["line"] == 6
    s = _final(machine, imp.schedule)
    assert machine.status(s) == "done"
    assert holds(prog.condition.prop, observe(machine, s)), "the false negative: the exists clause holds"


def test_multi_row_cell_is_one_call():
    n, cells = parse_diagram(SEED_DIAGRAM)
    assert n == 3 and len(cells) == 3
    assert cells[1].cpu == 0 and cells[1].head == "page_pinned(page)"
    assert cells[1].text == "page_pinned(page) (page_count(page) - page_mapcount(page))"


@pytest.mark.parametrize("model", ["sc", "tso"])
def test_export_then_import_round_trips_every_counterexample(model):
    prog = load_program(_protocol())
    machine = make_model(model, prog)
    res = check(prog, model)
    assert res.finals
    for f in res.finals:
        d = export_diagram(machine, f.schedule)
        assert all(len(ln) <= 72 for ln in d.splitlines()), d
        assert import_diagram(d, machine, complete=False).schedule == f.schedule
        quoted = "\n".join("> > " + ln for ln in d.splitlines())
        assert import_diagram(quoted, machine, complete=False).schedule == f.schedule


def test_export_draws_whole_calls_and_split_calls():
    prog = load_program(FALSE_NEGATIVE)
    machine = make_model("sc", prog)
    whole = import_diagram(SEED_DIAGRAM, machine).schedule
    d = export_diagram(machine, whole)
    assert d.splitlines()[0].startswith("CPU0") and "| CPU1" in d and "| CPU2" in d
    assert "r0 = page_pinned(page)" in d and "put_user_page(page)" in d
    # CPU1 cutting into page_pinned(): drawn one operation per row, and read back the same
    from pinrace.engine.state import Transition

    split = [Transition(0, 1), Transition(1, 0), Transition(0, 2), Transition(2, 0)]
    wide = export_diagram(machine, split, width=100)
    assert "atomic_read(&page->_refcount)" in wide and "atomic_read(&page->_mapcount)" in wide
    assert import_diagram(wide, machine, complete=False).schedule == split
    d2 = export_diagram(machine, split)
    assert all(len(ln) <= 72 for ln in d2.splitlines())
    assert import_diagram(d2, machine, complete=False).schedule == split


def test_long_cells_wrap_within_72_columns_and_read_back():
    prog = load_program(FALSE_NEGATIVE.replace("r0 = page_pinned(page);",
                                               "r0 = page_pinned(page) + page_pinned(page) + page_pinned(page);"))
    machine = make_model("sc", prog)
    sched = check(prog, "sc").finals[0].schedule
    d = export_diagram(machine, sched)
    assert all(len(ln) <= 72 for ln in d.splitlines())
    assert import_diagram(d, machine, complete=False).schedule == sched


def test_aliases_are_one_table():
    assert "put_user_page" in ALIASES["pup"] and "unpin_user_page" in ALIASES["pup"]
    assert "get_user_pages" in ALIASES["gup"] and "pin_user_pages" in ALIASES["gup"]
    assert "page_maybe_dma_pinned" in ALIASES["page_pinned"]


def _err(diagram: str, scenario: str = FALSE_NEGATIVE) -> DiagramError:
    machine = make_model("sc", load_program(scenario))
    with pytest.raises(DiagramError) as e:
        import_diagram(diagram, machine)
    return e.value


def test_ambiguous_and_impossible_rows_are_refused_with_the_row():
    e = _err("CPU0 | CPU1 | CPU2\n     | PUP() | GUP()\n")
    assert e.line == 2 and "own" in e.reason and e.code == "bad-diagram"
    e = _err("CPU0 | CPU1 | CPU2\n     |       |\n     | GUP() |\n")
    assert e.line == 3 and "put_user_page(page)" in e.reason
    e = _err("CPU0 | CPU1\n  page_pinned(page) |\n")
    assert "2 CPU columns" in e.reason
    e = _err("CPU0 | CPU1 | CPU2\n     | PUP() |\n     | PUP() |\n")
    assert e.line == 3 and "finished" in e.reason
    e = _err("no table here")
    assert "header" in e.reason
    e = _err("CPU0 | CPU1 | CPU2\n\n     | PUP() |\n")
    assert "no rows" in e.reason
    e = _err("CPU0 | CPU1 | CPU2\n page_pinned(page |  |\n   page)  | PUP() |\n")
    assert e.line == 3 and "continuation" in e.reason


def test_blocked_rows_name_the_reason():
    lockd = """C locked
{
	spinlock_t s;
}
P0(spinlock_t *s) { spin_lock(s); }
P1(spinlock_t *s) { spin_lock(s); }
exists (true)
"""
    e = _err("CPU0 | CPU1\nspin_lock(s) |\n | spin_lock(s)\n", lockd)
    assert e.line == 3 and "cannot run" in e.reason and "lock" in e.reason


def test_tso_flush_rows_round_trip():
    sb = (ROOT / "tests" / "golden" / "sc" / "SB.litmus").read_text()
    prog = load_program(sb)
    machine = make_model("tso", prog)
    for f in check(prog, "tso").finals:
        d = export_diagram(machine, f.schedule)
        assert import_diagram(d, machine, complete=False).schedule == f.schedule


@pytest.mark.parametrize("b", [b for b in builtins()], ids=lambda b: b.name)
def test_builtin_counterexamples_round_trip(b):
    prog = load_program(b.source)
    for model in ("sc", "tso"):
        machine = make_model(model, prog)
        res = check(prog, model)
        for f in res.finals[:20]:
            d = export_diagram(machine, f.schedule)
            assert import_diagram(d, machine, complete=False).schedule == f.schedule, d


def test_render_interleaving_and_step_label_keep_working():
    prog = load_program(FALSE_NEGATIVE)
    machine = make_model("sc", prog)
    sched = check(prog, "sc").finals[0].schedule
    assert render_interleaving(machine, sched).startswith("CPU0")
    ann = render_interleaving(machine, sched, annotate=["note"] * len(sched))
    assert ann.count("    note") == len(sched)
    assert step_label(machine, sched[0])


def test_calls_before_a_cpus_first_row_run_just_before_it():
    # CPU1 pins before it unpins; the thread's diagram draws only the PUP()
    two = FALSE_NEGATIVE.replace("._refcount = 1026", "._refcount = 2").replace(
        "P1(struct page *page)\n{\n\tput_user_page(page);",
        "P1(struct page *page)\n{\n\tget_user_pages(page);\n\tput_user_page(page);")
    prog = load_program(two)
    machine = make_model("sc", prog)
    imp = import_diagram(SEED_DIAGRAM, machine)
    assert imp.rows[0]["kind"] == "setup" and imp.rows[0]["steps"] == ["1:0"]
    s = _final(machine, imp.schedule)
    assert observe(machine, s)["0:r0"] == 0
