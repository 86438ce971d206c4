"""`pinrace litmus`: herd7's summary lines, versioned JSON, exit codes, no web stack."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import GOLDEN
from pinrace.cli import main

SB = str(GOLDEN / "sc" / "SB.litmus")
MP = str(GOLDEN / "sc" / "MP.litmus")


def test_litmus_prints_herd_lines_for_each_file(capsys):
    assert main(["litmus", SB, MP, "--model", "tso"]) == 0
    out = capsys.readouterr().out
    assert "Test SB Allowed\nStates 4\n" in out
    assert "Observation SB Sometimes 1 3" in out  # store buffering shows under x86-TSO
    assert "Observation MP Never 0 3" in out


def test_litmus_json_has_a_schema_version_and_schedules(capsys):
    assert main(["litmus", SB, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == 1
    (res,) = doc["results"]
    assert res["observation"] == "Never" and res["model"] == "sc"
    assert all(len(s["schedule"]) == 4 for s in res["states"])


def test_bad_file_gives_exit_2_with_position(tmp_path, capsys):
    bad = tmp_path / "bad.litmus"
    bad.write_text("C bad\n{}\nP0(int *x) {\n  WRITE_ONCE(*x 1);\n}\nexists (x=1)\n")
    assert main(["litmus", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4:17: syntax error" in err
    assert "^" in err


def test_state_budget_reports_incomplete(capsys):
    assert main(["litmus", str(GOLDEN / "sc" / "IRIW.litmus"), "--max-states", "10"]) == 3
    assert "Incomplete states" in capsys.readouterr().out


def test_the_cli_does_not_import_the_web_stack():
    code = (f"import sys; from pinrace.cli import main; main(['litmus', {SB!r}]); "
            "bad = [m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic') if m in sys.modules]; "
            "sys.exit(3 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_help_lists_every_command(capsys):
    try:
        main(["--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    for verb in ("litmus", "check", "replay", "protocols", "serve"):
        assert verb in out
