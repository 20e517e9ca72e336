"""Downstream runs scoped to source runs (partitions of the raw assets): a scoped `data_pipeline` run normalizes,
chunks and embeds only what came from its source runs, runs over disjoint scopes add up to one unscoped run, and the
scope reaches SQL only as bound parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from sophia_pipelines.domain.tables import raw_table
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.land import land_sources
from sophia_pipelines.stages.scope import (
    EVERYTHING,
    SourceRunScope,
    batches_condition,
    documents_condition,
    records_condition,
)
from sophia_pipelines.streams import STREAMS
from tests.conftest import DataPlane, build_data_plane, metadata_by_asset

RAW_A, RAW_B = raw_table("raw_a"), raw_table("raw_b")


def test_no_source_runs_means_everything() -> None:
    assert SourceRunScope.of({}) is None and SourceRunScope.of(None) is None
    assert records_condition(None, [RAW_A], "raw_record_id") is EVERYTHING
    assert documents_condition(None, [RAW_A], "c.document_id") is EVERYTHING


def test_partition_keys_are_bound_never_spliced() -> None:
    scope = SourceRunScope.of({"raw_b": ["k'1", "k2", "k'1"], "raw_a": ["x"]})
    assert scope is not None
    condition = records_condition(scope, [RAW_A, RAW_B], "d.raw_record_id")
    assert "k'1" not in condition.sql and "x" not in condition.sql.replace("raw_", "")
    assert condition.params == ("x", "k'1", "k2")  # tables in name order, keys deduplicated in order
    assert condition.sql.count("?") == len(condition.params)
    assert batches_condition(scope, raw_table("raw_c")).sql == "FALSE"  # a table out of scope has no rows in it


@pytest.mark.parametrize(
    ("runs", "message"),
    [({"raw_a": []}, "no partition keys given for raw_a"), ({"raw_z": ["k"]}, "unknown raw tables ['raw_z']")],
)
def test_a_scope_that_would_select_nothing_by_mistake_fails_naming_it(runs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        scope = SourceRunScope.of(runs)
        assert scope is not None
        records_condition(scope, [RAW_A, RAW_B], "raw_record_id")


# --- scoped data_pipeline runs on the local warehouse -------------------------------------------------------------


def rows(plane: DataPlane, sql: str) -> set[tuple[Any, ...]]:
    return set(plane.rows(sql))  # order-free comparisons


def downstream_state(plane: DataPlane) -> dict[str, set[tuple[Any, ...]]]:
    return {
        "documents": rows(plane, "SELECT document_id, content_hash, raw_record_id FROM documents"),
        "chunks": rows(plane, "SELECT chunk_id, content_hash FROM chunks"),
        "ledger": rows(plane, "SELECT chunk_id, content_hash, model_id FROM vector_ledger"),
    }


def records_of(plane: DataPlane, runs: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    for table, keys in runs.items():
        listed = ", ".join(f"'{k}'" for k in keys)  # test data: plain keys
        found |= {r[0] for r in rows(plane, f"SELECT record_id FROM {table} WHERE batch_id IN ({listed})")}
    return found


def run_scoped(plane: DataPlane, runs: dict[str, list[str]]) -> dg.ExecuteInProcessResult:
    job = plane.definitions().resolve_job_def(data_pipeline_job.name)
    config = {"resources": {"pipeline": {"config": {"source_runs": runs}}}}
    return job.execute_in_process(instance=plane.instance, run_config=config)


def halves(plane: DataPlane) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every stream's source runs split in two: every other partition key on each side."""
    first: dict[str, list[str]] = {}
    second: dict[str, list[str]] = {}
    for stream in STREAMS:
        keys = sorted(plane.instance.get_dynamic_partitions(stream.partitions_name))
        assert len(keys) >= 2, f"{stream.source}: the bundled samples need two source runs for this test"
        first[stream.table.name], second[stream.table.name] = keys[::2], keys[1::2]
    return first, second


@pytest.fixture
def landed(tmp_path: Path) -> DataPlane:
    plane = build_data_plane(tmp_path / "scoped")
    assert land_sources(plane.definitions(), plane.instance).success
    return plane


@pytest.mark.slow
def test_scoped_runs_do_only_their_source_runs_and_add_up_to_one_unscoped_run(
    landed: DataPlane, tmp_path: Path
) -> None:
    plane = landed
    first, second = halves(plane)

    result = run_scoped(plane, first)

    assert result.success
    state = downstream_state(plane)
    documents = {d for d, _, _ in state["documents"]}
    assert documents and {r for _, _, r in state["documents"]} <= records_of(plane, first)
    chunk_documents = rows(plane, "SELECT DISTINCT document_id FROM chunks")
    assert {d for (d,) in chunk_documents} == documents  # every document of the scope chunked, no other
    assert {c for c, _, _ in state["ledger"]} == {c for c, _ in state["chunks"]}  # and every chunk embedded
    untouched = rows(plane, f"SELECT COUNT(*) FROM {STREAMS[0].table.name} WHERE normalized_hash IS NOT NULL")
    in_scope = len(records_of(plane, {STREAMS[0].table.name: first[STREAMS[0].table.name]}))
    assert untouched == {(in_scope,)}  # the other half's raw rows wait for their own run
    md = metadata_by_asset(result)
    assert md["documents"]["source_runs_in_scope"] == first
    assert md["chunk_vectors"]["chunks_embedded"] == len(state["chunks"])

    assert run_scoped(plane, second).success
    unscoped = build_data_plane(tmp_path / "unscoped")
    unscoped.materialize()
    assert downstream_state(plane) == downstream_state(unscoped)
    again = plane.definitions().resolve_job_def(data_pipeline_job.name).execute_in_process(instance=plane.instance)
    md = metadata_by_asset(again)
    assert (md["documents"]["records_processed"], md["chunks"]["documents_chunked"]) == (0, 0)
    assert md["chunk_vectors"]["chunks_embedded"] == 0  # nothing left for a run over everything


def test_a_scope_naming_an_unknown_table_fails_the_run_and_names_it(landed: DataPlane) -> None:
    job = landed.definitions().resolve_job_def(data_pipeline_job.name)
    config = {"resources": {"pipeline": {"config": {"source_runs": {"raw_nope": ["k"]}}}}}
    result = job.execute_in_process(instance=landed.instance, run_config=config, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "documents" and "raw_nope" in str(failure.step_failure_data.error)


@pytest.mark.slow
def test_work_left_by_unscoped_runs_is_done_by_the_run_of_its_own_source_runs(landed: DataPlane) -> None:
    plane = landed
    assert dg.materialize(plane.assets, selection=["documents"], resources=plane.resources, instance=plane.instance)
    first, _ = halves(plane)
    everything = rows(plane, "SELECT document_id, raw_record_id FROM documents")
    records = records_of(plane, first)
    mine = {d for d, record in everything if record in records}
    assert mine and len(mine) < len(everything)

    result = run_scoped(plane, first)  # every document is normalized: chunk and embed only the scope's

    assert result.success
    assert metadata_by_asset(result)["documents"]["records_processed"] == 0
    assert {d for (d,) in rows(plane, "SELECT DISTINCT document_id FROM chunks")} == mine
    assert rows(plane, "SELECT chunk_id FROM vector_ledger") == rows(plane, "SELECT chunk_id FROM chunks")

    assert dg.materialize(plane.assets, selection=["chunks"], resources=plane.resources, instance=plane.instance)
    others = rows(plane, "SELECT COUNT(*) FROM chunks WHERE chunk_id NOT IN (SELECT chunk_id FROM vector_ledger)")
    assert others != {(0,)}  # every document is chunked now; the other half's chunks wait for embedding

    again = metadata_by_asset(run_scoped(plane, first))["chunk_vectors"]

    assert again["chunks_embedded"] == 0  # the other half's chunks are not this scope's
    assert {(again["pending_embedding"],)} == others  # the backlog sensors read the whole backlog
