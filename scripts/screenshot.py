"""Take docs/screenshot.png: the main view with the thread's CPU0/CPU1/CPU2 race loaded.

Starts the real app (uvicorn, a free port), opens it in Debian's Chromium through Playwright,
performs the README's three clicks (load the protocol, explore, load the counterexample) and
writes the 1280x800 view (the screen the README's three clicks are checked on).
Usage: python3 scripts/screenshot.py [OUT.png]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "pinrace.api.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("the app did not start") from None
            time.sleep(0.1)  # waiting for the server to listen


def take(out: Path) -> None:
    port = _free_port()
    proc = _start_app(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("button", name="Load thread-false-negative", exact=True).click()
            page.get_by_role("button", name="Explore all interleavings (sc)").click()
            page.get_by_role("button", name="Load counterexample 1").click()
            expect(page.locator("#banner")).to_contain_text("writeback believes the page is unpinned")
            expect(page.locator("body")).to_have_attribute("data-ready", "yes")
            # the app put the focus on the banner it brought into view: no focus ring in the picture
            page.evaluate("document.activeElement.blur()")
            page.screenshot(path=str(out))
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    take(target)
    print(f"wrote {target}")
