#!/usr/bin/env bash
# Install pinrace and start the app on http://127.0.0.1:8000 (override with --host/--port).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e .
exec pinrace serve "$@"
