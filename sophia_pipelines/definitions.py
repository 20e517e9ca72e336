"""The code location: ONE `Definitions` for the data plane and the infra plane, assembled here."""

from __future__ import annotations

from typing import Any

import dagster as dg

from infra_assets.definitions import build_infra_definitions
from resources.profile import EnvProfile, current_profile, profile
from resources.registry import build_resources
from sophia_pipelines.assets.ingestion import build_ingestion_assets
from sophia_pipelines.assets.vectors import VECTOR_CHECKS, build_vector_assets
from sophia_pipelines.assets.warehouse import WAREHOUSE_CHECKS, build_warehouse_assets
from sophia_pipelines.jobs import data_pipeline_daily, data_pipeline_job

EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def build_data_definitions(env: str | EnvProfile, resources: dict[str, Any] | None = None) -> dg.Definitions:
    prof = profile(env) if isinstance(env, str) else env
    wh_kind = prof.warehouse_kind
    return dg.Definitions(
        assets=[
            *build_ingestion_assets(wh_kind),
            *build_warehouse_assets(wh_kind),
            *build_vector_assets(prof.vector_store_kind),
        ],
        asset_checks=[*WAREHOUSE_CHECKS, *VECTOR_CHECKS],
        jobs=[data_pipeline_job],
        schedules=[data_pipeline_daily],
        resources=resources if resources is not None else build_resources(prof),
        executor=EXECUTORS[prof.executor],
    )


def build_definitions(env: str | None = None, resources: dict[str, Any] | None = None) -> dg.Definitions:
    prof = profile(env) if env else current_profile()
    return dg.Definitions.merge(build_data_definitions(prof, resources), build_infra_definitions(prof.name))


defs = build_definitions()
