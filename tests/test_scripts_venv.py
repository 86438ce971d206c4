"""scripts/venv.sh, which the README's two commands source: when it installs, and when it must not.

Run in a scratch checkout (pyproject.toml and the script) with stand-in interpreters that
log how they are called, so each case is exact and fast: a second start with nothing
changed runs no pip at all, a changed pyproject.toml reinstalls, a moved checkout gets a
new venv, and a Python without Debian's python3-venv or older than 3.11 stops with exit 2
and what to do.  (CI and scripts/smoke_wheel.sh exercise the real installs.)
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT


def _exe(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    co = tmp_path / "checkout"
    (co / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "venv.sh", co / "scripts" / "venv.sh")
    (co / "pyproject.toml").write_text('[project]\nname = "pinrace"\n')
    return co


def _installed_venv(co: Path) -> Path:
    """A .venv whose python only logs its arguments (one line per call) and succeeds."""
    log = co / "venv-python.log"
    _exe(co / ".venv" / "bin" / "python", f'echo "$*" >> {log}\n')
    return log


def _ensure(co: Path, tag: str, extras: str, python: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PINRACE_VENV", "VIRTUAL_ENV")}
    if python is not None:
        env["PYTHON"] = str(python)
    return subprocess.run(["bash", "-c", f'. scripts/venv.sh && ensure_venv {tag} "{extras}" && echo "PATH=$PATH"'],
                          cwd=co, env=env, capture_output=True, text=True, timeout=60)


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_installs_once_then_reuses_the_venv_without_pip(checkout):
    log = _installed_venv(checkout)
    r = _ensure(checkout, "serve", "")
    assert r.returncode == 0, r.stderr
    assert "serve: installing pinrace into .venv" in r.stderr
    assert "-m pip install -q -e ." in _calls(log)
    assert f"PATH={checkout}/.venv/bin:" in r.stdout  # the venv's commands come first for what follows
    log.unlink()
    r = _ensure(checkout, "serve", "")
    assert r.returncode == 0 and "serve: .venv is up to date" in r.stderr, r.stderr
    assert _calls(log) == []  # the second start runs no pip at all
    assert len(r.stderr.splitlines()) == 1  # one line per step


def test_a_changed_pyproject_reinstalls(checkout):
    log = _installed_venv(checkout)
    assert _ensure(checkout, "serve", "").returncode == 0
    (checkout / "pyproject.toml").write_text('[project]\nname = "pinrace"\ndependencies = ["lark"]\n')
    log.unlink()
    r = _ensure(checkout, "serve", "")
    assert "serve: installing pinrace into .venv" in r.stderr and "-m pip install -q -e ." in _calls(log)


def test_the_test_install_serves_serve_but_not_the_reverse(checkout):
    log = _installed_venv(checkout)
    assert _ensure(checkout, "serve", "").returncode == 0
    log.unlink()
    r = _ensure(checkout, "test", "[test]")
    assert "-m pip install -q -e .[test]" in _calls(log), r.stderr  # the serve install lacks the test extras
    log.unlink()
    r = _ensure(checkout, "serve", "")
    assert "up to date" in r.stderr and _calls(log) == []


def test_a_moved_checkout_gets_a_new_venv(checkout, tmp_path):
    _installed_venv(checkout)
    assert _ensure(checkout, "serve", "").returncode == 0
    moved = tmp_path / "moved"
    checkout.rename(moved)
    no_venv = _exe(tmp_path / "bin" / "python3",
                   'case "$*" in *version_info*) exit 0 ;; *platform*) echo 3.11.2 ;; *"-m venv"*) exit 1 ;; esac\n')
    r = _ensure(moved, "serve", "", python=no_venv)
    assert "serve: the checkout moved since .venv was made: recreating it" in r.stderr


def test_without_python3_venv_it_says_what_to_install_and_exits_2(checkout, tmp_path):
    # what Debian's python3 prints without python3-venv, and the half-made folder it leaves
    debian = _exe(tmp_path / "bin" / "python3", f"""case "$*" in
  *version_info*) exit 0 ;;
  *platform*) echo 3.11.2 ;;
  *"-m venv"*) mkdir -p {checkout}/.venv/bin; ln -sf /bin/false {checkout}/.venv/bin/python
     echo "The virtual environment was not created successfully because ensurepip is not" >&2
     echo "available.  On Debian/Ubuntu systems, you need to install the python3-venv package" >&2
     exit 1 ;;
esac
""")
    r = _ensure(checkout, "serve", "", python=debian)
    assert r.returncode == 2
    assert "serve: creating the virtual environment .venv with" in r.stderr
    assert "serve: on Debian or Ubuntu: apt install python3-venv" in r.stderr
    assert not (checkout / ".venv").exists()  # no half-made venv for the next run to trip on


def test_a_python_older_than_3_11_is_refused_before_anything_is_made(checkout, tmp_path):
    old = _exe(tmp_path / "bin" / "python3", 'case "$*" in *version_info*) exit 1 ;; *platform*) echo 3.9.2 ;; esac\n')
    r = _ensure(checkout, "test", "[test]", python=old)
    assert r.returncode == 2 and "is Python 3.9.2; pinrace needs >= 3.11" in r.stderr
    assert not (checkout / ".venv").exists()


def test_a_failed_pip_install_leaves_no_stamp(checkout):
    _exe(checkout / ".venv" / "bin" / "python", 'case "$*" in *"pip install"*) exit 1 ;; esac\n')
    r = _ensure(checkout, "serve", "")
    assert r.returncode == 1 and "serve: pip install failed" in r.stderr
    assert not (checkout / ".venv" / "pinrace-install.stamp").exists()  # so the next run tries again
