"""Document search for the MCP servers: the ONE place that calls `sophia_pipelines.search`.

The data server's `search_documents` and the AI server's `ask` both go through `search_documents` here, so
the retrieval behind them (today: dense search over the vector store) is rewired in one function.
"""

from __future__ import annotations

import functools
from typing import Any

from resources.embeddings import Embedder
from resources.vector_store import VectorStore
from sophia_mcp.errors import Refused

MAX_K = 50


@functools.cache
def search_resources() -> tuple[Embedder, VectorStore]:
    """The embedder and vector store of the current profile (built once per process)."""
    from resources.registry import build_search_resources

    return build_search_resources()


def check_k(k: int) -> int:
    if isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise Refused(f"refused: k must be between 1 and {MAX_K}, got {k}")
    return k


def search_documents(query: str, k: int = 5, source: str | None = None) -> list[dict[str, Any]]:
    """The `k` best matching passages: title, url, source, score, snippet, document_id and the full text."""
    from sophia_pipelines.search import search, snippet

    embedder, store = search_resources()
    if store.count() == 0:
        raise Refused("the vector store is empty: land and embed the documents first (`bash scripts/demo.sh`)")
    matches = search(query, embedder, store, check_k(k), source or None)
    return [
        {
            "title": " ".join(str(m.metadata.get("title") or "(untitled)").split()),
            "url": m.metadata.get("url"),
            "source": m.metadata.get("source"),
            "score": round(float(m.score), 4),
            "snippet": snippet(m.metadata.get("text")),
            "document_id": m.metadata.get("document_id"),
            "text": m.metadata.get("text") or "",
        }
        for m in matches
    ]
