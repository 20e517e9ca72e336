"""The code location: ONE `Definitions` for the data plane and the infra plane, assembled here."""

from __future__ import annotations

from typing import Any

import dagster as dg

from infra_assets.definitions import build_infra_definitions
from resources.registry import Env, build_resources, current_env, vector_store_kind, warehouse_kind
from sophia_pipelines.assets.ingestion import build_ingestion_assets
from sophia_pipelines.assets.vectors import VECTOR_CHECKS, build_vector_assets
from sophia_pipelines.assets.warehouse import WAREHOUSE_CHECKS, build_warehouse_assets
from sophia_pipelines.jobs import data_pipeline_daily, data_pipeline_job


def build_data_definitions(env: Env, resources: dict[str, Any] | None = None) -> dg.Definitions:
    wh_kind = warehouse_kind(env)
    return dg.Definitions(
        assets=[
            *build_ingestion_assets(wh_kind),
            *build_warehouse_assets(wh_kind),
            *build_vector_assets(vector_store_kind(env)),
        ],
        asset_checks=[*WAREHOUSE_CHECKS, *VECTOR_CHECKS],
        jobs=[data_pipeline_job],
        schedules=[data_pipeline_daily],
        resources=resources if resources is not None else build_resources(env),
        # Locally one process owns the DuckDB files; in production steps run in their own processes/pods.
        executor=dg.in_process_executor if env == "local" else dg.multiprocess_executor,
    )


def build_definitions(env: Env | None = None, resources: dict[str, Any] | None = None) -> dg.Definitions:
    env = env or current_env()
    return dg.Definitions.merge(build_data_definitions(env, resources), build_infra_definitions(env))


defs = build_definitions()
