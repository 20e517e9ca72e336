#!/usr/bin/env bash
# README command 1: install, run the data pipeline on local defaults, print a summary and a sample search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DAGSTER_HOME="$PWD/.dagster_home"
exec .venv/bin/python -m sophia_pipelines.demo "$@"
