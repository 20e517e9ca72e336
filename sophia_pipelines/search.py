"""Semantic search over the embedded chunks: `python -m sophia_pipelines.search "query" -k 5 [--source S]`.

The embedder and vector store come from `resources.registry.build_search_resources()` (local: wordllama +
DuckDB under SOPHIA_DATA_DIR; production: TEI + Pinecone), so the CLI searches whatever the pipeline built.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from resources.embeddings import Embedder, EmbeddingError
from resources.vector_store import VectorMatch, VectorStore, VectorStoreError

SNIPPET_CHARS = 160
MAX_K = 100
EMPTY_STORE_MESSAGE = (
    "The vector store is empty ({where}).\n"
    "Run the pipeline first so sources are landed, chunked and embedded: `python -m sophia_pipelines.land` (or "
    "the demo, or the sensors and automation of `dg dev`), then search again."
)


def search(
    query: str, embedder: Embedder, store: VectorStore, k: int = 5, source: str | None = None
) -> list[VectorMatch]:
    """The `k` chunks most similar to `query`, best first (optionally from one source only)."""
    if not query.strip():
        raise ValueError("query must not be empty")
    if embedder.dimension != store.dimension:
        raise ValueError(
            f"embedder {embedder.model_id} makes {embedder.dimension}-dim vectors but the store holds "
            f"{store.dimension}-dim vectors"
        )
    vector = embedder.embed([query])[0]
    return store.query(vector, top_k=k, source=source)


def snippet(text: str | None, limit: int = SNIPPET_CHARS) -> str:
    """One line of at most `limit` characters, cut on a word boundary with an ellipsis."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def format_results(query: str, matches: Sequence[VectorMatch]) -> str:
    """Human-readable results: rank, score, title, then URL and source, then a one-line snippet."""
    if not matches:
        return f'No results for "{query}".'
    lines = [f'Top {len(matches)} results for "{query}":', ""]
    for rank, match in enumerate(matches, start=1):
        meta = match.metadata
        title = " ".join(str(meta.get("title") or "(untitled)").split())
        lines.append(f"{rank:>2}. [{match.score:.3f}] {title}")
        lines.append(f"    {meta.get('url') or '(no url)'}  ·  {meta.get('source') or '(unknown source)'}")
        lines.append(f"    {snippet(meta.get('text'))}")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sophia_pipelines.search", description="Semantic search over the embedded documents."
    )
    parser.add_argument("query", help="what to look for, in plain language")
    parser.add_argument("-k", "--top-k", type=int, default=5, help=f"number of results (1-{MAX_K}, default 5)")
    parser.add_argument("--source", default=None, help='only this source, e.g. "tavily/search"')
    return parser


def run(
    query: str,
    embedder: Embedder,
    store: VectorStore,
    k: int = 5,
    source: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Search and print (default stdout/stderr); exit code 0 on success, 1 if the store is empty, 2 on errors."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if store.count() == 0:
            where = ", ".join(f"{key}={value}" for key, value in store.describe().items() if key != "count")
            print(EMPTY_STORE_MESSAGE.format(where=where), file=err)
            return 1
        matches = search(query, embedder, store, k, source)
    except (EmbeddingError, VectorStoreError, ValueError) as exc:
        print(f"search failed: {exc}", file=err)
        return 2
    print(format_results(query, matches), file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.query.strip():
        _parser().error("query must not be empty")
    if not 1 <= args.top_k <= MAX_K:
        _parser().error(f"-k must be between 1 and {MAX_K}")
    from resources.registry import build_search_resources

    try:
        embedder, store = build_search_resources()
    except Exception as exc:  # misconfiguration (e.g. a missing env var): one clear line, no traceback
        print(f"search: cannot set up the embedder and vector store: {exc}", file=sys.stderr)
        return 2
    return run(args.query, embedder, store, args.top_k, args.source)


if __name__ == "__main__":
    sys.exit(main())
