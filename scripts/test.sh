#!/usr/bin/env bash
# Run every test: install pinrace with its test dependencies into the checkout's .venv/
# (when pyproject.toml changed), lint, check the generated docs, run pytest.
# Arguments go to pytest, e.g. bash scripts/test.sh -k browser
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ensure_venv test "[test]"
say "ruff check server tests bench scripts"
ruff check server tests bench scripts
# the generated docs (protocol verdicts per model, the primitive table) must match the code
say "pinrace docs --check (generated docs match the code)"
pinrace docs --check
say "python -m pytest $*"
python -m pytest "$@"
