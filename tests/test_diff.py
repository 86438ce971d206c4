"""`pinrace diff`: what a patch to a protocol removes or adds, per memory model."""

from __future__ import annotations

import json

from pinrace.cli import main
from pinrace.explore.diff import diff
from pinrace.library import find, load_program


def _p(name: str):
    return load_program(find(name).source)


def test_the_fix_removes_exactly_the_lkmm_false_negative():
    d = diff(_p("bias-barrier-posted"), _p("bias-barrier-fixed"), "lkmm")
    assert not d.incomplete and not d.added
    (gone,) = d.removed
    assert gone.satisfies and gone.values == {"0:r0": 0, "1:r1": 0, "1:r2": 0}


def test_under_sc_the_fix_changes_nothing():
    d = diff(_p("bias-barrier-posted"), _p("bias-barrier-fixed"), "sc")
    assert not d.removed and not d.added


def test_cli_json_and_exit_codes(capsys):
    assert main(["diff", "bias-barrier-posted", "bias-barrier-fixed", "--model", "sc"]) == 0
    capsys.readouterr()
    assert main(["diff", "bias-barrier-posted", "bias-barrier-fixed", "--model", "lkmm", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    removed = out["results"]["lkmm"]["removed"]
    assert [r["values"] for r in removed] == [{"0:r0": 0, "1:r1": 0, "1:r2": 0}] and removed[0]["satisfies"]
