"""The code location as Dagster loads it: one Definitions, both planes, both modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from resources.profile import current_env
from sophia_platform.loader import load_platform

ROOT = Path(__file__).resolve().parent.parent
DATA_ASSETS = {
    "raw_apify_website_content",
    "raw_apify_linkedin_profiles",
    "raw_phantombuster_linkedin_search",
    "raw_tavily_search",
    "documents",
    "chunks",
    "chunk_vectors",
}
INFRA_ASSETS = {"esc_environment", "lambda_gpu_pool", "k8s_deployments"}


@pytest.mark.parametrize("env", ["local", "production"])
def test_dagster_definitions_validate(env: str, tmp_path: Path) -> None:
    """The CLI CI uses: loads the module exactly like `dagster dev`, without any credentials."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOPHIA_", "SNOWFLAKE_", "PINECONE_"))}
    run_env = {**clean, "SOPHIA_ENV": env, "SOPHIA_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "sophia_platform.definitions"],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr


@pytest.mark.parametrize("env", ["local", "production"])
def test_dg_check_and_list_defs(env: str, tmp_path: Path) -> None:
    """`dg check defs` and `dg list defs` (what CI and a newcomer run) accept the project in both modes."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOPHIA_", "SNOWFLAKE_", "PINECONE_"))}
    venv = Path(sys.executable).parent.parent
    run_env = {
        **clean,
        "SOPHIA_ENV": env,
        "SOPHIA_DATA_DIR": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}",
    }
    dg_cli = str(venv / "bin" / "dg")
    check = subprocess.run([dg_cli, "check", "defs"], cwd=ROOT, env=run_env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr
    listed = subprocess.run([dg_cli, "list", "defs", "--json"], cwd=ROOT, env=run_env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert all(name in listed.stdout for name in DATA_ASSETS | INFRA_ASSETS)


def test_one_definitions_with_both_planes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path))
    defs = load_platform("local")
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys >= DATA_ASSETS | INFRA_ASSETS
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {groups[k] for k in DATA_ASSETS} == {"ingestion", "warehouse", "vectors"}
    assert {groups[k] for k in INFRA_ASSETS} == {"infrastructure"}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners and node.description and node.kinds, key
    assert {"data_pipeline", "infra_plan_job", "scale_gpu_pool_job"} <= {j.name for j in defs.resolve_all_job_defs()}
    assert defs.resolve_schedule_def("data_pipeline_daily").default_status == dg.DefaultScheduleStatus.STOPPED
    assert defs.resolve_sensor_def("gpu_backlog_sensor")
    kinds = {k.to_user_string(): graph.get(k).kinds for k in graph.get_all_asset_keys()}
    assert {"apify", "duckdb"} <= kinds["raw_apify_website_content"]
    assert "tavily" in kinds["raw_tavily_search"] and "phantombuster" in kinds["raw_phantombuster_linkedin_search"]


def test_production_swaps_resources_not_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path))
    local, prod = load_platform("local"), load_platform("production")
    assert local.resolve_asset_graph().get_all_asset_keys() == prod.resolve_asset_graph().get_all_asset_keys()
    names = {k: type(v).__name__ for k, v in prod.resources.items()}
    assert names["warehouse"] == "SnowflakeWarehouse" and names["vector_store"] == "PineconeVectorStore"
    assert names["apify"] == "ApifyPayloadSource" and names["tavily"] == "TavilyPayloadSource"
    assert type(local.resources["warehouse"]).__name__ == "DuckDBWarehouse"
    kinds = prod.resolve_asset_graph().get(dg.AssetKey("documents")).kinds
    assert "snowflake" in kinds


def test_mode_switch_rejects_unknown_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_ENV", "staging")
    with pytest.raises(ValueError, match="SOPHIA_ENV must be one of local, production"):
        current_env()
    monkeypatch.delenv("SOPHIA_ENV")
    assert current_env() == "local"
