#!/usr/bin/env bash
# Start the app on http://127.0.0.1:8000 (override with --host/--port), installing pinrace
# into the checkout's own virtual environment .venv/ first when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ensure_venv serve ""
say "starting pinrace serve $* (Ctrl-C stops it)"
exec pinrace serve "$@"
