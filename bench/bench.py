"""pinrace benchmarks: prints a table. Run: python bench/bench.py [--quick] [--models sc,tso,lkmm].

Rows: the kernel's litmus corpus (../shared/lkmm/litmus-tests when present) and the
project's golden tests in one call per model; every built-in scenario under each model;
scaled scenarios (k CPUs pinning against writeback, k = 2..5) with plain and reduced
search; `pinrace litmus` start-up; herd7 on the kernel corpus (../shared/tools/herd7/herd7-lkmm, or herd7-lkmm on PATH).
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "bench"))

from pinrace.engine.models import make_model  # noqa: E402
from pinrace.explore.budget import Budget  # noqa: E402
from pinrace.explore.run import check  # noqa: E402
from pinrace.explore.search import explore  # noqa: E402
from pinrace.library import builtins, load_program  # noqa: E402
from scaled import scaled_source  # noqa: E402

KERNEL = ROOT.parent / "shared" / "lkmm" / "litmus-tests"
HERD7 = ROOT.parent / "shared" / "tools" / "herd7" / "herd7-lkmm"  # herd7 with the kernel's model


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(cols, widths):
    cells = enumerate(zip(cols, widths, strict=True))
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in cells)


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t0


def cold_litmus_runs(files: list[Path], model: str, n: int) -> list[float]:
    """Wall time of `pinrace litmus --model M FILES...` in fresh processes (cold start)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pinrace.cli", "litmus", "--model", model, *map(str, files)],
                       capture_output=True, check=False, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "server"),
                                                                        "PATH": "/usr/bin:/bin"})
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, k up to 5")
    ap.add_argument("--models", default="sc,tso,lkmm")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    try:
        import pinrace.engine.models.lkmm  # noqa: F401
    except ImportError:
        models = [m for m in models if m != "lkmm"]
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, "
          f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")

    W = [34, 5, 9, 9, 10, 9, 8]
    print("\n## corpus: one `pinrace litmus` call, median of cold runs")
    files = sorted(KERNEL.glob("*.litmus")) if KERNEL.is_dir() else []
    golden = sorted((ROOT / "tests" / "golden").rglob("*.litmus"))
    print(row(["files", "model", "median s", "min s", "max s"], [34, 5, 9, 9, 9]))
    reps = 3 if args.quick else 5
    for label, group in ((f"kernel litmus-tests ({len(files)})", files), (f"golden ({len(golden)})", golden)):
        if not group:
            continue
        for m in models:
            ts = cold_litmus_runs(group, m, reps)
            print(row([label, m, f"{statistics.median(ts):.3f}", f"{min(ts):.3f}", f"{max(ts):.3f}"],
                      [34, 5, 9, 9, 9]))
    herd = HERD7 if HERD7.is_file() else shutil.which("herd7-lkmm")
    if herd and files:
        ts = []
        for _ in range(reps):  # one call on the whole corpus, start-up included, as for pinrace
            t0 = time.perf_counter()
            subprocess.run([str(herd), *[f.name for f in files]], capture_output=True, cwd=KERNEL, check=False)
            ts.append(time.perf_counter() - t0)
        print(row([f"herd7, kernel litmus-tests ({len(files)})", "lkmm", f"{statistics.median(ts):.3f}",
                   f"{min(ts):.3f}", f"{max(ts):.3f}"], [34, 5, 9, 9, 9]))
    else:
        print("herd7: not at ../shared/tools/herd7 nor herd7-lkmm on PATH (no comparison)")

    print("\n## built-in scenarios (exhaustive)")
    print(row(["scenario", "model", "verdict", "explored", "seconds", "states/s", "peak MB"], W))
    for b in builtins():
        try:
            prog = load_program(b.source)
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"{b.name}: {e}")
            continue
        for m in models:
            try:
                r, dt = timed(lambda prog=prog, m=m: check(prog, m, Budget(max_seconds=60)))
            except Exception as e:  # noqa: BLE001
                print(row([b.name, m, "error", "-", "-", "-", "-"], W), str(e)[:60])
                continue
            verdict = r.observation + ("*" if r.incomplete else "")
            print(row([b.name, m, verdict, r.states, f"{dt:.3f}", f"{r.states / max(dt, 1e-9):,.0f}",
                       f"{peak_mb():.0f}"], W))

    print("\n## scaled: k CPUs pin/unpin with retry against writeback (sc and tso)")
    print(row(["scenario", "model", "plain", "reduced", "factor", "plain s", "red. s"], [18, 5, 12, 12, 9, 9, 9]))
    kmax = 5 if args.quick else 6
    cap = 100_000  # the same state budget for both searches
    for k in range(2, kmax + 1):
        prog = load_program(scaled_source(k))
        for m in [x for x in models if x != "lkmm"]:
            plain, tp = timed(lambda prog=prog, m=m: explore(
                make_model(m, prog), Budget(max_states=cap, max_seconds=120), reduce=False))
            red, tr = timed(lambda prog=prog, m=m: explore(
                make_model(m, prog), Budget(max_states=cap, max_seconds=300), reduce=True))
            ps = f">{cap:,}" if plain.incomplete else f"{plain.states:,}"
            rs = f">{red.states:,}" if red.incomplete else f"{red.states:,}"
            factor = ("≥" if plain.incomplete else "") + f"{plain.states / max(red.states, 1):.1f}"
            print(row([f"scaled-pin-{k}", m, ps, rs, factor, f"{tp:.2f}", f"{tr:.2f}"], [18, 5, 12, 12, 9, 9, 9]))

    print("\n## start-up: `pinrace litmus` on one small file, cold")
    one = golden[:1]
    ts = cold_litmus_runs(one, "sc", reps)
    print(f"median {statistics.median(ts):.3f} s over {reps} runs")


if __name__ == "__main__":
    main()
