"""The LKMM reference corpus parses and runs under sc; every LKMM-Never test is Never under sc.

SC is stronger than the LKMM, so an outcome the LKMM forbids must be unreachable under SC.
Runs only when ../shared/lkmm is beside the repository.
"""

from __future__ import annotations

import re

from pinrace.explore.run import check
from pinrace.library import load_program


def _lkmm_verdict(path) -> str:
    expected = path.with_name(path.name + ".expected")
    if expected.exists():
        return re.search(r"^Observation \S+ (\w+)", expected.read_text(), re.M).group(1)
    return re.search(r"Result:\s*(\w+)", path.read_text()).group(1)


def test_reference_corpus_under_sc(shared_lkmm):
    files = sorted((shared_lkmm / "litmus-tests").glob("*.litmus")) + sorted(
        (shared_lkmm / "herd-catalogue").glob("*.litmus"))
    assert len(files) >= 35
    wrong = []
    for f in files:
        prog = load_program(f.read_text())
        result = check(prog, "sc")
        assert result.incomplete is None, f.name
        assert result.finals, f.name
        if _lkmm_verdict(f) == "Never" and result.observation != "Never":
            wrong.append(f.name)
    assert wrong == []
