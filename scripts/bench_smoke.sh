#!/usr/bin/env bash
# Each benchmark's `--smoke` mode (a small, fast run that still checks its targets). A benchmark without one is
# named, not run.
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in benchmarks/*.py; do
  if grep -q -- '"--smoke"' "$bench"; then
    echo "== $bench --smoke"
    .venv/bin/python "$bench" --smoke
  else
    echo "== $bench has no --smoke mode"
  fi
done
