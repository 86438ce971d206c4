"""Shared fixtures: the project's golden tests and, when present, the LKMM reference corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Starlette's TestClient sends `Host: testserver`; the server answers only the names it is reached
# by (PINRACE_ALLOWED_HOSTS, api/edge.py), so the suite names it too.  Tests of the allow-list
# itself pass their own list.
os.environ.setdefault("PINRACE_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1,::1")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
SHARED_LKMM = ROOT.parent / "shared" / "lkmm"


def shared_lkmm_or_skip() -> Path:
    if not (SHARED_LKMM / "litmus-tests").is_dir():
        pytest.skip(f"LKMM reference corpus not present at {SHARED_LKMM} (conformance check runs only beside it)")
    return SHARED_LKMM


@pytest.fixture(scope="session")
def shared_lkmm() -> Path:
    return shared_lkmm_or_skip()
