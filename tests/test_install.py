"""pinrace finds the files it ships in both layouts, and says so loudly when they are missing.

A checkout keeps protocols/ and frontend/ at the top level; a wheel carries them inside the
package (pyproject.toml maps them in).  These tests lay the package out as a wheel installs
it, in a temporary site folder, and run the real CLI there in a subprocess: with the data
it lists the same built-ins as the checkout, without it every command that needs the data
exits 2 with a message.  (scripts/smoke_wheel.sh checks a real wheel in a real venv.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import ROOT
from pinrace import assets, library
from pinrace.api.app import create_app

PACKAGE = ROOT / "server" / "pinrace"
DOCS_UI = PACKAGE / "api" / "docs_ui"


def _site(tmp_path: Path, *, with_data: bool) -> Path:
    """A site-packages-like folder holding pinrace as its wheel installs it (data inside or not)."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "pinrace", ignore=shutil.ignore_patterns("__pycache__"))
    if with_data:
        shutil.copytree(ROOT / "protocols", site / "pinrace" / "protocols")
        shutil.copytree(ROOT / "frontend", site / "pinrace" / "frontend")
    return site


def _pinrace(site: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI as installed at `site` (and only there: no checkout on the path)."""
    e = {k: v for k, v in os.environ.items() if k != "PINRACE_PROTOCOLS"}
    e.update(env or {}, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-c", "import sys; from pinrace.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, cwd=site, env=e, timeout=120)


def test_a_checkout_serves_its_own_top_level_folders():
    assert assets.checkout_root() == ROOT
    assert assets.protocols_dir() == ROOT / "protocols"
    assert assets.frontend_dir() == ROOT / "frontend"


def test_the_wheel_layout_lists_the_same_builtins_as_the_checkout(tmp_path):
    site = _site(tmp_path, with_data=True)
    r = _pinrace(site, "protocols", "--json")
    assert r.returncode == 0, r.stderr
    names = [p["name"] for p in json.loads(r.stdout)]
    assert names == [b.name for b in library.builtins()] and len(names) == 25
    # the prelude came along: a built-in that calls the page API compiles and is checked
    r = _pinrace(site, "check", "thread-false-negative")
    assert r.returncode == 1, r.stderr  # 1: the bad outcome is reachable
    assert "CPU2" in r.stdout
    code = ("from pinrace import assets; print(assets.protocols_dir()); print(assets.frontend_dir()); "
            "print(assets.checkout_root())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=site,
                         env={**os.environ, "PYTHONPATH": str(site)}, check=True).stdout.split()
    assert out == [str(site / "pinrace" / "protocols"), str(site / "pinrace" / "frontend"), "None"]


@pytest.mark.parametrize("args", [("protocols",), ("check", "thread-false-negative"), ("serve", "--port", "1"),
                                  ("docs", "--check")])
def test_a_wheel_without_its_data_fails_with_exit_2_and_says_why(tmp_path, args):
    site = _site(tmp_path, with_data=False)
    r = _pinrace(site, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""  # never an empty answer that looks like success
    assert "Traceback" not in r.stderr
    if args[0] == "docs":
        assert "run it from a checkout" in r.stderr
    else:
        assert re.search(r"the built-in protocol library is missing: no protocols/prelude\.h in .*reinstall",
                         r.stderr), r.stderr


def test_a_wheel_without_the_browser_app_refuses_to_serve(tmp_path):
    site = _site(tmp_path, with_data=True)
    shutil.rmtree(site / "pinrace" / "frontend")
    r = _pinrace(site, "serve", "--port", "1")
    assert r.returncode == 2 and "the browser app is missing: no frontend/index.html" in r.stderr, r.stderr


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_a_wrong_PINRACE_PROTOCOLS_is_an_error_not_an_empty_list(tmp_path, make):
    d = tmp_path / "lib"
    if make == "empty":
        d.mkdir()
    r = _pinrace(_site(tmp_path, with_data=True), "protocols", env={"PINRACE_PROTOCOLS": str(d)})
    assert r.returncode == 2 and r.stdout == ""
    assert str(d) in r.stderr


def test_create_app_refuses_a_folder_without_the_app(tmp_path):
    with pytest.raises(assets.AssetMissing, match="no index.html"):
        create_app(frontend=tmp_path)


# ---- the API docs' vendored files -------------------------------------------------------


def _vendored() -> dict[str, str]:
    """path -> SHA-256 from docs_ui/VENDORED.txt (written by scripts/vendor_apidocs.sh)."""
    lines = (DOCS_UI / "VENDORED.txt").read_text().splitlines()
    return {path: sha for sha, path in (line.split() for line in lines if re.match(r"^[0-9a-f]{64}\s", line))}


def test_vendored_swagger_ui_and_redoc_are_unmodified_and_licensed():
    files = _vendored()
    for lib in ("swagger-ui", "redoc"):
        assert f"{lib}/LICENSE" in files, f"{lib} ships without its licence"
    assert "swagger-ui/NOTICE" in files  # Apache-2.0: the NOTICE travels with the work
    on_disk = {p.relative_to(DOCS_UI).as_posix() for p in DOCS_UI.glob("*/*")}
    assert on_disk == set(files), "a vendored file is not listed in VENDORED.txt (or the reverse)"
    for path, sha in files.items():
        assert hashlib.sha256((DOCS_UI / path).read_bytes()).hexdigest() == sha, f"{path} was edited"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_files_the_app_serves(client, page):
    html = client.get(page).text
    refs = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    assert refs
    for ref in refs:
        assert not re.match(r"^[a-z]+:|^//", ref), f"{page} loads {ref} from outside"
        r = client.get("/" + ref)  # relative to the page, which sits at the root
        assert r.status_code == 200, ref
    assert client.get("/openapi.json").json()["paths"]
