"""Concurrency pools of the data plane (Dagster pools: limits are instance settings, enforced per step)."""

# Every data-plane asset and check runs in this pool. With `concurrency.pools.default_limit: 1` in dagster.yaml, at
# most one data-plane step runs at a time across all runs of the instance, however the run was launched (UI, queue,
# schedule, `dagster asset materialize`, `dagster job execute`): DuckDB has a single writer, and two overlapping
# runs never embed the same chunks twice. Change the limit with `dagster instance concurrency set` or in the UI.
DATA_PLANE_POOL = "sophia/data-plane"
