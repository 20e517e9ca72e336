"""Volatile response fields stay out of payload fingerprints: a re-fetched, unchanged response changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sophia_pipelines.domain.volatile import VOLATILE_KEYS, payload_json, stable_payload, stable_payload_hash
from sophia_pipelines.streams import APIFY_WEBSITE_CONTENT, TAVILY_SEARCH
from tests.conftest import build_data_plane, metadata_by_asset

RESPONSE = {
    "query": "gpu cloud pricing",
    "answer": None,
    "results": [{"title": "T", "url": "https://example.org/a", "content": "GPU prices.", "score": 0.91}],
    "response_time": 1.67,
    "request_id": "req-1",
    "usage": {"credits": 1},
}


def refetched(response: dict, n: int) -> dict:
    return {**response, "request_id": f"req-{n}", "response_time": str(0.5 + n), "usage": {"credits": n}}


def test_tavily_request_metadata_does_not_change_the_hash() -> None:
    first = stable_payload_hash(TAVILY_SEARCH, RESPONSE, payload_json(RESPONSE))
    assert stable_payload_hash(TAVILY_SEARCH, refetched(RESPONSE, 2)) == first
    changed = {**RESPONSE, "results": [{**RESPONSE["results"][0], "content": "New GPU prices."}]}
    assert stable_payload_hash(TAVILY_SEARCH, changed) != first
    reordered_score = {**RESPONSE, "results": [{**RESPONSE["results"][0], "score": 0.5}]}
    assert stable_payload_hash(TAVILY_SEARCH, reordered_score) != first  # what the search returned is content


def test_other_sources_hash_the_payload_as_stored() -> None:
    item = {"url": "https://example.org", "request_id": "kept: not volatile for this source"}
    assert stable_payload(APIFY_WEBSITE_CONTENT, item) is item
    assert stable_payload_hash(APIFY_WEBSITE_CONTENT, item, payload_json(item)) == stable_payload_hash(
        APIFY_WEBSITE_CONTENT, dict(item)
    )
    assert stable_payload(TAVILY_SEARCH, ["not", "a", "dict"]) == ["not", "a", "dict"]
    assert set(VOLATILE_KEYS) == {TAVILY_SEARCH}


def test_refetched_tavily_responses_renormalize_nothing(tmp_path: Path) -> None:
    plane = build_data_plane(tmp_path)
    first = metadata_by_asset(plane.materialize())
    files = sorted((plane.samples / "tavily").glob("*.json"))
    for n, path in enumerate(files):  # the same searches again: new request ids, timings and credits
        path.write_text(json.dumps(refetched(json.loads(path.read_text(encoding="utf-8")), n + 7)), encoding="utf-8")

    second = metadata_by_asset(plane.materialize())

    assert first["raw_tavily_search"]["rows_inserted"] == len(files) > 0
    assert second["raw_tavily_search"]["batches"] == len(files)  # fetched again ...
    assert second["raw_tavily_search"]["rows_updated"] == 0  # ... but nothing changed
    assert second["documents"]["records_processed"] == 0
    assert second["documents"]["rows_updated"] == second["documents"]["rows_inserted"] == 0
    assert second["chunk_vectors"]["chunks_embedded"] == 0
