"""Search on the bundled samples, as a user types: exact titles find their page first, and the retrieval
benchmark's smoke mode prints the comparison table with the issue's quality targets met (no timing asserted)."""

from __future__ import annotations

import duckdb
import pytest

from benchmarks import retrieval_eval
from sophia_pipelines.search import hybrid_search
from tests.conftest import build_data_plane

TITLES = (
    "Retrofitting liquid cooling for dense GPU racks",
    "Carbon-aware scheduling of GPU training jobs",
    "Backfilling 180 days of partitions with Dagster",
    "Sophia AI pricing explained",
    "Tracing LLM applications with OpenTelemetry",
)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    plane = build_data_plane(tmp_path_factory.mktemp("samples"))
    plane.materialize()
    res = plane.resources
    con = duckdb.connect(str(plane.root / "warehouse.duckdb"), read_only=True)
    try:
        titles = con.execute(
            "SELECT title, any_value(document_id) FROM documents WHERE title IS NOT NULL GROUP BY title "
            "HAVING count(*) = 1 ORDER BY title"
        ).fetchall()
    finally:
        con.close()
    return (res["embedder"], res["vector_store"], res["lexical_store"]), dict(titles)


def first_hit(stores: tuple, query: str) -> set[str]:
    response = hybrid_search(query, *stores, k=5)
    top = (response.results or response.closest)[0]
    return {top.document_id, *top.duplicates}


def test_an_exact_title_returns_its_page_first(samples: tuple) -> None:
    stores, unique_titles = samples
    for title in TITLES:
        matching = [t for t in unique_titles if t.startswith(title)]
        assert matching, f"sample page {title!r} is missing"
        assert unique_titles[matching[0]] in first_hit(stores, matching[0]), title
    # Across every page whose title is unique (articles and profiles), nearly all come first.
    first = sum(doc in first_hit(stores, title) for title, doc in unique_titles.items())
    assert first / len(unique_titles) >= 0.9, f"{first}/{len(unique_titles)} exact titles ranked first"


def test_retrieval_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert retrieval_eval.main(["--smoke"]) == 0
    table = capsys.readouterr().out
    rows = {}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) == 8 and parts[0] in ("titles", "phrases", "paraphrases"):
            rows[parts[0], parts[1]] = {"n": int(parts[2]), "r1": float(parts[3]), "r5": float(parts[4])}
    assert set(rows) == {(k, m) for k in ("titles", "phrases", "paraphrases") for m in ("lexical", "dense", "hybrid")}
    assert "lexical index build" in table and "of it (target <= 10%)" in table
    assert rows["titles", "hybrid"]["r5"] >= 0.95 and rows["phrases", "hybrid"]["r5"] >= 0.90
    assert rows["paraphrases", "hybrid"]["r5"] >= rows["paraphrases", "dense"]["r5"]
    assert rows["paraphrases", "hybrid"]["n"] == len(retrieval_eval.PARAPHRASES)
