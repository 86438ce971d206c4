"""Differential testing against herd7 in the suite: a fixed sample of generated litmus tests
(bench/litmus_gen.py, the generator bench/differential.py runs by the thousand), each run by
herd7 with the kernel's model and by pinrace, whole outputs compared line for line.

Beside ../shared only (herd7 is the oracle; under CI=true its absence fails).  The seeds are
fixed: a difference names a test anyone can regenerate with `generate(seed)`.
"""

from __future__ import annotations

import sys

from conftest import ROOT, herd7_or_skip

sys.path.insert(0, str(ROOT / "bench"))

from differential import run_batch  # noqa: E402
from litmus_gen import CONSTRUCTS  # noqa: E402

SEEDS = range(7000, 7300)


def test_generated_tests_match_herd7_line_for_line():
    herd = herd7_or_skip()
    r = run_batch(list(SEEDS), str(herd), None)
    assert r["tests"] == len(SEEDS)
    assert r["diffs"] == [], f"seeds whose output differs from herd7's: {r['diffs']}"
    # the sample exercises what the generator can write (dependencies, RMWs read back, loops...)
    missing = set(CONSTRUCTS) - set(r["used"])
    assert len(missing) <= len(CONSTRUCTS) // 4, f"constructs the sample never used: {sorted(missing)}"
