"""The production wiring under injected faults: every HTTP service (Apify, PhantomBuster, Tavily, TEI, Pinecone)
answers a seeded share of its requests with 429/500 or drops the connection.

At 20% the pipeline completes in ONE run, with every record landed once and every chunk embedded once; at 50% it
converges within three runs and never duplicates anything. Counts are checked against a fault-free reference:
the items the stand-ins serve, and the documents and chunks local mode makes of the same samples (which the
production wiring matches: tests/test_production_e2e.py).
Waits are scaled down (`SOPHIA_RETRY_DELAY_SCALE`), so retries cost milliseconds here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from resources.http_retry import DELAY_SCALE_ENV
from resources.registry import resolve
from sophia_pipelines.assets import ingestion
from sophia_pipelines.assets.retry_policies import network_retry_policy
from sophia_pipelines.land import land_everything
from sophia_pipelines.streams import DEFAULT_APIFY_ACTORS
from sophia_pipelines.streams import STREAMS as RAW_STREAMS
from sophia_platform.loader import load_platform
from tests.conftest import build_data_plane, metadata_by_asset
from tests.standins.pinecone import PineconeStandin
from tests.test_production_e2e import SECRETS, production_env  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

SERVICES = ("apify", "phantombuster", "tavily", "tei", "pinecone")
RAW_TABLES = [s.table.name for s in RAW_STREAMS]


@dataclass(frozen=True)
class Snapshot:
    """What a run left behind, in plain values (the reference's raw rows are not compared: local mode also
    lands a sample whose query is too long to send)."""

    raw_rows: dict[str, int]  # table -> rows
    raw_duplicates: int  # record ids present more than once
    document_ids: set[str]
    chunks: Counter[str]  # chunk text -> how many chunks have it
    chunk_ids: set[str]
    ledger_ids: list[str]


def snapshot(session: Any) -> Snapshot:
    raw_rows, duplicates = {}, 0
    for table in RAW_TABLES:
        frame = session.query(f"SELECT record_id FROM {table}")
        raw_rows[table] = len(frame)
        duplicates += len(frame) - frame["record_id"].nunique()
    chunks = session.query("SELECT chunk_id, text FROM chunks")
    return Snapshot(
        raw_rows=raw_rows,
        raw_duplicates=duplicates,
        document_ids=set(session.query("SELECT document_id FROM documents")["document_id"]),
        chunks=Counter(chunks["text"]),
        chunk_ids=set(chunks["chunk_id"]),
        ledger_ids=session.query("SELECT chunk_id FROM vector_ledger")["chunk_id"].tolist(),
    )


class _DuckSession:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def query(self, sql: str) -> Any:
        return self.con.execute(sql).df()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The fault-free result: local mode over the same bundled samples."""
    plane = build_data_plane(tmp_path_factory.mktemp("reference"))
    plane.materialize()
    con = duckdb.connect(str(plane.root / "warehouse.duckdb"), read_only=True)
    try:
        return snapshot(_DuckSession(con))
    finally:
        con.close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every retry wait scaled to ~nothing: the clients', the steps', and the Pinecone SDK's own."""
    from pinecone._internal import http_client

    monkeypatch.setenv(DELAY_SCALE_ENV, "0.001")
    # The raw assets' step RetryPolicy is a module constant (5 s); give them the same policy, scaled like the rest.
    monkeypatch.setattr(ingestion, "INGESTION_RETRY", network_retry_policy())
    monkeypatch.setattr(http_client, "_retry_sleep", lambda _seconds: None)  # the SDK's own test seam
    http_client.get_budget_registry()._reset()  # its per-host retry budget is process-wide


def inject_faults(env: dict[str, Any], rate: float, seed: int) -> dict[str, Any]:
    """`rate` of every service's requests fail: 429 or 500, one fault in five a dropped connection."""
    return {
        name: env[name].fail_randomly(rate, (429, 500), seed=seed + n, drop_share=0.2)
        for n, name in enumerate(SERVICES)
    }


def pinecone_ids(pinecone: PineconeStandin) -> list[str]:
    return [vid for namespace in pinecone.namespaces.values() for vid in namespace]


def served_rows(env: dict[str, Any]) -> dict[str, int]:
    """Raw rows a fault-free run lands: the items each stand-in serves (production sends only sendable queries)."""
    apify, phantom, tavily = env["apify"], env["phantombuster"], env["tavily"]
    rows = {}
    for stream in RAW_STREAMS:
        if stream.system == "apify":
            runs = apify.runs[DEFAULT_APIFY_ACTORS[stream.stream]]
            rows[stream.table.name] = sum(len(apify.datasets[run["defaultDatasetId"]]) for run in runs)
        elif stream.system == "phantombuster":
            rows[stream.table.name] = sum(len(json.loads(r)) for r in phantom.result_objects.values() if r)
        else:
            rows[stream.table.name] = len(tavily.responses)
    return rows


def check_landed_once(run: Snapshot, reference: Snapshot, env: dict[str, Any]) -> None:
    assert run.raw_rows == served_rows(env) and run.raw_duplicates == 0
    assert run.document_ids == reference.document_ids
    assert run.chunk_ids == reference.chunk_ids and run.chunks == reference.chunks
    assert sorted(run.ledger_ids) == sorted(run.chunk_ids)  # one ledger row per chunk
    ids = pinecone_ids(env["pinecone"])
    assert len(ids) == len(set(ids)) == len(run.chunk_ids)  # no duplicate vector in any namespace
    assert set(ids) == set(run.ledger_ids)  # the ledger describes the store exactly


@pytest.mark.usefixtures("fast_retries")
def test_20_percent_faults_complete_in_one_run(production_env: dict, reference: Snapshot) -> None:  # noqa: F811
    faults = inject_faults(production_env, 0.2, seed=20)
    defs = load_platform("production")
    with dg.instance_for_test() as instance:
        run = land_everything(defs, instance)
        events = [str(e) for run_id in run.run_ids for e in instance.all_logs(run_id)]

    assert run.success
    assert all(f.injected > 0 for f in faults.values()), {name: f.injected for name, f in faults.items()}
    restarted = [e.step_key for e in run.all_events if e.event_type == dg.DagsterEventType.STEP_RESTARTED]
    assert restarted == []  # the clients absorbed every fault; no step had to run twice
    with resolve(defs.resources["warehouse"]).session() as session:
        landed = snapshot(session)
    check_landed_once(landed, reference, production_env)
    embedded = Counter(text for r in production_env["tei"].requests if r.status == 200 for text in r.inputs)
    assert embedded == landed.chunks  # every chunk embedded exactly once
    md = metadata_by_asset(run)
    assert md["chunk_vectors"]["vectors_total"] == len(landed.chunk_ids) == md["chunk_vectors"]["chunks_embedded"]
    assert md["chunk_vectors"]["pending_embedding"] == 0
    for secret in SECRETS.values():
        assert not any(secret in e for e in events), "a credential leaked into the run's events"


@pytest.mark.usefixtures("fast_retries")
def test_50_percent_faults_converge_within_three_runs_without_duplicates(
    production_env: dict,  # noqa: F811
    reference: Snapshot,
) -> None:
    faults = inject_faults(production_env, 0.5, seed=50)
    defs = load_platform("production")
    runs = []
    with dg.instance_for_test() as instance:
        for _ in range(3):
            runs.append(land_everything(defs, instance))
            if runs[-1].success:
                break

    assert runs[-1].success, f"did not converge in {len(runs)} runs"
    assert all(f.injected > 0 for f in faults.values())
    with resolve(defs.resources["warehouse"]).session() as session:
        landed = snapshot(session)
    check_landed_once(landed, reference, production_env)
    assert metadata_by_asset(runs[-1])["chunk_vectors"]["pending_embedding"] == 0


def test_fail_randomly_is_seeded_and_keeps_its_share(tmp_path: Path) -> None:
    from tests.standins.tavily import TavilyStandin

    def outcomes(seed: int) -> list[int]:
        with TavilyStandin("k") as standin:
            faults = standin.fail_randomly(0.3, (429, 503), seed=seed, drop_share=0.5)
            draws = [standin.take_injected(_request()) for _ in range(400)]
        assert faults.injected == sum(d is not None for d in draws)
        return [0 if d is None else (-1 if d.drop else d.status) for d in draws]

    first = outcomes(7)
    assert first == outcomes(7) and first != outcomes(8)
    counts = Counter(first)
    assert 0.2 < 1 - counts[0] / len(first) < 0.4
    assert counts[-1] and counts[429] and counts[503]


def _request() -> Any:
    from tests.standins.http import RecordedRequest

    return RecordedRequest("POST", "/search", {}, {}, b"{}")
