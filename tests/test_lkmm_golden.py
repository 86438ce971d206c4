"""Golden tests under lkmm: NAME.litmus beside NAME.expected, herd7's own output for it.

The expected files are written by scripts/golden_from_herd7.py from herd7 7.58 with the
kernel's model (less Time, Hash and warnings); pinrace's herd_text must equal them line for
line.  Beside ../shared, test_expected_files_are_herd7s_output runs herd7 again on each.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import GOLDEN, ROOT, herd7_or_skip
from pinrace.engine.models import make_model
from pinrace.engine.models.lkmm import LKMM, check
from pinrace.errors import Unsupported
from pinrace.explore.budget import Budget
from pinrace.formats.herd import herd_text
from pinrace.library import load_program

CASES = sorted((GOLDEN / "lkmm").glob("*.litmus"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_lkmm(path):
    prog = load_program(path.read_text())
    result = check(prog)
    assert result.model == "lkmm"
    assert result.incomplete is None
    assert herd_text(prog, result) == path.with_suffix(".expected").read_text()


def test_expected_files_are_herd7s_output():
    herd = herd7_or_skip()
    sys.path.insert(0, str(ROOT / "scripts"))
    from golden_from_herd7 import comparable

    for path in CASES:
        out = subprocess.run([str(herd), path.name], cwd=path.parent, capture_output=True, text=True, timeout=120)
        assert comparable(out.stdout) == path.with_suffix(".expected").read_text(), path.name


def test_golden_set_covers_the_classic_shapes():
    names = {p.stem for p in CASES}
    assert {"SB", "SB+mbs", "MP", "MP+wmb+rmb", "LB", "WRC", "IRIW", "ISA2", "R", "S", "2+2W", "Z6.0+rel+acq+mb",
            "CoRR", "CoRW", "CoWR", "CoWW", "MP+rel+acq", "MP+addr", "LB+ctrl+mb", "MP+locks", "RCU-MP",
            "page-pin+wmb", "page-pin+mb", "page-pin+mb-after-atomic"} <= names
    # what issue 13 found wrong or unreadable, and issue 20's RMW dependency (W4: an RMW, then a
    # same-CPU acquire read of its write)
    assert {"LB+ctrl-after-if", "LB+ctrl-in-if", "LB+ctrl-else", "LB+ctrl-nested", "LB+ctrl-while",
            "cond-reg-eq-reg", "diy-header", "no-condition", "forbidden-counts", "filter-hidden", "init-forms",
            "W4+relaxed", "W4+release", "W4+mb", "W4+acquire-rmw", "W4+xchg", "W4+add-return"} <= names


@pytest.mark.parametrize("fence,verdict", [
    ("smp_wmb", "Sometimes"), ("smp_mb", "Never"), ("smp_mb__after_atomic", "Never"),
])
def test_page_pin(fence, verdict):
    prog = load_program((GOLDEN / "lkmm" / f"page-pin+{fence[4:].replace('__', '-').replace('_', '-')}.litmus")
                        .read_text())
    assert check(prog).observation == verdict


def test_result_fields_and_witness():
    prog = load_program((GOLDEN / "lkmm" / "SB.litmus").read_text())
    r = check(prog)
    assert r.states >= sum(f.executions for f in r.finals) > 0
    bad = [f for f in r.finals if f.satisfies]
    assert len(bad) == 1 and bad[0].values == {"0:r0": 0, "1:r0": 0}
    d = bad[0].detail
    assert {"events", "rf", "co"} <= set(d)
    assert any(e["kind"] == "W" and e["loc"] == "x" and e["value"] == 1 for e in d["events"])


def test_lkmm_class_and_make_model():
    prog = load_program((GOLDEN / "lkmm" / "SB.litmus").read_text())
    m = make_model("lkmm", prog)
    assert isinstance(m, LKMM) and m.name == "lkmm" and m.program is prog


def test_filter_drops_executions():
    prog = load_program("C f\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\n"
                        "P1(int *x) { r0 = READ_ONCE(*x); }\nfilter (1:r0=1)\nexists (1:r0=0)\n")
    r = check(prog)
    assert [f.values["1:r0"] for f in r.finals] == [1]
    assert r.observation == "Never"


def test_loop_bound_flag_and_spin_wait():
    prog = load_program("C spin\n{}\nP0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_store_release(y, 1); }\n"
                        "P1(int *x, int *y) { while (!smp_load_acquire(y)) ; r1 = READ_ONCE(*x); }\n"
                        "exists (1:r1=0)\n")
    r = check(prog)
    assert r.observation == "Never"
    assert "loop-bound" in r.flags


def test_trylock_excludes():
    prog = load_program("C t\n{}\nP0(spinlock_t *l) { r0 = spin_trylock(l); }\n"
                        "P1(spinlock_t *l) { r1 = spin_trylock(l); }\nexists (0:r0=1 /\\ 1:r1=1)\n")
    r = check(prog)
    assert r.observation == "Never"
    assert {(f.values["0:r0"], f.values["1:r1"]) for f in r.finals} == {(0, 1), (1, 0)}


def test_srcu_grace_period_same_struct_only():
    body = ("P0(struct srcu_struct *s, struct srcu_struct *t, int *x, int *y) {{ r0 = srcu_read_lock(s); "
            "r1 = READ_ONCE(*x); r2 = READ_ONCE(*y); srcu_read_unlock(s, r0); }}\n"
            "P1(struct srcu_struct *s, struct srcu_struct *t, int *x, int *y) {{ WRITE_ONCE(*y, 1); "
            "synchronize_srcu({}); WRITE_ONCE(*x, 1); }}\nexists (0:r1=1 /\\ 0:r2=0)\n")
    assert check(load_program("C s\n{}\n" + body.format("s"))).observation == "Never"
    assert check(load_program("C s\n{}\n" + body.format("t"))).observation == "Sometimes"


def test_read_of_an_integer_address_has_no_execution_and_a_write_is_unsupported():
    # herd7 7.58: a read of address 5 can read from no write, so no execution takes that path
    # ("States 0 ... Never 0 0"); a write there is its user error "Non-symbolic memory access"
    prog = load_program("C bad\n{ int *p = 5; }\nP0(int **p) { r0 = READ_ONCE(*p); r1 = READ_ONCE(*r0); }\n"
                        "exists (0:r1=0)\n")
    r = check(prog)
    assert (len(r.finals), r.observation) == (0, "Never")
    prog = load_program("C bad2\n{ int *p = 5; }\nP0(int **p) { r0 = READ_ONCE(*p); WRITE_ONCE(*r0, 1); }\n"
                        "exists (0:r0=5)\n")
    with pytest.raises(Unsupported) as e:
        check(prog)
    assert "address" in e.value.reason


def test_budget_stops_with_reason():
    prog = load_program((GOLDEN / "lkmm" / "IRIW.litmus").read_text())
    r = check(prog, budget=Budget(max_states=10))
    assert r.incomplete == "states"
