"""Every bad input to the CLI exits 2 with an error line and no traceback; budgets bound compiling too.

Run as a user runs it (a subprocess), so what reaches the terminal is what is checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from test_limits import _token

SB = ("C SB\n{}\nP0(int *x, int *y) { WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\n"
      "P1(int *x, int *y) { WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }\nexists (0:r0=0 /\\ 1:r0=0)\n")


def pinrace(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pinrace.cli", *argv], capture_output=True, text=True, timeout=120)


def refused(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr and r.stderr.startswith("pinrace"), r.stderr
    first = r.stderr.splitlines()[0]
    for w in words:
        assert w in first, first
    return first


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "binary.litmus").write_bytes(b"\xff\xfe\x00\x01 not text")
    (d / "latin1.litmus").write_bytes(SB.replace("exists", "/* caf\xe9 */ exists").encode("latin-1"))
    (d / "a-directory").mkdir()
    (d / "digits.litmus").write_text(SB.replace("WRITE_ONCE(*x, 1)", "WRITE_ONCE(*x, " + "9" * 5000 + ")"))
    (d / "deep.link").write_text("#s=" + _token(b"[" * 100_000))
    return d


@pytest.mark.parametrize("cmd", [["check"], ["litmus"], ["export"], ["share"], ["diagram", "--schedule", "0"]])
def test_files_that_are_not_scenarios(files, cmd):
    named = [] if cmd == ["litmus"] else ["litmus"]  # (litmus reads its files itself: no name in the line)
    refused(pinrace(*cmd, str(files / "binary.litmus")), "UTF-8", *named)
    refused(pinrace(*cmd, str(files / "latin1.litmus")), "UTF-8", *named)
    refused(pinrace(*cmd, str(files / "a-directory")), "a-directory", "directory")


def test_a_literal_of_5000_digits_is_an_error_at_its_position(files):
    first = refused(pinrace("check", str(files / "digits.litmus")), "3:37", "64 bits")
    assert len(first) < 200  # the 5,000 digits are not echoed back
    r = pinrace("check", str(files / "digits.litmus"))
    assert max(len(line) for line in r.stderr.splitlines()) < 200  # nor the line they are on


def test_unshare_of_a_deeply_nested_link(files):
    refused(pinrace("unshare", str(files / "deep.link")), "nests")
    refused(pinrace("unshare", (files / "deep.link").read_text()), "nests")


def test_budgets_must_be_finite_and_positive():
    for bad in ("nan", "inf", "-1", "0"):
        r = pinrace("check", "thread-false-negative", "--timeout", bad)
        assert r.returncode == 2 and "--timeout" in r.stderr and "Traceback" not in r.stderr


def test_timeout_and_max_memory_bound_compiling(tmp_path):
    # 16 CPUs of 600 accesses each: compiling takes far longer than 0.2 s (and more than 40 MiB)
    body = " WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y);" * 300
    src = "C huge\n{}\n" + "".join(f"P{i}(int *x, int *y) {{{body} }}\n" for i in range(16)) + "exists (x=1)\n"
    (tmp_path / "huge.litmus").write_text(src)
    refused(pinrace("check", str(tmp_path / "huge.litmus"), "--timeout", "0.2"), "compiling", "--timeout")
    refused(pinrace("check", str(tmp_path / "huge.litmus"), "--max-memory", "40"), "compiling", "--max-memory")


def test_a_model_that_ignores_its_budget_is_stopped_past_timeout(tmp_path):
    """Six CPUs of 1,900 smp_mb(): lkmm's enumeration does not look at the budget (yet) and takes
    minutes; the guard around the command ends it as incomplete (exit 3) with one line."""
    from test_attacks import _fences

    (tmp_path / "fences.litmus").write_text(_fences(6))
    r = pinrace("check", str(tmp_path / "fences.litmus"), "--model", "lkmm", "--timeout", "5")
    assert r.returncode == 3, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "incomplete" in (r.stdout + r.stderr)


def test_recursion_in_the_checker_is_an_input_error_not_a_traceback(tmp_path):
    """lkmm with 1,000 writes to one location ran out of Python's stack (RecursionError): exit 2, one line."""
    (tmp_path / "writes.litmus").write_text("C writes\n{}\nP0(int *x) { " + "WRITE_ONCE(*x, 1); " * 1000
                                            + "}\nexists (x=1)\n")
    r = pinrace("check", str(tmp_path / "writes.litmus"), "--model", "lkmm", "--timeout", "20")
    assert r.returncode in (1, 2, 3), r.stderr[-2000:]  # once lkmm no longer recurses, it simply answers
    assert "Traceback" not in r.stderr
    if r.returncode == 2:
        assert len(r.stderr.strip().splitlines()) == 1
