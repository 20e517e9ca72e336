"""Tunables of the data pipeline, as a resource so the UI shows them and runs can override them."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class PipelineSettings(dg.ConfigurableResource):
    """Chunking, embedding and quality settings shared by the data assets and their checks."""

    chunk_max_chars: int = 1200
    chunk_overlap_chars: int = 150
    embed_batch_size: int = 1024  # chunks embedded and written per batch: what a failure can cost
    max_reject_rate: float = 0.25
    source_runs: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Scope a run to these source runs: raw table -> partition keys, e.g. "
        '{"raw_apify_website_content": ["<run id>"]}. Empty (the default): everything pending. Runs with '
        "disjoint scopes do disjoint work (docs/performance.md, Scale-out).",
    )
