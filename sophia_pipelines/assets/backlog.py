"""What the data plane reports about its embedding backlog, for whoever scales on it.

`chunks` and `chunk_vectors` put the number of chunks the vector store lacks for the current model on every
materialization under `PENDING_EMBEDDING`; the code location hands these names to the infra plane's backlog
sensor, so neither plane spells the other's asset keys or metadata names.
"""

import dagster as dg

PENDING_EMBEDDING = "pending_embedding"
BACKLOG_ASSETS = (dg.AssetKey("chunks"), dg.AssetKey("chunk_vectors"))
