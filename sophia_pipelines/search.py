"""Hybrid search over the documents: `python -m sophia_pipelines.search "query" -k 5 [--source S] [--since D]`.

Each query is answered from two rankings of chunks: the vector store's (dense, cosine) and the lexical store's
(BM25 over title + text). They are fused by reciprocal rank fusion (`retrieval/fusion.py`, weights in
`retrieval/settings.py`), near-duplicates are collapsed into one result listing every source
(`retrieval/collapse.py`), and each result shows its best chunk with the query's words marked. When no result
has a strong dense score or contains enough of the query's words, the answer is "no good match".

Library entry point (the MCP data server calls this): `search_documents(query, k, source, since, until)`.
Resources come from `resources.registry.build_hybrid_search_resources()` (local: wordllama + DuckDB vectors + a
bm25s index under SOPHIA_DATA_DIR; production: TEI + Pinecone dense index + Pinecone sparse index).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Literal, TextIO

from resources.embeddings import Embedder, EmbeddingError
from resources.lexical_store import LexicalStore, epoch_seconds
from resources.tokenizer import text_tokens, tokenize
from resources.vector_store import VectorMatch, VectorStore, VectorStoreError
from sophia_pipelines.retrieval.collapse import ChunkHit, CollapsedHit, collapse
from sophia_pipelines.retrieval.fusion import reciprocal_rank_fusion, title_ranking
from sophia_pipelines.retrieval.phrases import phrase_ranking
from sophia_pipelines.retrieval.settings import DEFAULT_SEARCH_SETTINGS, DENSE, LEXICAL, PHRASE, TITLE, SearchSettings
from sophia_pipelines.retrieval.snippets import coverage, highlight

SNIPPET_CHARS = 160
MAX_K = 100
Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "lexical")
EMPTY_STORE_MESSAGE = (
    "The vector store is empty ({where}).\n"
    "Run the pipeline first so sources are landed, chunked and embedded: `python -m sophia_pipelines.land` (or "
    "the demo, or the sensors and automation of `dg dev`), then search again."
)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One document (or one article carried by several sources) that answers the query."""

    document_id: str
    title: str
    url: str | None
    sources: tuple[str, ...]
    score: float  # fused (reciprocal rank) score; comparable only within one answer
    snippet: str  # the best chunk's most relevant part, query words marked **like this**
    chunk_id: str
    dense_score: float | None  # cosine of the best chunk, if the dense ranking had it
    lexical_score: float | None  # BM25 of the best chunk, if the lexical ranking had it
    published_at: datetime | None = None
    duplicates: tuple[str, ...] = ()  # the other document ids collapsed into this result
    urls: tuple[str, ...] = ()
    text: str = ""  # the best chunk's whole text (the passage an answer cites)


@dataclass(frozen=True, slots=True)
class SearchResponse:
    query: str
    results: list[SearchResult]  # empty when there is no good match
    no_good_match: bool = False
    closest: list[SearchResult] = field(default_factory=list)  # the weak results, when there is no good match


def search(
    query: str, embedder: Embedder, store: VectorStore, k: int = 5, source: str | None = None
) -> list[VectorMatch]:
    """The `k` chunks most similar to `query` by their vectors alone, best first (optionally one source only)."""
    if not query.strip():
        raise ValueError("query must not be empty")
    if embedder.dimension != store.dimension:
        raise ValueError(
            f"embedder {embedder.model_id} makes {embedder.dimension}-dim vectors but the store holds "
            f"{store.dimension}-dim vectors"
        )
    vector = embedder.embed([query])[0]
    return store.query(vector, top_k=k, source=source)


def _in_range(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    stamp = epoch_seconds(when)
    return (
        stamp is not None
        and (since is None or stamp >= epoch_seconds(since))
        and (until is None or stamp <= epoch_seconds(until))
    )


def _result(group: CollapsedHit, tokens: list[str], dense: dict[str, float], lexical: dict[str, float], chars: int):
    best = group.best
    title = " ".join(str(best.title or "(untitled)").split())
    return SearchResult(
        document_id=best.document_id,
        title=title,
        url=best.url,
        sources=group.sources,
        score=best.score,
        snippet=highlight(best.text or "", set(tokens), chars),
        chunk_id=best.chunk_id,
        dense_score=dense.get(best.chunk_id),
        lexical_score=lexical.get(best.chunk_id),
        published_at=best.published_at,
        duplicates=group.document_ids[1:],
        urls=group.urls,
        text=best.text or "",
    )


def hybrid_search(
    query: str,
    embedder: Embedder,
    vector_store: VectorStore,
    lexical_store: LexicalStore | None,
    k: int = 5,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    settings: SearchSettings = DEFAULT_SEARCH_SETTINGS,
    mode: Mode = "hybrid",
) -> SearchResponse:
    """Fused, collapsed, filtered results for `query` (`mode` dense/lexical: one ranking only, for comparison)."""
    if not query.strip():
        raise ValueError("query must not be empty")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}")
    tokens = text_tokens(query)
    depth = max(settings.candidates, k * 4)
    rankings: dict[str, list[str]] = {}
    meta: dict[str, dict] = {}
    dense_scores: dict[str, float] = {}
    lexical_scores: dict[str, float] = {}
    deep: list[VectorMatch] = []
    if mode != "lexical":
        matches = search(query, embedder, vector_store, depth, source)
        rankings[DENSE] = [m.id for m in matches]
        dense_scores = {m.id: m.score for m in matches}
        meta.update((m.id, m.metadata) for m in matches)
    if mode != "dense" and lexical_store is not None and tokens:
        # Hybrid reads the lexical ranking deeper for the phrase ranking only: in a corpus of similar pages the
        # chunk holding a remembered phrase can sit below BM25's top 50 (at 100k generated chunks: 12% of them).
        lexical_depth = max(depth, settings.phrase_candidates) if mode == "hybrid" else depth
        deep = lexical_store.query(tokens, lexical_depth, source, since, until)
        matches = deep[:depth]
        rankings[LEXICAL] = [m.id for m in matches]
        lexical_scores = {m.id: m.score for m in matches}
        meta.update((m.id, m.metadata) for m in deep)  # lexical metadata also has the date
    if (since or until) and lexical_store is not None:
        undated = [cid for cid in rankings.get(DENSE, []) if "published_at" not in meta[cid]]
        meta.update(lexical_store.fetch(undated) if undated else {})
    if mode == "hybrid":
        candidates = dict.fromkeys(cid for ranking in rankings.values() for cid in ranking)
        titles = dict(zip(candidates, tokenize([meta[cid].get("title") or "" for cid in candidates]), strict=True))
        rankings[TITLE] = title_ranking(tokens, titles)
        # Equal pair counts keep this order: the title ranking's first (an exact title over a suffixed one).
        phrase_candidates = dict.fromkeys([*rankings[TITLE], *candidates, *(m.id for m in deep)])
        texts = {cid: (meta[cid].get("title") or "", meta[cid].get("text") or "") for cid in phrase_candidates}
        rankings[PHRASE] = phrase_ranking(query, texts, settings.min_phrase_share)
    fused = reciprocal_rank_fusion(rankings, settings.weights, settings.rrf_k)
    hits = []
    for cid, score in fused:
        m = meta[cid]
        if not _in_range(m.get("published_at"), since, until):
            continue
        hits.append(
            ChunkHit(
                chunk_id=cid,
                document_id=m.get("document_id") or cid,
                score=score,
                source=m.get("source"),
                url=m.get("url"),
                title=m.get("title"),
                text=m.get("text"),
                published_at=m.get("published_at"),
            )
        )
    results = [_result(g, tokens, dense_scores, lexical_scores, settings.snippet_chars) for g in collapse(hits)[:k]]

    def strong(r: SearchResult) -> bool:
        if r.dense_score is not None and r.dense_score >= settings.min_dense_score:
            return True
        hit = next(h for h in hits if h.chunk_id == r.chunk_id)
        return coverage(f"{hit.title or ''}\n{hit.text or ''}", tokens) >= settings.min_term_coverage

    if results and not any(strong(r) for r in results):
        return SearchResponse(query, [], no_good_match=True, closest=results)
    return SearchResponse(query, results, no_good_match=not results)


@cache
def default_search_resources() -> tuple[Embedder, VectorStore, LexicalStore]:
    """The current profile's embedder, vector store and lexical store, built once per process."""
    from resources.registry import build_hybrid_search_resources

    return build_hybrid_search_resources()


def search_documents(
    query: str,
    k: int = 5,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[SearchResult]:
    """The library entry point: up to `k` collapsed results, best first; [] when nothing matches well.

    Uses the current profile's embedder, vector store and lexical store (built once per process).
    """
    embedder, vector_store, lexical_store = default_search_resources()
    return hybrid_search(query, embedder, vector_store, lexical_store, k, source, since, until).results


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


def _format_list(results: Sequence[SearchResult]) -> list[str]:
    lines = []
    for rank, r in enumerate(results, start=1):
        when = f"  ·  {r.published_at:%Y-%m-%d}" if r.published_at else ""
        lines.append(f"{rank:>2}. [{r.score:.4f}] {r.title}")
        sources = ", ".join(r.sources) or "(unknown source)"
        also = f" ({len(r.sources)} sources)" if len(r.sources) > 1 else ""
        lines.append(f"    {r.url or '(no url)'}  ·  {sources}{also}{when}")
        lines.append(f"    {r.snippet}")
        lines.append("")
    return lines


def format_response(response: SearchResponse) -> str:
    """Human-readable results: rank, fused score, title; URL, sources, date; the snippet with matches marked."""
    if response.no_good_match and response.closest:
        head = [f'No good match for "{response.query}": every result scored weakly. Closest:', ""]
        return "\n".join(head + _format_list(response.closest)).rstrip("\n")
    if not response.results:
        return f'No results for "{response.query}".'
    head = [f'Top {len(response.results)} results for "{response.query}":', ""]
    return "\n".join(head + _format_list(response.results)).rstrip("\n")


def _day(value: str) -> datetime:
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sophia_pipelines.search", description="Hybrid (BM25 + semantic) search over the documents."
    )
    parser.add_argument("query", help="what to look for, in plain language or exact words")
    parser.add_argument("-k", "--top-k", type=int, default=5, help=f"number of results (1-{MAX_K}, default 5)")
    parser.add_argument("--source", default=None, help='only this source, e.g. "tavily/search"')
    parser.add_argument("--since", type=_day, default=None, help="only documents dated on/after YYYY-MM-DD")
    parser.add_argument("--until", type=_day, default=None, help="only documents dated before the end of YYYY-MM-DD")
    parser.add_argument("--mode", choices=MODES, default="hybrid", help="ranking(s) to use (default hybrid)")
    return parser


def run(
    query: str,
    embedder: Embedder,
    store: VectorStore,
    k: int = 5,
    source: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    lexical_store: LexicalStore | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    mode: Mode = "hybrid",
) -> int:
    """Search and print (default stdout/stderr); exit code 0 on success, 1 if the store is empty, 2 on errors."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if store.count() == 0:
            where = ", ".join(f"{key}={value}" for key, value in store.describe().items() if key != "count")
            print(EMPTY_STORE_MESSAGE.format(where=where), file=err)
            return 1
        response = hybrid_search(query, embedder, store, lexical_store, k, source, since, until, mode=mode)
    except (EmbeddingError, VectorStoreError, ValueError) as exc:
        print(f"search failed: {exc}", file=err)
        return 2
    print(format_response(response), file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.query.strip():
        _parser().error("query must not be empty")
    if not 1 <= args.top_k <= MAX_K:
        _parser().error(f"-k must be between 1 and {MAX_K}")
    until = args.until.replace(hour=23, minute=59, second=59) if args.until else None
    from resources.registry import build_hybrid_search_resources

    try:
        embedder, store, lexical = build_hybrid_search_resources()
    except Exception as exc:  # misconfiguration (e.g. a missing env var): one clear line, no traceback
        print(f"search: cannot set up the embedder and stores: {exc}", file=sys.stderr)
        return 2
    return run(
        args.query,
        embedder,
        store,
        args.top_k,
        args.source,
        lexical_store=lexical,
        since=args.since,
        until=until,
        mode=args.mode,
    )


if __name__ == "__main__":
    sys.exit(main())
