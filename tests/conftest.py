"""Shared fixtures: a data plane wired to a temp DuckDB and a private copy of the bundled samples."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from resources.payloads import BUNDLED_SAMPLES_DIR
from resources.registry import local_resources
from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
from sophia_pipelines.assets.lexical import build_lexical_assets
from sophia_pipelines.assets.vectors import VECTOR_CHECKS, build_vector_assets
from sophia_pipelines.assets.warehouse import WAREHOUSE_CHECKS, build_warehouse_assets
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.land import LandResult, land_everything
from sophia_pipelines.streams import STREAMS, StreamSpec

# Shared assertion helpers get pytest's detailed assert messages too.
pytest.register_assert_rewrite("tests.helpers")


@dataclass
class DataPlane:
    """Everything needed to materialize the data graph in a test."""

    root: Path
    samples: Path
    resources: dict[str, Any]
    assets: list[Any]
    streams: tuple[StreamSpec, ...] = tuple(STREAMS)
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)  # keeps the partitions

    def definitions(self) -> dg.Definitions:
        """The data plane as a code location would hold it: assets, checks, land jobs and `data_pipeline`."""
        return dg.Definitions(
            assets=self.assets,
            asset_checks=[*WAREHOUSE_CHECKS, *VECTOR_CHECKS],
            jobs=[*build_land_jobs(self.streams), data_pipeline_job],
            resources=self.resources,
        )

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of `sql` on the data plane's warehouse, opened read-only for this call."""
        con = duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def materialize(self, instance: dg.DagsterInstance | None = None) -> LandResult:
        """Land everything and bring downstream up to date (the demo's path, every job launched so that each pass's
        metadata is complete: `--all`); raises if anything failed."""
        result = land_everything(self.definitions(), instance or self.instance, self.streams, skip_unchanged=False)
        if not result.success:
            raise AssertionError("landing failed: " + "; ".join(result.failures()))
        return result


def metadata_by_asset(result: dg.ExecuteInProcessResult | LandResult) -> dict[str, dict[str, Any]]:
    """{asset name: {metadata key: plain value}} for every materialization in a run (or a land-everything pass)."""
    return {
        e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def build_data_plane(
    tmp: Path, samples_source: Path = BUNDLED_SAMPLES_DIR, streams: Sequence[StreamSpec] = STREAMS
) -> DataPlane:
    """A data plane of `streams` over `tmp`: a private copy of the samples and fresh DuckDB files."""
    samples = tmp / "samples"
    shutil.copytree(samples_source, samples)
    root = tmp / "data"
    assets = [
        *build_ingestion_assets("duckdb", streams),
        *build_warehouse_assets("duckdb", streams),
        *build_vector_assets("duckdb"),
        *build_lexical_assets("duckdb"),
    ]
    return DataPlane(root, samples, local_resources(root, samples), assets, tuple(streams))


@pytest.fixture
def pulumi_event_loop() -> Iterator[None]:
    """A current event loop for Pulumi's mocks, which run on the thread's loop. A test that ran `asyncio.run()`
    before (Dagster's automation-condition evaluation does) leaves the main thread with none."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()
