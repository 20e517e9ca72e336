"""The stream catalogue: its derived names never change, it refuses clashes, and it feeds every per-stream value."""

from __future__ import annotations

import pytest

from resources.payloads import BUNDLED_SAMPLES_DIR, SamplePayloadSource
from resources.registry import apify_actors, phantombuster_agents, tavily_queries
from sophia_pipelines.assets.ingestion import build_ingestion_assets
from sophia_pipelines.domain.normalize import normalize_apify_website
from sophia_pipelines.domain.tables import RAW_COLUMN_NAMES
from sophia_pipelines.streams import (
    STREAMS,
    UPSTREAMS,
    WEBSITE_CONTENT,
    StreamSpec,
    check_streams,
    normalizers,
    sample_layout,
)


def test_source_ids_tables_and_sample_folders_are_the_published_ones() -> None:
    # Source ids are part of document ids and raw tables are asset keys: renaming one loses data.
    assert [(s.source, s.table.name, s.sample_folder) for s in STREAMS] == [
        ("apify/website-content-crawler", "raw_apify_website_content", "apify/website-content-crawler"),
        ("apify/linkedin-profile-scraper", "raw_apify_linkedin_profiles", "apify/linkedin-profile-scraper"),
        (
            "phantombuster/linkedin-search-export",
            "raw_phantombuster_linkedin_search",
            "phantombuster/linkedin-search-export",
        ),
        ("tavily/search", "raw_tavily_search", "tavily"),
    ]
    assert all(s.table.column_names == RAW_COLUMN_NAMES for s in STREAMS)
    assert set(normalizers(STREAMS)) == {s.source for s in STREAMS}


def test_the_bundled_samples_match_the_catalogue_layout() -> None:
    layout = sample_layout(STREAMS)
    assert layout == {
        "apify": ("website-content-crawler", "linkedin-profile-scraper"),
        "phantombuster": ("linkedin-search-export",),
        "tavily": ("search",),
    }
    for stream in STREAMS:
        assert (BUNDLED_SAMPLES_DIR / stream.sample_folder).is_dir(), stream.sample_folder
    assert SamplePayloadSource(system="apify", samples_dir=str(BUNDLED_SAMPLES_DIR)).layout_warnings(layout) == []


def test_live_sources_start_from_the_streams_upstreams(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SOPHIA_APIFY_ACTORS", "SOPHIA_PHANTOMBUSTER_AGENTS", "SOPHIA_TAVILY_QUERIES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PHANTOMBUSTER_LINKEDIN_SEARCH_AGENT_ID", "4242")
    assert apify_actors(UPSTREAMS) == {
        "website-content-crawler": "apify~website-content-crawler",
        "linkedin-profile-scraper": "dev_fusion~Linkedin-Profile-Scraper",
    }
    assert phantombuster_agents(UPSTREAMS) == {"linkedin-search-export": "4242"}
    assert tavily_queries(UPSTREAMS) == [
        "GPU cloud pricing for LLM inference",
        "vector database benchmarks for semantic search",
        "data engineering best practices for AI pipelines",
    ]
    monkeypatch.setenv("SOPHIA_APIFY_ACTORS", '{"website-content-crawler": "me~crawler"}')
    assert apify_actors(UPSTREAMS) == {"website-content-crawler": "me~crawler"}
    assert apify_actors({}) == {"website-content-crawler": "me~crawler"}


def test_streams_that_clash_or_have_unsafe_names_are_refused() -> None:
    renamed_table = StreamSpec("apify", "another-crawler", "website_content", normalize_apify_website, "a~b", "d")
    with pytest.raises(ValueError, match="raw table: raw_apify_website_content"):
        check_streams((*STREAMS, renamed_table))
    with pytest.raises(ValueError, match="source: apify/website-content-crawler"):
        build_ingestion_assets("duckdb", (*STREAMS, WEBSITE_CONTENT))
    with pytest.raises(ValueError, match=r"StreamSpec.name .x; DROP"):
        StreamSpec("apify", "x", "x; DROP TABLE documents", normalize_apify_website, "a~b", "d")
    with pytest.raises(ValueError, match=r"StreamSpec.stream .Website/Crawler"):
        StreamSpec("apify", "Website/Crawler", "x", normalize_apify_website, "a~b", "d")


def test_raw_assets_carry_their_table_name_and_column_schema() -> None:
    for stream, asset in zip(STREAMS, build_ingestion_assets("duckdb"), strict=True):
        spec = asset.specs_by_key[stream.asset_key]
        assert spec.metadata["dagster/table_name"] == stream.table.name
        assert [c.name for c in spec.metadata["dagster/column_schema"].schema.columns] == RAW_COLUMN_NAMES
        assert spec.description == stream.description
