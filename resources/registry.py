"""Resources per environment, as data: the profile (`resources/profile.py`) says which services to use.

Sample services (local, the default): bundled sample payloads, DuckDB warehouse and vectors under
`SOPHIA_DATA_DIR` (default `.sophia/`), the wordllama embedder that ships in its wheel. Live services
(production): Apify, PhantomBuster, Tavily, Snowflake, Pinecone and a TEI embedding server, with every secret
wired through `dg.EnvVar` (resolved at run time, never stored in run config or shown in the UI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from resources.duckdb_vector_store import DuckDBVectorStore
from resources.embeddings import Embedder, WordLlamaEmbedder
from resources.payloads import SamplePayloadSource, samples_dir_from_env
from resources.pipeline_settings import PipelineSettings
from resources.profile import TEI_DIMENSION, TEI_MODEL, WORDLLAMA_DIMENSION, EnvProfile, current_profile
from resources.vector_store import VectorStore
from resources.warehouse import DuckDBWarehouse

DEFAULT_APIFY_ACTORS = {
    "website-content-crawler": "apify~website-content-crawler",
    "linkedin-profile-scraper": "dev_fusion~Linkedin-Profile-Scraper",
}
DEFAULT_TAVILY_QUERIES = [
    "GPU cloud pricing for LLM inference",
    "vector database benchmarks for semantic search",
    "data engineering best practices for AI pipelines",
]


def data_dir() -> Path:
    return Path(os.environ.get("SOPHIA_DATA_DIR") or ".sophia").resolve()


def _json_env(name: str, default: Any) -> Any:
    raw = os.environ.get(name)
    return json.loads(raw) if raw else default


def _env_overrides(**fields: str) -> dict[str, str]:
    """{field: value} for each environment variable (named by the keyword's value) that is set."""
    return {name: os.environ[var] for name, var in fields.items() if os.environ.get(var)}


def pipeline_settings() -> PipelineSettings:
    return PipelineSettings(
        chunk_max_chars=int(os.environ.get("SOPHIA_CHUNK_MAX_CHARS", 1200)),
        chunk_overlap_chars=int(os.environ.get("SOPHIA_CHUNK_OVERLAP_CHARS", 150)),
        max_reject_rate=float(os.environ.get("SOPHIA_MAX_REJECT_RATE", 0.25)),
    )


def embedding_dimension(default: int = WORDLLAMA_DIMENSION) -> int:
    return int(os.environ.get("SOPHIA_EMBEDDING_DIM") or default)


def local_resources(root: Path | None = None, samples_dir: Path | None = None) -> dict[str, Any]:
    root = root or data_dir()
    root.mkdir(parents=True, exist_ok=True)
    samples = str(samples_dir or samples_dir_from_env())
    dim = embedding_dimension()
    return {
        "apify": SamplePayloadSource(system="apify", samples_dir=samples),
        "phantombuster": SamplePayloadSource(system="phantombuster", samples_dir=samples),
        "tavily": SamplePayloadSource(system="tavily", samples_dir=samples),
        "warehouse": DuckDBWarehouse(duckdb=DuckDBResource(database=str(root / "warehouse.duckdb"))),
        "embedder": WordLlamaEmbedder(dimension=dim),
        "vector_store": DuckDBVectorStore(database=str(root / "vectors.duckdb"), dimension=dim),
        "pipeline": pipeline_settings(),
    }


def live_resources(profile: EnvProfile) -> dict[str, Any]:
    from dagster_snowflake import SnowflakeResource

    from resources.apify import ApifyPayloadSource
    from resources.embeddings import TeiEmbedder
    from resources.phantombuster import PhantomBusterPayloadSource
    from resources.pinecone_vector_store import PineconeVectorStore
    from resources.snowflake_warehouse import SnowflakeWarehouse
    from resources.tavily import TavilyPayloadSource

    embedder: Embedder
    if os.environ.get("SOPHIA_EMBEDDER", profile.embedder) == "tei":
        dim = embedding_dimension(TEI_DIMENSION)
        model = os.environ.get("TEI_MODEL", TEI_MODEL)
        embedder = TeiEmbedder(base_url=dg.EnvVar("TEI_URL"), model=model, dimension=dim)
    else:
        dim = embedding_dimension()
        embedder = WordLlamaEmbedder(dimension=dim)
    # Endpoints default to the public APIs; the *_API_URL variables point them at proxies or test stand-ins.
    return {
        "apify": ApifyPayloadSource(
            token=dg.EnvVar("APIFY_TOKEN"),
            actors=_json_env("SOPHIA_APIFY_ACTORS", DEFAULT_APIFY_ACTORS),
            **_env_overrides(api_url="APIFY_API_URL"),
        ),
        "phantombuster": PhantomBusterPayloadSource(
            api_key=dg.EnvVar("PHANTOMBUSTER_API_KEY"),
            **_env_overrides(base_url="PHANTOMBUSTER_API_URL", s3_base_url="PHANTOMBUSTER_S3_URL"),
            agents=_json_env(
                "SOPHIA_PHANTOMBUSTER_AGENTS",
                {"linkedin-search-export": os.environ.get("PHANTOMBUSTER_LINKEDIN_SEARCH_AGENT_ID", "")},
            ),
        ),
        "tavily": TavilyPayloadSource(
            api_key=dg.EnvVar("TAVILY_API_KEY"),
            queries=_json_env("SOPHIA_TAVILY_QUERIES", DEFAULT_TAVILY_QUERIES),
            **_env_overrides(api_base_url="TAVILY_API_URL"),
        ),
        "warehouse": SnowflakeWarehouse(
            snowflake=SnowflakeResource(
                account=dg.EnvVar("SNOWFLAKE_ACCOUNT"),
                user=dg.EnvVar("SNOWFLAKE_USER"),
                password=dg.EnvVar("SNOWFLAKE_PASSWORD"),
                database=dg.EnvVar("SNOWFLAKE_DATABASE"),
                schema=dg.EnvVar("SNOWFLAKE_SCHEMA"),
                warehouse=dg.EnvVar("SNOWFLAKE_WAREHOUSE"),
                role=dg.EnvVar("SNOWFLAKE_ROLE"),
            )
        ),
        "embedder": embedder,
        "vector_store": PineconeVectorStore(
            api_key=dg.EnvVar("PINECONE_API_KEY"),
            index_host=dg.EnvVar("PINECONE_INDEX_HOST"),
            namespace=os.environ.get("PINECONE_NAMESPACE", "documents"),
            dimension=dim,
        ),
        "pipeline": pipeline_settings(),
    }


def build_resources(profile: EnvProfile) -> dict[str, Any]:
    """The resources of `profile`: bundled samples + DuckDB, or the live services."""
    return local_resources() if profile.services == "samples" else live_resources(profile)


def build_search_resources() -> tuple[Embedder, VectorStore]:
    """The embedder and vector store the search CLI uses, for the current profile."""
    res = build_resources(current_profile())
    embedder, store = res["embedder"], res["vector_store"]
    return resolve(embedder), resolve(store)


def resolve(resource: Any) -> Any:
    """The resource with its `EnvVar` fields and nested resources resolved, for use outside a run (CLIs)."""
    with resource.process_config_and_initialize_cm() as initialized:
        return initialized
