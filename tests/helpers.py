"""Plain helpers shared by several test modules (functions and small classes, no fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sophia_pipelines.domain.documents import Document, NormalizeResult, RawRecord, Rejection

# --- normalizers ---------------------------------------------------------------------------------------------

FETCHED = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def raw_record(
    payload: Any, source: str, batch_id: str, item_index: int, record_id: str, fetched_at: datetime = FETCHED
) -> RawRecord:
    """A raw record of `source` holding `payload`, fetched at `FETCHED` unless told otherwise."""
    return RawRecord(record_id, source, batch_id, item_index, payload, fetched_at)


def only_document(result: NormalizeResult) -> Document:
    """The one document a normalizer made of one record (and no rejection)."""
    assert not result.rejections, result.rejections
    assert len(result.documents) == 1
    return result.documents[0]


def only_rejection(result: NormalizeResult, payload: Any) -> Rejection:
    """The one rejection a normalizer made of one record (and no document); it keeps the payload."""
    assert not result.documents
    assert len(result.rejections) == 1
    assert result.rejections[0].payload == payload
    return result.rejections[0]


# --- Lambda Cloud --------------------------------------------------------------------------------------------


class FakeTime:
    """Monotonic and wall clocks that move only when `sleep` is called (the wall clock also ticks per read)."""

    def __init__(self, now: float = 1000.0, wall_now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.wall_now = wall_now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        self.wall_now += 1.0
        return self.wall_now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
