#!/usr/bin/env bash
# Create .venv (if needed) and install the project with its dev, bench and production extras. Idempotent and quiet
# when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.sophia-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # bench: the benchmarks' plots; production: Postgres storage and dagster-k8s (the Postgres tests, `dg check` in
  # production mode)
  .venv/bin/python -m pip install --quiet -e ".[dev,bench,production]"
  touch "$stamp"
fi
mkdir -p .dagster_home
cp dagster.yaml .dagster_home/dagster.yaml
