#!/usr/bin/env bash
# The long fuzz run: every test in tests/test_fuzz.py (parser, link/email/schedule/diagram decoders,
# websocket sequences, schemathesis on each REST operation) with EXAMPLES examples each and a fixed
# seed, a per-example deadline so a hang fails, then the totals.  The suite runs the same tests
# with a few dozen examples.
#
#   bash scripts/fuzz_long.sh [EXAMPLES] [SEED]      # defaults: 1000 examples per test, seed 20261127
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-1000}"
SEED="${2:-20261127}"
LOG="${FUZZ_LOG:-${TMPDIR:-/tmp}/pinrace-fuzz-long.log}"
start=$(date +%s)
set +e
PINRACE_FUZZ_EXAMPLES="$EXAMPLES" PINRACE_FUZZ_DEADLINE_MS="${PINRACE_FUZZ_DEADLINE_MS:-10000}" \
  python3 -m pytest tests/test_fuzz.py -p no:cacheprovider -o addopts="" -q --timeout=7200 \
  --hypothesis-seed="$SEED" --hypothesis-show-statistics >"$LOG" 2>&1
rc=$?
set -e
python3 - "$LOG" "$EXAMPLES" "$SEED" "$(( $(date +%s) - start ))" "$rc" <<'PY'
import re, sys
log, examples, seed, secs, rc = sys.argv[1:]
text = open(log, encoding="utf-8", errors="replace").read()
cases = sum(int(p) + int(f) for p, f in re.findall(r"(\d+) passing examples?, (\d+) failing examples?", text))
tests = re.search(r"(\d+) passed", text)
failed = re.search(r"(\d+) failed", text)
print(f"seed {seed}, {examples} examples per test: {cases:,} cases in {secs} s; "
      f"tests passed {tests.group(1) if tests else 0}, failed {failed.group(1) if failed else 0}; "
      f"server errors (5xx or internal-error) and hangs (deadline) would fail a test; pytest exit {rc}")
PY
exit "$rc"
