"""Differential testing against herd7: random LKMM litmus tests, both tools, whole outputs compared.

    python bench/differential.py --count 20000 --seed 1 [--jobs 2] [--herd PATH] [--keep DIR]

Each test comes from bench/litmus_gen.py (fixed by its seed).  herd7 (7.58 with the kernel's
model, `../shared/tools/herd7/herd7-lkmm` by default) runs on a batch of files in one call;
pinrace runs the same files in-process (`pinrace litmus --model lkmm`'s code path).  Outputs
are compared line for line, less herd7's `Time` and `Hash` lines.  Prints a table: tests,
differences, seconds per tool, and how many tests used each construct.  Every difference is
written to --keep (the test, herd7's output, pinrace's) so it can become a golden test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "bench"))

from litmus_gen import CONSTRUCTS, generate  # noqa: E402

HERD = ROOT.parent / "shared" / "tools" / "herd7" / "herd7-lkmm"


def comparable(text: str) -> list[str]:
    """herd7's lines less those allowed to differ (Time, Hash) and the blank separators."""
    return [ln for ln in text.splitlines() if ln and not ln.startswith(("Time ", "Hash="))]


def split_herd(out: str) -> dict[str, str]:
    """herd7's output for several files, keyed by test name."""
    blocks: dict[str, str] = {}
    name, cur = None, []
    for ln in out.splitlines():
        if ln.startswith("Test "):
            if name is not None:
                blocks[name] = "\n".join(cur) + "\n"
            name, cur = ln.split()[1], [ln]
        elif name is not None:
            cur.append(ln)
    if name is not None:
        blocks[name] = "\n".join(cur) + "\n"
    return blocks


def run_pinrace(text: str, seconds: float = 120.0) -> str:
    from pinrace.errors import PinraceError
    from pinrace.explore.budget import Budget
    from pinrace.explore.run import check
    from pinrace.formats.herd import herd_text
    from pinrace.library import load_program

    try:
        prog = load_program(text)
        return herd_text(prog, check(prog, "lkmm", Budget(max_seconds=seconds)))
    except PinraceError as e:
        return f"pinrace error: {e}\n"


def run_batch(seeds: list[int], herd: str, keep: str | None) -> dict:
    """Generate, run both tools, compare; returns counts, timings and the differing seeds."""
    tests = {s: generate(s) for s in seeds}
    used: Counter = Counter()
    for _, constructs in tests.values():
        used.update(constructs)
    with tempfile.TemporaryDirectory() as d:
        files = []
        for s, (text, _) in tests.items():
            f = Path(d) / f"gen-{s}.litmus"
            f.write_text(text)
            files.append(str(f))
        t0 = time.perf_counter()
        proc = subprocess.run([herd, *files], capture_output=True, text=True, timeout=3600)
        herd_s = time.perf_counter() - t0
    herd_out = split_herd(proc.stdout)
    diffs = []
    t0 = time.perf_counter()
    for s, (text, _) in tests.items():
        mine = run_pinrace(text)
        theirs = herd_out.get(f"gen-{s}")
        if theirs is None:
            diffs.append((s, "herd7 did not read it", mine))
            continue
        if comparable(mine) != comparable(theirs):
            diffs.append((s, theirs, mine))
    pin_s = time.perf_counter() - t0
    if keep and diffs:
        out = Path(keep)
        out.mkdir(parents=True, exist_ok=True)
        for s, theirs, mine in diffs:
            (out / f"gen-{s}.litmus").write_text(tests[s][0])
            (out / f"gen-{s}.herd7").write_text(theirs)
            (out / f"gen-{s}.pinrace").write_text(mine)
    return {"tests": len(seeds), "diffs": [d[0] for d in diffs], "herd_s": herd_s, "pinrace_s": pin_s,
            "used": used, "herd_stderr": proc.stderr[-2000:] if proc.returncode else ""}


def differential(count: int, seed: int, jobs: int, herd: str, keep: str | None, batch: int = 100,
                 progress=None) -> dict:
    """Run `count` generated tests (seeds seed .. seed+count-1) through both tools."""
    seeds = list(range(seed, seed + count))
    batches = [seeds[i:i + batch] for i in range(0, len(seeds), batch)]
    total = {"tests": 0, "diffs": [], "herd_s": 0.0, "pinrace_s": 0.0, "used": Counter(), "errors": []}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for r in pool.map(run_batch, batches, [herd] * len(batches), [keep] * len(batches)):
            total["tests"] += r["tests"]
            total["diffs"] += r["diffs"]
            total["herd_s"] += r["herd_s"]
            total["pinrace_s"] += r["pinrace_s"]
            total["used"].update(r["used"])
            if r["herd_stderr"]:
                total["errors"].append(r["herd_stderr"])
            if progress:
                progress(total, time.perf_counter() - t0)
    total["wall_s"] = time.perf_counter() - t0
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--herd", default=str(HERD))
    ap.add_argument("--keep", default=None, help="write each difference here (test, herd7's and pinrace's output)")
    args = ap.parse_args()
    if not Path(args.herd).exists():
        print(f"herd7 not found at {args.herd} (use --herd)", file=sys.stderr)
        return 2

    def show(t, elapsed):
        sys.stderr.write(f"\r  {t['tests']:,} tests, {len(t['diffs'])} differences ({elapsed:.0f} s)")
        sys.stderr.flush()

    r = differential(args.count, args.seed, args.jobs, args.herd, args.keep, progress=show)
    sys.stderr.write("\n")
    print(f"tests {r['tests']}  differences {len(r['diffs'])}  seeds {args.seed}..{args.seed + args.count - 1}")
    print(f"wall {r['wall_s']:.1f} s with {args.jobs} jobs; herd7 {r['herd_s']:.1f} s, "
          f"pinrace {r['pinrace_s']:.1f} s (summed over jobs)")
    print()
    print(f"{'construct':<34}{'tests':>8}")
    for c in CONSTRUCTS:
        print(f"{c:<34}{r['used'].get(c, 0):>8}")
    if r["diffs"]:
        print()
        print("differing seeds:", " ".join(map(str, sorted(r["diffs"])[:50])))
    for e in r["errors"][:3]:
        print("herd7 stderr:", e, file=sys.stderr)
    return 1 if r["diffs"] else 0


if __name__ == "__main__":
    sys.exit(main())
