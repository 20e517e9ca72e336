"""Raw landing assets: one per source stream, each payload kept untouched with its batch id and fetch time."""

from dataclasses import dataclass

import dagster as dg

from resources.payloads import PayloadSource
from resources.warehouse import Warehouse
from sophia_pipelines.domain import documents as d
from sophia_pipelines.domain import tables as t
from sophia_pipelines.domain.tables import TableSpec
from sophia_pipelines.stages.raw import land_raw

OWNERS = ["team:data-platform"]
INGESTION_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


@dataclass(frozen=True, slots=True)
class RawStream:
    """One source stream and the raw table it lands in."""

    system: str  # resource key: apify | phantombuster | tavily
    stream: str
    source: str  # source id stored on every row (sophia_pipelines.domain.documents)
    table: TableSpec
    description: str


RAW_STREAMS = (
    RawStream(
        "apify",
        "website-content-crawler",
        d.APIFY_WEBSITE_CONTENT,
        t.RAW_APIFY_WEBSITE_CONTENT,
        "Apify Website Content Crawler dataset items (one row per crawled page), untouched.",
    ),
    RawStream(
        "apify",
        "linkedin-profile-scraper",
        d.APIFY_LINKEDIN_PROFILES,
        t.RAW_APIFY_LINKEDIN_PROFILES,
        "Apify LinkedIn profile scraper dataset items (one row per profile), untouched.",
    ),
    RawStream(
        "phantombuster",
        "linkedin-search-export",
        d.PHANTOMBUSTER_LINKEDIN_SEARCH,
        t.RAW_PHANTOMBUSTER_LINKEDIN_SEARCH,
        "PhantomBuster LinkedIn Search Export agent results (one row per result row), untouched.",
    ),
    RawStream(
        "tavily",
        "search",
        d.TAVILY_SEARCH,
        t.RAW_TAVILY_SEARCH,
        "Tavily search responses (one row per query response, results nested), untouched.",
    ),
)


def build_raw_asset(stream: RawStream, warehouse_kind: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=stream.table.name,
        group_name="ingestion",
        kinds={stream.system, warehouse_kind},
        owners=OWNERS,
        description=stream.description,
        required_resource_keys={stream.system, "warehouse"},
        retry_policy=INGESTION_RETRY,
        tags={"sophia/source": stream.system},
    )
    def _raw_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        source: PayloadSource = getattr(context.resources, stream.system)
        warehouse: Warehouse = context.resources.warehouse
        with warehouse.session() as session:
            result = land_raw(session, stream.table, stream.source, source, stream.stream)
        context.log.info(
            f"{stream.source}: {result.items} items in {result.batches} new or changed batches -> "
            f"{result.counts.inserted} new, {result.counts.updated} changed, {result.unchanged} unchanged"
        )
        return dg.MaterializeResult(
            metadata={
                "batches": result.batches,
                "items_fetched": result.items,
                "rows_inserted": result.counts.inserted,
                "rows_updated": result.counts.updated,
                "rows_unchanged": result.unchanged,
                "dagster/row_count": result.total_rows,
                "table": f"{warehouse.describe()}/{stream.table.name}",
            }
        )

    return _raw_asset


def build_ingestion_assets(warehouse_kind: str) -> list[dg.AssetsDefinition]:
    return [build_raw_asset(s, warehouse_kind) for s in RAW_STREAMS]
