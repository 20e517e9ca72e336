"""Search: dense and hybrid ranking, collapse, filters, "no good match", the formatting and the CLI (local, offline)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from resources.duckdb_vector_store import DuckDBVectorStore
from resources.embeddings import WordLlamaEmbedder
from resources.lexical_store import LexicalRecord, LocalLexicalStore, records_table
from resources.tokenizer import chunk_tokens
from sophia_pipelines.domain.chunking import chunk_document
from sophia_pipelines.retrieval.settings import SearchSettings
from sophia_pipelines.retrieval.snippets import MARK
from sophia_pipelines.search import (
    SearchResponse,
    SearchResult,
    format_response,
    hybrid_search,
    main,
    run,
    search,
    snippet,
)
from sophia_pipelines.stages.vectors import chunk_record

DOCS = [
    (
        "gpu",
        "tavily/search",
        "GPU cloud pricing in 2026",
        "https://example.com/gpu",
        "Renting an A100 GPU costs about two dollars per hour on most GPU clouds. H100 instances cost more, "
        "and reserved capacity is cheaper than on-demand pricing for long training runs.",
    ),
    (
        "bread",
        "apify/website-content-crawler",
        "Sourdough basics",
        "https://example.com/bread",
        "Knead the dough, let it rise overnight in the fridge, then bake the bread in a hot oven until the "
        "crust is dark and crisp.",
    ),
    (
        "vdb",
        "apify/website-content-crawler",
        "Choosing a vector database",
        "https://example.com/vdb",
        "Vector databases index embeddings for semantic search; compare recall, latency and price per "
        "million vectors before choosing one.",
    ),
]


# The GPU article again, as another source carried it (same URL): one result listing both sources.
DUPLICATE = ("gpu-dup", "apify/website-content-crawler", DOCS[0][2], DOCS[0][3], DOCS[0][4])
DATES = {"gpu": datetime(2026, 1, 5, tzinfo=UTC), "gpu-dup": datetime(2026, 1, 6, tzinfo=UTC)}


def _fill(store: DuckDBVectorStore, embedder: WordLlamaEmbedder, lexical: LocalLexicalStore | None = None) -> None:
    records, lexical_records, tokens = [], [], []
    for doc_id, source, title, url, text in [*DOCS, DUPLICATE]:
        chunks = chunk_document(doc_id, text)
        vectors = embedder.embed([c.text for c in chunks])
        records += [
            chunk_record(c, v, source=source, url=url, title=title) for c, v in zip(chunks, vectors, strict=True)
        ]
        for c in chunks:
            meta = {"document_id": doc_id, "chunk_index": c.chunk_index, "source": source, "url": url}
            meta |= {"title": title, "text": c.text, "published_at": DATES.get(doc_id)}
            lexical_records.append(LexicalRecord(c.chunk_id, meta))
            tokens.append(chunk_tokens(title, c.text))
    store.upsert(records)
    if lexical is not None:
        lexical.write(records_table(lexical_records), pa.array(tokens, pa.list_(pa.string())), [])


@pytest.fixture
def filled(tmp_path: Path) -> tuple[WordLlamaEmbedder, DuckDBVectorStore]:
    embedder = WordLlamaEmbedder()
    store = DuckDBVectorStore(database=str(tmp_path / "vectors.duckdb"), dimension=embedder.dimension)
    _fill(store, embedder, LocalLexicalStore(directory=str(tmp_path / "lexical")))
    return embedder, store


@pytest.fixture
def lexical(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore], tmp_path: Path) -> LocalLexicalStore:
    return LocalLexicalStore(directory=str(tmp_path / "lexical"))


def test_search_ranks_the_relevant_document_first(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore]) -> None:
    embedder, store = filled
    matches = search("GPU cloud pricing", embedder, store, k=4)
    assert {m.metadata["document_id"] for m in matches[:2]} == {"gpu", "gpu-dup"}
    assert matches[0].score > matches[-1].score
    assert matches[-1].metadata["document_id"] == "bread"


def test_search_source_filter(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore]) -> None:
    embedder, store = filled
    matches = search("GPU cloud pricing", embedder, store, k=5, source="apify/website-content-crawler")
    assert {m.metadata["document_id"] for m in matches} == {"bread", "vdb", "gpu-dup"}


def test_search_validates(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore], tmp_path: Path) -> None:
    embedder, store = filled
    with pytest.raises(ValueError, match="empty"):
        search("  ", embedder, store)
    other = DuckDBVectorStore(database=str(tmp_path / "other.duckdb"), dimension=64)
    with pytest.raises(ValueError, match="256-dim"):
        search("gpu", embedder, other)


def result(title: str, **fields: object) -> SearchResult:
    base = dict(document_id="d", title=title, url="https://e.com/g", sources=("tavily/search",), score=0.08765)
    base |= dict(snippet="Renting **GPUs** is cheap", chunk_id="d-0", dense_score=0.9, lexical_score=3.0)
    return SearchResult(**(base | fields))


def test_format_response() -> None:
    two_sources = ("tavily/search", "apify/website-content-crawler")
    response = SearchResponse(
        "gpu",
        [
            result("GPU pricing", sources=two_sources, published_at=datetime(2026, 1, 5, tzinfo=UTC)),
            result("(untitled)", url=None, sources=(), score=0.05),
        ],
    )
    lines = format_response(response).splitlines()
    assert lines[0] == 'Top 2 results for "gpu":'
    assert " 1. [0.0877] GPU pricing" in lines
    assert "    https://e.com/g  ·  tavily/search, apify/website-content-crawler (2 sources)  ·  2026-01-05" in lines
    assert "    Renting **GPUs** is cheap" in lines
    assert " 2. [0.0500] (untitled)" in lines and "    (no url)  ·  (unknown source)" in lines
    assert format_response(SearchResponse("q", [], no_good_match=True)) == 'No results for "q".'
    weak = format_response(SearchResponse("q", [], no_good_match=True, closest=[result("Near miss")]))
    assert weak.startswith('No good match for "q": every result scored weakly. Closest:') and "Near miss" in weak


def test_snippet() -> None:
    assert snippet("a\n b\t c") == "a b c"
    assert snippet(None) == ""
    cut = snippet("word " * 100)
    assert len(cut) <= 160 and cut.endswith("…") and "  " not in cut
    assert len(snippet("x" * 500)) == 160


def test_run_prints_results(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore]) -> None:
    embedder, store = filled
    out, err = io.StringIO(), io.StringIO()
    assert run("GPU cloud pricing", embedder, store, 2, out=out, err=err) == 0
    assert "GPU cloud pricing in 2026" in out.getvalue().splitlines()[2]
    assert "(2 sources)" in out.getvalue()  # dense results are collapsed too
    assert err.getvalue() == ""


def test_run_on_empty_store_asks_to_run_the_pipeline(tmp_path: Path) -> None:
    embedder = WordLlamaEmbedder()
    store = DuckDBVectorStore(database=str(tmp_path / "missing.duckdb"), dimension=256)
    out, err = io.StringIO(), io.StringIO()
    assert run("anything", embedder, store, out=out, err=err) == 1
    assert "Run the pipeline first" in err.getvalue()
    assert "missing.duckdb" in err.getvalue()
    assert out.getvalue() == ""
    assert not (tmp_path / "missing.duckdb").exists()


def test_main_uses_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOPHIA_ENV", "local")
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SOPHIA_EMBEDDING_DIM", raising=False)
    assert main(["GPU cloud pricing"]) == 1
    assert "Run the pipeline first" in capsys.readouterr().err

    embedder = WordLlamaEmbedder()
    lexical = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    _fill(DuckDBVectorStore(database=str(tmp_path / "vectors.duckdb"), dimension=256), embedder, lexical)
    assert main(["GPU cloud pricing", "-k", "2", "--source", "tavily/search"]) == 0
    output = capsys.readouterr().out
    assert " 1. [" in output and "GPU cloud pricing in 2026" in output and " 2. [" not in output
    assert "tavily/search" in output and "apify/website-content-crawler" not in output

    # The duplicate from the other source is collapsed into the same result; both sources are listed.
    assert main(["GPU cloud pricing", "-k", "3"]) == 0
    output = capsys.readouterr().out
    assert output.count("GPU cloud pricing in 2026") == 1 and "(2 sources)" in output
    assert f"{MARK}GPU{MARK}" in output and f"{MARK}pricing{MARK}" in output

    # Dates: only the duplicate is dated on/after 2026-01-06; undated documents drop out of a date filter.
    assert main(["GPU cloud pricing", "--since", "2026-01-06"]) == 0
    output = capsys.readouterr().out
    assert "apify/website-content-crawler  ·  2026-01-06" in output and "Sourdough" not in output
    assert main(["GPU cloud pricing", "--until", "2026-01-04"]) == 0
    assert capsys.readouterr().out.startswith('No results for "GPU cloud pricing"')

    assert main(["zxqv wplk", "--mode", "lexical"]) == 0
    assert capsys.readouterr().out.startswith('No results for "zxqv wplk"')


def test_main_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["q", "--since", "yesterday"])
    with pytest.raises(SystemExit):
        main(["q", "--mode", "magic"])
    with pytest.raises(SystemExit):
        main(["q", "-k", "0"])
    with pytest.raises(SystemExit):
        main(["   "])


def test_hybrid_fuses_both_rankings(
    filled: tuple[WordLlamaEmbedder, DuckDBVectorStore], lexical: LocalLexicalStore
) -> None:
    embedder, store = filled
    response = hybrid_search("Sourdough basics", embedder, store, lexical, k=3)
    top = response.results[0]
    assert top.document_id == "bread" and top.title == "Sourdough basics"
    assert top.lexical_score and top.lexical_score > 0 and top.dense_score is not None
    assert not response.no_good_match
    gpu = next(r for r in hybrid_search("GPU pricing", embedder, store, lexical, k=3).results if "gpu" in r.document_id)
    assert set(gpu.sources) == {"tavily/search", "apify/website-content-crawler"}
    assert {gpu.document_id, *gpu.duplicates} == {"gpu", "gpu-dup"}
    only_lexical = hybrid_search("knead dough", embedder, store, lexical, k=3, mode="lexical")
    assert [r.document_id for r in only_lexical.results] == ["bread"] and only_lexical.results[0].dense_score is None


def test_weak_matches_are_no_good_match(
    filled: tuple[WordLlamaEmbedder, DuckDBVectorStore], lexical: LocalLexicalStore
) -> None:
    embedder, store = filled
    response = hybrid_search("medieval tapestry restoration guild", embedder, store, lexical, k=3)
    assert response.no_good_match and response.results == [] and response.closest
    assert all((r.dense_score or 0) < 0.5 for r in response.closest)
    out = io.StringIO()
    assert run("medieval tapestry restoration guild", embedder, store, lexical_store=lexical, out=out) == 0
    assert out.getvalue().startswith('No good match for "medieval tapestry restoration guild"')


def test_a_remembered_phrase_beats_the_same_words_in_another_order(tmp_path: Path) -> None:
    """BM25 prefers the short page that repeats the words; the phrase ranking finds the page holding them in order,
    even below the lexical ranking's fused depth (read `phrase_candidates` deep)."""
    embedder = WordLlamaEmbedder()
    store = DuckDBVectorStore(database=str(tmp_path / "vectors.duckdb"), dimension=embedder.dimension)
    lexical = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    phrase = "reserved capacity halves the bill for long training runs"
    words = phrase.split()  # each shuffled page: the phrase's words twice, no pair in order; BM25 ranks them first
    orders = [[1, 0], [0, 1], [0, 1, 2], [2, 1, 0]]  # every step-th word from each offset: no pair stays adjacent
    shuffles = [words[::-1], *([w for i in order for w in words[i :: len(order)]] for order in orders)]
    pages = {f"shuffled-{n}": ". ".join([" ".join(shuffle)] * 2) for n, shuffle in enumerate(shuffles)}
    pages["holds-it"] = f"Our team learned that {phrase}, while spot instances suit short experiments and batch jobs."
    records, lexical_records, tokens = [], [], []
    for doc_id, text in pages.items():
        (c,) = chunk_document(doc_id, text)
        records.append(chunk_record(c, embedder.embed([c.text])[0], source="s/x", url=None, title=doc_id))
        meta = {"document_id": doc_id, "chunk_index": 0, "source": "s/x", "title": doc_id, "text": c.text}
        lexical_records.append(LexicalRecord(c.chunk_id, meta))
        tokens.append(chunk_tokens(doc_id, c.text))
    store.upsert(records)
    lexical.write(records_table(lexical_records), pa.array(tokens, pa.list_(pa.string())), [])
    by_bm25 = [r.document_id for r in hybrid_search(phrase, embedder, store, lexical, k=6, mode="lexical").results]
    assert by_bm25[-1] == "holds-it"  # below the fused depth of 4 (k=1, candidates=1)
    deep = SearchSettings(candidates=1, dense_weight=0.0, phrase_candidates=6)
    assert hybrid_search(phrase, embedder, store, lexical, k=1, settings=deep).results[0].document_id == "holds-it"
    shallow = SearchSettings(candidates=1, dense_weight=0.0, phrase_candidates=1)
    assert hybrid_search(phrase, embedder, store, lexical, k=1, settings=shallow).results[0].document_id != "holds-it"
    no_phrase = SearchSettings(candidates=1, dense_weight=0.0, phrase_weight=0.0, phrase_candidates=6)
    assert hybrid_search(phrase, embedder, store, lexical, k=1, settings=no_phrase).results[0].document_id != "holds-it"
