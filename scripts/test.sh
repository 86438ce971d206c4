#!/usr/bin/env bash
# Install pinrace with its test dependencies, lint, check generated docs, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
ruff check server tests bench scripts
# the generated docs (protocol verdicts per model, the primitive table) must match the code
pinrace docs --check
python3 -m pytest "$@"
