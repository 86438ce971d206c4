#!/usr/bin/env bash
# What a user installs: build pinrace's wheel, install it into a fresh venv outside the
# checkout, and check that install (the wheel's contents, the built-ins, a check, the app,
# the API docs).  CI runs it (.ci/run); run it by hand before a release:
#   bash scripts/smoke_wheel.sh            # or WHEEL=dist/pinrace-X-py3-none-any.whl to test that one
# One line per step on stderr; exit 1 at the first failure.  PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
py=${PYTHON:-python3}
work=$(mktemp -d)
server=
cleanup() {
  local rc=$?
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
say() { echo "smoke: $*" >&2; }
fail() { echo "smoke: FAIL $*" >&2; exit 1; }
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PINRACE_PROTOCOLS VIRTUAL_ENV  # the install's own library, nobody else's

say "creating a fresh venv in $work/venv with $py"
"$py" -m venv "$work/venv"
vpy=$work/venv/bin/python
if [ -z "${WHEEL:-}" ]; then
  say "building the wheel (pip wheel --no-deps .)"
  "$vpy" -m pip wheel -q --no-deps --wheel-dir "$work/dist" . >/dev/null
  WHEEL=$(ls "$work"/dist/pinrace-*.whl)
fi
say "built $(basename "$WHEEL"): $(du -k "$WHEEL" | cut -f1) KiB"

say "checking the wheel carries protocols/ (prelude.h, versions/), frontend/ and the API docs"
"$vpy" - "$WHEEL" "$checkout" <<'PY'
import sys, zipfile
from pathlib import Path
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
root = Path(sys.argv[2])
want = {f"pinrace/{p.relative_to(root).as_posix()}" for d in ("protocols", "frontend")
        for p in (root / d).rglob("*") if p.is_file()}
want |= {"pinrace/api/docs_ui/docs.html", "pinrace/api/docs_ui/swagger-ui/swagger-ui-bundle.js",
         "pinrace/api/docs_ui/swagger-ui/LICENSE", "pinrace/api/docs_ui/redoc/redoc.standalone.js",
         "pinrace/api/docs_ui/redoc/LICENSE", "pinrace/lang/grammar.lark"}
missing = sorted(want - names)
if missing:
    sys.exit(f"smoke: FAIL the wheel lacks {len(missing)} shipped files, e.g. {missing[:5]}")
if not any(n.startswith("pinrace/protocols/versions/") for n in names) or "pinrace/protocols/prelude.h" not in names:
    sys.exit("smoke: FAIL the wheel lacks protocols/versions/ or prelude.h")
PY

say "installing it into the venv (pip install <wheel>, not editable)"
"$vpy" -m pip install -q "$WHEEL"
cd "$work"  # from here on nothing may import the checkout
where=$("$vpy" -c 'import pinrace, pathlib; print(pathlib.Path(pinrace.__file__).parent)')
case "$where" in "$work/venv/"*) ;; *) fail "pinrace imported from $where, not the venv" ;; esac

say "pinrace protocols lists the checkout's built-ins"
got=$("$work/venv/bin/pinrace" protocols --json \
  | "$vpy" -c 'import json, sys; print(" ".join(sorted(p["name"] for p in json.load(sys.stdin))))')
want=$(cd "$checkout/protocols" && "$vpy" -c 'import glob; print(" ".join(sorted(f[:-7] for f in glob.glob("*.litmus"))))')
[ "$got" = "$want" ] || fail "built-ins differ: installed [$got], checkout [$want]"
say "  $(wc -w <<<"$got") built-ins, the same as the checkout"

say "pinrace check thread-false-negative finds the race (exit 1: reachable)"
rc=0
"$work/venv/bin/pinrace" check thread-false-negative > "$work/check.out" || rc=$?
[ "$rc" = 1 ] && grep -q "CPU2" "$work/check.out" || fail "pinrace check exited $rc: $(tail -n 3 "$work/check.out")"

port=$("$vpy" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "pinrace serve --port $port: the app, the API docs and the API"
"$work/venv/bin/pinrace" serve --host 127.0.0.1 --port "$port" > "$work/serve.log" 2>&1 &
server=$!
"$vpy" "$checkout/scripts/ask_app.py" "http://127.0.0.1:$port" --builtins "$(wc -w <<<"$want")" \
  --same-as "$checkout/frontend" \
  || { tail -n 20 "$work/serve.log" >&2; fail "the installed app answered wrong"; }
say "passed: the wheel installs and serves what the checkout does"
