"""The production wiring end to end, on local stand-ins that speak each service's protocol.

SOPHIA_ENV=production resources (apify-client, PhantomBuster over httpx, tavily-python, dagster-snowflake under
fakesnow, a TEI server, the Pinecone SDK) run the same assets as local mode over the bundled samples, served
by the stand-ins. The warehouse must end up with exactly the documents local mode produces, a second run must
change nothing, and no credential may appear anywhere in the run's events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import fakesnow
import pytest

from resources.registry import resolve
from sophia_pipelines.land import land_everything
from sophia_pipelines.search import hybrid_search, search
from sophia_pipelines.streams import DEFAULT_APIFY_ACTORS
from sophia_platform.loader import load_platform
from tests.conftest import build_data_plane, metadata_by_asset
from tests.standins.apify import ApifyStandin, sample_or_inline_batches
from tests.standins.phantombuster import PhantomBusterStandin
from tests.standins.phantombuster import sample_or_inline_batches as phantom_batches
from tests.standins.pinecone import PineconeStandin
from tests.standins.tavily import TavilyStandin, sample_or_inline_responses
from tests.standins.tei import TeiStandin

pytestmark = pytest.mark.slow

SECRETS = {
    "APIFY_TOKEN": "fake-apify-token-for-prod-e2e",
    "PHANTOMBUSTER_API_KEY": "pb-prod-e2e-key-0000000000",
    "TAVILY_API_KEY": "tvly-prod-e2e-key-000000000",
    "PINECONE_API_KEY": "pc-prod-e2e-key-0000000000",
    "SNOWFLAKE_PASSWORD": "snowflake-prod-e2e-password",
}
AGENT_ID = "5550001"
DIM = 64


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """Every service stood up locally, loaded with the bundled samples, and the env pointing at them."""
    responses = sample_or_inline_responses()
    with (
        ApifyStandin(SECRETS["APIFY_TOKEN"]) as apify,
        PhantomBusterStandin(SECRETS["PHANTOMBUSTER_API_KEY"]) as phantom,
        TavilyStandin(SECRETS["TAVILY_API_KEY"], responses) as tavily,
        TeiStandin(dimension=DIM) as tei,
        PineconeStandin(dimension=DIM, api_key=SECRETS["PINECONE_API_KEY"]) as pinecone,
        PineconeStandin(api_key=SECRETS["PINECONE_API_KEY"], vector_type="sparse", metric="dotproduct") as sparse,
        fakesnow.patch(),
    ):
        for stream, actor in DEFAULT_APIFY_ACTORS.items():
            runs = sample_or_inline_batches(stream)
            for n, (run_id, items) in enumerate(runs.items()):
                started = datetime.now(UTC) - timedelta(hours=len(runs) - n)
                apify.add_run(actor, items, run_id=run_id, started_at=started)
        for n, (container_id, rows) in enumerate(phantom_batches().items()):
            phantom.add_container(AGENT_ID, rows, ended_at=1_760_000_000_000 + n * 60_000, container_id=container_id)
        env = {
            **SECRETS,
            "APIFY_API_URL": apify.url,
            "PHANTOMBUSTER_API_URL": phantom.base_url,
            "PHANTOMBUSTER_S3_URL": phantom.s3_base_url,
            "PHANTOMBUSTER_LINKEDIN_SEARCH_AGENT_ID": AGENT_ID,
            "TAVILY_API_URL": tavily.url,
            "SOPHIA_TAVILY_QUERIES": json.dumps([r["query"] for r in responses]),
            "TEI_URL": tei.url,
            "PINECONE_INDEX_HOST": pinecone.host,
            "PINECONE_SPARSE_INDEX_HOST": sparse.host,
            "SOPHIA_EMBEDDING_DIM": str(DIM),
            "SNOWFLAKE_ACCOUNT": "sophia-e2e",
            "SNOWFLAKE_USER": "pipelines",
            "SNOWFLAKE_DATABASE": "SOPHIA",
            "SNOWFLAKE_SCHEMA": "PIPELINES",
            "SNOWFLAKE_WAREHOUSE": "TRANSFORM",
            "SNOWFLAKE_ROLE": "PIPELINES",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield {
            "pinecone": pinecone,
            "sparse": sparse,
            "apify": apify,
            "phantombuster": phantom,
            "tavily": tavily,
            "tei": tei,
        }


def local_document_ids(tmp_path: Path) -> set[str]:
    plane = build_data_plane(tmp_path / "local")
    plane.materialize()
    con = duckdb.connect(str(plane.root / "warehouse.duckdb"), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT document_id FROM documents").fetchall()}
    finally:
        con.close()


def test_production_wiring_matches_local_and_leaks_nothing(production_env: dict, tmp_path: Path) -> None:
    defs = load_platform("production")
    with dg.instance_for_test() as instance:
        first = land_everything(defs, instance)
        second = land_everything(defs, instance)
        events = [str(e) for run in (first, second) for run_id in run.run_ids for e in instance.all_logs(run_id)]
    assert first.success and second.success

    md1, md2 = metadata_by_asset(first), metadata_by_asset(second)
    assert md1["chunk_vectors"]["vectors_total"] == md1["chunks"]["dagster/row_count"] > 0
    assert md1["chunk_vectors"]["pending_embedding"] == 0
    # A second run: finished Apify runs and PhantomBuster containers are not downloaded again, nothing changes.
    assert md2["raw_apify_website_content"]["batches"] == 0 and md2["raw_phantombuster_linkedin_search"]["batches"] == 0
    assert md2["documents"]["rows_inserted"] == md2["documents"]["rows_updated"] == 0
    assert md2["chunks"]["chunks_written"] == 0 and md2["chunk_vectors"]["chunks_embedded"] == 0

    warehouse = resolve(defs.resources["warehouse"])
    with warehouse.session() as session:
        prod_ids = set(session.query("SELECT document_id FROM documents")["document_id"])
    assert prod_ids == local_document_ids(tmp_path), "production must normalize exactly what local mode does"

    pinecone: PineconeStandin = production_env["pinecone"]
    assert pinecone.calls("/vectors/upsert") and all(
        r.api_key == SECRETS["PINECONE_API_KEY"] for r in pinecone.requests
    )
    embedder, store = resolve(defs.resources["embedder"]), resolve(defs.resources["vector_store"])
    hits = search("direct-to-chip liquid cooling and district heating for 80 kW GPU racks", embedder, store, k=3)
    assert hits and hits[0].metadata["source"]

    # The lexical half: BM25 sparse vectors on the sparse index, hybrid search over both indexes.
    sparse: PineconeStandin = production_env["sparse"]
    upserted = [v for call in sparse.calls("/vectors/upsert") for v in call.body["vectors"]]
    assert upserted and all(v["sparseValues"]["indices"] and not v.get("values") for v in upserted)
    assert md1["chunk_lexical_index"]["chunks_indexed"] == md1["chunks"]["dagster/row_count"]
    assert md2["chunk_lexical_index"]["chunks_indexed"] == 0
    lexical = resolve(defs.resources["lexical_store"])
    response = hybrid_search("Retrofitting liquid cooling for dense GPU racks", embedder, store, lexical, k=3)
    assert response.results[0].title.startswith("Retrofitting liquid cooling for dense GPU racks")
    assert sparse.calls("/query")[-1].body["sparseVector"]["indices"]

    for secret in SECRETS.values():
        assert not any(secret in e for e in events), "a credential leaked into the run's events"
