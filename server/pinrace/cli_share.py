"""CLI verbs for sharing: share, unshare (decode), diagram, export.  cli.py calls add_commands.

    pinrace share FILE|NAME [--schedule S] [--model M] [--email]   print the link (or email block)
    pinrace share --snapshot                                        archive built-ins by hash
    pinrace unshare LINK|FILE|-  (alias: decode)                    print the scenario a link carries
    pinrace diagram FILE|NAME --schedule S                          the interleaving as a diagram
    pinrace diagram FILE|NAME --import DIAGRAM|-                    a pasted diagram as a schedule
    pinrace export FILE|NAME [-o OUT]                               plain herd7 LKMM litmus
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import PinraceError

__all__ = ["add_commands", "DEFAULT_BASE"]

DEFAULT_BASE = "http://127.0.0.1:8000/"


def _read_arg(arg: str) -> str:
    from .library import read_scenario_file

    if arg == "-":
        return sys.stdin.read()
    p = Path(arg)
    if len(arg) < 4096 and (p.is_file() or p.is_dir()):
        return read_scenario_file(p)
    return arg


def cmd_share(args) -> int:
    from .formats.email import to_block
    from .formats.link import encode, link_url, make_shared, snapshot_builtins
    from .library import resolve_source

    if args.snapshot:
        new = snapshot_builtins()
        for p in new:
            print(f"archived {p}")
        if not new:
            print("every built-in version is already archived")
        return 0
    if not args.scenario:
        raise PinraceError("share needs a scenario (a file or a built-in name), or --snapshot")
    label, src = resolve_source(args.scenario)
    builtin = args.scenario if label == args.scenario and not Path(args.scenario).exists() else None
    shared = make_shared(src, args.model, args.schedule or "", builtin=builtin, loop_bound=args.loop_bound)
    token = encode(shared)
    if args.json:
        print(json.dumps({"token": token, "url": link_url(token, args.base), "builtin": shared.builtin,
                          "hash": shared.sha, "length": len(token)}, indent=2))
    elif args.email:
        print(to_block(shared))
    else:
        print(link_url(token, args.base))
    return 0


def cmd_unshare(args) -> int:
    from .formats.email import find_block
    from .formats.link import load

    text = _read_arg(args.link)
    tok = find_block(text)
    loaded = load(tok if tok is not None else text)
    if args.json:
        print(json.dumps(loaded.to_dict(), indent=2))
        return 0
    for w in loaded.warnings:
        print(f"pinrace: warning: {w}", file=sys.stderr)
    src = f"built-in {loaded.builtin} ({loaded.sha})" if loaded.builtin else "inline scenario"
    print(f"pinrace: {src}, model {loaded.model}, schedule '{loaded.schedule_text}'", file=sys.stderr)
    sys.stdout.write(loaded.text if loaded.text.endswith("\n") else loaded.text + "\n")
    return 0


def _machine(args):
    from .engine.models import make_model
    from .library import load_program, resolve_source

    if args.model == "lkmm":
        raise PinraceError("diagrams are drawn from sc or tso schedules")
    label, src = resolve_source(args.scenario)
    prog = load_program(src, loop_bound=args.loop_bound)
    return label, src, make_model(args.model, prog)


def cmd_diagram(args) -> int:
    from .explore.replay import replay
    from .formats.diagram import export_diagram
    from .formats.diagram_import import import_diagram
    from .formats.schedule import parse_schedule

    label, src, machine = _machine(args)
    if args.import_:
        imp = import_diagram(_read_arg(args.import_), machine, complete=not args.no_complete)
        if args.json:
            print(json.dumps(imp.to_dict(), indent=2))
        else:
            print(" ".join(t.token() for t in imp.schedule))
            if imp.trailing:
                print(f"pinrace: after the last row: {' '.join(t.token() for t in imp.trailing)}", file=sys.stderr)
        return 0
    if args.schedule is None:
        raise PinraceError("diagram needs --schedule S (to draw) or --import DIAGRAM (to read)")
    _, taken = replay(machine, parse_schedule(args.schedule))
    print(export_diagram(machine, taken, width=args.width))
    return 0


def cmd_export(args) -> int:
    from .formats.litmus_export import export_litmus
    from .library import load_program, resolve_source

    label, src = resolve_source(args.scenario)
    out = export_litmus(load_program(src, loop_bound=args.loop_bound))
    if args.output:
        Path(args.output).write_text(out)
    else:
        sys.stdout.write(out)
    return 0


def add_commands(sub) -> None:
    """Register share, unshare (alias decode), diagram and export on an argparse subparsers object."""
    models = ["sc", "tso", "lkmm"]
    p = sub.add_parser("share", help="print a link (or email block) carrying a scenario, model and schedule",
                       description="Print a link to a scenario with a model and schedule. Built-ins travel by "
                                   "name and content hash; other scenarios travel inside the link.")
    p.add_argument("scenario", nargs="?", metavar="FILE|NAME")
    p.add_argument("--schedule", default=None, metavar="S", help="e.g. '0 1 1 0' or '0:0 1:0 0:flush'")
    p.add_argument("--model", choices=models, default="sc")
    p.add_argument("--loop-bound", type=int, default=None, metavar="N")
    p.add_argument("--email", action="store_true", help="a wrapped -----BEGIN PINRACE SCENARIO----- block")
    p.add_argument("--base", default=DEFAULT_BASE, metavar="URL", help=f"the app's address (default {DEFAULT_BASE})")
    p.add_argument("--json", action="store_true")
    p.add_argument("--snapshot", action="store_true",
                   help="archive every built-in's current text in protocols/versions/ (run after editing one)")
    p.set_defaults(func=cmd_share)

    p = sub.add_parser("unshare", aliases=["decode"], help="print the scenario, model and schedule a link carries",
                       description="Decode a link, a '#s=' fragment, or an email block (LINK, a FILE, or - for "
                                   "stdin). The scenario goes to stdout, model and schedule to stderr.")
    p.add_argument("link", metavar="LINK|FILE|-")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unshare)

    p = sub.add_parser("diagram", help="draw a schedule as a CPU0 | CPU1 diagram, or read one back",
                       description="Draw a schedule in the mailing-list style (a column per CPU, one call per "
                                   "row), or --import a pasted diagram (quote markers and all) as a schedule.")
    p.add_argument("scenario", metavar="FILE|NAME")
    p.add_argument("--schedule", default=None, metavar="S")
    p.add_argument("--import", dest="import_", default=None, metavar="DIAGRAM|-",
                   help="a file holding the diagram, or - for stdin")
    p.add_argument("--no-complete", action="store_true",
                   help="with --import: do not run what is left after the last row")
    p.add_argument("--model", choices=["sc", "tso"], default="sc")
    p.add_argument("--width", type=int, default=72)
    p.add_argument("--loop-bound", type=int, default=None, metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_diagram)

    p = sub.add_parser("export", help="flatten a scenario to plain herd7 LKMM litmus C",
                       description="Write the scenario as herd7 litmus C using only linux-kernel.def macros "
                                   "(helpers inlined, loops unrolled, waits as filters).")
    p.add_argument("scenario", metavar="FILE|NAME")
    p.add_argument("-o", "--output", default=None, metavar="FILE")
    p.add_argument("--loop-bound", type=int, default=None, metavar="N")
    p.set_defaults(func=cmd_export)
