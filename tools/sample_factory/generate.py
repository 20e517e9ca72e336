"""All sample files for a seed, in memory: every stream generated in a fixed order from one random source."""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

from sophia_pipelines.streams import (
    APIFY_LINKEDIN_PROFILES,
    APIFY_WEBSITE_CONTENT,
    PHANTOMBUSTER_LINKEDIN_SEARCH,
    TAVILY_SEARCH,
)
from tools.sample_factory.layout import STREAM_DIRS
from tools.sample_factory.linkedin_profiles import linkedin_profile_runs
from tools.sample_factory.phantombuster import phantombuster_runs
from tools.sample_factory.tavily import tavily_responses
from tools.sample_factory.website_content import website_content_runs
from tools.sample_factory.writer import Writer

DEFAULT_DOCUMENTS = 400
STREAM_SHARES = {
    APIFY_WEBSITE_CONTENT: 0.35,
    APIFY_LINKEDIN_PROFILES: 0.20,
    PHANTOMBUSTER_LINKEDIN_SEARCH: 0.25,
    TAVILY_SEARCH: 0.20,
}


def generate_samples(n_documents: int = DEFAULT_DOCUMENTS, seed: int = 7, messy: bool = True) -> dict[str, Any]:
    """All sample files as {relative path: JSON value}, deterministic for a seed (no I/O)."""
    if n_documents < 20:
        raise ValueError("n_documents must be at least 20")
    counts = {source: round(n_documents * share) for source, share in STREAM_SHARES.items()}
    w = Writer(random.Random(seed))
    files: dict[str, Any] = {}
    apify = (
        (APIFY_WEBSITE_CONTENT, website_content_runs),
        (APIFY_LINKEDIN_PROFILES, linkedin_profile_runs),
        (PHANTOMBUSTER_LINKEDIN_SEARCH, phantombuster_runs),
    )
    for source, build in apify:
        batches = build(w, counts[source], messy)
        is_pb = source == PHANTOMBUSTER_LINKEDIN_SEARCH
        ids = sorted(w.unique_id(16, string.digits) if is_pb else w.unique_id(17) for _ in batches)
        for batch_id, items in zip(ids, batches, strict=True):
            files[(STREAM_DIRS[source] / f"{batch_id}.json").as_posix()] = items
    for slug, response in tavily_responses(w, counts[TAVILY_SEARCH], messy).items():
        files[(STREAM_DIRS[TAVILY_SEARCH] / f"{slug}.json").as_posix()] = response
    return files


def stream_counts(files: dict[str, Any]) -> dict[str, int]:
    """Items per source: dataset items / result rows, and for Tavily the search results."""
    counts = dict.fromkeys(STREAM_DIRS, 0)
    for path, value in files.items():
        for source, folder in STREAM_DIRS.items():
            if Path(path).parent == folder:
                results = value.get("results") if isinstance(value, dict) else value
                counts[source] += len(results) if isinstance(results, list) else 0
    return counts
