"""lkmm against herd7: the kernel's 35 verdicts and the catalogue's full final-state sets.

Runs only when the reference corpus is at ../shared/lkmm beside the repository.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_LKMM, herd7_or_skip, shared_lkmm_or_skip, shared_or_skip
from pinrace.engine.models.lkmm import check
from pinrace.formats.herd import herd_text
from pinrace.library import load_program

SHARED = SHARED_LKMM


def _shared() -> Path:
    shared_or_skip(SHARED / "herd-catalogue", "herdtools' catalogue")
    return shared_lkmm_or_skip()


def _kernel_tests():
    return sorted((SHARED / "litmus-tests").glob("*.litmus")) if SHARED.is_dir() else []


def _catalogue_tests():
    return sorted((SHARED / "herd-catalogue").glob("*.litmus")) if SHARED.is_dir() else []


def herd_lines(prog, result) -> set[str]:
    """Final states as herd7 prints them: `0:r1=0; [x]=1;`."""
    return {f.herd_line(prog.observed) for f in result.finals}


@pytest.mark.parametrize("path", _kernel_tests(), ids=lambda p: p.stem)
def test_kernel_verdict(path):
    _shared()
    want = re.search(r"Result:\s*(\w+)", path.read_text()).group(1)
    assert check(load_program(path.read_text())).observation == want


def _comparable(text: str) -> list[str]:
    """herd7's lines less those that change from run to run (Time, Hash): bench/differential.py's."""
    sys.path.insert(0, str(ROOT / "bench"))
    from differential import comparable

    return comparable(text)


def test_kernel_tests_print_herd7s_output_line_for_line():
    """herd7 itself runs the 35 kernel tests (a quarter of a second); pinrace must print its lines."""
    _shared()
    herd = herd7_or_skip()
    tests = _kernel_tests()
    out = subprocess.run([str(herd), *[p.name for p in tests]], cwd=tests[0].parent, capture_output=True,
                         text=True, timeout=300)
    blocks = re.split(r"(?m)^(?=Test )", out.stdout)
    theirs = {b.split()[1]: b for b in blocks if b.startswith("Test ")}
    assert len(theirs) == len(tests), out.stderr[-2000:]
    for path in tests:
        prog = load_program(path.read_text())
        assert _comparable(herd_text(prog, check(prog))) == _comparable(theirs[prog.name]), path.name


@pytest.mark.parametrize("path", _catalogue_tests(), ids=lambda p: p.stem)
def test_catalogue_output_is_herd7s_line_for_line(path):
    _shared()
    prog = load_program(path.read_text())
    expected = path.with_name(path.name + ".expected").read_text()
    assert _comparable(herd_text(prog, check(prog))) == _comparable(expected)


@pytest.mark.parametrize("path", _catalogue_tests(), ids=lambda p: p.stem)
def test_catalogue_states(path):
    _shared()
    expected = path.with_name(path.name + ".expected").read_text()
    states = re.search(r"^States \d+\n(.*?)\n(?:Ok|No)\n", expected, re.S | re.M).group(1)
    want = {line.strip() for line in states.splitlines()}
    observation = re.search(r"^Observation \S+ (\w+)", expected, re.M).group(1)
    flags = set(re.findall(r"^Flag (\S+)", expected, re.M))
    prog = load_program(path.read_text())
    result = check(prog)
    assert herd_lines(prog, result) == want
    assert result.observation == observation
    assert set(result.flags) - {"loop-bound"} == flags


def test_corpus_sizes_and_speed():
    _shared()
    kernel = _kernel_tests()
    assert len(kernel) == 35 and len(_catalogue_tests()) == 79
    t0 = time.monotonic()
    for path in kernel:
        check(load_program(path.read_text()))
    assert time.monotonic() - t0 < 10  # ~0.3 s in practice; generous for slow CI machines
