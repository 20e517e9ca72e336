"""Response fields that change on every fetch without the content changing, kept out of payload fingerprints.

The raw stage stores each payload untouched but hashes its *stable* form (`stable_payload_hash`), so re-fetching
an unchanged response does not mark its row changed, and the documents stage re-normalizes nothing.

Per source:
- tavily/search: every search is fetched again each run (batch id = query slug). `request_id` (new per call),
  `response_time` (server timing), `usage` (credits spent by this call) are request metadata, not results.
  Result `score`s and their order are kept: they are what the search returned.
- apify/*: none. A SUCCEEDED run's dataset never changes and is skipped by its fingerprint; a new run lands
  under a new batch id. Fields such as `crawl.loadedTime` describe that run's content.
- phantombuster/*: none. An ended container's result never changes and is skipped by its fingerprint; row fields
  such as `timestamp` (when the row was scraped) belong to that container's content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sophia_pipelines.domain.documents import sha256_hex
from sophia_pipelines.streams import TAVILY_SEARCH

VOLATILE_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {TAVILY_SEARCH: frozenset({"request_id", "response_time", "usage"})}
)


def payload_json(item: Any) -> str:
    """A payload as the raw tables store it: compact JSON text, key order kept."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def stable_payload(source: str, item: Any) -> Any:
    """`item` without the source's volatile top-level keys (the item itself when there is nothing to drop)."""
    volatile = VOLATILE_KEYS.get(source)
    if not volatile or not isinstance(item, dict) or volatile.isdisjoint(item):
        return item
    return {key: value for key, value in item.items() if key not in volatile}


def stable_payload_hash(source: str, item: Any, stored_json: str | None = None) -> str:
    """SHA-256 of the stable form of `item`; `stored_json` (its `payload_json`) is reused when nothing is dropped."""
    stable = stable_payload(source, item)
    if stable is item and stored_json is not None:
        return sha256_hex(stored_json)
    return sha256_hex(payload_json(stable))
