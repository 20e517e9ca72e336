"""The stream catalogue: every source stream is ONE `StreamSpec`, and everything per stream is derived from it.

A stream is one thing a source system produces (an Apify actor's datasets, a PhantomBuster agent's results,
Tavily searches). Its entry names the system and stream, the raw table suffix, the normalizer, the default
upstream (actor, agent, query set) and the description; derived from it are the source id stored on every row
(part of document ids), the raw table and asset key, the normalizer routing, the samples folder and layout, and
the upstream defaults the live resources start from. Adding a stream: `docs/architecture.md`, "Adding a stream".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from resources.payload_files import stream_folder
from resources.tables import TableSpec
from sophia_pipelines.domain.normalize import Normalizer
from sophia_pipelines.domain.normalize.apify_linkedin import normalize_apify_linkedin
from sophia_pipelines.domain.normalize.apify_website import normalize_apify_website
from sophia_pipelines.domain.normalize.phantombuster import normalize_phantombuster
from sophia_pipelines.domain.normalize.tavily import normalize_tavily
from sophia_pipelines.domain.tables import SHARED_TABLES, raw_table

Upstream = str | tuple[str, ...]

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # a stream: lowercase words joined by hyphens
_IDENT = re.compile(r"[a-z][a-z0-9_]*")  # goes into SQL table names and resource keys


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One source stream, declared once.

    `default_upstream` is what the live source reads when the environment does not say otherwise: the Apify actor
    id (`username~actor-name`), for PhantomBuster the name of the environment variable holding the agent id
    (agent ids belong to an account), for Tavily the tuple of queries.
    """

    system: str  # resource key of the source system: apify | phantombuster | tavily
    stream: str  # the system's stream: actor name, agent name, "search"
    name: str  # raw table suffix: the stream lands in raw_<system>_<name>
    normalizer: Normalizer
    default_upstream: Upstream
    description: str

    def __post_init__(self) -> None:
        for field, value, pattern in (
            ("system", self.system, _IDENT),
            ("stream", self.stream, _SLUG),
            ("name", self.name, _IDENT),
        ):
            if not pattern.fullmatch(value):
                raise ValueError(f"StreamSpec.{field} {value!r} must match {pattern.pattern}")
        if not callable(self.normalizer):
            raise TypeError(f"{self.source}: normalizer must be callable")

    @property
    def source(self) -> str:
        """The source id stored on every row: `<system>/<stream>`. Part of document ids: never rename a stream."""
        return f"{self.system}/{self.stream}"

    @property
    def table(self) -> TableSpec:
        """The raw table the stream lands in (one row per API item, untouched)."""
        return raw_table(f"raw_{self.system}_{self.name}")

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.name)

    @property
    def partitions_name(self) -> str:
        """Its Dagster dynamic partitions: one key per source run (Apify run, PhantomBuster container, Tavily
        day, payload file)."""
        return f"{self.system}_{self.name}_runs"

    @property
    def land_job_name(self) -> str:
        """The job that lands chosen source runs (partitions) of the stream."""
        return f"land_{self.system}_{self.name}"

    @property
    def sample_folder(self) -> str:
        """Where local mode reads its payload files, relative to the samples folder (the reader's convention)."""
        return stream_folder(Path(), self.system, self.stream).as_posix()


WEBSITE_CONTENT = StreamSpec(
    system="apify",
    stream="website-content-crawler",
    name="website_content",
    normalizer=normalize_apify_website,
    default_upstream="apify~website-content-crawler",
    description="Apify Website Content Crawler dataset items (one row per crawled page), untouched.",
)
LINKEDIN_PROFILES = StreamSpec(
    system="apify",
    stream="linkedin-profile-scraper",
    name="linkedin_profiles",
    normalizer=normalize_apify_linkedin,
    default_upstream="dev_fusion~Linkedin-Profile-Scraper",
    description="Apify LinkedIn profile scraper dataset items (one row per profile), untouched.",
)
LINKEDIN_SEARCH = StreamSpec(
    system="phantombuster",
    stream="linkedin-search-export",
    name="linkedin_search",
    normalizer=normalize_phantombuster,
    default_upstream="PHANTOMBUSTER_LINKEDIN_SEARCH_AGENT_ID",
    description="PhantomBuster LinkedIn Search Export agent results (one row per result row), untouched.",
)
WEB_SEARCH = StreamSpec(
    system="tavily",
    stream="search",
    name="search",
    normalizer=normalize_tavily,
    default_upstream=(
        "GPU cloud pricing for LLM inference",
        "vector database benchmarks for semantic search",
        "data engineering best practices for AI pipelines",
    ),
    description="Tavily search responses (one row per query response, results nested), untouched.",
)

# The catalogue, in landing order. A new stream is one more entry (written inline, or named as above when code
# refers to it).
STREAMS: tuple[StreamSpec, ...] = (WEBSITE_CONTENT, LINKEDIN_PROFILES, LINKEDIN_SEARCH, WEB_SEARCH)


def check_streams(streams: Iterable[StreamSpec]) -> tuple[StreamSpec, ...]:
    """`streams` as a tuple, refusing two streams with the same source id or raw table."""
    out = tuple(streams)
    for what, values in (("source", [s.source for s in out]), ("raw table", [s.table.name for s in out])):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"streams share a {what}: {', '.join(dupes)}")
    return out


def normalizers(streams: Iterable[StreamSpec]) -> dict[str, Normalizer]:
    """`{source: normalizer}`: how the documents stage routes the raw records of `streams`."""
    return {s.source: s.normalizer for s in check_streams(streams)}


def raw_tables(streams: Iterable[StreamSpec]) -> tuple[TableSpec, ...]:
    return tuple(s.table for s in check_streams(streams))


def all_tables(streams: Iterable[StreamSpec]) -> tuple[TableSpec, ...]:
    """Every warehouse table of a data plane with `streams`: their raw tables, then the shared ones."""
    return (*raw_tables(streams), *SHARED_TABLES)


def sample_layout(streams: Iterable[StreamSpec]) -> dict[str, tuple[str, ...]]:
    """`{system: its streams}`: what a local samples folder may hold (the reader warns about anything else)."""
    layout: dict[str, tuple[str, ...]] = {}
    for s in check_streams(streams):
        layout[s.system] = (*layout.get(s.system, ()), s.stream)
    return layout


def upstream_config(streams: Iterable[StreamSpec]) -> dict[str, dict[str, Upstream]]:
    """`{system: {stream: default upstream}}`: what `resources.registry.build_resources` starts live sources from."""
    config: dict[str, dict[str, Upstream]] = {}
    for s in check_streams(streams):
        config.setdefault(s.system, {})[s.stream] = s.default_upstream
    return config


# Derived views of the catalogue for code that names one stream or needs the defaults (values typed once, above).
NORMALIZERS: dict[str, Normalizer] = normalizers(STREAMS)  # the default routing of `normalize_record`
ALL_TABLES = all_tables(STREAMS)
UPSTREAMS: Mapping[str, Mapping[str, Upstream]] = upstream_config(STREAMS)
DEFAULT_APIFY_ACTORS: Mapping[str, Upstream] = UPSTREAMS["apify"]

APIFY_WEBSITE_CONTENT = WEBSITE_CONTENT.source
APIFY_LINKEDIN_PROFILES = LINKEDIN_PROFILES.source
PHANTOMBUSTER_LINKEDIN_SEARCH = LINKEDIN_SEARCH.source
TAVILY_SEARCH = WEB_SEARCH.source

RAW_APIFY_WEBSITE_CONTENT = WEBSITE_CONTENT.table
RAW_APIFY_LINKEDIN_PROFILES = LINKEDIN_PROFILES.table
RAW_PHANTOMBUSTER_LINKEDIN_SEARCH = LINKEDIN_SEARCH.table
RAW_TAVILY_SEARCH = WEB_SEARCH.table
