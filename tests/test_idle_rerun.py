"""`python -m sophia_pipelines.land` launches nothing on an idle pass by default, launches `data_pipeline` again when
a setting its stages redo work for changed (tagged digest), and launches everything with `--all`."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from resources.duckdb_vector_store import DuckDBVectorStore
from resources.embeddings import WordLlamaEmbedder
from resources.lexical_store import LocalLexicalStore
from resources.pipeline_settings import PipelineSettings
from sophia_pipelines import land
from sophia_pipelines.jobs import data_pipeline_job
from tests.conftest import DataPlane, build_data_plane

pytestmark = pytest.mark.slow


def launched(plane: DataPlane) -> Counter[str]:
    """Runs in the plane's instance, per job."""
    return Counter(r.dagster_run.job_name for r in plane.instance.get_run_records())


def cli(plane: DataPlane, monkeypatch: pytest.MonkeyPatch, *argv: str) -> Counter[str]:
    """Run the land CLI on the plane's definitions and instance; the runs it launched, per job."""
    monkeypatch.setattr("sophia_platform.loader.load_platform", plane.definitions)
    monkeypatch.setattr(dg.DagsterInstance, "get", lambda: plane.instance)
    before = launched(plane)
    assert land.main(list(argv)) == 0
    return launched(plane) - before


def latest_metadata(plane: DataPlane, asset: str) -> dict[str, object]:
    """The plain metadata values of `asset`'s latest materialization."""
    (record,) = plane.instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


@pytest.fixture
def plane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataPlane:
    """A data plane after one default CLI pass, which launched every land job and `data_pipeline` once."""
    plane = build_data_plane(tmp_path)
    every = Counter([*(s.land_job_name for s in plane.streams), data_pipeline_job.name])
    assert cli(plane, monkeypatch) == every
    return plane


def test_the_default_idle_pass_launches_nothing_and_all_launches_everything(
    plane: DataPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli(plane, monkeypatch) == Counter()
    every = Counter([*(s.land_job_name for s in plane.streams), data_pipeline_job.name])
    assert cli(plane, monkeypatch, "--all") == every
    assert cli(plane, monkeypatch) == Counter()  # the --all runs are tagged too: idle again


def test_a_new_embedding_model_relaunches_data_pipeline_which_embeds_every_chunk(
    plane: DataPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    plane.resources["embedder"] = WordLlamaEmbedder(dimension=128)
    plane.resources["vector_store"] = DuckDBVectorStore(database=str(plane.root / "vectors-128.duckdb"), dimension=128)
    assert cli(plane, monkeypatch) == Counter({data_pipeline_job.name: 1})
    vectors, chunks = latest_metadata(plane, "chunk_vectors"), latest_metadata(plane, "chunks")
    assert vectors["model_id"] == "wordllama/l2_supercat@128"
    assert vectors["chunks_embedded"] == chunks["dagster/row_count"] > 0
    assert cli(plane, monkeypatch) == Counter()


def test_new_chunking_parameters_or_lexical_store_relaunch_data_pipeline(
    plane: DataPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    plane.resources["pipeline"] = PipelineSettings(chunk_max_chars=600, chunk_overlap_chars=50)
    assert cli(plane, monkeypatch) == Counter({data_pipeline_job.name: 1})
    assert latest_metadata(plane, "chunks")["documents_chunked"] > 0
    plane.resources["lexical_store"] = LocalLexicalStore(directory=str(plane.root / "lexical-moved"))
    assert cli(plane, monkeypatch) == Counter({data_pipeline_job.name: 1})
    assert latest_metadata(plane, "chunk_lexical_index")["chunks_indexed"] > 0  # the empty store was refilled
    assert cli(plane, monkeypatch) == Counter()


def test_the_settings_digest_follows_exactly_the_settings_that_cause_work(tmp_path: Path) -> None:
    plane = build_data_plane(tmp_path)
    digest = land.pipeline_settings_digest(plane.definitions())
    plane.resources["pipeline"] = PipelineSettings(embed_batch_size=7, max_reject_rate=0.5)  # change no row
    assert land.pipeline_settings_digest(plane.definitions()) == digest
    plane.resources["embedder"] = WordLlamaEmbedder(dimension=64)
    assert land.pipeline_settings_digest(plane.definitions()) != digest


def test_resource_overrides_in_run_config_count_in_the_settings_digest(tmp_path: Path) -> None:
    """A pass whose run_config overrides a resource's config (e.g. the chunker) is not current with one that did not;
    other run config (log levels) changes nothing."""
    defs = build_data_plane(tmp_path).definitions()
    plain = land.pipeline_settings_digest(defs, warehouse_id="w")
    assert land.pipeline_settings_digest(defs, warehouse_id="w", run_config=land.console_log_level("DEBUG")) == plain
    chunker = {"resources": {"pipeline": {"config": {"chunk_max_chars": 600}}}}
    assert land.pipeline_settings_digest(defs, warehouse_id="w", run_config=chunker) != plain


def test_a_wiped_warehouse_is_filled_again_by_the_next_default_pass(
    plane: DataPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = latest_metadata(plane, "documents")["dagster/row_count"]
    for path in plane.root.iterdir():  # the demo's `rm -rf .sophia`: every store, same Dagster instance
        if path.name != "dagster_home":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    every = Counter([*(s.land_job_name for s in plane.streams), data_pipeline_job.name])
    assert cli(plane, monkeypatch) == every
    assert latest_metadata(plane, "documents")["dagster/row_count"] == documents > 0
    assert cli(plane, monkeypatch) == Counter()
