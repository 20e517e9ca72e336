"""Deterministic sample payloads shaped exactly like the Apify, PhantomBuster and Tavily APIs.

`write_samples(root)` writes the local-mode layout read by `resources.payloads.SamplePayloadSource`:

    apify/website-content-crawler/<run-id>.json           JSON array of dataset items
    apify/linkedin-profile-scraper/<run-id>.json          JSON array of dataset items
    phantombuster/linkedin-search-export/<container>.json the agent's result array
    tavily/<query-slug>.json                              one full /search response

Texts are built from topic sentence pools (AI infrastructure, data engineering, vector search, GPU clouds,
MLOps, sales prospects), one topic per document. With `messy=True` the payloads also carry the mess real
scrapers produce (duplicates across runs, nulls, HTML, non-ASCII, very long pages, empty texts, wrong types,
items that are not objects); with `messy=False` every record is valid. Output is byte-stable for a seed.

Regenerate the bundled samples: `python -m tools.sample_factory --out sophia_pipelines/samples`.

Modules: `corpus` (topics, sentence pools), `vocabulary` (fill-in values), `anchors` (hand-written documents),
`writer` (seeded text generator), `layout` (folders, batches, mess positions), one module per stream
(`website_content`, `linkedin_profiles`, `phantombuster`, `tavily`), `generate` (all files in memory),
`files` (write and read them), `cli`.
"""

from tools.sample_factory.cli import main
from tools.sample_factory.corpus import TOPICS, Topic
from tools.sample_factory.files import load_sample_records, write_samples
from tools.sample_factory.generate import DEFAULT_DOCUMENTS, STREAM_SHARES, generate_samples, stream_counts
from tools.sample_factory.layout import BASE_TIME, STREAM_DIRS

__all__ = [
    "BASE_TIME",
    "DEFAULT_DOCUMENTS",
    "STREAM_DIRS",
    "STREAM_SHARES",
    "TOPICS",
    "Topic",
    "generate_samples",
    "load_sample_records",
    "main",
    "stream_counts",
    "write_samples",
]
