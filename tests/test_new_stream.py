"""Adding a stream is one declaration: a new Apify actor, declared here with its normalizer and two sample runs,
lands, normalizes, chunks, embeds and is found by search, with no other code edited (`docs/architecture.md`,
"Adding a stream"). The module-level catalogue is left alone: the data plane is built from `STREAMS + (fixture,)`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from resources.payloads import SamplePayloadSource
from resources.profile import profile
from resources.registry import build_resources
from sophia_pipelines.domain.documents import NormalizeResult, RawRecord, make_document_id
from sophia_pipelines.domain.normalize import normalize_record
from sophia_pipelines.domain.normalize.common import (
    accepted,
    build_document,
    canonical_url,
    coerce_text,
    first_str,
    not_an_object_reason,
    parse_datetime,
    rejected,
)
from sophia_pipelines.search import search
from sophia_pipelines.streams import NORMALIZERS, STREAMS, StreamSpec, sample_layout, upstream_config
from tests.conftest import DataPlane, build_data_plane, metadata_by_asset

pytestmark = pytest.mark.slow


def normalize_google_news(record: RawRecord) -> NormalizeResult:
    """A Google News Scraper dataset item (one article: title, link, publisher, snippet) -> Document."""
    item = record.payload
    if not isinstance(item, dict):
        return rejected(record, not_an_object_reason(item))
    url = canonical_url(item.get("link"))
    if url is None:
        return rejected(record, "no article link")
    title = first_str(item.get("title"))
    text = "\n\n".join(part for part in (title, coerce_text(item.get("description"))) if part)
    return accepted(
        build_document(
            record,
            external_key=url,
            url=url,
            title=title,
            text=text,
            author=first_str(item.get("source")),
            published_at=parse_datetime(item.get("publishedAt")),
        )
    )


GOOGLE_NEWS = StreamSpec(
    system="apify",
    stream="google-news-scraper",
    name="google_news",
    normalizer=normalize_google_news,
    default_upstream="haketa~google-news-scraper",
    description="Apify Google News Scraper dataset items (one row per article), untouched.",
)


def article(slug: str, title: str, description: str, publisher: str, published: str) -> dict[str, Any]:
    """One dataset item as the actor returns it (RSS search result: no article body, a snippet)."""
    return {
        "type": "search",
        "query": "gpu cloud",
        "title": title,
        "source": publisher,
        "sourceUrl": f"https://{publisher.lower().replace(' ', '')}.example.com",
        "publishedAt": published,
        "pubDate": "Tue, 03 Mar 2026 08:15:00 GMT",
        "link": f"https://{publisher.lower().replace(' ', '')}.example.com/news/{slug}",
        "description": description,
        "language": "en",
        "country": "US",
        "scrapedAt": "2026-03-03T09:00:12.481Z",
    }


RUNS: dict[str, list[Any]] = {
    "gNwsRun0001abcdef": [
        article(
            "lambda-h200-price-cut",
            "Lambda cuts hourly H200 prices for long reservations",
            "Lambda lowered the hourly price of H200 instances reserved for six months or more, "
            "undercutting hyperscalers for sustained LLM inference workloads.",
            "Cloud Wire",
            "2026-03-03T08:15:00.000Z",
        ),
        article(
            "pinecone-serverless-regions",
            "Pinecone adds serverless regions in Europe",
            "Vector search customers can keep embeddings in Frankfurt and Dublin under the same serverless pricing.",
            "Data Daily",
            "2026-03-02T16:40:00.000Z",
        ),
        {"type": "search", "query": "gpu cloud", "title": "A row without a link", "link": None},
    ],
    "gNwsRun0002ghijkl": [
        article(
            "snowflake-cortex-embeddings",
            "Snowflake ships multilingual embedding functions in Cortex",
            "Warehouse teams can embed text in SQL and search it without moving data out of Snowflake.",
            "Warehouse Weekly",
            "2026-03-04T11:05:00.000Z",
        ),
    ],
}
VALID = [item for items in RUNS.values() for item in items if item.get("link")]


def write_runs(samples: Path) -> None:
    folder = samples / GOOGLE_NEWS.sample_folder
    folder.mkdir(parents=True)
    for run_id, items in RUNS.items():
        (folder / f"{run_id}.json").write_text(json.dumps(items, indent=2), encoding="utf-8")


@pytest.fixture(scope="module")
def news_plane(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataPlane, dict[str, dict], list[str]]:
    """The data plane of the catalogue plus the fixture stream, materialized once; its warning log lines."""
    plane = build_data_plane(tmp_path_factory.mktemp("news"), streams=(*STREAMS, GOOGLE_NEWS))
    write_runs(plane.samples)
    instance = dg.DagsterInstance.ephemeral()
    result = plane.materialize(instance)
    assert result.success
    warnings = [
        e.user_message
        for run_id in result.run_ids
        for e in instance.all_logs(run_id)
        if not e.is_dagster_event and e.level == logging.WARNING
    ]
    return plane, metadata_by_asset(result), warnings


def test_the_fixture_stream_is_not_in_the_catalogue() -> None:
    assert GOOGLE_NEWS not in STREAMS and GOOGLE_NEWS.source not in NORMALIZERS
    record = RawRecord("r", GOOGLE_NEWS.source, "run", 0, VALID[0], parse_datetime("2026-03-03T09:00:00Z"))
    assert [r.reason for r in normalize_record(record).rejections] == ["unknown source 'apify/google-news-scraper'"]


def test_everything_per_stream_is_derived_from_the_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOPHIA_APIFY_ACTORS", raising=False)
    assert GOOGLE_NEWS.source == "apify/google-news-scraper"
    assert GOOGLE_NEWS.table.name == "raw_apify_google_news"
    assert GOOGLE_NEWS.asset_key == dg.AssetKey("raw_apify_google_news")
    assert GOOGLE_NEWS.sample_folder == "apify/google-news-scraper"
    streams = (*STREAMS, GOOGLE_NEWS)
    assert sample_layout(streams)["apify"] == (
        "website-content-crawler",
        "linkedin-profile-scraper",
        GOOGLE_NEWS.stream,
    )
    live = build_resources(profile("production"), upstream_config(streams))
    assert live["apify"].actors[GOOGLE_NEWS.stream] == "haketa~google-news-scraper"


def test_new_stream_lands_normalizes_chunks_and_embeds(news_plane) -> None:
    plane, md, warnings = news_plane
    raw = md[GOOGLE_NEWS.table.name]
    assert raw["batches"] == 2 and raw["rows_inserted"] == 4 and raw["dagster/row_count"] == 4
    assert plane.rows(f"SELECT DISTINCT source FROM {GOOGLE_NEWS.table.name}") == [(GOOGLE_NEWS.source,)]

    docs = dict(plane.rows(f"SELECT document_id, title FROM documents WHERE source = '{GOOGLE_NEWS.source}'"))
    expected = {make_document_id(GOOGLE_NEWS.source, canonical_url(item["link"])): item["title"] for item in VALID}
    assert docs == expected
    assert md["documents"]["documents_by_source"][GOOGLE_NEWS.source] == len(VALID)
    rejects = plane.rows(f"SELECT reason FROM document_rejects WHERE source = '{GOOGLE_NEWS.source}'")
    assert rejects == [("no article link",)]

    chunks = plane.rows(f"SELECT chunk_id, document_id FROM chunks WHERE source = '{GOOGLE_NEWS.source}'")
    assert {document_id for _, document_id in chunks} == set(docs)
    ledger = {r[0] for r in plane.rows("SELECT chunk_id FROM vector_ledger")}
    assert {chunk_id for chunk_id, _ in chunks} <= ledger
    assert md["chunk_vectors"]["pending_embedding"] == 0

    # The samples layout comes from the streams the plane was built with: the new folder is expected, not stray.
    assert not [w for w in warnings if w.startswith("samples layout")], warnings
    reader = SamplePayloadSource(system="apify", samples_dir=str(plane.samples))
    assert any(GOOGLE_NEWS.sample_folder in w for w in reader.layout_warnings(sample_layout(STREAMS)))


def test_search_finds_an_article_of_the_new_stream(news_plane) -> None:
    plane, *_ = news_plane
    title, text, document_id = plane.rows(
        f"SELECT title, text, document_id FROM documents WHERE source = '{GOOGLE_NEWS.source}' "
        "AND title LIKE 'Lambda cuts%'",
    )[0]
    matches = search(text, plane.resources["embedder"], plane.resources["vector_store"], k=3)
    assert matches and matches[0].metadata["document_id"] == document_id, (title, matches[:1])
    assert matches[0].metadata["source"] == GOOGLE_NEWS.source


def test_the_new_raw_asset_describes_its_table(news_plane) -> None:
    plane, *_ = news_plane
    graph = dg.Definitions(assets=plane.assets, resources=plane.resources).resolve_asset_graph()
    node = graph.get(GOOGLE_NEWS.asset_key)
    assert node.group_name == "ingestion" and node.description == GOOGLE_NEWS.description
    assert node.metadata["dagster/table_name"] == GOOGLE_NEWS.table.name
    schema = node.metadata["dagster/column_schema"].schema
    assert [c.name for c in schema.columns] == GOOGLE_NEWS.table.column_names
    assert GOOGLE_NEWS.asset_key in graph.get(dg.AssetKey("documents")).parent_keys
