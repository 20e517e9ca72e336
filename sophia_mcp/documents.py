"""Document search for the MCP servers: the ONE place that calls `sophia_pipelines.search`.

The data server's `search_documents` and the AI server's `ask` both go through `search_documents` here: hybrid
(lexical + dense) retrieval with near-duplicates collapsed, `sophia_pipelines.search.search_documents`.
"""

from __future__ import annotations

from typing import Any

from resources.embeddings import Embedder
from resources.vector_store import VectorStore
from sophia_mcp.errors import Refused

MAX_K = 50


def search_resources() -> tuple[Embedder, VectorStore]:
    """The embedder and vector store of the current profile (the ones search uses; built once per process)."""
    from sophia_pipelines.search import default_search_resources

    embedder, vector_store, _ = default_search_resources()
    return embedder, vector_store


def check_k(k: int) -> int:
    if isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise Refused(f"refused: k must be between 1 and {MAX_K}, got {k}")
    return k


def search_documents(query: str, k: int = 5, source: str | None = None) -> list[dict[str, Any]]:
    """The `k` best documents by hybrid retrieval (duplicates across sources collapsed into one result):
    title, url, source(s), score, snippet (query words marked), document_id and the best passage's full text.
    Empty when nothing matches well."""
    from sophia_pipelines.search import search_documents as hybrid_search_documents

    check_k(k)
    if search_resources()[1].count() == 0:
        raise Refused("the vector store is empty: land and embed the documents first (`bash scripts/demo.sh`)")
    results = hybrid_search_documents(query, k, source or None)
    return [
        {
            "title": r.title,
            "url": r.url,
            "source": ", ".join(r.sources),  # every source of a result collapsed across sources
            "score": round(float(r.score), 4),
            "snippet": r.snippet,
            "document_id": r.document_id,
            "text": r.text,
        }
        for r in results
    ]
