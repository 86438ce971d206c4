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
SHARED = ROOT.parent / "shared"
SHARED_LKMM = SHARED / "lkmm"
HERD7 = SHARED / "tools" / "herd7" / "herd7-lkmm"


def shared_or_skip(path: Path, what: str) -> Path:
    """`path` under ../shared, or skip: a user's machine has no ../shared.  Under CI=true the
    reference material is part of the machine, and its absence fails the test instead."""
    if path.exists():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} not present at {path}: under CI=true ../shared is required")
    pytest.skip(f"{what} not present at {path} (these checks run only beside ../shared)")


def shared_lkmm_or_skip() -> Path:
    shared_or_skip(SHARED_LKMM / "litmus-tests", "LKMM reference corpus")
    return SHARED_LKMM


def herd7_or_skip() -> Path:
    return shared_or_skip(HERD7, "herd7 (the oracle)")


@pytest.fixture(scope="session")
def shared_lkmm() -> Path:
    return shared_lkmm_or_skip()
