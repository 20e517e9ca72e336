"""A snapshot of every asset spec in both modes: an accidental change to the graph fails here.

Each asset's key, group, kinds, owners, deps, checks, automation condition and pool is compared with
`tests/snapshots/asset_specs_<env>.json`. After an intended change, regenerate with
`SOPHIA_UPDATE_SNAPSHOTS=1 pytest tests/test_defs_snapshot.py` and review the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from sophia_platform.loader import load_platform

SNAPSHOTS = Path(__file__).parent / "snapshots"


def asset_snapshot(defs: dg.Definitions) -> dict[str, Any]:
    """{asset key: its reviewable shape} plus the jobs, schedules and sensors, all sorted."""
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
            "automation": str(node.automation_condition) if node.automation_condition else None,
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "pool": defs.resolve_assets_def(key).op.pool if node.is_executable else None,
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


@pytest.mark.parametrize("env", ["local", "production"])
def test_asset_specs_match_the_snapshot(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path))
    actual = asset_snapshot(load_platform(env))
    path = SNAPSHOTS / f"asset_specs_{env}.json"
    if os.environ.get("SOPHIA_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if os.environ.get("SOPHIA_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"no snapshot yet: wrote {path}; review it and commit it")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"asset specs changed in {env}; if intended, run with SOPHIA_UPDATE_SNAPSHOTS=1"
