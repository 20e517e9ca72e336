"""Declarative automation of the data plane, evaluated in-process against a test instance (no daemon): a landed raw
partition makes documents, chunks and vectors (and their checks) requested on the next tick; an idle tick requests
nothing. Also the sensors' default status per profile, the drift checks' cron and the freshness policies."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from infra_assets.checks import DRIFT_CHECK_CRON, NO_DRIFT
from resources.profile import profile
from sophia_pipelines.automation import (
    DATA_PLANE_AUTOMATION,
    DOCUMENTS_FRESHNESS,
    INFRA_AUTOMATION,
    RAW_FRESHNESS,
    VECTORS_FRESHNESS,
)
from sophia_pipelines.streams import STREAMS
from sophia_platform.defs.automation.definitions import build_automation_sensors
from sophia_platform.loader import load_platform

DOWNSTREAM = {"documents", "chunks", "chunk_vectors", "chunk_lexical_index"}
CHECKS = {
    "documents_id_unique",
    "documents_text_non_empty",
    "documents_reject_rate",
    "chunks_cover_documents",
    "vectors_in_sync",
}


@pytest.fixture(scope="module")
def local_defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOPHIA_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        return load_platform("local")


def requested(result: dg.EvaluateAutomationConditionsResult) -> set[str]:
    """Asset keys and check names with a request on this tick."""
    names = set()
    for r in result.results:
        if not r.true_subset.is_empty:
            key = r.key
            names.add(key.name if isinstance(key, dg.AssetCheckKey) else key.to_user_string())
    return names


def test_a_landed_raw_partition_flows_to_the_vectors_and_an_idle_tick_requests_nothing(
    local_defs: dg.Definitions,
) -> None:
    stream = STREAMS[0]
    data_plane = dg.AssetSelection.groups("ingestion", "warehouse", "vectors")
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(local_defs, instance, asset_selection=data_plane)
        assert first.total_requested == 0  # a fresh instance runs nothing on its own

        instance.add_dynamic_partitions(stream.partitions_name, ["run-1"])
        instance.report_runless_asset_event(dg.AssetMaterialization(stream.asset_key, partition="run-1"))
        landed = dg.evaluate_automation_conditions(
            local_defs, instance, asset_selection=data_plane, cursor=first.cursor
        )
        # the raw asset itself is the sensors' business; its downstream and their checks follow on this tick
        assert requested(landed) == DOWNSTREAM | CHECKS

        idle = dg.evaluate_automation_conditions(local_defs, instance, asset_selection=data_plane, cursor=landed.cursor)
        assert idle.total_requested == 0


def test_a_documents_update_requests_what_is_below_it_and_its_checks(local_defs: dg.Definitions) -> None:
    data_plane = dg.AssetSelection.groups("ingestion", "warehouse", "vectors")
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(local_defs, instance, asset_selection=data_plane)
        instance.report_runless_asset_event(dg.AssetMaterialization("documents"))
        result = dg.evaluate_automation_conditions(
            local_defs, instance, asset_selection=data_plane, cursor=first.cursor
        )
        # documents was updated outside automation, so its own checks run again; nothing above it is requested
        assert requested(result) == (DOWNSTREAM - {"documents"}) | CHECKS


@pytest.mark.parametrize(
    ("env", "data_status", "infra_status"), [("local", "RUNNING", "STOPPED"), ("production", "RUNNING", "RUNNING")]
)
def test_sensor_default_status_comes_from_the_profile(env: str, data_status: str, infra_status: str) -> None:
    sensors = {s.name: s for s in build_automation_sensors(profile(env))}
    assert sensors[DATA_PLANE_AUTOMATION].default_status == dg.DefaultSensorStatus[data_status]
    assert sensors[INFRA_AUTOMATION].default_status == dg.DefaultSensorStatus[infra_status]
    assert sensors[DATA_PLANE_AUTOMATION].minimum_interval_seconds == profile(env).automation_interval_s


def test_the_drift_checks_run_on_a_cron_and_data_assets_carry_freshness(local_defs: dg.Definitions) -> None:
    graph = local_defs.resolve_asset_graph()
    drift = [k for k in graph.asset_check_keys if k.name == NO_DRIFT]
    assert drift
    for key in drift:
        condition = graph.get(key).automation_condition
        assert condition is not None and DRIFT_CHECK_CRON in condition.get_label()
    assert graph.get(dg.AssetKey("documents")).freshness_policy == DOCUMENTS_FRESHNESS
    assert graph.get(dg.AssetKey("chunk_vectors")).freshness_policy == VECTORS_FRESHNESS
    for stream in STREAMS:
        assert graph.get(stream.asset_key).freshness_policy == RAW_FRESHNESS
    assert VECTORS_FRESHNESS.fail_window > DOCUMENTS_FRESHNESS.fail_window  # vectors may lag the documents a little


def test_every_automated_key_is_covered_by_one_explicit_sensor(local_defs: dg.Definitions, tmp_path: Path) -> None:
    graph = local_defs.resolve_asset_graph()
    sensors = [s for s in local_defs.sensors or [] if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert {s.name for s in sensors} == {DATA_PLANE_AUTOMATION, INFRA_AUTOMATION}
    automated = {k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None}
    covered = [s.asset_selection.resolve(graph) for s in sensors]
    assert automated <= covered[0] | covered[1]
    assert not covered[0] & covered[1]
