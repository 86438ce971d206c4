"""The `pinrace` command: litmus, check, replay, protocols, serve.

Exit codes for check: 0 the bad outcome is unreachable, 1 reachable, 2 bad input,
3 incomplete (a budget stopped the search).  The web stack is imported only by `serve`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import PinraceError, SourceError

__all__ = ["main"]

EXIT_SAFE, EXIT_BAD, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3


def _budget(args):
    from .explore.budget import Budget

    return Budget(max_states=args.max_states, max_seconds=args.timeout, max_memory_mb=args.max_memory,
                  max_steps_per_cpu=args.max_steps)


class _Stopped(Exception):
    """The command ran past --timeout or --max-memory where nothing polls the budget (pinrace.guard)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _compile(args, src: str, loop_bound: int | None = None):
    """load_program under --timeout and --max-memory: compiling polls no budget, so a guard bounds it."""
    from .guard import guard
    from .library import load_program

    def over(reason: str) -> BaseException:
        what = f"took more than {args.timeout:g} s (--timeout)" if reason == "time" else \
            f"used more than {args.max_memory:g} MiB (--max-memory)"
        return SourceError(f"compiling the scenario {what}")

    with guard(args.timeout, args.max_memory, over):
        return load_program(src, loop_bound=loop_bound)


# a run may pass its budget by this much before the guard around the whole command stops it: the
# exploration stops itself (incomplete) first; the guard is for code that does not look
_GRACE = 1.25


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


def _available(model: str) -> bool:
    """Whether `model` can run here (lkmm lives in its own module, which may be absent)."""
    if model != "lkmm":
        return True
    import importlib.util

    try:
        return importlib.util.find_spec("pinrace.engine.models.lkmm") is not None
    except ImportError:
        return False


def _page_line(machine, state, t=None) -> str:
    """One line of page state after a step: pins x bias + refs, mapcount, flags, returns, buffers."""
    from .engine.view import describe, flags_text

    v = describe(machine, state, t)
    parts = []
    for p in v["pages"]:
        parts.append(f"{p['name']}: _refcount={p['refcount']} ({p['split']}) "
                     f"_mapcount={p['mapcount_raw']} flags={flags_text(p)}")
    last = v.get("last") or {}
    rets = [f"{r['call']}={r['value']}" for r in last.get("returns", [])]
    if rets:
        parts.append("returns " + ", ".join(rets))
    elif last.get("value") is not None:
        parts.append(f"-> {last['value']}")
    for i, b in enumerate(v.get("buffers", [])):
        if b:
            parts.append(f"buf{i}: " + " ".join(f"{e['location']}={e['value']}" for e in b))
    if not v["pages"] and v["memory"]:
        parts.insert(0, " ".join(f"{k}={val}" for k, val in v["memory"].items()))
    return "; ".join(parts)


def _print_reasons(machine, schedule) -> None:
    """lkmm: the rule behind each step that is not plain program order (reorderings, older values)."""
    s = machine.initial()
    lines = []
    for t in schedule:
        s = machine.step(s, t)
        why = machine.extra_view(s, t)["reason"]
        if why["rule"] != "program-order":
            lines.append(f"  {t.token()}: {why['text']}")
    if lines:
        print("why this is allowed under lkmm:")
        print("\n".join(lines))


def _annotated(machine, schedule) -> str:
    from .formats.diagram import render_interleaving

    s = machine.initial()
    notes = []
    for t in schedule:
        s = machine.step(s, t)
        notes.append(_page_line(machine, s, t))
    return render_interleaving(machine, schedule, annotate=notes)


def _result_json(prog, r) -> dict:
    from .formats.herd import herd_json

    d = herd_json(prog, r)
    d["invariant_violations"] = [
        {"invariant": f.detail.get("invariant"), "text": f.detail.get("text"), "values": f.values,
         "schedule": [t.token() for t in f.schedule]} for f in r.invariant_violations]
    d["bad_reachable"] = bool(r.bad_reachable or r.invariant_violations)
    return d


def cmd_check(args) -> int:
    from .engine.models import make_model
    from .explore.invariants import check_with_invariants
    from .library import resolve_source

    label, src = resolve_source(args.scenario)
    prog = _compile(args, src, args.loop_bound)
    models = _models(args.model)
    if args.model != "all" and not _available(args.model):
        raise PinraceError(f"the {args.model} model is not available in this installation")
    results, missing = {}, []
    for m in models:
        if not _available(m):
            missing.append(m)
            continue
        results[m] = check_with_invariants(prog, m, _budget(args), _progress_printer(not args.json))
    if args.json:
        print(json.dumps({"schema": 1, "scenario": label, "unavailable": missing,
                          "results": {m: _result_json(prog, r) for m, r in results.items()}}, indent=2))
    else:
        quant = prog.condition.quantifier if prog.condition else "exists"
        if args.model == "all":
            print(f"{prog.name}: {quant} {_cond_text(prog)}")
            for name, p in prog.invariants:
                print(f"  invariant {name} ({_render(p)})")
            print(f"{'model':6} {'verdict':10} {'finals':>6} {'states':>8}  note")
            for m in models:
                if m in missing:
                    print(f"{m:6} {'n/a':10} {'':>6} {'':>8}  model not available")
                    continue
                r = results[m]
                print(f"{m:6} {r.observation:10} {len(r.finals):6} {r.states:8}  {_note(r)}")
            print()
        for m, r in results.items():
            _print_result(prog, label, m, r, make_model(m, prog, budget=_budget(args)) if m == "lkmm"
                          else make_model(m, prog))
    if any(r.incomplete for r in results.values()):
        return EXIT_INCOMPLETE
    bad = any(r.bad_reachable or r.invariant_violations for r in results.values())
    return EXIT_BAD if bad else EXIT_SAFE


def _note(r) -> str:
    if r.incomplete:
        return f"incomplete: {r.incomplete}"
    parts = ["bad outcome reachable" if r.bad_reachable else "bad outcome unreachable"]
    if r.invariant_violations:
        parts.append("invariant violated: " + ", ".join(f.detail["invariant"] for f in r.invariant_violations))
    ends = sorted({f.status for f in r.stuck})
    if ends:
        parts.append("also ends in " + ", ".join(ends))
    return "; ".join(parts)


def _render(p) -> str:
    from .engine.condition import render_prop

    return render_prop(p)


def _print_result(prog, label, m, r, machine) -> None:
    # a cut-short search proves reachability (an outcome found is real) but never absence
    verdict = r.observation if not r.incomplete or r.positive else f"unknown (stopped by the {r.incomplete} budget)"
    bad = sum(f.satisfies for f in r.finals)
    print(f"{prog.name} under {m}: {verdict} ({bad} of {len(r.finals)} final states satisfy the condition; "
          f"{r.states} explored)")
    for f in r.finals:
        print(("  * " if f.satisfies else "    ") + f.herd_line(prog.observed))
    for f in r.stuck:
        print(f"  {f.status}: " + f.herd_line(prog.observed))
    if r.incomplete:
        print(f"  incomplete: {r.incomplete}")
    for name, _prop in prog.invariants:
        hit = [f for f in r.invariant_violations if f.detail.get("invariant") == name]
        state = ("VIOLATED" if hit else "holds in every state") if m != "lkmm" else f"not checked under {m}"
        print(f"  invariant {name}: {state}")
    for f in r.invariant_violations:
        if f.detail.get("invariant") not in {n for n, _ in prog.invariants}:
            print(f"  invariant {f.detail.get('invariant')}: VIOLATED")
    if machine is None:
        return
    ce = sorted(r.counterexamples(), key=lambda f: len(f.schedule))
    shown = []
    if ce and ce[0].schedule:
        shown.append(("counterexample", ce[0].schedule))
    if r.invariant_violations:
        f = r.invariant_violations[0]
        shown.append((f"violation of {f.detail.get('invariant')}", f.schedule))
    for what, sched in shown:
        toks = " ".join(t.token() for t in sched)
        print(f"\nshortest {what} under {m} ({len(sched)} steps): "
              f"pinrace replay {label} --model {m} --schedule '{toks}'")
        print(_annotated(machine, sched))
        if m == "lkmm":
            _print_reasons(machine, sched)
    print()


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
    machine = make_model(args.model, prog)
    states, taken = replay(machine, parse_schedule(args.schedule))
    views = [describe(machine, s, taken[i - 1] if i else None) for i, s in enumerate(states)]
    if args.json:
        print(json.dumps({"schema": 1, "scenario": label, "model": args.model,
                          "steps": [t.token() for t in taken], "states": views}, indent=2))
        return EXIT_SAFE
    for i, v in enumerate(views):
        if i == 0:
            head = "initial state"
        else:
            t = taken[i - 1]
            head = f"step {i} ({t.token()}): CPU{t.cpu} {step_label(machine, t)}"
            last = v["last"]
            if last.get("value") is not None:
                head += f" -> {last['value']}"
            for ret in last.get("returns", []):
                head += f"; {ret['call']} returned {ret['value']}"
        print(head)
        why = (v.get("last") or {}).get("reason")
        if why:  # lkmm: the rule that allowed this step
            print(f"    why: {why['text']}")
        for line in _state_lines(v):
            print("    " + line)
    print(f"status: {views[-1]['status']}")
    print(_verdict_line(machine, states[-1]))
    return EXIT_SAFE


def _verdict_line(machine, state) -> str:
    """The last line of `pinrace replay`: whether the condition holds and whether that is the
    bad outcome (the same verdict the browser's banner shows)."""
    from .api.views import verdict

    v = verdict(machine, state)
    if v["final"] and v["satisfies"] is not None and not v["filtered"]:
        said = "holds" if v["satisfies"] else "does not hold"
        return (f"verdict: the bad outcome is {'reached' if v['bad'] else 'not reached'}: "
                f"{v['condition']} {said} in this final state")
    return f"verdict: {v['summary']}"


def _state_lines(v: dict) -> list[str]:
    from .engine.view import flags_text

    out = []
    for p in v["pages"]:
        fp = " (false-positive zone)" if p["false_positive_zone"] else ""
        out.append(f"{p['name']}: _refcount={p['refcount']} = {p['split']}{fp}; "
                   f"_mapcount={p['mapcount_raw']} (mapcount {p['mapcount']}); "
                   f"flags={flags_text(p)}" + (f"; _pincount={p['pincount']}" if p["pincount"] else ""))
    if v["memory"]:
        out.append("memory: " + " ".join(f"{k}={val}" for k, val in v["memory"].items()))
    for c in v["cpus"]:
        regs = " ".join(f"{k}={'—' if k in c.get('unwritten', ()) else val}" for k, val in c["registers"].items())
        nxt = f"next: {c['next']}" if c["next"] else c["status"]
        blk = f" (blocked: {c['blocked']})" if c["blocked"] else ""
        out.append(f"CPU{c['cpu']}: {regs or '-'}; {nxt}{blk}")
    for i, b in enumerate(v.get("buffers", [])):
        out.append(f"CPU{i} store buffer: " + (", ".join(f"{e['location']}={e['value']}" for e in b) or "empty"))
    return out


def cmd_diff(args) -> int:
    from .explore.diff import diff
    from .library import resolve_source

    old_label, old_src = resolve_source(args.old)
    new_label, new_src = resolve_source(args.new)
    old, new = _compile(args, old_src), _compile(args, new_src)
    diffs = [diff(old, new, m, _budget(args)) for m in _models(args.model)]
    if args.json:
        def state(f, common):
            return {"values": {k: f.values[k] for k in common}, "satisfies": f.satisfies,
                    "schedule": [t.token() for t in f.schedule]}
        print(json.dumps({"schema": 1, "old": old_label, "new": new_label, "results": {
            d.model: {"compared_on": d.common, "removed": [state(f, d.common) for f in d.removed],
                      "added": [state(f, d.common) for f in d.added], "incomplete": d.incomplete}
            for d in diffs}}, indent=2))
    else:
        for d in diffs:
            print(f"{d.model}: {len(d.removed)} final state(s) only in {old_label}, "
                  f"{len(d.added)} only in {new_label} (compared on {', '.join(d.common) or 'nothing'})")
            for sign, group in (("-", d.removed), ("+", d.added)):
                for f in group:
                    vals = " ".join(f"{k}={f.values[k]};" for k in d.common)
                    mark = "  (satisfies the condition)" if f.satisfies else ""
                    sched = " ".join(t.token() for t in f.schedule)
                    print(f"  {sign} {vals}{mark}" + (f"\n      schedule: {sched}" if sched else ""))
            if d.incomplete:
                print(f"  incomplete: {d.incomplete}")
    if any(d.incomplete for d in diffs):
        return EXIT_INCOMPLETE
    return EXIT_SAFE if not any(d.removed or d.added for d in diffs) else EXIT_BAD


def cmd_protocols(args) -> int:
    from .library import require_builtins

    items = require_builtins()
    if args.json:
        print(json.dumps([{"name": b.name, "description": b.description} for b in items], indent=2))
        return EXIT_SAFE
    w = max((len(b.name) for b in items), default=10)
    for b in items:
        print(f"{b.name.ljust(w)}  {b.description}")
    return EXIT_SAFE


def cmd_docs(args) -> int:
    from .docsgen import run

    return run(args.check)


def cmd_serve(args) -> int:
    try:
        import uvicorn
    except ImportError:
        print("pinrace serve needs the web stack (uvicorn): reinstall pinrace with its dependencies",
              file=sys.stderr)
        return EXIT_INPUT
    import gc

    from .api.app import create_app
    from .library import require_builtins
    from .limits import LIMITS

    require_builtins()  # no protocol library, no app: fail here (exit 2), not on the first request
    app = create_app(bind=args.host)  # the Host allow-list takes the address served besides loopback
    # step replies are small and many: the default gen-0 threshold runs a collection every few
    # replies, and full collections over the imported web stack showed up as the latency tail
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    # What uvicorn can bound, it does: a websocket message over 1 MiB closes the connection before
    # the session parses it, idle keep-alive connections close after PINRACE_KEEPALIVE_SECONDS,
    # a websocket peer that stops answering pings is dropped.  It has no deadline for a request's
    # headers and no per-address connection limit: a public instance runs behind the nginx
    # configuration in docs/deploy/ (docs/limits.md, "Slow clients").
    # No permessage-deflate: compressing a long run's 1 MB state message on the event loop took a
    # quarter of its time in the soak (bench/soak.py); the messages are plain JSON either way.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", ws_max_size=1 << 20,
                timeout_keep_alive=max(1, round(LIMITS.keepalive_seconds)), ws_ping_interval=20.0,
                ws_ping_timeout=20.0, ws_per_message_deflate=False, server_header=False)
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
        p.add_argument("--max-states", type=_positive(int), default=2_000_000, metavar="N",
                       help="stop with 'incomplete: states' after N states (default 2,000,000)")
        p.add_argument("--timeout", type=_positive(float), default=60.0, metavar="S",
                       help="stop with 'incomplete: time' after S seconds (default 60); compiling too")
        p.add_argument("--max-memory", type=_positive(float), default=4096.0, metavar="MIB",
                       help="stop with 'incomplete: memory' above MIB MiB resident (default 4096); compiling too")
        p.add_argument("--max-steps", type=_positive(int), default=10_000, metavar="N",
                       help="sc/tso: stop with 'incomplete: steps' past N steps per CPU in one run (default 10,000)")

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
                   help="times each loop may go round (default: the scenario's PINRACE_LOOP_BOUND, else 2 as herd7)")
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

    p = sub.add_parser("diff", help="final states one version allows and the other does not",
                       description="Compare two versions of a scenario (before/after a patch). Exit 0 when "
                                   "they allow the same final states, 1 when they differ, 3 when incomplete.")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--model", choices=["sc", "tso", "lkmm", "all"], default="sc")
    p.add_argument("--json", action="store_true")
    budgets(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("protocols", help="list the built-in protocols")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_protocols)

    p = sub.add_parser("docs", help="regenerate docs/protocols.md and docs/primitives.md from the code",
                       description="Write docs/protocols.md (verdicts of the built-ins per model) and "
                                   "docs/primitives.md (the primitive table). --check: exit 1 when stale.")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    from .cli_share import add_commands  # share, unshare, diagram, export

    add_commands(sub)
    return ap


def _positive(kind):
    """An argparse type: a finite number above 0 (NaN would disable a budget: `NaN > S` is false)."""
    import math

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v) or v <= 0:
            raise argparse.ArgumentTypeError(f"{text!r}: a budget is a finite number above 0")
        return v

    parse.__name__ = kind.__name__
    return parse


def _guarded(args):
    """Run the command; with budgets, under a guard past --timeout and --max-memory (pinrace.guard) for
    the code that does not poll them: it ends the command as incomplete rather than letting it run on."""
    if not hasattr(args, "timeout"):
        return args.func(args)
    from .guard import guard

    with guard(args.timeout * _GRACE + 1, args.max_memory * _GRACE, _Stopped):
        return args.func(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _guarded(args)
    except SourceError as e:
        print(f"pinrace: {e.pretty()}", file=sys.stderr)
        return EXIT_INPUT
    except PinraceError as e:
        print(f"pinrace: {e}", file=sys.stderr)
        return EXIT_INPUT
    except _Stopped as e:
        what = f"--timeout {args.timeout:g} s" if e.reason == "time" else f"--max-memory {args.max_memory:g} MiB"
        print(f"pinrace: incomplete: {e.reason}: the run went past {what} where nothing stops it by itself, "
              "and was stopped", file=sys.stderr)
        return EXIT_INCOMPLETE
    except RecursionError:
        print("pinrace: the scenario is too large or nests too deeply for pinrace (Python's recursion limit)",
              file=sys.stderr)
        return EXIT_INPUT
    except UnicodeError as e:  # a file read without library.read_scenario_file
        print(f"pinrace: not UTF-8 text: {e}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # `pinrace check ... | head`: the reader left; say nothing more, as cat and grep do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"pinrace: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError:
        print("pinrace: out of memory (try a smaller --max-memory, or a smaller scenario)", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
