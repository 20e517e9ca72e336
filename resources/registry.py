"""Resources per environment, as data: the profile (`resources/profile.py`) says which services to use.

Sample services (local, the default): bundled sample payloads, DuckDB warehouse and vectors under
`SOPHIA_DATA_DIR` (default `.sophia/`), the wordllama embedder that ships in its wheel. Live services
(production): Apify, PhantomBuster, Tavily, Snowflake, Pinecone and a TEI embedding server, with every secret
wired through `dg.EnvVar` (resolved at run time, never stored in run config or shown in the UI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from resources.duckdb_vector_store import DuckDBVectorStore
from resources.embeddings import Embedder, WordLlamaEmbedder
from resources.lexical_store import LexicalStore, LocalLexicalStore
from resources.payloads import SamplePayloadSource, samples_dir_from_env
from resources.pipeline_settings import PipelineSettings
from resources.profile import TEI_DIMENSION, TEI_MODEL, WORDLLAMA_DIMENSION, EnvProfile, current_profile
from resources.vector_store import VectorStore
from resources.warehouse import DuckDBWarehouse

# What each stream reads upstream by default, as {system: {stream: default}}: an Apify actor id, for PhantomBuster
# the name of the environment variable holding the agent id, for Tavily the queries. The data plane builds it from
# its stream catalogue (`sophia_pipelines.streams.upstream_config`); resources import nothing from the data plane.
Upstreams = Mapping[str, Mapping[str, Any]]


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
        "lexical_store": LocalLexicalStore(directory=str(root / "lexical")),
        "pipeline": pipeline_settings(),
    }


def apify_actors(upstreams: Upstreams) -> dict[str, str]:
    """{stream: actor id}: SOPHIA_APIFY_ACTORS (JSON) or the streams' defaults."""
    return _json_env("SOPHIA_APIFY_ACTORS", dict(upstreams.get("apify", {})))


def phantombuster_agents(upstreams: Upstreams) -> dict[str, str]:
    """{stream: agent id}: SOPHIA_PHANTOMBUSTER_AGENTS (JSON), or each stream's agent id variable ("" if unset)."""
    defaults = {stream: os.environ.get(var, "") for stream, var in upstreams.get("phantombuster", {}).items()}
    return _json_env("SOPHIA_PHANTOMBUSTER_AGENTS", defaults)


def tavily_queries(upstreams: Upstreams) -> list[str]:
    """SOPHIA_TAVILY_QUERIES (JSON) or the Tavily streams' query sets."""
    defaults = [query for queries in upstreams.get("tavily", {}).values() for query in queries]
    return _json_env("SOPHIA_TAVILY_QUERIES", defaults)


def snowflake_auth() -> dict[str, dg.EnvVar]:
    """Key-pair auth when SNOWFLAKE_PRIVATE_KEY is set (ESC rotates the key pair), else SNOWFLAKE_PASSWORD."""
    if os.environ.get("SNOWFLAKE_PRIVATE_KEY"):
        return {"private_key": dg.EnvVar("SNOWFLAKE_PRIVATE_KEY")}
    return {"password": dg.EnvVar("SNOWFLAKE_PASSWORD")}


def live_resources(profile: EnvProfile, upstreams: Upstreams | None = None) -> dict[str, Any]:
    """The live services; `upstreams` are the streams' defaults (None: only what the environment sets)."""
    from dagster_snowflake import SnowflakeResource

    from resources.apify import ApifyPayloadSource
    from resources.embeddings import TeiEmbedder
    from resources.phantombuster import PhantomBusterPayloadSource
    from resources.pinecone_vector_store import PineconeLexicalStore, PineconeVectorStore
    from resources.snowflake_warehouse import SnowflakeWarehouse
    from resources.tavily import TavilyPayloadSource

    upstreams = upstreams or {}

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
            actors=apify_actors(upstreams),
            **_env_overrides(api_url="APIFY_API_URL"),
        ),
        "phantombuster": PhantomBusterPayloadSource(
            api_key=dg.EnvVar("PHANTOMBUSTER_API_KEY"),
            **_env_overrides(base_url="PHANTOMBUSTER_API_URL", s3_base_url="PHANTOMBUSTER_S3_URL"),
            agents=phantombuster_agents(upstreams),
        ),
        "tavily": TavilyPayloadSource(
            api_key=dg.EnvVar("TAVILY_API_KEY"),
            queries=tavily_queries(upstreams),
            **_env_overrides(api_base_url="TAVILY_API_URL"),
        ),
        "warehouse": SnowflakeWarehouse(
            snowflake=SnowflakeResource(
                account=dg.EnvVar("SNOWFLAKE_ACCOUNT"),
                user=dg.EnvVar("SNOWFLAKE_USER"),
                **snowflake_auth(),
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
        # BM25 on a Pinecone sparse index (vector type sparse, metric dotproduct) beside the dense one.
        "lexical_store": PineconeLexicalStore(
            api_key=dg.EnvVar("PINECONE_API_KEY"),
            index_host=dg.EnvVar("PINECONE_SPARSE_INDEX_HOST"),
            namespace=os.environ.get("PINECONE_NAMESPACE", "documents"),
        ),
        "pipeline": pipeline_settings(),
    }


def build_resources(profile: EnvProfile, upstreams: Upstreams | None = None) -> dict[str, Any]:
    """The resources of `profile`: bundled samples + DuckDB, or the live services reading `upstreams`."""
    return local_resources() if profile.services == "samples" else live_resources(profile, upstreams)


def build_search_resources() -> tuple[Embedder, VectorStore]:
    """The embedder and vector store the search CLI uses, for the current profile."""
    res = build_resources(current_profile())
    embedder, store = res["embedder"], res["vector_store"]
    return resolve(embedder), resolve(store)


def build_hybrid_search_resources() -> tuple[Embedder, VectorStore, LexicalStore]:
    """The embedder, vector store and lexical store that hybrid search uses, for the current profile."""
    res = build_resources(current_profile())
    return resolve(res["embedder"]), resolve(res["vector_store"]), resolve(res["lexical_store"])


def resolve(resource: Any) -> Any:
    """The resource with its `EnvVar` fields and nested resources resolved, for use outside a run (CLIs)."""
    with resource.process_config_and_initialize_cm() as initialized:
        return initialized


def resolve_all(resources: Mapping[str, Any], instance: dg.DagsterInstance) -> dict[str, Any]:
    """Like `resolve`, for several resources at once against `instance`: `resolve` builds an ephemeral instance
    per resource (~0.1 s each), which is most of an idle `python -m sophia_pipelines.land` pass."""
    with dg.build_resources(dict(resources), instance=instance) as initialized:
        return {key: getattr(initialized, key) for key in resources}
