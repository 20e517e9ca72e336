"""The whole data graph on local defaults: bundled samples -> DuckDB -> chunks -> wordllama -> DuckDB vectors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sophia_pipelines.domain.chunking import chunk_document
from sophia_pipelines.domain.normalize.common import canonical_url
from sophia_pipelines.search import search
from sophia_pipelines.streams import APIFY_WEBSITE_CONTENT
from tests.conftest import DataPlane, build_data_plane, metadata_by_asset

pytestmark = pytest.mark.slow


def pick_unique_website_item(samples: Path) -> tuple[Path, int, dict]:
    """A valid multi-chunk crawled page that appears in exactly one run (so an edit must win)."""
    files = sorted((samples / "apify" / "website-content-crawler").glob("*.json"))
    items = [(f, i, it) for f in files for i, it in enumerate(json.loads(f.read_text())) if isinstance(it, dict)]
    urls = Counter(canonical_url(it.get("url") or "") for _, _, it in items)
    for f, i, it in items:
        text = it.get("text")
        if (
            isinstance(text, str)
            and len(text) > 2500
            and text.count("\n\n") >= 4
            and urls[canonical_url(it["url"])] == 1
        ):
            return f, i, it
    raise AssertionError("no suitable sample page")


@pytest.fixture(scope="module")
def first_and_second_run(tmp_path_factory) -> tuple[DataPlane, dict, dict]:
    """Materialize twice on a private copy of the samples; shared by the idempotency tests."""
    plane = build_data_plane(tmp_path_factory.mktemp("plane"))
    first = metadata_by_asset(plane.materialize())
    second = metadata_by_asset(plane.materialize())
    return plane, first, second


def test_first_run_lands_everything(first_and_second_run) -> None:
    plane, first, _ = first_and_second_run
    assert first["raw_apify_website_content"]["rows_inserted"] > 0
    assert first["raw_tavily_search"]["rows_inserted"] >= 6
    docs = first["documents"]
    assert docs["dagster/row_count"] >= 250
    assert docs["rows_rejected"] > 0, "the bundled samples contain malformed records that must be quarantined"
    assert first["chunks"]["dagster/row_count"] >= docs["dagster/row_count"]
    vectors = first["chunk_vectors"]
    assert vectors["chunks_embedded"] == first["chunks"]["dagster/row_count"]
    assert vectors["vectors_total"] == vectors["chunks_embedded"]
    assert vectors["pending_embedding"] == 0
    sources = {r[0] for r in plane.rows("SELECT DISTINCT source FROM documents")}
    assert len(sources) == 4


def test_quarantine_keeps_payload_and_reason(first_and_second_run) -> None:
    plane, *_ = first_and_second_run
    rows = plane.rows("SELECT reason, CAST(payload AS VARCHAR) FROM document_rejects")
    assert rows and all(reason and payload is not None for reason, payload in rows)
    reasons = " ".join(r for r, _ in rows).lower()
    assert "empty" in reasons


def test_second_run_adds_nothing(first_and_second_run) -> None:
    plane, first, second = first_and_second_run
    for name in (
        "raw_apify_website_content",
        "raw_apify_linkedin_profiles",
        "raw_phantombuster_linkedin_search",
    ):
        assert second[name]["rows_inserted"] == 0 and second[name]["rows_updated"] == 0
        assert second[name]["dagster/row_count"] == first[name]["dagster/row_count"]
    assert second["documents"]["records_processed"] == 0
    assert second["documents"]["dagster/row_count"] == first["documents"]["dagster/row_count"]
    assert second["chunks"]["documents_chunked"] == 0
    assert second["chunks"]["chunks_written"] == 0
    assert second["chunk_vectors"]["chunks_embedded"] == 0
    assert second["chunk_vectors"]["vectors_deleted"] == 0
    assert second["chunk_vectors"]["vectors_total"] == first["chunk_vectors"]["vectors_total"]
    dupes = plane.rows("SELECT COUNT(*) - COUNT(DISTINCT document_id) FROM documents")[0][0]
    assert dupes == 0


def test_search_finds_the_document_it_was_written_from(first_and_second_run) -> None:
    plane, *_ = first_and_second_run
    title, text, document_id = plane.rows(
        "SELECT title, text, document_id FROM documents WHERE source = 'apify/website-content-crawler' "
        "AND length(text) BETWEEN 800 AND 4000 ORDER BY document_id LIMIT 1",
    )[0]
    query = text[:300]
    matches = search(query, plane.resources["embedder"], plane.resources["vector_store"], k=3)
    assert matches and matches[0].metadata["document_id"] == document_id, (title, matches[:1])


def test_changed_document_reembeds_only_its_chunks(tmp_path: Path) -> None:
    plane = build_data_plane(tmp_path)
    plane.materialize()
    path, index, item = pick_unique_website_item(plane.samples)
    doc_id = plane.rows(
        f"SELECT document_id FROM documents WHERE source = '{APIFY_WEBSITE_CONTENT}' "
        f"AND raw_record_id IN (SELECT record_id FROM raw_apify_website_content WHERE batch_id = '{path.stem}' "
        f"AND item_index = {index})",
    )[0][0]
    old = dict(plane.rows(f"SELECT chunk_id, content_hash FROM chunks WHERE document_id = '{doc_id}'"))
    assert len(old) >= 3

    items = json.loads(path.read_text())
    paragraphs = item["text"].split("\n\n")
    new_text = "\n\n".join([*paragraphs[: max(1, len(paragraphs) // 2)], "Edited: Sophia AI moved its pool to H100s."])
    items[index]["text"] = new_text
    path.write_text(json.dumps(items, ensure_ascii=False))

    after = metadata_by_asset(plane.materialize())
    new = dict(plane.rows(f"SELECT chunk_id, content_hash FROM chunks WHERE document_id = '{doc_id}'"))
    max_chars = plane.resources["pipeline"].chunk_max_chars
    overlap = plane.resources["pipeline"].chunk_overlap_chars
    stored_text = plane.rows(f"SELECT text FROM documents WHERE document_id = '{doc_id}'")[0][0]
    assert new == {c.chunk_id: c.content_hash for c in chunk_document(doc_id, stored_text, max_chars, overlap)}

    changed = {cid for cid, h in new.items() if old.get(cid) != h}
    removed = set(old) - set(new)
    assert after["raw_apify_website_content"]["rows_updated"] == 1
    assert after["documents"]["rows_updated"] == 1 and after["documents"]["rows_inserted"] == 0
    assert after["chunks"]["documents_chunked"] == 1
    assert after["chunk_vectors"]["chunks_embedded"] == len(changed) > 0
    assert after["chunk_vectors"]["vectors_deleted"] == len(removed) > 0
    store = plane.resources["vector_store"]
    last_id = max(new)
    last_text = plane.rows(f"SELECT text FROM chunks WHERE chunk_id = '{last_id}'")[0][0]
    assert "Edited: Sophia AI moved its pool to H100s." in last_text
    top = store.query(plane.resources["embedder"].embed([last_text])[0], top_k=1)
    assert top[0].id == last_id and top[0].metadata["text"] == last_text[:1000]
    ledger = dict(plane.rows(f"SELECT chunk_id, content_hash FROM vector_ledger WHERE chunk_id LIKE '{doc_id}%'"))
    assert ledger == new
