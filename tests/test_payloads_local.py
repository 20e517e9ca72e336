"""SamplePayloadSource: the local-mode reader of API-shaped sample files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resources.payloads import SamplePayloadSource, SourceError


def write(root: Path, rel: str, data: object) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_reads_batches_in_file_order_with_fingerprints(tmp_path: Path) -> None:
    write(tmp_path, "apify/website-content-crawler/runB.json", [{"url": "b"}])
    write(tmp_path, "apify/website-content-crawler/runA.json", [{"url": "a1"}, {"url": "a2"}])
    source = SamplePayloadSource(system="apify", samples_dir=str(tmp_path))

    batches = list(source.fetch_batches("website-content-crawler"))

    assert [(b.batch_id, len(b.items)) for b in batches] == [("runA", 2), ("runB", 1)]
    assert all(b.fingerprint and b.fingerprint.startswith("sha256:") for b in batches)


def test_known_unchanged_files_are_skipped_and_edited_ones_are_not(tmp_path: Path) -> None:
    path = write(tmp_path, "phantombuster/linkedin-search-export/1.json", [{"profileUrl": "x"}])
    write(tmp_path, "phantombuster/linkedin-search-export/2.json", [{"profileUrl": "y"}])
    source = SamplePayloadSource(system="phantombuster", samples_dir=str(tmp_path))
    known = {b.batch_id: b.fingerprint for b in source.fetch_batches("linkedin-search-export")}

    assert list(source.fetch_batches("linkedin-search-export", known)) == []
    path.write_text(json.dumps([{"profileUrl": "x", "job": "edited"}]))
    (changed,) = source.fetch_batches("linkedin-search-export", known)
    assert changed.batch_id == "1" and changed.items[0]["job"] == "edited"


def test_tavily_file_is_one_response_per_batch(tmp_path: Path) -> None:
    write(tmp_path, "tavily/gpu-prices.json", {"query": "gpu prices", "results": []})
    (batch,) = SamplePayloadSource(system="tavily", samples_dir=str(tmp_path)).fetch_batches("search")
    assert batch.batch_id == "gpu-prices" and batch.items == [{"query": "gpu prices", "results": []}]


def test_bad_files_fail_naming_the_source(tmp_path: Path) -> None:
    source = SamplePayloadSource(system="apify", samples_dir=str(tmp_path))
    with pytest.raises(SourceError, match="apify/website-content-crawler: no samples folder"):
        list(source.fetch_batches("website-content-crawler"))
    (tmp_path / "apify/website-content-crawler").mkdir(parents=True)
    (tmp_path / "apify/website-content-crawler/r.json").write_text("{not json")
    with pytest.raises(SourceError, match=r"apify/website-content-crawler: cannot read sample file r\.json"):
        list(source.fetch_batches("website-content-crawler"))
    write(tmp_path, "apify/website-content-crawler/r.json", {"an": "object"})
    with pytest.raises(SourceError, match="must hold a JSON array"):
        list(source.fetch_batches("website-content-crawler"))
