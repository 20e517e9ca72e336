"""The source interface every ingestion asset reads from, and its local (bundled samples) implementation.

A *stream* is one thing a system produces: an Apify actor's datasets, a PhantomBuster agent's results,
Tavily searches. A *batch* is one run of it: an Apify run id, a PhantomBuster container id, a Tavily query.
Local mode reads batches from files shaped exactly like the API responses; production reads the APIs
(see resources/apify.py, resources/phantombuster.py, resources/tavily.py). Both return `PayloadBatch`es, so
everything downstream is one code path.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

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


class PayloadSource(dg.ConfigurableResource):
    """Base class: anything that can list the batches of a stream."""

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """Yield the stream's batches, skipping those whose fingerprint equals `known[batch_id]`."""
        raise NotImplementedError  # pragma: no cover - interface


def samples_dir_from_env() -> Path:
    return Path(os.environ.get("SOPHIA_SAMPLES_DIR") or BUNDLED_SAMPLES_DIR)


class SamplePayloadSource(PayloadSource):
    """Reads `<samples_dir>/<system>/<stream>/<batch_id>.json` (Tavily: `<samples_dir>/tavily/<slug>.json`).

    Apify and PhantomBuster files hold a JSON array of items (as the dataset items / result endpoints return
    them); a Tavily file holds one full search response object, which becomes a one-item batch.
    """

    system: str
    samples_dir: str = ""

    def _root(self) -> Path:
        return Path(self.samples_dir) if self.samples_dir else samples_dir_from_env()

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        known = known or {}
        root = self._root() / self.system
        folder = root if self.system == "tavily" else root / stream
        if not folder.is_dir():
            raise SourceError(f"{self.system}/{stream}: no samples folder at {folder}")
        for path in sorted(folder.glob("*.json")):
            try:
                raw = path.read_bytes()
                fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()
                if known.get(path.stem) == fingerprint:
                    continue
                data = json.loads(raw.decode("utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SourceError(f"{self.system}/{stream}: cannot read sample file {path.name}: {exc}") from exc
            if self.system == "tavily":
                items = [data]
            elif isinstance(data, list):
                items = data
            else:
                raise SourceError(
                    f"{self.system}/{stream}: {path.name} must hold a JSON array of items, got {type(data).__name__}"
                )
            yield PayloadBatch(self.system, stream, path.stem, items, datetime.now(UTC), fingerprint)
