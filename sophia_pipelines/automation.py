"""Declarative automation and freshness of the data plane, in one place.

`documents` → `chunks` → `chunk_vectors` (and their checks) run whenever something upstream updated: a raw
partition landed by a source sensor, or the asset above them. The raw assets' partitions need not all be present
(a source run whose landing failed must not stop the others flowing on), so the condition is `eager()` without
its clauses about missing data. Freshness policies turn an asset red in the UI once it is older than its window.
"""

from datetime import timedelta

import dagster as dg

DATA_PLANE_AUTOMATION = "data_plane_automation"  # the automation condition sensor over the data plane's groups
INFRA_AUTOMATION = "infra_automation"  # ... and the one over the rest (the infra drift checks, on a cron)
DATA_PLANE_GROUPS = ("ingestion", "warehouse", "vectors")

# Updates flow downstream: any dependency updated (or will be on this tick) since this was last requested or
# updated, none in progress, not running itself. `eager()` minus its two clauses about missing data: a raw partition
# registered but not landed (or failed) must not hold the rest back, and a fresh instance runs nothing on its own.
ON_UPSTREAM_UPDATE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("upstream_updated")

# Sources land at least daily; documents follow them; vectors may take a little longer behind the documents.
RAW_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=1), warn_window=timedelta(hours=12))
DOCUMENTS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=1), warn_window=timedelta(hours=12))
VECTORS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=14))


def with_raw_freshness(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The raw assets with `RAW_FRESHNESS` on every spec."""
    return list(dg.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=RAW_FRESHNESS), assets))
