"""Write tests/golden/lkmm/NAME.expected from herd7 itself: its output for NAME.litmus with the
kernel's model, less the lines that change from run to run (Time, Hash) and herd7's warnings.

    python3 scripts/golden_from_herd7.py [--herd PATH] [NAME.litmus ...]

The expected files are herd7's words, not pinrace's: the golden test compares pinrace's
`herd_text` with them line for line.  Run this after adding a test; never edit an expected
file by hand.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "lkmm"
HERD = ROOT.parent / "shared" / "tools" / "herd7" / "herd7-lkmm"


def comparable(text: str) -> str:
    """herd7's result lines, as pinrace prints them: no Time, Hash or warning lines, no blank
    lines at the end (a final state with nothing to show is herd7's empty line, and stays)."""
    keep = [ln for ln in text.splitlines() if not ln.startswith(("Time ", "Hash=", "Warning:"))]
    while keep and not keep[-1]:
        keep.pop()
    return "\n".join(keep) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--herd", default=str(HERD))
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args()
    files = args.files or sorted(GOLDEN.glob("*.litmus"))
    for f in files:
        out = subprocess.run([args.herd, f.name], cwd=f.parent, capture_output=True, text=True, timeout=600)
        if out.returncode != 0 or not out.stdout.startswith("Test "):
            print(f"{f.name}: herd7 did not give a result:\n{out.stdout}{out.stderr}", file=sys.stderr)
            return 1
        f.with_suffix(".expected").write_text(comparable(out.stdout))
        print(next((ln for ln in out.stdout.splitlines() if ln.startswith("Observation ")), f.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
