"""Sample files on disk: write the local-mode layout, and read it back as raw records."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from resources.payloads import SamplePayloadSource, strict_batches
from sophia_pipelines.domain.documents import RawRecord
from sophia_pipelines.stages.raw import raw_record_id
from tools.sample_factory.generate import DEFAULT_DOCUMENTS, generate_samples, stream_counts
from tools.sample_factory.layout import BASE_TIME, GENERATED_STREAMS, STREAM_DIRS


def _dump(value: Any) -> bytes:
    """Pretty, non-ASCII-preserving UTF-8 JSON with a final newline (the bundled files' exact bytes)."""
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_samples(
    root: Path, n_documents: int = DEFAULT_DOCUMENTS, seed: int = 7, messy: bool = True
) -> dict[str, int]:
    """Write the sample layout under `root` (replacing stale *.json in the stream folders); items per source."""
    files = generate_samples(n_documents, seed, messy)
    for folder in STREAM_DIRS.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for stale in (root / folder).glob("*.json"):
            if stale.relative_to(root).as_posix() not in files:
                stale.unlink()
    for relative, value in files.items():
        (root / relative).write_bytes(_dump(value))
    return stream_counts(files)


def load_sample_records(root: Path, fetched_at: datetime = BASE_TIME) -> list[RawRecord]:
    """RawRecords for every sample under `root`, read the way local mode reads them (one per Tavily response).

    Record ids are the raw stage's; every record gets `fetched_at` so results are reproducible.
    """
    records: list[RawRecord] = []
    for spec in GENERATED_STREAMS:
        reader = SamplePayloadSource(system=spec.system, samples_dir=str(root))
        for batch in strict_batches(reader.fetch_batches(spec.stream)):
            for index, item in enumerate(batch.items):
                rid = raw_record_id(spec.source, batch.batch_id, index)
                records.append(RawRecord(rid, spec.source, batch.batch_id, index, item, fetched_at))
    return records
