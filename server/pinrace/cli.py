"""The `pinrace` command: litmus, check, replay, protocols, serve.

Exit codes for check: 0 the bad outcome is unreachable, 1 reachable, 2 bad input,
3 incomplete (a budget stopped the search).  The web stack is imported only by `serve`.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import PinraceError, SourceError

__all__ = ["main"]

EXIT_SAFE, EXIT_BAD, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3


def _budget(args):
    from .explore.budget import Budget

    return Budget(max_states=args.max_states, max_seconds=args.timeout)


def _progress_printer(enabled: bool):
    """A stderr progress line for runs that take more than a second."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(p):
        if p.elapsed >= 1.0:
            sys.stderr.write(f"\r  explored {p.states:,} states, {p.outcomes} outcomes, {p.bad} bad "
                             f"({p.elapsed:.1f}s)")
            sys.stderr.flush()

    return show


def _models(arg: str) -> list[str]:
    from .engine.models import MODELS

    return list(MODELS) if arg == "all" else [arg]


def cmd_litmus(args) -> int:
    from .explore.run import check
    from .formats.herd import herd_json, herd_text
    from .library import load_program

    rc = 0
    docs = []
    for path in args.files:
        try:
            with open(path) as f:
                src = f.read()
            prog = load_program(src)
            res = check(prog, args.model, _budget(args), _progress_printer(not args.json))
        except OSError as e:
            print(f"pinrace: {path}: {e.strerror}", file=sys.stderr)
            rc = EXIT_INPUT
            continue
        except SourceError as e:
            print(f"{path}:{e.pretty()}", file=sys.stderr)
            rc = EXIT_INPUT
            continue
        if args.json:
            d = herd_json(prog, res)
            d["file"] = path
            docs.append(d)
        else:
            sys.stdout.write(herd_text(prog, res))
            sys.stdout.write("\n")
        if res.incomplete and rc == 0:
            rc = EXIT_INCOMPLETE
    if args.json:
        print(json.dumps({"schema": 1, "results": docs}, indent=2))
    return rc


def cmd_check(args) -> int:
    from .engine.models import make_model
    from .explore.run import check
    from .formats.diagram import render_interleaving
    from .formats.herd import herd_json
    from .library import load_program, resolve_source

    label, src = resolve_source(args.scenario)
    prog = load_program(src, loop_bound=args.loop_bound)
    results = {}
    for m in _models(args.model):
        results[m] = check(prog, m, _budget(args), _progress_printer(not args.json))
    if args.json:
        print(json.dumps({"schema": 1, "scenario": label,
                          "results": {m: herd_json(prog, r) for m, r in results.items()}}, indent=2))
    else:
        if len(results) > 1:
            print(f"{prog.name}: {prog.condition.quantifier if prog.condition else 'exists'} "
                  f"{_cond_text(prog)}")
            print(f"{'model':6} {'verdict':10} {'states':>8}  note")
            for m, r in results.items():
                note = f"incomplete: {r.incomplete}" if r.incomplete else (
                    "bad outcome reachable" if r.bad_reachable else "bad outcome unreachable")
                print(f"{m:6} {r.observation:10} {len(r.finals):8}  {note}")
        for m, r in results.items():
            if len(results) == 1:
                print(f"{prog.name} under {m}: {r.observation} ({r.positive} of {len(r.finals)} final "
                      f"states satisfy the condition; {r.states} explored)")
                for f in r.finals:
                    print(("  * " if f.satisfies else "    ") + f.herd_line(prog.observed))
            for f in r.stuck:
                print(f"  {f.status}: " + f.herd_line(prog.observed))
            if r.incomplete:
                print(f"  incomplete: {r.incomplete}")
            ce = r.counterexamples()
            if ce and ce[0].schedule and m != "lkmm":
                machine = make_model(m, prog)
                print(f"\nshortest counterexample under {m} ({len(ce[0].schedule)} steps): "
                      f"pinrace replay {label} --model {m} --schedule '{' '.join(t.token() for t in ce[0].schedule)}'")
                print(render_interleaving(machine, ce[0].schedule))
    if any(r.incomplete for r in results.values()):
        return EXIT_INCOMPLETE
    return EXIT_BAD if any(r.bad_reachable for r in results.values()) else EXIT_SAFE


def _cond_text(prog) -> str:
    from .engine.condition import render_prop

    return f"({render_prop(prog.condition.prop)})" if prog.condition else ""


def cmd_replay(args) -> int:
    from .engine.models import make_model
    from .engine.view import describe
    from .explore.replay import replay
    from .formats.diagram import step_label
    from .formats.schedule import parse_schedule
    from .library import load_program, resolve_source

    label, src = resolve_source(args.scenario)
    prog = load_program(src, loop_bound=args.loop_bound)
    if args.model == "lkmm":
        raise PinraceError("replay under lkmm is not available yet: use sc or tso")
    machine = make_model(args.model, prog)
    states, taken = replay(machine, parse_schedule(args.schedule))
    views = [describe(machine, s, taken[i - 1] if i else None) for i, s in enumerate(states)]
    if args.json:
        print(json.dumps({"schema": 1, "scenario": label, "model": args.model,
                          "steps": [t.token() for t in taken], "states": views}, indent=2))
        return EXIT_SAFE
    for i, v in enumerate(views):
        head = "initial state" if i == 0 else f"step {i}: CPU{taken[i - 1].cpu} {step_label(machine, taken[i - 1])}"
        print(head)
        for line in _state_lines(v):
            print("    " + line)
    print(f"status: {views[-1]['status']}")
    return EXIT_SAFE


def _state_lines(v: dict) -> list[str]:
    out = []
    for p in v["pages"]:
        flags = " ".join(f"{f['name']}={'1' if f['set'] else '0'}" for f in p["flags"]) or f"flags={p['flags_word']}"
        fp = " (false-positive zone)" if p["false_positive_zone"] else ""
        out.append(f"{p['name']}: _refcount={p['refcount']} = {p['pins']} pins x {p['bias']} + "
                   f"{p['references']} refs{fp}; _mapcount={p['mapcount_raw']} (mapcount {p['mapcount']}); {flags}"
                   + (f"; _pincount={p['pincount']}" if p["pincount"] else ""))
    if v["memory"]:
        out.append("memory: " + " ".join(f"{k}={val}" for k, val in v["memory"].items()))
    for c in v["cpus"]:
        regs = " ".join(f"{k}={val}" for k, val in c["registers"].items())
        nxt = f"next: {c['next']}" if c["next"] else c["status"]
        blk = f" (blocked: {c['blocked']})" if c["blocked"] else ""
        out.append(f"CPU{c['cpu']}: {regs or '-'}; {nxt}{blk}")
    for i, b in enumerate(v.get("buffers", [])):
        if b:
            out.append(f"CPU{i} store buffer: " + ", ".join(f"{e['location']}={e['value']}" for e in b))
    return out


def cmd_protocols(args) -> int:
    from .library import builtins

    items = builtins()
    if args.json:
        print(json.dumps([{"name": b.name, "description": b.description} for b in items], indent=2))
        return EXIT_SAFE
    w = max((len(b.name) for b in items), default=10)
    for b in items:
        print(f"{b.name.ljust(w)}  {b.description}")
    return EXIT_SAFE


def cmd_serve(args) -> int:
    try:
        import uvicorn
    except ImportError:
        print("pinrace serve needs the web stack: pip install -e .", file=sys.stderr)
        return EXIT_INPUT
    from .api.app import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    return EXIT_SAFE


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pinrace",
        description="Check and step page-pin races in the Linux kernel under sc, x86-TSO and the LKMM.",
        epilog="check exit codes: 0 bad outcome unreachable, 1 reachable, 2 bad input, 3 incomplete.",
    )
    from . import __version__

    ap.add_argument("--version", action="version", version=f"pinrace {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def budgets(p):
        p.add_argument("--max-states", type=int, default=2_000_000, metavar="N",
                       help="stop with 'incomplete: states' after N states (default 2,000,000)")
        p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                       help="stop with 'incomplete: time' after S seconds (default 60)")

    p = sub.add_parser("litmus", help="run litmus tests and print herd7's summary lines",
                       description="Run litmus tests; print herd7's summary lines (or JSON).")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", choices=["sc", "tso", "lkmm"], default="sc")
    p.add_argument("--json", action="store_true", help="versioned JSON instead of herd7's text")
    budgets(p)
    p.set_defaults(func=cmd_litmus)

    p = sub.add_parser("check", help="exhaustively check a scenario (file or built-in name)",
                       description="Check whether a scenario's bad outcome is reachable.")
    p.add_argument("scenario", metavar="FILE|NAME")
    p.add_argument("--model", choices=["sc", "tso", "lkmm", "all"], default="sc")
    p.add_argument("--json", action="store_true")
    p.add_argument("--loop-bound", type=int, default=None, metavar="N",
                   help="times each loop may go round (default: the scenario's PINRACE_LOOP_BOUND, else 4)")
    budgets(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("replay", help="replay a schedule, printing every state",
                       description="Replay a schedule step by step. Steps: CPU:OP, CPU:flush, or a bare "
                                   "CPU number for that CPU's next operation.")
    p.add_argument("scenario", metavar="FILE|NAME")
    p.add_argument("--schedule", required=True, metavar="S", help="e.g. '0 1 1 0' or '0:0 1:0 0:flush'")
    p.add_argument("--model", choices=["sc", "tso", "lkmm"], default="sc")
    p.add_argument("--json", action="store_true")
    p.add_argument("--loop-bound", type=int, default=None, metavar="N")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("protocols", help="list the built-in protocols")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_protocols)

    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SourceError as e:
        print(f"pinrace: {e.pretty()}", file=sys.stderr)
        return EXIT_INPUT
    except PinraceError as e:
        print(f"pinrace: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
