"""Each built-in protocol exported for herd7 (`pinrace export`), then run by herd7 with the
kernel's model and by pinrace on the exported text: both outputs, line for line, and the time.

    python3 bench/export_vs_herd7.py [--timeout S] [--herd PATH] [NAME ...]

herd7 enumerates every path of every CPU with every value before it checks anything, so
exports with many branches and many RMWs on one word (the page-lock scenarios) can take it
longer than any timeout; those rows say so ("> S s") rather than guess.  Prints a table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "bench"))

from differential import HERD, comparable  # noqa: E402


def main() -> int:
    from pinrace.errors import PinraceError
    from pinrace.explore.budget import Budget
    from pinrace.explore.run import check
    from pinrace.formats.herd import herd_text
    from pinrace.formats.litmus_export import export_litmus
    from pinrace.library import builtins, load_program

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds herd7 gets per export")
    ap.add_argument("--herd", default=str(HERD))
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    rows = []
    for b in builtins():
        if args.names and b.name not in args.names:
            continue
        try:
            text = export_litmus(load_program(b.source))
        except PinraceError as e:
            rows.append((b.name, "not exported", "", "", str(e)[:60]))
            continue
        t0 = time.perf_counter()
        prog = load_program(text)
        res = check(prog, "lkmm", Budget(max_seconds=args.timeout))
        pin_s = time.perf_counter() - t0
        mine = herd_text(prog, res)
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / f"{b.name}.litmus"
            f.write_text(text)
            t0 = time.perf_counter()
            try:
                out = subprocess.run([args.herd, f.name], cwd=d, capture_output=True, text=True,
                                     timeout=args.timeout)
                herd_s = f"{time.perf_counter() - t0:.2f}"
                theirs = out.stdout
            except subprocess.TimeoutExpired:
                herd_s, theirs = f"> {args.timeout:g}", None
        verdict = res.observation + (f" (incomplete: {res.incomplete})" if res.incomplete else "")
        if theirs is None:
            same = "herd7 did not finish"
        else:
            same = "same" if comparable(mine) == comparable(theirs) else "DIFFERENT"
        rows.append((b.name, herd_s, f"{pin_s:.2f}", verdict, same))
        print(f"  {b.name}: herd7 {herd_s} s, pinrace {pin_s:.2f} s, {same}", file=sys.stderr, flush=True)
    print("| built-in | herd7 s | pinrace s (on the export) | lkmm verdict | outputs |")
    print("|---|---:|---:|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 1 if any(r[4] == "DIFFERENT" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
