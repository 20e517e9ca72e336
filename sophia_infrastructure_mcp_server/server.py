"""The infrastructure tools: `infra_status`, `plan_scaling` (pure) and `request_scaling` (write, audited).

State comes from the Dagster instance in DAGSTER_HOME (the infra assets' latest materializations and checks;
stack outputs are recorded there already masked) and the infra specs (pools, bounds). Scaling runs are launched
through Dagster's GraphQL API, so they queue, lock the stack and record their decision like a sensor's run.
"""

from __future__ import annotations

import os
from typing import Any

from mcp.server.mcpserver import MCPServer

from sophia_infrastructure_mcp_server import pools as pool_specs
from sophia_mcp.audit import audit
from sophia_mcp.dagster_runs import DagsterRuns, DagsterUnavailable
from sophia_mcp.errors import Refused, short_message
from sophia_mcp.redaction import Redactor
from sophia_mcp.server import add_tools, create_server
from sophia_mcp.settings import ALLOW_WRITES_ENV, McpSettings
from sophia_mcp.warehouse_reader import plain

NAME = "sophia_infrastructure_mcp_server"
MAX_METADATA_CHARS = 300  # longer metadata (rendered plans, markdown reports) stays in the Dagster UI
INSTRUCTIONS = (
    "Sophia's infrastructure: infra_status shows the stacks' and pools' state and drift checks; plan_scaling says "
    "what a pool size would do (no side effects); request_scaling launches a pool's scaling run (needs write "
    "permission, bounded by the pool's min..max, audit-logged)."
)


def _instance() -> Any:
    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None


def _metadata(event: Any) -> dict[str, Any]:
    """The short entries of a materialization's metadata (mode, sizes, masked outputs, decision)."""
    out: dict[str, Any] = {}
    for key, value in event.asset_materialization.metadata.items():
        raw = plain(getattr(value, "value", value))
        if isinstance(raw, str) and len(raw) > MAX_METADATA_CHARS:
            continue
        out[key] = raw
    return out


def _materializations(instance: Any, keys: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        event = instance.get_latest_materialization_event(key) if instance else None
        out[key.to_user_string()] = (
            None
            if event is None
            else {"at": plain(_utc(event.timestamp)), "run_id": event.run_id, "metadata": _metadata(event)}
        )
    return out


def _utc(timestamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _checks(instance: Any) -> dict[str, Any]:
    """{asset: {check: status}} for the infra assets' spec_valid and no_drift checks (latest execution)."""
    import dagster as dg

    from infra_assets.assets import ASSET_KEYS
    from infra_assets.checks import NO_DRIFT, SPEC_VALID

    keys = [dg.AssetCheckKey(key, name) for key in ASSET_KEYS.values() for name in (SPEC_VALID, NO_DRIFT)]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys) if instance else {}
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        record = latest.get(key)
        out.setdefault(key.asset_key.to_user_string(), {})[key.name] = (
            "never run" if record is None else {"status": record.status.value, "run_id": record.run_id}
        )
    return out


def build_server(settings: McpSettings) -> MCPServer:
    """The infrastructure server with its three tools."""
    runs = DagsterRuns(settings)
    redactor = Redactor.from_env()

    def infra_status() -> dict[str, Any]:
        """The infra plane now: each pool's size and bounds, the infra assets' latest materializations (mode,
        sizes, stack outputs with secrets masked) and their spec_valid / no_drift checks."""
        from infra_assets.assets import ASSET_KEYS

        infra = pool_specs.settings()
        instance = _instance()
        known = pool_specs.pools(infra)
        return {
            "env": infra.env,
            "infra_mode": infra.mode,
            "pools": [pool_specs.describe(p, pool_specs.current_size(infra, p)) for p in known],
            "materializations": _materializations(instance, [*ASSET_KEYS.values(), *(p.asset_key for p in known[1:])]),
            "checks": _checks(instance),
            **({} if instance else {"note": "DAGSTER_HOME is not set: no materializations or checks to show"}),
        }

    def plan_scaling(pool: str, nodes: int) -> dict[str, Any]:
        """What asking `pool` to run `nodes` nodes would do: its bounds, current size, what the autoscaling
        policy (steps, cooldowns) decides for that demand, and whether request_scaling would accept it.
        No side effects. Pool names: see infra_status."""
        infra = pool_specs.settings()
        return pool_specs.plan(infra, pool_specs.find_pool(infra, pool), nodes)

    def request_scaling(pool: str, nodes: int, reason: str) -> dict[str, Any]:
        """Launch `pool`'s scaling run to `nodes` nodes (write tool; audit-logged with `reason`).

        Refused unless the server runs with --allow-writes, when `reason` is empty, or when `nodes` is outside
        the pool's min..max. Returns the run id and its link in the Dagster UI."""
        args = {"pool": pool, "nodes": nodes, "reason": reason}
        try:
            if not settings.allow_writes:
                raise Refused(f"refused: request_scaling needs write permission (start the server with "
                              f"--allow-writes or {ALLOW_WRITES_ENV}=1)")  # fmt: skip
            if not reason.strip():
                raise Refused("refused: give a reason (it goes into the audit log and the run's metadata)")
            infra = pool_specs.settings()
            target = pool_specs.find_pool(infra, pool)
            old = pool_specs.current_size(infra, target).nodes
            request = pool_specs.scale_request(target, old, nodes, reason.strip())
            run = runs.launch(request["job"], request["run_config"], request["tags"], request["asset_selection"])
        except Exception as exc:  # refused or failed: audited either way, then the short error
            outcome = "refused" if isinstance(exc, Refused) and not isinstance(exc, DagsterUnavailable) else "failed"
            audit(redactor, "request_scaling", outcome, error=short_message(exc), **args)
            raise
        audit(redactor, "request_scaling", "launched", old_nodes=old, run_id=run.run_id, job=run.job_name, **args)
        return {**run.as_dict(), "pool": target.name, "old_nodes": old, "new_nodes": nodes}

    server = create_server(NAME, INSTRUCTIONS)
    add_tools(server, redactor, infra_status, plan_scaling, request_scaling)
    return server
