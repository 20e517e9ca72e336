#!/usr/bin/env bash
# README command 2: install, lint, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DAGSTER_HOME="$PWD/.dagster_home"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
SOPHIA_ENV=local .venv/bin/dg check defs
SOPHIA_ENV=production .venv/bin/dg check defs
exec .venv/bin/python -m pytest "$@"
