"""SamplePayloadSource: the local-mode reader of API-shaped sample files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resources.payloads import BadPayload, PayloadBatch, SamplePayloadSource, SourceError, strict_batches


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


def test_missing_stream_folder_is_no_data_not_an_error(tmp_path: Path) -> None:
    assert list(SamplePayloadSource(system="apify", samples_dir=str(tmp_path)).fetch_batches("x")) == []
    assert list(SamplePayloadSource(system="tavily", samples_dir=str(tmp_path / "absent")).fetch_batches("s")) == []


BAD_FILES: dict[str, tuple[bytes | None, str]] = {  # name -> (content, or None for a folder; reason fragment)
    "truncated.json": (b'[{"url": "https://a.example", "text": "cut o', "invalid JSON: Unterminated string"),
    "object.json": (b'{"items": [{"url": "https://a.example"}]}', "must hold a JSON array of items, got object"),
    "garbage.json": (bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]), "not UTF-8 text"),
    "empty.json": (b"", "empty file"),
    "blank.json": (b" \n\t\n", "empty file"),
    "latin1.json": ('[{"text": "café"}]'.encode("latin-1"), "not UTF-8 text: invalid continuation byte"),
    "folder.json": (None, "a folder, not a payload file"),
    "deep.json": (b"[" * 10_000 + b"]" * 10_000, "JSON nested too deeply to parse"),
    "nan.json": (b'[{"score": NaN}]', "non-standard constant NaN"),
    "bignum.json": (b"[" + b"9" * 5000 + b"]", "cannot parse JSON: ValueError"),
}


def write_bad(folder: Path, name: str, content: bytes | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if content is None:
        (folder / name).mkdir()
    else:
        (folder / name).write_bytes(content)


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_is_reported_and_the_good_files_still_come(tmp_path: Path, name: str) -> None:
    content, reason = BAD_FILES[name]
    write(tmp_path, "apify/website-content-crawler/a-good.json", [{"url": "a"}])
    write_bad(tmp_path / "apify/website-content-crawler", name, content)
    write(tmp_path, "apify/website-content-crawler/z-good.json", [{"url": "z"}])

    results = list(
        SamplePayloadSource(system="apify", samples_dir=str(tmp_path)).fetch_batches("website-content-crawler")
    )

    good = [r for r in results if isinstance(r, PayloadBatch)]
    (bad,) = [r for r in results if isinstance(r, BadPayload)]
    assert [b.batch_id for b in good] == ["a-good", "z-good"]
    assert bad.path == f"apify/website-content-crawler/{name}" and bad.batch_id == name.removesuffix(".json")
    assert reason in bad.reason, bad.reason
    assert (bad.size_bytes, bad.fingerprint is not None) == ((None, False) if content is None else (len(content), True))


def test_tavily_file_must_hold_one_response_object(tmp_path: Path) -> None:
    write(tmp_path, "tavily/list.json", [{"query": "q"}])
    (bad,) = SamplePayloadSource(system="tavily", samples_dir=str(tmp_path)).fetch_batches("search")
    assert isinstance(bad, BadPayload) and bad.path == "tavily/list.json"
    assert bad.reason == "must hold one JSON object (a search response), got array"


def test_unreadable_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = write(tmp_path, "apify/website-content-crawler/locked.json", [{"url": "a"}])
    write(tmp_path, "apify/website-content-crawler/open.json", [{"url": "b"}])
    read_bytes = Path.read_bytes

    def deny(self: Path) -> bytes:  # chmod 000 does not stop root, so permissions are denied here instead
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    bad, good = SamplePayloadSource(system="apify", samples_dir=str(tmp_path)).fetch_batches("website-content-crawler")
    assert isinstance(bad, BadPayload) and bad.reason == "cannot read: Permission denied"
    assert bad.size_bytes == locked.stat().st_size and bad.fingerprint is None
    assert isinstance(good, PayloadBatch) and good.batch_id == "open"


def test_strict_batches_fail_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path, "apify/website-content-crawler/r.json", {"an": "object"})
    source = SamplePayloadSource(system="apify", samples_dir=str(tmp_path))
    with pytest.raises(
        SourceError, match=r"apify/website-content-crawler: cannot use .*r\.json: must hold a JSON array"
    ):
        list(strict_batches(source.fetch_batches("website-content-crawler")))


LAYOUT = {"apify": ("website-content-crawler", "linkedin-profile-scraper"), "tavily": ("search",)}


def test_layout_warnings_name_every_ignored_path_once(tmp_path: Path) -> None:
    write(tmp_path, "apify/website-content-crawler/run.json", [])
    write(tmp_path, "tavily/q.json", {"query": "q"})
    for rel in ("top.json", "unknown-system/x.json", "apify/unknown-actor/x.json", "apify/loose.json"):
        write(tmp_path, rel, [])
    (tmp_path / "apify/website-content-crawler/notes.txt").write_text("n")
    (tmp_path / "apify/website-content-crawler/nested").mkdir()
    (tmp_path / "tavily/readme.md").write_text("r")

    warnings = SamplePayloadSource(system="tavily", samples_dir=str(tmp_path)).layout_warnings(LAYOUT)

    named = {
        "top.json": "a file at the top level",
        "unknown-system": "an unknown source folder",
        "apify/unknown-actor": "an unknown apify stream",
        "apify/loose.json": "payload files belong in a stream folder",
        "apify/website-content-crawler/notes.txt": "only *.json payload files",
        "apify/website-content-crawler/nested": "only *.json payload files",
        "tavily/readme.md": "only *.json payload files",
    }
    assert len(warnings) == len(named), warnings
    for rel, why in named.items():
        (hit,) = [w for w in warnings if f" {rel} under {tmp_path}:" in w]
        assert why in hit, hit


def test_layout_without_strays_or_with_missing_streams_has_no_warnings(tmp_path: Path) -> None:
    write(tmp_path, "apify/linkedin-profile-scraper/run.json", [])
    source = SamplePayloadSource(system="apify", samples_dir=str(tmp_path))
    assert source.layout_warnings(LAYOUT) == []
    assert SamplePayloadSource(system="apify", samples_dir=str(tmp_path / "nope")).layout_warnings(LAYOUT) == [
        f"no samples folder at {tmp_path / 'nope'}: every stream has no data"
    ]
