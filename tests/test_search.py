"""Search: the domain function, the formatting, and the CLI (local resources, no network)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from resources.duckdb_vector_store import DuckDBVectorStore
from resources.embeddings import WordLlamaEmbedder
from resources.vector_store import VectorMatch
from sophia_pipelines.domain.chunking import chunk_document
from sophia_pipelines.search import format_results, main, run, search, snippet
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


def _fill(store: DuckDBVectorStore, embedder: WordLlamaEmbedder) -> None:
    records = []
    for doc_id, source, title, url, text in DOCS:
        chunks = chunk_document(doc_id, text)
        vectors = embedder.embed([c.text for c in chunks])
        records += [
            chunk_record(c, v, source=source, url=url, title=title) for c, v in zip(chunks, vectors, strict=True)
        ]
    store.upsert(records)


@pytest.fixture
def filled(tmp_path: Path) -> tuple[WordLlamaEmbedder, DuckDBVectorStore]:
    embedder = WordLlamaEmbedder()
    store = DuckDBVectorStore(database=str(tmp_path / "vectors.duckdb"), dimension=embedder.dimension)
    _fill(store, embedder)
    return embedder, store


def test_search_ranks_the_relevant_document_first(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore]) -> None:
    embedder, store = filled
    matches = search("GPU cloud pricing", embedder, store, k=3)
    assert matches[0].metadata["document_id"] == "gpu"
    assert matches[0].score > matches[-1].score
    assert matches[-1].metadata["document_id"] == "bread"


def test_search_source_filter(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore]) -> None:
    embedder, store = filled
    matches = search("GPU cloud pricing", embedder, store, k=5, source="apify/website-content-crawler")
    assert {m.metadata["document_id"] for m in matches} == {"bread", "vdb"}


def test_search_validates(filled: tuple[WordLlamaEmbedder, DuckDBVectorStore], tmp_path: Path) -> None:
    embedder, store = filled
    with pytest.raises(ValueError, match="empty"):
        search("  ", embedder, store)
    other = DuckDBVectorStore(database=str(tmp_path / "other.duckdb"), dimension=64)
    with pytest.raises(ValueError, match="256-dim"):
        search("gpu", embedder, other)


def test_format_results() -> None:
    long_text = "Renting GPUs " + "is cheap and flexible " * 20 + "\n\nsecond paragraph"
    matches = [
        VectorMatch(
            "gpu-0000",
            0.87654,
            {"title": "GPU pricing", "url": "https://e.com/g", "source": "tavily/search", "text": long_text},
        ),
        VectorMatch("x-0000", 0.5, {"title": None, "url": None, "source": None, "text": None}),
    ]
    output = format_results("gpu", matches)
    lines = output.splitlines()
    assert lines[0] == 'Top 2 results for "gpu":'
    assert " 1. [0.877] GPU pricing" in lines
    assert "    https://e.com/g  ·  tavily/search" in lines
    snippet_line = lines[lines.index(" 1. [0.877] GPU pricing") + 2]
    assert snippet_line.startswith("    Renting GPUs is cheap") and snippet_line.endswith("…")
    assert len(snippet_line.strip()) <= 160
    assert " 2. [0.500] (untitled)" in lines
    assert format_results("q", []) == 'No results for "q".'


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
    _fill(DuckDBVectorStore(database=str(tmp_path / "vectors.duckdb"), dimension=256), embedder)
    assert main(["GPU cloud pricing", "-k", "2", "--source", "tavily/search"]) == 0
    output = capsys.readouterr().out
    assert " 1. [" in output and "GPU cloud pricing in 2026" in output and " 2. [" not in output


def test_main_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["q", "-k", "0"])
    with pytest.raises(SystemExit):
        main(["   "])
