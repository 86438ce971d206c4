"""How long `bash scripts/serve.sh` takes to answer /api/health when nothing changed.

The README promises a second start in well under 3 s (no pip run: .venv's install stamp
matches pyproject.toml).  Run from a checkout whose .venv is installed:

    python3 bench/serve_start.py [--runs 5] [--command 'bash scripts/serve.sh']

Prints each start's seconds to the first 200 from /api/health, then the median.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_start(command: list[str], timeout: float = 60.0) -> float:
    port = _free_port()
    t0 = time.perf_counter()
    # a process group of its own: serve.sh execs pinrace, which starts workers; end them all
    proc = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"{shlex.join(command)} exited with {proc.returncode} before answering")
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"no answer from /api/health within {timeout:.0f} s")
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--command", default="bash scripts/serve.sh")
    args = ap.parse_args()
    times = []
    for i in range(args.runs):
        t = one_start(shlex.split(args.command))
        times.append(t)
        print(f"start {i + 1}: /api/health answered after {t:.2f} s")
    print(f"median {statistics.median(times):.2f} s over {len(times)} starts (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
