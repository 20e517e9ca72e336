"""The sample factory and the bundled samples it produced: counts, mess, determinism, normalizing them all."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from sophia_pipelines.domain.documents import NormalizeResult, RawRecord
from sophia_pipelines.domain.normalize import normalize_record, normalize_records
from sophia_pipelines.domain.normalize.common import canonical_linkedin_url, canonical_url
from sophia_pipelines.streams import (
    APIFY_LINKEDIN_PROFILES,
    APIFY_WEBSITE_CONTENT,
    NORMALIZERS,
    PHANTOMBUSTER_LINKEDIN_SEARCH,
    TAVILY_SEARCH,
)
from tools.sample_factory import (
    BASE_TIME,
    STREAM_DIRS,
    STREAM_SHARES,
    generate_samples,
    load_sample_records,
    main,
    stream_counts,
    write_samples,
)

BUNDLED = Path(__file__).resolve().parent.parent / "sophia_pipelines" / "samples"
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]")

# Pinned numbers for the bundled samples: (records, documents, rejections) per source.
EXPECTED = {
    APIFY_WEBSITE_CONTENT: (144, 138, 6),
    APIFY_LINKEDIN_PROFILES: (83, 80, 3),
    PHANTOMBUSTER_LINKEDIN_SEARCH: (104, 101, 3),
    TAVILY_SEARCH: (9, 78, 4),
}


def _batches(source: str, root: Path = BUNDLED) -> dict[str, Any]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / STREAM_DIRS[source]).glob("*.json"))
    }


def _items(source: str) -> list[Any]:
    return [item for items in _batches(source).values() for item in items]


@pytest.fixture(scope="module")
def records() -> list[RawRecord]:
    return load_sample_records(BUNDLED)


@pytest.fixture(scope="module")
def normalized(records: list[RawRecord]) -> NormalizeResult:
    return normalize_records(records)


# --- layout and counts ----------------------------------------------------------------------------------


def test_bundled_layout_batches_and_ids() -> None:
    wcc, linkedin = _batches(APIFY_WEBSITE_CONTENT), _batches(APIFY_LINKEDIN_PROFILES)
    phantom, tavily = _batches(PHANTOMBUSTER_LINKEDIN_SEARCH), _batches(TAVILY_SEARCH)
    assert len(wcc) >= 2 and len(linkedin) >= 2 and len(phantom) >= 2
    assert all(re.fullmatch(r"[A-Za-z0-9]{17}", run_id) for run_id in [*wcc, *linkedin])
    assert all(re.fullmatch(r"[1-9][0-9]{15}", container) for container in phantom)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) for slug in tavily)
    assert "ai-infrastructure-gpu-pricing" in tavily
    assert all(isinstance(items, list) for items in [*wcc.values(), *linkedin.values(), *phantom.values()])
    full = [r for r in tavily.values() if isinstance(r, dict) and r.get("results")]
    assert len(full) >= 6
    assert all({"query", "results", "response_time", "request_id", "answer", "images"} <= set(r) for r in full)


def test_bundled_counts_and_size(records: list[RawRecord]) -> None:
    assert len(records) >= 300
    assert Counter(r.source for r in records) == {source: n for source, (n, _, _) in EXPECTED.items()}
    total_bytes = sum(p.stat().st_size for p in BUNDLED.rglob("*.json"))
    assert total_bytes < 5_000_000


def test_normalizing_all_bundled_samples(normalized: NormalizeResult) -> None:
    docs, rejections = normalized.documents, normalized.rejections
    assert len(docs) >= 250 and rejections
    assert Counter(d.source for d in docs) == {source: n for source, (_, n, _) in EXPECTED.items()}
    assert Counter(r.source for r in rejections) == {source: n for source, (_, _, n) in EXPECTED.items()}
    assert not [r for r in rejections if r.reason.startswith(("normalizer error", "unknown source"))]
    assert {r.reason for r in rejections} >= {
        "missing url",
        "empty text",
        "empty text after HTML cleanup",
        "item is a list, expected an object",
        "item is a string, expected an object",
        "item is null, expected an object",
        "missing linkedinUrl and publicIdentifier",
        "empty profile: no headline, about, job, experience or skills",
    }
    assert all(d.text.strip() and d.fetched_at.tzinfo is not None for d in docs)
    assert all(d.published_at is None or d.published_at.utcoffset().total_seconds() == 0 for d in docs)


def test_anchor_documents_for_search_tests(normalized: NormalizeResult) -> None:
    by_title = {d.title: d for d in normalized.documents}
    cooling = by_title["Retrofitting liquid cooling for dense GPU racks | Sophia AI Blog"]
    assert cooling.url == "https://www.sophia-ai.com/blog/liquid-cooling-retrofit-for-dense-gpu-racks"
    assert "district heating" in cooling.text
    speech = by_title["Valentina Okonjo"]
    assert speech.url == "https://www.linkedin.com/in/valentina-okonjo"
    assert "speaker diarization" in speech.text
    carbon = by_title["Carbon-aware scheduling of GPU training jobs"]
    assert carbon.source == TAVILY_SEARCH and "carbon intensity" in carbon.text


# --- each kind of mess is present ---------------------------------------------------------------------------


def _runs_by_key(source: str, key) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    seen: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for run_id, items in _batches(source).items():
        for item in items:
            if isinstance(item, dict) and (k := key(item)):
                seen[k].append((run_id, item))
    return {k: v for k, v in seen.items() if len({run for run, _ in v}) > 1}


def test_duplicates_across_runs_identical_and_changed(normalized: NormalizeResult) -> None:
    checks = (
        (APIFY_WEBSITE_CONTENT, lambda i: canonical_url(i.get("url")), "text"),
        (APIFY_LINKEDIN_PROFILES, lambda i: canonical_linkedin_url(i.get("linkedinUrl")), "headline"),
        (PHANTOMBUSTER_LINKEDIN_SEARCH, lambda i: canonical_linkedin_url(i.get("profileUrl")), "job"),
    )
    for source, key, field in checks:
        dupes = _runs_by_key(source, key)
        same = [k for k, v in dupes.items() if v[0][1][field] == v[1][1][field]]
        changed = [k for k, v in dupes.items() if v[0][1][field] != v[1][1][field]]
        assert same and changed, source
    hashes: dict[str, set[str]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for doc in normalized.documents:
        hashes[doc.document_id].add(doc.content_hash)
        counts[doc.document_id] += 1
    repeated = [doc_id for doc_id, n in counts.items() if n > 1]
    assert any(len(hashes[d]) == 1 for d in repeated) and any(len(hashes[d]) == 2 for d in repeated)
    tavily_ids = Counter(d.document_id for d in normalized.documents if d.source == TAVILY_SEARCH)
    assert max(tavily_ids.values()) == 2  # the same URL found by two searches


def test_messy_values_are_present() -> None:
    wcc, linkedin, phantom = (
        _items(APIFY_WEBSITE_CONTENT),
        _items(APIFY_LINKEDIN_PROFILES),
        _items(PHANTOMBUSTER_LINKEDIN_SEARCH),
    )
    tavily_results = [r for resp in _batches(TAVILY_SEARCH).values() for r in resp.get("results", [])]
    wcc_pages = [i for i in wcc if isinstance(i, dict)]
    texts = [i.get("text") or "" for i in wcc_pages] + [
        r.get("raw_content") or "" for r in tavily_results if isinstance(r, dict)
    ]
    # not objects, wrong types
    assert {type(i).__name__ for i in wcc + linkedin + phantom} >= {"dict", "list", "str", "NoneType"}
    assert any(isinstance(i.get("crawl"), str) for i in wcc_pages)
    assert any(isinstance((i.get("metadata") or {}).get("title"), int) for i in wcc_pages)
    assert any(isinstance(i, dict) and i.get("connections") == "500+" for i in linkedin)
    assert any(isinstance(i, dict) and isinstance(i.get("sharedConnections"), int) for i in phantom)
    assert any(isinstance(r, str) for r in tavily_results)
    # missing / null fields and empty text
    assert any((i.get("metadata") or {}).get("title") is None for i in wcc_pages)
    assert any(isinstance(i, dict) and "about" in i and i["about"] is None for i in linkedin)
    assert any(i.get("text") == "" for i in wcc_pages)
    assert any(isinstance(r, dict) and r.get("url") is None for r in tavily_results)
    # HTML, non-ASCII, very long documents
    assert any("<p>" in t for t in texts) and any("&amp;" in t for t in texts)
    assert any(isinstance(i, dict) and "<br>" in (i.get("about") or "") for i in linkedin)
    all_text = json.dumps([wcc, linkedin, phantom], ensure_ascii=False)
    assert "é" in all_text and CJK.search(all_text) and EMOJI.search(all_text)
    assert sum(len(t) > 50_000 for t in texts) >= 2


# --- factory behaviour ------------------------------------------------------------------------------------


def test_bundled_samples_are_exactly_the_factory_output(tmp_path: Path) -> None:
    counts = write_samples(tmp_path)
    produced = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    bundled = sorted(p.relative_to(BUNDLED).as_posix() for p in BUNDLED.rglob("*.json"))
    assert produced == bundled
    assert all((tmp_path / rel).read_bytes() == (BUNDLED / rel).read_bytes() for rel in produced)
    assert counts == {
        APIFY_WEBSITE_CONTENT: 144,
        APIFY_LINKEDIN_PROFILES: 83,
        PHANTOMBUSTER_LINKEDIN_SEARCH: 104,
        TAVILY_SEARCH: 81,
    }


def test_factory_is_deterministic_per_seed() -> None:
    first, second = generate_samples(300, seed=3), generate_samples(300, seed=3)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert json.dumps(generate_samples(300, seed=4), sort_keys=True) != json.dumps(first, sort_keys=True)


def test_clean_mode_produces_only_valid_unique_records(tmp_path: Path) -> None:
    counts = write_samples(tmp_path, n_documents=600, messy=False)
    assert counts == {
        APIFY_WEBSITE_CONTENT: 210,
        APIFY_LINKEDIN_PROFILES: 120,
        PHANTOMBUSTER_LINKEDIN_SEARCH: 150,
        TAVILY_SEARCH: 120,
    }
    result = normalize_records(load_sample_records(tmp_path))
    assert result.rejections == []
    assert len(result.documents) == 600
    assert len({d.document_id for d in result.documents}) == 600


def test_factory_scales_over_several_batches(tmp_path: Path) -> None:
    counts = write_samples(tmp_path, n_documents=3000)
    assert sum(counts.values()) >= 3000
    total = sum(counts.values())
    assert all(abs(counts[source] / total - share) < 0.02 for source, share in STREAM_SHARES.items())
    batches = {source: len(list((tmp_path / folder).glob("*.json"))) for source, folder in STREAM_DIRS.items()}
    assert batches == {
        APIFY_WEBSITE_CONTENT: 5,
        APIFY_LINKEDIN_PROFILES: 3,
        PHANTOMBUSTER_LINKEDIN_SEARCH: 3,
        TAVILY_SEARCH: 61,
    }
    result = normalize_records(load_sample_records(tmp_path))
    assert len(result.documents) > 2900 and 0 < len(result.rejections) < 100


def test_write_samples_replaces_stale_files_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "apify" / "website-content-crawler" / "OLDRUNxxxxxxxxxxx.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("[]")
    keep = tmp_path / "README.md"
    keep.write_text("not a sample")
    assert main(["--out", str(tmp_path), "--documents", "100", "--seed", "1"]) == 0
    assert not stale.exists() and keep.exists()
    assert f"{TAVILY_SEARCH}: " in capsys.readouterr().out
    assert stream_counts(generate_samples(100, seed=1)) == write_samples(tmp_path, 100, seed=1)


def test_load_sample_records_ids_and_times() -> None:
    records = load_sample_records(BUNDLED)
    assert len({r.record_id for r in records}) == len(records)
    assert {r.fetched_at for r in records} == {BASE_TIME}
    tavily = [r for r in records if r.source == TAVILY_SEARCH]
    assert all(r.item_index == 0 and isinstance(r.payload, dict) for r in tavily)


# --- dispatcher ------------------------------------------------------------------------------------------------


def test_dispatcher_rejects_unknown_sources_and_contains_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    record = RawRecord("r1", "apify/unknown-actor", "RUN", 0, {"url": "https://a.example.com"}, BASE_TIME)
    assert [r.reason for r in normalize_record(record).rejections] == ["unknown source 'apify/unknown-actor'"]

    def broken(_: RawRecord) -> NormalizeResult:
        raise KeyError("boom")

    monkeypatch.setitem(NORMALIZERS, TAVILY_SEARCH, broken)
    bad = RawRecord("r2", TAVILY_SEARCH, "q", 0, {"results": []}, BASE_TIME)
    result = normalize_records([bad, record])
    assert [r.reason for r in result.rejections] == [
        "normalizer error: KeyError: 'boom'",
        "unknown source 'apify/unknown-actor'",
    ]
