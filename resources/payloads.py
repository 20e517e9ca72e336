"""The source interface every ingestion asset reads from, and its local (bundled samples) implementation.

A *stream* is one thing a system produces: an Apify actor's datasets, a PhantomBuster agent's results,
Tavily searches. A *batch* is one run of it: an Apify run id, a PhantomBuster container id, a Tavily query.
Local mode reads batches from files shaped exactly like the API responses; production reads the APIs
(see resources/apify.py, resources/phantombuster.py, resources/tavily.py). Both return `PayloadBatch`es, so
everything downstream is one code path. A file that cannot be used is reported as a `BadPayload` (the raw stage
quarantines it) instead of failing the stream.

Two ways to read a stream: `fetch_batches` scans all of it (a run without a partition), while sensors page through
`list_batches` (one `BatchRef` per source run: the partition key) and a partition run lands its source runs with
`fetch_batch`.
"""

from __future__ import annotations

import hashlib
import json
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


@dataclass(frozen=True, slots=True)
class BatchRef:
    """One source run as a listing sees it, before anything is downloaded.

    `key` is its partition key (Apify run id, PhantomBuster container id, Tavily `<query-set>-<day>`, a payload
    file's stem); `finished_at` (epoch seconds) is when it finished (run finished, container ended, file last
    modified): runs land oldest first; `changed_at` is when this version became visible (a file copied in keeps its
    mtime but not its status-change time), None: `finished_at`; `fingerprint` identifies its content when the
    listing knows it (local files), else None.
    """

    key: str
    finished_at: float
    fingerprint: str | None = None
    changed_at: float | None = None

    @property
    def version_at(self) -> float:
        """When this version became visible: a landing that started before it is stale."""
        return self.finished_at if self.changed_at is None else self.changed_at


@dataclass(frozen=True, slots=True)
class BatchPage:
    """One page of a listing: the source runs found, where the next call goes on, and whether this one caught up."""

    refs: tuple[BatchRef, ...]
    cursor: str | None  # opaque to callers: give it back as `after`
    caught_up: bool  # True: nothing newer is left to read now (the next call starts a fresh pass from `cursor`)


def load_cursor(after: str | None) -> dict[str, Any]:
    """A source's JSON cursor as a dict ({} for None); a cursor that is not a JSON object raises `SourceError`."""
    if not after:
        return {}
    try:
        state = json.loads(after)
    except json.JSONDecodeError:
        state = None
    if not isinstance(state, dict):
        raise SourceError(f"not a listing cursor of this source: {after[:80]!r}")
    return state


def dump_cursor(state: Mapping[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"), sort_keys=True)


class PayloadSource(dg.ConfigurableResource):
    """Base class: anything that can list the batches of a stream."""

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch | BadPayload]:
        """Yield the stream's batches, skipping those whose fingerprint equals `known[batch_id]`.

        Sources that read files yield a `BadPayload` for a file that cannot be used, rather than raising, so the
        rest of the stream lands; failures of a whole source (API down, bad credentials) raise `SourceError`.
        """
        raise NotImplementedError  # pragma: no cover - interface

    def list_batches(self, stream: str, after: str | None = None, limit: int = 1000) -> BatchPage:
        """Up to `limit` source runs that appeared or changed since the cursor `after` (None: from the beginning).

        Sources read one bounded request per call (a page of their API, a scan of a folder); a failed request raises
        `SourceError` and the caller keeps its cursor.
        """
        raise NotImplementedError  # pragma: no cover - interface

    def fetch_batch(
        self, stream: str, key: str, known: Mapping[str, str] | None = None
    ) -> Iterator[PayloadBatch | BadPayload]:
        """The batches of the one source run `key` (usually one; Tavily: one per query of the day), skipping what
        `known` ({batch_id: fingerprint} already landed) holds. A run that no longer exists yields nothing."""
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

    def list_batches(self, stream: str, after: str | None = None, limit: int = 1000) -> BatchPage:
        """The stream's payload files written since the cursor, oldest first: partition key = file stem.

        A file's version is the later of its modification and status-change times (so a file copied in with an old
        mtime still counts as new); the cursor holds the newest version returned and the files seen at exactly that
        instant. Only the returned files are read, to fingerprint them (sha256 of the bytes; None if unreadable).
        """
        state = load_cursor(after)
        since, seen = int(state.get("version_ns", -1)), set(state.get("keys", ()))
        folder = stream_folder(self._root(), self.system, stream)
        found: list[tuple[int, str, str, int]] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not entry.name.endswith(PAYLOAD_SUFFIX):
                        continue
                    try:
                        st = entry.stat()
                    except OSError:  # vanished or a broken link: nothing to land
                        continue
                    version, key = max(st.st_mtime_ns, st.st_ctime_ns), entry.name[: -len(PAYLOAD_SUFFIX)]
                    if version > since or (version == since and key not in seen):
                        found.append((version, key, entry.path, st.st_mtime_ns))
        except FileNotFoundError:
            return BatchPage((), after, True)
        except OSError as exc:
            raise SourceError(f"{self.system}/{stream}: cannot list {folder}: {exc.strerror or exc}") from exc
        found.sort()
        page = found[:limit]
        if page:
            newest = page[-1][0]
            keys = [key for version, key, _, _ in page if version == newest]
            state = {"version_ns": newest, "keys": sorted({*keys, *(seen if newest == since else ())})}
        refs = tuple(
            BatchRef(key, mtime / 1e9, _file_fingerprint(Path(path)), changed_at=version / 1e9)
            for version, key, path, mtime in page
        )
        return BatchPage(refs, dump_cursor(state) if state else None, len(found) <= limit)

    def fetch_batch(
        self, stream: str, key: str, known: Mapping[str, str] | None = None
    ) -> Iterator[PayloadBatch | BadPayload]:
        """The file `<key>.json` of the stream as a batch or a bad payload; nothing if it is gone or unchanged."""
        if not key or key in (".", "..") or "/" in key or "\\" in key:
            raise SourceError(f"{self.system}/{stream}: {key!r} is not a payload file name")
        root = self._root()
        path = stream_folder(root, self.system, stream) / f"{key}{PAYLOAD_SUFFIX}"
        if not path.exists():
            return
        result = self._read(root, stream, path, known or {})
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


def _file_fingerprint(path: Path) -> str | None:
    """`sha256:<hex>` of the file's bytes (what the raw ledger stores), None when it cannot be read as a file."""
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
