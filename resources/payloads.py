"""The source interface every ingestion asset reads from, and its local (bundled samples) implementation.

A *stream* is one thing a system produces: an Apify actor's datasets, a PhantomBuster agent's results,
Tavily searches. A *batch* is one run of it: an Apify run id, a PhantomBuster container id, a Tavily query.
Local mode reads batches from files shaped exactly like the API responses; production reads the APIs
(see resources/apify.py, resources/phantombuster.py, resources/tavily.py). Both return `PayloadBatch`es, so
everything downstream is one code path. A file that cannot be used is reported as a `BadPayload` (the raw stage
quarantines it) instead of failing the stream.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from resources.payload_files import (
    FLAT_SYSTEMS,
    PAYLOAD_SUFFIX,
    PayloadFileError,
    parse_payload,
    sample_layout_warnings,
    stream_folder,
)

BUNDLED_SAMPLES_DIR = Path(__file__).resolve().parent.parent / "sophia_pipelines" / "samples"


class SourceError(RuntimeError):
    """A source failed after its retries; the message always names the source."""


@dataclass(frozen=True, slots=True)
class PayloadBatch:
    system: str  # "apify" | "phantombuster" | "tavily"
    stream: str  # actor name, agent name, or "search"
    batch_id: str  # run id, container id, query slug
    items: list[Any]  # untouched JSON items (Tavily: one full response object per batch)
    fetched_at: datetime
    # Identifies this exact content of the batch (file hash, finished run, ended container). Sources skip batches
    # whose fingerprint the warehouse already holds; None means "always land" (e.g. a fresh search).
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class BadPayload:
    """A payload file that cannot land as it is (unreadable, not JSON, wrong shape). Permanent: never retried."""

    system: str
    stream: str
    batch_id: str
    path: str  # relative to the samples folder, e.g. "apify/website-content-crawler/run1.json"
    reason: str  # why, never the content
    size_bytes: int | None = None
    fingerprint: str | None = None  # "sha256:..." of the bytes, when they could be read


class PayloadSource(dg.ConfigurableResource):
    """Base class: anything that can list the batches of a stream."""

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch | BadPayload]:
        """Yield the stream's batches, skipping those whose fingerprint equals `known[batch_id]`.

        Sources that read files yield a `BadPayload` for a file that cannot be used, rather than raising, so the
        rest of the stream lands; failures of a whole source (API down, bad credentials) raise `SourceError`.
        """
        raise NotImplementedError  # pragma: no cover - interface

    def layout_warnings(self, layout: Mapping[str, Collection[str]]) -> list[str]:
        """Messages naming data this source would silently ignore (`layout`: system -> streams); none by default."""
        return []


def strict_batches(results: Iterable[PayloadBatch | BadPayload]) -> Iterator[PayloadBatch]:
    """The batches of `results`, raising `SourceError` at the first bad payload (for readers that cannot skip)."""
    for result in results:
        if isinstance(result, BadPayload):
            raise SourceError(f"{result.system}/{result.stream}: cannot use {result.path}: {result.reason}")
        yield result


def samples_dir_from_env() -> Path:
    return Path(os.environ.get("SOPHIA_SAMPLES_DIR") or BUNDLED_SAMPLES_DIR)


class SamplePayloadSource(PayloadSource):
    """Reads `<samples_dir>/<system>/<stream>/<batch_id>.json` (Tavily: `<samples_dir>/tavily/<slug>.json`).

    Apify and PhantomBuster files hold a JSON array of items (as the dataset items / result endpoints return
    them); a Tavily file holds one full search response object, which becomes a one-item batch. A stream without
    a folder has no data (nothing is yielded); a `*.json` entry that cannot be read or parsed is a `BadPayload`.
    """

    system: str
    samples_dir: str = ""

    def _root(self) -> Path:
        return Path(self.samples_dir) if self.samples_dir else samples_dir_from_env()

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch | BadPayload]:
        known = known or {}
        root = self._root()
        folder = stream_folder(root, self.system, stream)
        if not folder.is_dir():
            return
        try:
            paths = sorted(p for p in folder.iterdir() if p.name.endswith(PAYLOAD_SUFFIX))
        except OSError as exc:
            raise SourceError(f"{self.system}/{stream}: cannot list {folder}: {exc.strerror or exc}") from exc
        for path in paths:
            result = self._read(root, stream, path, known)
            if result is not None:
                yield result

    def _read(self, root: Path, stream: str, path: Path, known: Mapping[str, str]) -> PayloadBatch | BadPayload | None:
        """The file as a batch, as a bad payload, or None when `known` already holds its fingerprint."""

        def bad(reason: str, size: int | None = None, fingerprint: str | None = None) -> BadPayload:
            rel = path.relative_to(root).as_posix()
            return BadPayload(self.system, stream, path.stem, rel, reason, size, fingerprint)

        if path.is_dir():
            return bad("a folder, not a payload file")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return bad(f"cannot read: {exc.strerror or type(exc).__name__}", _size(path))
        fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()
        if known.get(path.stem) == fingerprint:
            return None
        try:
            items = parse_payload(raw, flat=self.system in FLAT_SYSTEMS)
        except PayloadFileError as exc:
            return bad(str(exc), len(raw), fingerprint)
        return PayloadBatch(self.system, stream, path.stem, items, datetime.now(UTC), fingerprint)

    def layout_warnings(self, layout: Mapping[str, Collection[str]]) -> list[str]:
        return sample_layout_warnings(self._root(), layout)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
