"""Where items go: stream folders, batches and their start times, and distinct positions for each kind of mess."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sophia_pipelines.streams import LINKEDIN_PROFILES, LINKEDIN_SEARCH, WEB_SEARCH, WEBSITE_CONTENT
from tools.sample_factory.anchors import ANCHOR_COUNT

# The streams this factory generates (a stream added to the catalogue brings its own samples), and their folders.
GENERATED_STREAMS = (WEBSITE_CONTENT, LINKEDIN_PROFILES, LINKEDIN_SEARCH, WEB_SEARCH)
STREAM_DIRS = {s.source: Path(s.sample_folder) for s in GENERATED_STREAMS}
ITEMS_PER_RUN = 250
BASE_TIME = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def iso_ms(moment: datetime) -> str:
    """UTC timestamp with milliseconds, as the APIs write it: 2026-03-02T06:00:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` split into `parts` sizes differing by at most one, larger ones first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class MessPicker:
    """Picks distinct item positions for each kind of mess, so kinds never stack on one item."""

    def __init__(self, rng: random.Random, count: int, reserved: int = ANCHOR_COUNT) -> None:
        self.rng = rng
        self.count = count
        self.free = list(range(reserved, count))

    def take(self, rate: float, minimum: int = 1, where: Callable[[int], bool] | None = None) -> list[int]:
        pool = [i for i in self.free if where is None or where(i)]
        k = min(len(pool), max(minimum, round(rate * self.count)))
        chosen = sorted(self.rng.sample(pool, k))
        taken = set(chosen)
        self.free = [i for i in self.free if i not in taken]
        return chosen


@dataclass
class Layout:
    """Items of one stream spread over batches; `times[b]` is batch b's start time."""

    sizes: list[int]
    times: list[datetime]

    def batch_of(self, index: int) -> int:
        for batch, size in enumerate(self.sizes):
            if index < size:
                return batch
            index -= size
        raise IndexError(index)

    def group(self, items: list[Any]) -> list[list[Any]]:
        out, start = [], 0
        for size in self.sizes:
            out.append(items[start : start + size])
            start += size
        return out


def batch_layout(count: int, batches: int, offset_hours: int) -> Layout:
    """`count` items over `batches` batches, one day apart, the first `offset_hours` after BASE_TIME."""
    start = BASE_TIME + timedelta(hours=offset_hours)
    return Layout(split_evenly(count, batches), [start + timedelta(days=b) for b in range(batches)])


def insert_randomly(rng: random.Random, batch: list[Any], item: Any) -> None:
    """Insert `item` at a random position of `batch` (end included)."""
    batch.insert(rng.randrange(len(batch) + 1), item)
