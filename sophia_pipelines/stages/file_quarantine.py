"""The raw file quarantine: payload files a source could not use, kept per source until they land or disappear."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pandas as pd

from resources.payloads import BadPayload
from resources.warehouse import WarehouseSession
from sophia_pipelines.domain.tables import RAW_FILE_QUARANTINE as Q


def quarantined_files(session: WarehouseSession, source: str) -> pd.DataFrame:
    """The quarantined files of `source` (path, reason, size_bytes, first_seen, last_seen), by path."""
    session.ensure_table(Q)
    return session.query(
        f"SELECT path, reason, size_bytes, first_seen, last_seen FROM {Q.name} WHERE source = ? ORDER BY path",
        [source],
    )


def update_quarantine(
    session: WarehouseSession, source: str, bad: Sequence[BadPayload], batch_ids: Collection[str] | None = None
) -> list[str]:
    """Make `source`'s quarantine exactly `bad` (the files that failed in this complete scan of the stream), or,
    given `batch_ids`, exactly `bad` among the files of those batches (a partition run; a file's batch id is its stem).

    New bad files are added, files still bad get `last_seen` (and their current reason/fingerprint) with
    `first_seen` kept; files no longer reported (fixed and landed, unchanged since they last landed, or deleted)
    leave the quarantine. Returns those paths.
    """
    session.ensure_table(Q)
    first_seen = dict(session.query(f"SELECT path, first_seen FROM {Q.name} WHERE source = ?", [source]).values)
    if batch_ids is not None:
        scope = set(batch_ids)
        first_seen = {path: seen for path, seen in first_seen.items() if PurePosixPath(path).stem in scope}
    now = datetime.now(UTC)
    latest = {b.path: b for b in bad}  # one row per path
    frame = pd.DataFrame(
        {
            "source": source,
            "path": pd.Series(list(latest), dtype="string"),
            "reason": pd.Series([b.reason for b in latest.values()], dtype="string"),
            "size_bytes": pd.array([b.size_bytes for b in latest.values()], dtype="Int64"),
            "fingerprint": pd.Series([b.fingerprint for b in latest.values()], dtype="string"),
            "first_seen": [first_seen.get(path, now) for path in latest],
            "last_seen": now,
        }
    )
    session.merge(Q, frame, compare=["last_seen"])
    resolved = sorted(path for path in first_seen if path not in latest)
    if resolved:
        with session.key_table(resolved) as keys:
            session.execute(f"DELETE FROM {Q.name} WHERE source = ? AND path IN (SELECT k FROM {keys})", [source])
    return resolved
