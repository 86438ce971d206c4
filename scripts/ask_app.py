"""Ask a running pinrace what a user's browser and scripts would: `python3 scripts/ask_app.py URL`.

Waits (up to --wait seconds) for /api/health, then checks the browser app at /, the API
docs at /docs and /redoc with the assets they load, and the built-ins at /api/protocols.
One line per check on stderr; exit 1 at the first wrong answer.  Standard library only, so
any python3 can run it against a wheel install or a container.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, text) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("content-type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read().decode("utf-8", "replace")


def wait_for_health(base: str, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, _, body = get(base + "/api/health")
            if status == 200:
                return json.loads(body)
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"ask_app: no answer from {base}/api/health within {seconds:.0f} s")
        time.sleep(0.25)


def check(what: str, ok: bool, detail: str = "") -> None:
    print(f"ask_app: {'ok  ' if ok else 'FAIL'} {what}" + (f" ({detail})" if detail else ""), file=sys.stderr)
    if not ok:
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="e.g. http://127.0.0.1:8000")
    ap.add_argument("--wait", type=float, default=60.0, help="seconds to wait for /api/health (default 60)")
    ap.add_argument("--builtins", type=int, required=True,
                    help="how many built-ins /api/protocols must list (the checkout's protocols/*.litmus)")
    ap.add_argument("--same-as", type=Path, metavar="DIR",
                    help="a checkout's frontend/: / and its scripts must be these files, byte for byte")
    args = ap.parse_args()
    base = args.base.rstrip("/")

    health = wait_for_health(base, args.wait)
    check("/api/health", health.get("status") == "ok", f"version {health.get('version')}, "
                                                       f"{health.get('workers')} workers")
    status, ctype, html = get(base + "/")
    check("/ serves the browser app", status == 200 and "text/html" in ctype and 'type="module"' in html,
          f"HTTP {status}")
    if args.same_as:
        check(f"/ is {args.same_as}/index.html", html == (args.same_as / "index.html").read_text(encoding="utf-8"))
    for src in re.findall(r'<script[^>]*\bsrc="([^"]+)"', html):
        s, _, text = get(f"{base}/{src.lstrip('/')}")
        check(f"/ loads {src}", s == 200, f"HTTP {s}")
        if args.same_as:
            check(f"{src} is the checkout's", text == (args.same_as / src.lstrip("/")).read_text(encoding="utf-8"))
    for page, marker in (("/docs", "swagger-ui"), ("/redoc", "<redoc")):
        status, _, text = get(base + page)
        check(f"{page} page", status == 200 and marker in text, f"HTTP {status}")
        for ref in re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', text):
            s, _, _ = get(f"{base}/{ref}")
            check(f"{page} loads {ref}", s == 200 and not re.match(r"^[a-z]+:|^//", ref), f"HTTP {s}")
    status, _, body = get(base + "/openapi.json")
    check("/openapi.json", status == 200 and "/api/check" in json.loads(body)["paths"], f"HTTP {status}")
    status, _, body = get(base + "/api/protocols")
    names = [p["name"] for p in json.loads(body)] if status == 200 else []
    check(f"/api/protocols lists {args.builtins} built-ins", len(names) == args.builtins, f"{len(names)} listed")


if __name__ == "__main__":
    main()
